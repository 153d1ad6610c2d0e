"""A seeded generator of member-years, steered onto the money boundaries of a pack.

Plain `random.Random(seed)`: fast and reproducible. Visits are made one after the other and
the reference model is run alongside on the member's state, so an amount can be chosen from
what the state still allows: the rest of a deductible exactly (or one fen more), the room
left under a monthly or annual cap exactly (or more), an account balance exactly. Times are
chosen onto boundaries: a version's first and last day, a retirement day and the day
before, a period's first and last day and the day after, a deductible window's end and the
second before it. The generator counts what it aimed at (`aims`); the model counts what
happened (its paths).
"""

import random
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta

from . import model as M

# Institutions a member may visit, each at a fixed level.
INSTITUTIONS = (
    ("P1", "primary"),
    ("P2", "primary"),
    ("A1", "level1"),
    ("A2", "level1"),
    ("B1", "level2"),
    ("B2", "level2"),
    ("C1", "level3"),
    ("C2", "level3"),
    ("R1", "pharmacy"),
    ("R2", "pharmacy"),
)
TYPES = (("employee", 45), ("retiree", 20), ("flexible", 15), ("single_pool", 20))
DRUGS = ("N1", "N2", "N3", "N4")  # fewer than the 8 yearly drug deductibles the engine keeps
OTHER_DISEASES = ("d1", "d2", "hypertension")
RECOGNISED_TOO = ("hypertension", "chronic_renal_failure")
BIG = 10**10  # fen: a probe's in-scope cost, beyond every cap
SECOND = timedelta(seconds=1)

# What a steered visit aims at, and how often.
AIMS = (
    ("random", 30),
    ("deductible_exact", 12),
    ("deductible_plus_one_fen", 10),
    ("cap_exact", 22),
    ("cap_cut", 12),
    ("account_exact", 7),
    ("half_up", 7),
)


@dataclass
class Generated:
    members: list[tuple[M.MemberSpec, list[M.VisitSpec]]] = field(default_factory=list)
    aims: Counter = field(default_factory=Counter)

    @property
    def visits(self) -> int:
        return sum(len(v) for _, v in self.members)


def generate(pack, seed: int | str, visits: int) -> Generated:
    """Member-years for `pack` until at least `visits` visits, reproducibly from `seed`."""
    rng = random.Random(f"{seed}:{pack.region}")
    out = Generated()
    while out.visits < visits:
        out.members.append(member_year(rng, pack, out.aims))
    return out


# -- the member and the days that matter -----------------------------------------------------


def policy_range(pack) -> tuple[date, date]:
    first = pack.versions[0].valid_from
    end = M.last_day(pack, len(pack.versions) - 1) or date(first.year + 3, 12, 31)
    return first, end


def version_days(pack) -> list[date]:
    """Each version's first day, and its last day where it has one."""
    days = [v.valid_from for v in pack.versions]
    days += [d for i in range(len(pack.versions)) if (d := M.last_day(pack, i)) is not None]
    return sorted(set(days))


def pick_span(rng, pack, aims) -> tuple[date, date]:
    first, end = policy_range(pack)
    length = rng.randint(30, 420)
    if rng.random() < 0.2:
        boundary = rng.choice(version_days(pack))
        start = max(first, boundary - timedelta(rng.randint(0, 25)))
        aims["span_on_version_boundary"] += 1
    else:
        start = first + timedelta(rng.randint(0, (end - first).days - 30))
    return start, min(end, start + timedelta(length))


def some_spans(rng, start: date, stop: date, n: int, lo: int, hi: int) -> tuple:
    spans = []
    for _ in range(n):
        a = start + timedelta(rng.randint(0, max((stop - start).days, 0)))
        spans.append((a, a + timedelta(rng.randint(lo, hi))))
    return tuple(sorted(spans))


def make_member(rng, pack, start: date, stop: date) -> M.MemberSpec:
    kind = rng.choices([t for t, _ in TYPES], [w for _, w in TYPES])[0]
    without = {str(t) for t in pack.versions[0].accounts.without_account}
    account = kind not in without
    if account and kind == "flexible" and rng.random() < 0.3:
        account = False  # PZH-4a: a flexible worker not on tier 1 has no account
    processed = None
    if kind != "retiree" and rng.random() < 0.4:
        first = pack.versions[0].valid_from
        processed = max(first, start + timedelta(rng.randint(-40, (stop - start).days)))
    balance = (
        rng.choice(
            [0, rng.randint(1, 3_000), rng.randint(1, 60_000), rng.randint(60_000, 2_000_000)]
        )
        if account
        else 0
    )
    diseases = tuple(f"c{i}" for i in range(rng.choice([0, 1, 1, 2, 3, 4, 5, 6, 7])))
    # recognised besides: a 两病 disease (PZH-10), a special one not raising the chronic cap
    # (XSBN-12/13)
    diseases += tuple(d for d in RECOGNISED_TOO if rng.random() < 0.3)
    return M.MemberSpec(
        type=kind,
        has_account=account,
        balance=balance,
        retirement_processed=processed,
        raised=rng.random() < 0.5,
        benefit_periods=(
            some_spans(rng, start, stop, rng.randint(1, 2), 20, 200) if rng.random() < 0.2 else None
        ),
        stays=some_spans(rng, start, stop, 1, 2, 20) if rng.random() < 0.2 else (),
        arrears=some_spans(rng, start, stop, 1, 10, 90) if rng.random() < 0.15 else (),
        filings=(
            some_spans(rng, start, stop, rng.randint(1, 2), 5, 120) if rng.random() < 0.35 else ()
        ),
        diseases=diseases,
    )


