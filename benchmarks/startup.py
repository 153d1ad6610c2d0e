"""Where people wait on `gongji`: whole-process times of its commands, each beside a baseline.

    python benchmarks/startup.py [--repeat 5] [--data DIR] [--src SRC ...] [--cases A,B]
                                 [--replay-members 75000]

Cases, each a fresh process, timed from start to exit (wall and CPU), with its peak resident
set: each is started by a small probe process that reads `resource.getrusage` of its
children after it exits (a child forked from this script would count this script's memory
as its own: Linux keeps the larger high-water mark across fork and exec; the probe's is a
bare interpreter's, below any command's):
- `gongji --help`                      beside `python -c pass`
- `gongji calculate` of one example    beside `python -c pass`
- `gongji calculate --json` of 40,000 visits of one member (trace included), beside a plain
  Python loop over the same JSON: read it (numbers as Decimal, as gongji reads them), a few
  integer operations a visit, one JSON object a visit written out
- `gongji replay` of about a million generated visits (results.parquet and aggregates), beside
  Polars over the same Parquet file: a running sum per member in time order written back as
  a per-visit Parquet file, and a group-by of the visits by level and category

Every round runs every case for every source tree and its baseline once, in turn
(interleaved, so a machine loaded by other work loads them alike); medians of `--repeat`
rounds are printed, with each case's ratio to its baseline and, for the two large inputs,
visits a second. `--src` names the `src` folders measured (default: this checkout's), e.g.
a worktree of an earlier commit beside this one: `--src ../before/src --src src`. `--cases`
picks some of them (help, calculate, calculate-40k, replay; all by default): without
replay its visits are neither generated nor counted.

Before the rounds, one untimed run of every case writes each tree's bytecode (this
environment may say PYTHONDONTWRITEBYTECODE; an install has bytecode), the checked policy
packs into gongji's cache (policy/loader.py; a tree without that cache reads its YAML every
run) and loads or compiles the replay kernel into numba's cache. The children run without
PYTHONDONTWRITEBYTECODE and PYTHONUNBUFFERED. The inputs are made once in --data and reused:
the 40,000-visit scenario by `scenario()` below, the visits by `gongji generate` (kaifeng,
75,000 members, 2023, seed 1; `--replay-members` another number: about 13.5 visits a
member, 740,000 make ten million, kept in visits-N/).

Targets (issue 22; reported here, not asserted by any test): `gongji --help` within 0.15 s,
one example's calculation within 0.25 s, calculate --json of 40,000 visits with their trace
at 20,000 visits a second or more, whole process, within 200 MiB.
"""

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

HERE = Path(__file__).resolve()
ROOT = HERE.parents[1]
MIB = 1024  # ru_maxrss is in KiB on Linux
TARGETS = {  # case -> (seconds at most, visits a second at least, MiB at most)
    "help": (0.15, None, None),
    "calculate": (0.25, None, None),
    "calculate-40k": (None, 20_000, 200),
}
CASES = ("help", "calculate", "calculate-40k", "replay")
CALC_VISITS = 40_000
REPLAY_MEMBERS = 75_000

# A plain Python loop over the scenario's visits: the floor for reading that JSON, doing a
# little integer arithmetic a visit and writing a JSON object a visit.
LOOP = """
import json, sys
from decimal import Decimal
doc = json.loads(open(sys.argv[1], encoding="utf-8").read(), parse_float=Decimal)
out = sys.stdout
balance = int(Decimal(doc["member"]["account_balance"]) * 100)
for v in doc["visits"]:
    total = int(Decimal(v["total"]) * 100)
    scope = int(Decimal(v["in_scope"]) * 100)
    fund = scope * 7 // 10
    account = min(balance, scope - fund)
    balance -= account
    out.write(json.dumps({"id": v["id"], "total": total / 100, "fund_pay": fund / 100,
                          "account_pay": account / 100, "cash_pay": (total - fund - account) / 100,
                          "account_balance": balance / 100}))
"""
# Polars over the visits file: a running sum per member in time order (the replay's state,
# at its simplest) written back a row a visit, and the visits grouped by level and category.
POLARS = """
import sys
import polars as pl
visits = pl.read_parquet(sys.argv[1])
used = visits.select("visit_id", "member_id", pl.col("in_scope").cum_sum().over("member_id"))
used.write_parquet(sys.argv[2], compression="uncompressed")
visits.group_by("level", "category").agg(
    pl.len(), pl.col("total").sum(), pl.col("in_scope").sum()
).sort("level", "category")
"""


