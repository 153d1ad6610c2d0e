"""The engine against a reference model, over generated years (issue 24).

What is compared: for every generated visit, the engine's (deductible, fund_pay,
account_pay, cash_pay, account_balance, member_class) and the reference model's, equal to
the fen. Each region settles at least 100,000 visits (member-years from a seeded generator;
the seed is fixed, `GONGJI_REFERENCE_SEED` sets another to explore), and every boundary path
the region's pack has (`model.boundary_paths`: caps reached exactly and cut, monthly caps,
deductibles met exactly and by one fen more, windows at their end and the second before,
routing to the next line, retirement days, version first and last days, refusals, ...) must
occur at least 100 times in the run; the frequencies are printed (`pytest -s`) and recorded
as the test's `paths` property.

Why the model is independent: `model.py` is written from the packs' values and the rules
inventory, in plain Python with Decimal and dict state. It imports nothing of
`gongji.engine` and not `gongji.money` (test_the_model_is_independent checks the imports);
it reads the pack objects of `gongji.policy` as data. Only this module calls the engine, to
produce the engine's side: `settle_all` per member, with the member's retirement day taken
the way the project's input layer takes it (`retirement_effective` of the processing day).
"""

import ast
import os
from collections import Counter
from datetime import datetime, time
from pathlib import Path

import pytest

from gongji import engine, policy
from gongji.terms import Category, Level, MemberType

from . import model as M
from .generate import generate

SEED = os.environ.get("GONGJI_REFERENCE_SEED", "24")
VISITS = int(os.environ.get("GONGJI_REFERENCE_VISITS", "100000"))
AT_LEAST = 100  # occurrences of each boundary path per run
REGIONS = policy.known_regions()


def engine_member(pack, m: M.MemberSpec) -> engine.Member:
    retired_from = None
    if m.retirement_processed is not None:
        version = pack.version_on(m.retirement_processed) or pack.versions[-1]
        retired_from = engine.retirement_effective(
            m.retirement_processed, version.retirement.takes_effect
        )

    def periods(spans):
        return tuple(engine.Period(a, b) for a, b in spans)

    return engine.Member(
        type=MemberType(m.type),
        has_account=m.has_account,
        retired_from=retired_from,
        contribution_raised=m.raised,
        benefit_periods=None if m.benefit_periods is None else periods(m.benefit_periods),
        inpatient_stays=periods(m.stays),
        arrears=periods(m.arrears),
        remote_filings=periods(m.filings),
        chronic_diseases=m.diseases,
    )


def engine_visit(v: M.VisitSpec) -> engine.Visit:
    return engine.Visit(
        time=v.time,
        institution=v.institution,
        level=Level(v.level),
        total=v.total,
        in_scope=v.in_scope,
        category=Category(v.category),
        remote=v.remote,
        designated=v.designated,
        manual=v.manual,
        third_party=v.third_party,
        disease=v.disease,
        drug=v.drug,
        prescription_level=None if v.prescription_level is None else Level(v.prescription_level),
        use_account=v.use_account,
    )


FIGURES = ("deductible", "fund_pay", "account_pay", "cash_pay", "account_balance", "class")


def engine_figures(r: engine.Result) -> tuple:
    return (
        r.deductible,
        r.fund_pay,
        r.account_pay,
        r.cash_pay,
        r.account_balance,
        r.member_class.value,
    )


def mismatch(region, member, visits, i, want: M.Answer, got: tuple) -> str:
    lines = [
        f"{region}: the engine and the reference differ on visit {i} of this member",
        "",
        f"member: {member}",
        "",
        "visits before it (settled alike):",
    ]
    lines += [f"  {j}: {v}" for j, v in enumerate(visits[:i])] or ["  (none)"]
    lines += ["", f"visit {i}: {visits[i]}", ""]
    lines += [f"  {'':16}{'engine':>14}{'reference':>14}"]
    for name, g, w in zip(FIGURES, got, want.figures(), strict=True):
        flag = "" if g == w else "   <--"
        lines.append(f"  {name:16}{g!s:>14}{w!s:>14}{flag}")
    lines += ["", f"reference paths: {want.paths}", f"reference lines: {want.steps}"]
    return "\n".join(lines)