def anchor_days(pack, member: M.MemberSpec, start: date, stop: date) -> list[date]:
    """Days a visit is put on: version boundaries, the retirement day and the day before,
    each period's first and last day and the day after."""
    days = list(version_days(pack))
    switched = M.switch_day(pack, member)
    if switched is not None:
        days += [switched, switched - M.DAY]
    spans = (*(member.benefit_periods or ()), *member.stays, *member.arrears, *member.filings)
    for a, b in spans:
        days += [a, b, b + M.DAY]
    return sorted({d for d in days if start <= d <= stop})


# -- the visits ----------------------------------------------------------------------------------


def member_year(rng, pack, aims: Counter) -> tuple[M.MemberSpec, list[M.VisitSpec]]:
    start, stop = pick_span(rng, pack, aims)
    member = make_member(rng, pack, start, stop)
    anchors = anchor_days(pack, member, start, stop)
    favourites = rng.sample(INSTITUTIONS, rng.randint(2, 5))
    if rng.random() < 0.4:
        favourites.append(rng.choice(INSTITUTIONS[-2:]))
    steered = rng.random() < 0.7
    state = M.new_state(member)
    visits: list[M.VisitSpec] = []
    t = datetime.combine(start, time(8)) + timedelta(minutes=rng.randint(0, 600))
    for _ in range(rng.randint(15, 70)):
        t, institution = next_time(rng, pack, state, t, anchors, aims)
        if t.date() > stop:
            break
        version = M.version_on(pack, t.date())
        if version is None:  # a day no version covers (none inside the spans drawn)
            continue
        visit = make_visit(rng, pack, version, member, favourites, t, institution)
        visit = steer(rng, pack, member, state, visit, steered, aims)
        M.settle(pack, member, state, visit)
        visits.append(visit)
        t = visit.time
    return member, visits


def next_time(rng, pack, state, t: datetime, anchors: list[date], aims: Counter):
    """The next visit's time (never before `t`), and the institution it must be at (or None)."""
    windows = [(inst, w) for inst, w in state["windows"].items()]
    version = M.version_on(pack, t.date())
    rules = M.line_rules(version, "general") if version else None
    if windows and rules is not None and rules.window != "none" and rng.random() < 0.3:
        inst, (opened, _met) = rng.choice(windows)
        end = M.window_end(rules, opened)
        when = end if rng.random() < 0.5 else end - SECOND
        if when > t and not (anchors and anchors[0] < when.date()):
            aims["window_exact" if when == end else "window_one_second_before"] += 1
            return when, inst
    r = rng.random()
    if r < 0.3:
        cand = t + timedelta(minutes=rng.randint(1, 300))
    elif r < 0.55:
        cand = t + timedelta(days=rng.randint(1, 6), minutes=rng.randint(-120, 120))
    else:
        cand = t + timedelta(days=rng.randint(7, 40), minutes=rng.randint(-300, 300))
    cand = max(cand, t)
    while anchors and anchors[0] < t.date():
        anchors.pop(0)
    if anchors and anchors[0] <= cand.date():
        day = anchors.pop(0)
        at = datetime.combine(day, time(rng.randint(0, 23), rng.randint(0, 59)))
        aims["anchor_day"] += 1
        return max(at, t), None
    return cand, None