def scenario(n: int, seed: int = 1) -> dict:
    """One member's n visits over 2023 (jiamusi: general and chronic lines), as JSON text
    amounts; times in order, a quarter of an hour or so apart."""
    rng = random.Random(seed)
    start = datetime(2023, 1, 1, 8, 0)
    step = timedelta(seconds=364 * 86400 // n)
    levels = ["primary", "level1", "level2", "level3", "pharmacy"]
    visits = []
    for i in range(n):
        total = rng.randint(2000, 60000)
        scope = total * rng.randint(60, 100) // 100
        visit = {
            "id": f"V{i + 1}",
            "time": (start + i * step).isoformat(),
            "institution": f"H{rng.randint(1, 50):03d}",
            "level": rng.choice(levels),
            "category": rng.choices(["general", "chronic"], [8, 2])[0],
            "total": f"{total // 100}.{total % 100:02d}",
            "in_scope": f"{scope // 100}.{scope % 100:02d}",
        }
        if visit["category"] == "chronic":
            visit["disease"] = "hypertension"
        visits.append(visit)
    member = {
        "id": "P001",
        "type": "employee",
        "account_balance": "3000.00",
        "chronic_diseases": ["hypertension"],
    }
    return {"region": "jiamusi", "member": member, "visits": visits}


def write_scenario(path: str, n: int) -> None:
    Path(path).write_text(json.dumps(scenario(n)), encoding="utf-8")


def child_env(src: Path | None) -> dict:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("PYTHONDONTWRITEBYTECODE", "PYTHONUNBUFFERED")
    }
    if src is not None:
        env["PYTHONPATH"] = str(src)
    return env


def gongji(*args: str) -> list[str]:
    """The command as its console script runs it (`from gongji.cli import app; app()`)."""
    script = "import sys\nfrom gongji.cli import app\nsys.argv[0] = 'gongji'\nsys.exit(app())"
    return [sys.executable, "-c", script, *args]


# Runs argv[1:] once: its exit status, wall seconds, CPU seconds and peak RSS (KiB) as JSON.
PROBE = """
import json, resource, subprocess, sys, time
start = time.perf_counter()
status = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL).returncode
wall = time.perf_counter() - start
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps([status, wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss]))
"""


def run(cmd: list[str], env: dict) -> tuple[float, float, float]:
    """(wall seconds, CPU seconds, peak RSS MiB) of one process, to its exit."""
    probe = subprocess.run(
        [sys.executable, "-c", PROBE, *cmd], env=env, capture_output=True, text=True
    )
    status, wall, cpu, rss = json.loads(probe.stdout or "[-1, 0, 0, 0]")
    if status or probe.returncode:
        sys.exit(f"failed ({status}): {' '.join(cmd[:1] + cmd[3:])}\n{probe.stderr}")
    return wall, cpu, rss / MIB


def prepare(data: Path, env: dict, replay: bool, members: int) -> tuple[Path, Path]:
    data.mkdir(parents=True, exist_ok=True)
    scenario_file = data / f"scenario-{CALC_VISITS}.json"
    if not scenario_file.is_file():  # made in a process of its own: this one stays small
        make = f"import sys; sys.path.insert(0, {str(HERE.parent)!r}); import startup; "
        make += f"startup.write_scenario({str(scenario_file)!r}, {CALC_VISITS})"
        subprocess.run([sys.executable, "-c", make], check=True)
    visits = data / ("visits" if members == REPLAY_MEMBERS else f"visits-{members}")
    visits = visits / "visits.parquet"
    if replay and not visits.is_file():
        print(f"generating {members:,} members' visits in {visits.parent} ...", flush=True)
        args = ["--region", "kaifeng", "--members", str(members), "--year", "2023"]
        subprocess.run(gongji("generate", str(visits.parent), *args), env=env, check=True)
    return scenario_file, visits