def frequency_table(region, paths: Counter, aims: Counter, wanted, visits, members) -> str:
    rows = [
        f"{region}: {visits} visits, {members} member-years (seed {SEED!r})",
        f"  {'boundary path':42}{'visits':>9}",
    ]
    rows += [
        f"  {p:42}{paths[p]:>9}{'' if paths[p] >= AT_LEAST else '  < ' + str(AT_LEAST)}"
        for p in wanted
    ]
    other = sorted(set(paths) - set(wanted) - {p for p in paths if p.startswith("line.")})
    if other:
        rows.append("  also seen: " + ", ".join(f"{p} {paths[p]}" for p in other))
    rows.append("  generator aimed: " + ", ".join(f"{a} {n}" for a, n in sorted(aims.items())))
    return "\n".join(rows)


@pytest.mark.parametrize("region", REGIONS)
def test_the_engine_agrees_with_the_reference_model(region, record_property):
    pack = policy.load_region(region)
    generated = generate(pack, SEED, VISITS)
    paths: Counter = Counter()
    for member, visits in generated.members:
        state = M.new_state(member)
        expected = [M.settle(pack, member, state, v) for v in visits]
        results, _ = engine.settle_all(
            pack,
            engine_member(pack, member),
            engine.YearState.new(member.balance),
            [engine_visit(v) for v in visits],
            trace=False,
        )
        for i, (want, got) in enumerate(zip(expected, results, strict=True)):
            if engine_figures(got) != want.figures():
                pytest.fail(mismatch(region, member, visits, i, want, engine_figures(got)))
        for answer in expected:
            paths.update(answer.paths)
    wanted = M.boundary_paths(pack)
    table = frequency_table(
        region, paths, generated.aims, wanted, generated.visits, len(generated.members)
    )
    print("\n" + table)
    record_property("paths", table)
    assert generated.visits >= VISITS
    rare = {p: paths[p] for p in wanted if paths[p] < AT_LEAST}
    assert not rare, f"boundary paths exercised fewer than {AT_LEAST} times: {rare}\n{table}"


def test_the_model_is_independent():
    """The model and the generator import no engine code and not the project's rounding."""
    here = Path(__file__).parent
    for name in ("model.py", "generate.py"):
        tree = ast.parse((here / name).read_text(encoding="utf-8"))
        imported = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        imported |= {n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
        banned = {m for m in imported if m.startswith(("gongji.engine", "gongji.money"))}
        banned |= {m for m in imported if m == "gongji"}  # `from gongji import engine`
        assert not banned, f"{name} imports {sorted(banned)}"


@pytest.mark.parametrize("region", REGIONS)
def test_both_refuse_what_no_rule_covers(region):
    """A day no version covers, and a category the version has no policy for: the engine
    refuses the visit (E_NO_POLICY, E_CATEGORY) where the model has no rule either."""
    pack = policy.load_region(region)
    member = M.MemberSpec(type="employee", has_account=True)
    first = pack.versions[0].valid_from
    days = [first - M.DAY]
    last = M.last_day(pack, len(pack.versions) - 1)
    if last is not None:
        days.append(last + M.DAY)
    version = pack.versions[-1]
    missing = [c for c in M.SECTIONS if getattr(version, c) is None]
    visits = [M.VisitSpec(datetime.combine(d, time(9)), "C1", "level3", 100, 100) for d in days]
    visits += [
        M.VisitSpec(datetime.combine(version.valid_from, time(9)), "C1", "level3", 100, 100, c)
        for c in missing[:1]
    ]
    codes = {v.category: "E_CATEGORY" for v in visits} | {"general": "E_NO_POLICY"}
    for visit in visits:
        with pytest.raises(M.NotSettled):
            M.settle(pack, member, M.new_state(member), visit)
        with pytest.raises(engine.EngineError) as refused:
            engine.settle_all(
                pack, engine_member(pack, member), engine.YearState.new(), [engine_visit(visit)]
            )
        assert refused.value.code == codes[visit.category]