def make_visit(rng, pack, version, member, favourites, t, institution) -> M.VisitSpec:
    sections = [s for s in M.SECTIONS if getattr(version, s) is not None]
    others = sections[1:]
    category = "general" if not others or rng.random() < 0.5 else rng.choice(others)
    if institution is None:
        institution, level = rng.choice(favourites)
    else:
        level = dict(INSTITUTIONS)[institution]
    prescription = None
    if level == "pharmacy" and rng.random() < 0.6:
        prescription = rng.choice(M.MEDICAL_LEVELS)
    disease = drug = None
    if category == "chronic":  # now and then for a disease not recognised (JMS-18, PZH-11)
        mine = member.diseases if rng.random() < 0.85 else ()
        disease = rng.choice(mine or OTHER_DISEASES)
    elif category == "special":
        exc = version.special.exceptions
        if exc is not None and rng.random() < 0.4:
            disease = rng.choice(exc.diseases)
        else:
            disease = rng.choice(OTHER_DISEASES)
    elif category == "two_diseases":
        disease = "hypertension"
    elif category == "negotiated_drug":
        drug = rng.choice(DRUGS)
    remote = rng.random() < 0.07
    return M.VisitSpec(
        time=t,
        institution=institution,
        level=level,
        total=0,
        in_scope=0,
        category=category,
        remote=remote,
        designated=rng.random() > 0.04,
        manual=rng.random() < (0.4 if remote else 0.02),
        third_party=rng.random() < 0.03,
        disease=disease,
        drug=drug,
        prescription_level=prescription,
        use_account=rng.random() > 0.08,
    )


# -- amounts ---------------------------------------------------------------------------------------


def amount_for_due(target: int, ratio: int) -> int:
    """The least cost whose ratio pay (half-up) is exactly `target` fen."""
    if target <= 0:
        return 0
    return -(-(2 * target - 1) * 5_000 // ratio)


def random_scope(rng) -> int:
    r = rng.random()
    if r < 0.1:
        return rng.randint(0, 500)
    if r < 0.6:
        return rng.randint(500, 30_000)
    if r < 0.92:
        return rng.randint(30_000, 300_000)
    return rng.randint(300_000, 3_000_000)


def probe(pack, member, state, visit: M.VisitSpec, scope: int) -> M.Answer:
    """The model's answer for the visit with this in-scope cost, the state left untouched."""
    trial = replace(visit, in_scope=scope, total=scope)
    return M.settle(pack, member, M.copy_state(state), trial)


def steer(rng, pack, member, state, visit: M.VisitSpec, steered: bool, aims) -> M.VisitSpec:
    """The visit with an in-scope cost (and a total) chosen for what a steered member aims at;
    an aim the state does not allow (no deductible left, no room under the cap) gives way
    to another, and at last to a random cost."""
    scope, aim = None, "random"
    if steered:
        first = rng.choices([a for a, _ in AIMS], [w for _, w in AIMS])[0]
        if first != "random":
            steps = probe(pack, member, state, visit, BIG).steps
            others = [a for a, _ in AIMS if a not in ("random", "account_exact", first)]
            rng.shuffle(others)
            for aim in (first, *others):
                scope = aimed_scope(rng, pack, member, state, visit, steps, aim)
                if scope is not None:
                    break
    if scope is None:
        aim, scope = "random", random_scope(rng)
    aims[f"aim.{aim}"] += 1
    extra = 0 if rng.random() < 0.6 else rng.randint(1, 20_000)
    return replace(visit, in_scope=scope, total=scope + extra)


def target_line(steps: list[M.LineStep]) -> tuple[M.LineStep | None, int]:
    """The line an aimed cost is for: the first, or, where the first's cap has no room left,
    the line its cost goes on to; and the deductible of the lines before it."""
    first = steps[0]
    if not first.paid_by_line:
        return None, 0
    if first.room == 0 and len(steps) > 1 and steps[1].paid_by_line:
        return steps[1], first.deductible_left
    return first, 0


def aimed_scope(rng, pack, member, state, visit, steps, aim: str) -> int | None:
    line, before = target_line(steps)
    if line is None:
        return None
    d, room, ratio = line.deductible_left, line.room, line.ratio
    if aim == "deductible_exact":
        return before + d if d else None
    if aim == "deductible_plus_one_fen":
        return before + d + 1 if d else None
    if aim == "cap_exact" and room > 0:
        return before + d + amount_for_due(room, ratio)
    if aim == "cap_cut" and room > 0:
        return before + d + amount_for_due(room, ratio) + rng.randint(1, max(room, 5_000))
    if aim == "half_up" and room > 0:
        start = rng.randint(1, 5_000)
        for x in range(start, start + 200):
            if x * ratio % 10_000 == 5_000:
                return before + d + x
        return None
    if aim == "account_exact":
        return account_exact_scope(pack, member, state, visit)
    return None


def account_exact_scope(pack, member, state, visit) -> int | None:
    """The least in-scope cost whose member's share is the whole account balance."""
    balance = state["balance"]
    if not (member.has_account and visit.use_account and balance > 0):
        return None
    share = lambda s: s - probe(pack, member, state, visit, s).fund_pay  # noqa: E731
    lo, hi = 0, 25 * balance + 10_000_000
    while lo < hi:
        mid = (lo + hi) // 2
        if share(mid) >= balance:
            hi = mid
        else:
            lo = mid + 1
    return lo if share(lo) == balance else None