def visit_count(visits: Path, env: dict) -> int:
    code = "import sys, pyarrow.parquet as pq; print(pq.ParquetFile(sys.argv[1]).metadata.num_rows)"
    out = subprocess.run(
        [sys.executable, "-c", code, str(visits)], env=env, check=True, capture_output=True
    )
    return int(out.stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5, help="rounds (medians are printed)")
    parser.add_argument("--data", default=str(ROOT / "artifacts" / "startup"), help="inputs")
    parser.add_argument("--src", action="append", help="src folder measured (repeatable)")
    parser.add_argument("--cases", help=f"comma-separated, of {', '.join(CASES)} (default all)")
    parser.add_argument("--replay-members", type=int, default=REPLAY_MEMBERS, help="replay's size")
    args = parser.parse_args()
    chosen = args.cases.split(",") if args.cases else list(CASES)
    if unknown := set(chosen) - set(CASES):
        parser.error(f"unknown case(s): {', '.join(sorted(unknown))}")
    trees = [Path(s).resolve() for s in (args.src or [str(ROOT / "src")])]
    data = Path(args.data).resolve()
    scenario_file, visits = prepare(
        data, child_env(trees[-1]), "replay" in chosen, args.replay_members
    )
    n_replay = visit_count(visits, child_env(None)) if "replay" in chosen else 0
    example = str(ROOT / "examples" / "kaifeng-same-day.yaml")
    cases = {  # name -> (command args, visits, baseline name)
        "help": (gongji("--help"), None, "python -c pass"),
        "calculate": (gongji("calculate", example), None, "python -c pass"),
        "calculate-40k": (
            gongji("calculate", str(scenario_file), "--json"),
            CALC_VISITS,
            "python loop over the JSON",
        ),
        "replay": (
            gongji("replay", str(visits), "--region", "kaifeng", "--out", str(data / "out")),
            n_replay,
            "polars over the Parquet",
        ),
    }
    cases = {name: cases[name] for name in chosen}
    baselines = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "python loop over the JSON": [sys.executable, "-c", LOOP, str(scenario_file)],
        "polars over the Parquet": [
            sys.executable,
            "-c",
            POLARS,
            str(visits),
            str(data / "polars-out.parquet"),
        ],
    }
    plain = child_env(None)
    print(f"warming up (bytecode, numba's cache) for {len(trees)} tree(s) ...", flush=True)
    for tree in trees:
        for cmd, _, _ in cases.values():
            run(cmd, child_env(tree))
    for base in {base for _, _, base in cases.values()}:
        run(baselines[base], plain)
    times: dict[tuple[str, str], list[tuple[float, float, float]]] = {}
    for r in range(args.repeat):
        print(f"round {r + 1}/{args.repeat}", flush=True)
        for name, (cmd, _, base) in cases.items():
            for tree in trees:
                times.setdefault((name, str(tree)), []).append(run(cmd, child_env(tree)))
            times.setdefault((name, base), []).append(run(baselines[base], plain))
    report(cases, trees, times, args.repeat)


def report(cases: dict, trees: list[Path], times: dict, repeat: int) -> None:
    print(
        f"\nmedians of {repeat} interleaved rounds; load average now "
        f"{' '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs"
    )
    columns = ("wall s", 7), ("cpu s", 6), ("MiB", 5), ("x wall", 6), ("x cpu", 6)
    columns += ("visits/s", 9), ("/cpu-s", 9)
    head = f"{'case':15} {'what':45} " + " ".join(f"{c:>{w}}" for c, w in columns)
    print(head)
    print("-" * len(head))
    for name, (_, visits, base) in cases.items():
        base_wall = statistics.median(t[0] for t in times[(name, base)])
        base_cpu = statistics.median(t[1] for t in times[(name, base)])
        rows = [(str(tree), _short(tree)) for tree in trees] + [(base, base)]
        for key, label in rows:
            runs = times[(name, key)]
            wall = statistics.median(t[0] for t in runs)
            cpu = statistics.median(t[1] for t in runs)
            rss = max(t[2] for t in runs)
            rate = f"{visits / wall:9,.0f} {visits / cpu:9,.0f}" if visits else ""
            ratio = f"{wall / base_wall:6.2f} {cpu / base_cpu:6.2f}" if key != base else " " * 13
            print(f"{name:15} {label:45} {wall:7.3f} {cpu:6.3f} {rss:5.0f} {ratio} {rate}")
            if key != base and name in TARGETS:
                print(f"{'':15}   target: {_target(name, wall, cpu, visits, rss)}")


def _short(tree: Path) -> str:
    text = str(tree)
    return text if len(text) <= 45 else "…" + text[-44:]


def _target(name: str, wall: float, cpu: float, visits: int | None, rss: float) -> str:
    """Each target met or not, by wall time and (on a loaded machine the fairer) CPU time."""
    most, rate, mib = TARGETS[name]
    said = []
    if most is not None:
        said.append(f"≤ {most} s: {_met(wall <= most)} (by CPU: {_met(cpu <= most)})")
    if rate is not None:
        by_cpu = _met(visits / cpu >= rate)
        said.append(f"≥ {rate:,} visits/s: {_met(visits / wall >= rate)} (by CPU: {by_cpu})")
    if mib is not None:
        said.append(f"≤ {mib} MiB: {_met(rss <= mib)}")
    return "; ".join(said)


def _met(ok: bool) -> str:
    return "met" if ok else "not met"


if __name__ == "__main__":
    main()
