"""Engine throughput on one core: visits/s with and without the trace, per region.

    python benchmarks/engine.py [--members 2000] [--repeat 5] [--check 1000]

A year of visits per region is generated (seeded), then settled member by member through
`engine.settle_all`, the entry point `gongji calculate` uses (the ledger calls
`engine.settle` a visit at a time, the same rules). Figures are
medians over --repeat runs, beside a baseline measured in the same run: a plain Python loop
over the same visits doing one ratio product each, so noisy machines can be compared by ratio.

After the timing, outside it: the results of each timed way of settling are checked on a
seeded sample of members (at least --check visits) against `engine.settle` called visit by
visit from a fresh year state per member; any difference is printed and the script exits
non-zero, so a fast figure for wrong answers is never reported as one.
"""

import argparse
import random
import statistics
import sys
import time
from datetime import datetime, timedelta

from gongji import engine, policy
from gongji.money import apply_ratio
from gongji.terms import Level, MemberType

LEVEL_MIX = [Level.primary] * 4 + [Level.level1] * 2 + [Level.level2] * 2 + [Level.level3] * 2


def generate(region: str, members: int, seed: int = 7):
    """(member, visits) pairs: ~18 visits a member a year, costs skewed small."""
    pack = policy.load_region(region)
    version = pack.versions[-1]
    year_start = datetime(max(version.valid_from.year, 2023), 1, 1)
    rng = random.Random(f"{region}:{seed}")
    without = version.accounts.without_account
    out = []
    for _ in range(members):
        mtype = rng.choice(
            [MemberType.employee] * 6 + [MemberType.retiree] * 3 + [MemberType.flexible]
        )
        member = engine.Member(
            type=mtype, has_account=mtype not in without, contribution_raised=True
        )
        times = sorted(
            year_start + timedelta(minutes=rng.randrange(525_600))
            for _ in range(rng.randint(6, 30))
        )
        visits = []
        for t in times:
            if pack.version_on(t.date()) is None:
                continue
            total = int(rng.lognormvariate(10.0, 1.0)) % 2_000_000
            visits.append(
                engine.Visit(
                    time=t,
                    institution=f"H{rng.randrange(40)}",
                    level=rng.choice(LEVEL_MIX),
                    total=total,
                    in_scope=total * rng.choice([100, 100, 90, 80]) // 100,
                )
            )
        out.append((member, visits, rng.randrange(0, 200_000)))
    return pack, out


def run_engine(pack, population, trace: bool, explain: bool = False) -> list:
    """Every member's results (kept for the check after the timing)."""
    out = []
    for member, visits, balance in population:
        results, _ = engine.settle_all(pack, member, engine.YearState.new(balance), visits, trace)
        if explain:
            for v, r in zip(visits, results, strict=True):
                engine.explain(engine.tables_on(pack, v.time.date()), r)
        out.append(results)
    return out


def run_baseline(pack, population, trace: bool = False) -> int:
    acc = 0
    for _, visits, _ in population:
        for v in visits:
            acc += apply_ratio(v.in_scope, 5000)
    return acc


def timed(fn, *args, repeat: int) -> tuple[float, object]:
    """The median time of `repeat` runs, and the last run's answer."""
    samples = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        answer = fn(*args)
        samples.append(time.perf_counter() - t0)
    return statistics.median(samples), answer


def differences(pack, population, results, trace: bool, visits_wanted: int):
    """The timed results of a seeded sample of members against `engine.settle`, visit by
    visit from a fresh year state, each visit under the version in force on its day:
    (differences, visits checked)."""
    rng = random.Random(f"check:{pack.region}")
    order = list(range(len(population)))
    rng.shuffle(order)
    found, checked = [], 0
    for i in order:
        if checked >= visits_wanted:
            break
        member, visits, balance = population[i]
        state = engine.YearState.new(balance)
        for k, v in enumerate(visits):
            want, state = engine.settle(
                engine.tables_on(pack, v.time.date()), member, state, v, trace
            )
            if results[i][k] != want:
                found.append(f"member {i} visit {k}: timed {results[i][k]} != settle {want}")
            checked += 1
    if checked < min(visits_wanted, sum(len(v) for _, v, _ in population)):
        found.append(f"only {checked} visits checked")
    return found, checked


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--members", type=int, default=2000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--check", type=int, default=1000, help="visits checked a region and way")
    args = ap.parse_args()
    print(f"median of {args.repeat} runs; {args.members} members a region, one year of visits")
    columns = ("trace on", "trace off", "+ text", "baseline")
    print(f"{'region':<14}{'visits':>8}" + "".join(f"{c:>14}" for c in columns) + f"{'on/base':>9}")
    wrong: list[str] = []
    checked = 0
    for region in policy.known_regions():
        pack, population = generate(region, args.members)
        n = sum(len(v) for _, v, _ in population)
        run_engine(pack, population[:50], True)  # warm caches (compiled tables, institution keys)
        rates, answers = {}, {}
        for name, fn, extra in (
            ("on", run_engine, (True,)),
            ("off", run_engine, (False,)),
            ("text", run_engine, (True, True)),
            ("base", run_baseline, ()),
        ):
            seconds, answers[name] = timed(fn, pack, population, *extra, repeat=args.repeat)
            rates[name] = n / seconds
        print(
            f"{region:<14}{n:>8}{rates['on']:>12,.0f}/s{rates['off']:>12,.0f}/s"
            f"{rates['text']:>12,.0f}/s{rates['base']:>12,.0f}/s{rates['on'] / rates['base']:>9.3f}"
        )
        for name, trace in (("on", True), ("off", False), ("text", True)):
            found, visits = differences(pack, population, answers[name], trace, args.check)
            wrong += [f"{region}, trace {name}: {d}" for d in found]
            checked += visits
    if wrong:
        print(f"WRONG: {len(wrong)} results differ from engine.settle", *wrong[:10], sep="\n  ")
        sys.exit(1)
    print(f"checked: {checked:,} timed results equal engine.settle's, visit by visit")


if __name__ == "__main__":
    main()
