"""Replay throughput: visits/s end to end from Parquet, peak memory, and Spark beside it.

    python benchmarks/replay.py [--members 740000] [--region kaifeng] [--repeat 5]
                                [--data DIR] [--no-spark] [--check 1000]
                                [--only loop,kernel,...]

About 740,000 generated members make 10 million visits (`gongji generate`, seed 1; the data
is kept in --data and reused). Each measurement runs in a fresh process, `--repeat` times,
and the median is printed:
- baseline: the visits read from Parquet as the replay reads them, and a plain compiled
  loop over them (one ratio product and a per-member sum a visit) — the floor, no rules;
- kernel: the replay's compiled loop over batches already decoded in memory (the rules);
- plain loop: a compiled loop on one thread over the same decoded arrays, writing the same
  results arrays (a member's running balance, a ratio of the in-scope amount, a min, the
  cash left): the in-memory floor the kernel is held against (issue 22: ≥ 0.6× it);
- end to end, warm: `replay()` from the Parquet file to aggregates (and to per-visit
  results.parquet), in a process that has replayed once already (imports and compiled
  code loaded); cold: the same as a new process's first replay;
- the same, warm, from a copy of the visits file that declares every column nullable (as
  an export may): its reader decodes null markers the generated file does not have;
- peak memory: the largest resident set of the end-to-end process;
- Spark local[cores]: the same replay through `replay_spark` on the same files (session
  started, workers warm), interleaved with the single process in the same process, both
  writing per-visit results: the ratio of their medians; the CPU seconds of the JVM and its
  Python workers and the JVM's peak memory; whether the aggregates equal the single
  process's.

Then, outside every timed run: each run that wrote per-visit results (each has its own
folder in --data/out) is checked on a seeded sample of members (at least --check visits)
against `engine.settle`, visit by visit from each member's opening balance, the rows read
back here independently of the replay's reader; a difference is printed and the script
exits non-zero.
"""

import argparse
import json
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve()


def worker(args: argparse.Namespace) -> dict:
    """One measurement, in this (fresh) process."""
    from gongji import policy
    from gongji.analysis import replay as R

    data, out = Path(args.data), Path(args.data) / "out" / args.worker  # checked afterwards
    scenarios = [R.ReplayPolicy("baseline", policy.load_region(args.region))]
    visits, members = data / "visits.parquet", data / "members.parquet"
    if args.worker == "nullable-results":
        visits, args.worker = data / "nullable" / "visits.parquet", "warm-results"
    if args.worker in ("warm", "cold", "warm-results", "cold-results"):
        keep = args.worker.endswith("results")
        if args.worker.startswith("warm"):
            R.replay(visits, members, scenarios, out, results=keep)
        shutil.rmtree(out, ignore_errors=True)  # replacing last run's files is not the replay
        t = time.perf_counter()
        agg = R.replay(visits, members, scenarios, out, results=keep)
        seconds = time.perf_counter() - t
        return {"visits": agg["visit_count"], "seconds": seconds, "rss_mb": _rss_mb()}
    if args.worker == "baseline":
        return _baseline(visits, R)
    table = R.MemberTable.read(members)
    decoder = R.Decoder(table)
    decoded = [decoder.decode(b) for b in R.read_batches(visits)]
    if args.worker == "loop":
        return _plain_loop(decoded, table, R)
    run = R.Run(scenarios[0], table)
    calendars = [decoder.calendar(d.first_day, d.last_day) for d in decoded]
    for d, c in zip(decoded[:1], calendars[:1], strict=True):
        run.buffers.give(run.settle(d, c))  # compiled code loaded
    run = R.Run(scenarios[0], table)
    t = time.perf_counter()
    for d, c in zip(decoded, calendars, strict=True):
        run.buffers.give(run.settle(d, c))
    seconds = time.perf_counter() - t
    n = sum(len(d.member_id) for d in decoded)
    return {"visits": n, "seconds": seconds, "rss_mb": _rss_mb()}


def _baseline(visits: Path, R) -> dict:
    """Read the visits as the replay does, and run a plain compiled loop over them."""
    loop = _baseline_loop()
    loop(np.zeros(1, np.int64), np.zeros(1, np.int64), np.zeros(1, np.int64))
    sums = np.ones(1 << 24, np.int64)  # touched before the clock starts: no page faults
    t = time.perf_counter()
    n = 0
    for batch in R.read_batches(visits):  # columns read as the replay reads them (no pandas)
        member = R.cols.values(batch.column("member_id"))
        loop(member % len(sums), R.cols.values(batch.column("in_scope")), sums)
        n += batch.num_rows
    seconds = time.perf_counter() - t
    return {"visits": n, "seconds": seconds, "rss_mb": _rss_mb()}


def _baseline_loop():
    import numba

    @numba.njit(nogil=True)
    def loop(member, in_scope, sums):
        for i in range(len(member)):
            sums[member[i]] += (in_scope[i] * 5000 + 5000) // 10000
        return sums

    return loop


def _plain_loop(decoded: list, table, R) -> dict:
    """The plain loop over the decoded batches in memory, into reused results arrays."""
    loop = _in_memory_loop()
    balance = table.arrays.balance
    buffers = R.Buffers(len(R.Results._fields))
    results = [buffers.take(len(d.member_id)) for d in decoded]
    v = decoded[0].visits
    loop(v.member, v.total, v.in_scope, v.level, v.category, balance, *results[0][:4])  # compiled
    t = time.perf_counter()
    for d, r in zip(decoded, results, strict=True):
        v = d.visits
        loop(v.member, v.total, v.in_scope, v.level, v.category, balance, *r[:4])
    seconds = time.perf_counter() - t
    n = sum(len(d.member_id) for d in decoded)
    return {"visits": n, "seconds": seconds, "rss_mb": _rss_mb()}


def _in_memory_loop():
    import numba

    @numba.njit(nogil=True)
    def loop(member, total, in_scope, level, category, opening, fund, account, cash, balance):
        left, last = 0, -1
        for i in range(len(member)):
            if member[i] != last:
                last = member[i]
                left = opening[last]
            ratio = 7000 + 500 * level[i] - 1000 * category[i]
            fund[i] = (in_scope[i] * ratio + 5000) // 10000
            account[i] = min(left, in_scope[i] - fund[i])
            left -= account[i]
            cash[i] = total[i] - fund[i] - account[i]
            balance[i] = left

    return loop


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(args: argparse.Namespace, what: str) -> dict:
    runs = []
    for _ in range(args.repeat):
        cmd = [sys.executable, str(HERE), "--worker", what, "--data", args.data]
        cmd += ["--region", args.region]
        runs.append(json.loads(subprocess.run(cmd, check=True, capture_output=True).stdout))
    seconds = statistics.median(r["seconds"] for r in runs)
    return {
        "visits": runs[0]["visits"],
        "seconds": seconds,
        "rate": runs[0]["visits"] / seconds,
        "rss_mb": max(r["rss_mb"] for r in runs),
    }


RESULT_RUNS = ("warm-results", "cold-results", "nullable-results")  # runs writing results


def check(args: argparse.Namespace) -> tuple[list[str], int]:
    """Each results-writing run's results.parquet on a seeded sample of members against
    `engine.settle`: (differences, visits checked)."""
    import pyarrow.parquet as pq

    from gongji import engine, policy

    sys.path.insert(0, str(HERE.parents[1]))  # the tests' reading of the files, not the replay's
    from tests.analysis.rows import to_member, to_visit

    data = Path(args.data)
    pack = policy.load_region(args.region)
    ids = pq.read_table(data / "members.parquet", columns=["member_id"])["member_id"].to_numpy()
    rng = np.random.default_rng(20240)
    take = max(1, args.check // 10)
    while True:  # enough members for --check visits (the files are sorted by member)
        chosen = sorted(int(i) for i in rng.choice(ids, min(take, len(ids)), replace=False))
        where = [("member_id", "in", chosen)]
        visits = pq.read_table(data / "visits.parquet", filters=where).to_pylist()
        if len(visits) >= args.check or take >= len(ids):
            break
        take *= 2
    members = {
        r["member_id"]: r
        for r in pq.read_table(data / "members.parquet", filters=where).to_pylist()
    }

    want, state = {}, {}
    for v in visits:  # in the file's order: by member, then time
        row = members[v["member_id"]]
        member, visit = to_member(row), to_visit(v)  # the tests' own reading of the files
        before = state.get(v["member_id"]) or engine.YearState.new(row["account_balance"])
        tables = engine.tables_on(pack, visit.time.date())
        if tables is None:
            want[v["visit_id"]] = ("E_NO_POLICY", "", "employee", 0, 0, 0, 0)
            want[v["visit_id"]] += (before.account_balance,)
            continue
        try:
            r, state[v["member_id"]] = engine.settle(tables, member, before, visit, trace=False)
        except engine.EngineError as exc:
            want[v["visit_id"]] = (exc.code, tables.version_id, "employee", 0, 0, 0, 0)
            want[v["visit_id"]] += (before.account_balance,)
            continue
        want[v["visit_id"]] = ("", r.version_id, r.member_class.value, r.deductible)
        want[v["visit_id"]] += (r.fund_pay, r.account_pay, r.cash_pay, r.account_balance)
    found = []
    for run in RESULT_RUNS:
        path = data / "out" / run / "baseline" / "results.parquet"
        rows = pq.read_table(path, filters=where).to_pylist()
        got = {
            r["visit_id"]: (
                r["status"],
                r["policy_version"],
                r["member_class"],
                r["deductible"],
                r["fund_pay"],
                r["account_pay"],
                r["cash_pay"],
                r["account_balance"],
            )
            for r in rows
        }
        if set(got) != set(want):
            found.append(f"{run}: {len(set(want) ^ set(got))} sampled visits missing or extra")
        found += [
            f"{run}: visit {k}: replay {got[k]} != settle {want[k]}"
            for k in want
            if k in got and got[k] != want[k]
        ]
    return found, len(want) * len(RESULT_RUNS)


def nullable_copy(data: Path) -> None:
    """data/nullable/visits.parquet: the visits, row group by row group, every column nullable."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    source = pq.ParquetFile(data / "visits.parquet")
    kinds = pa.schema([f.with_nullable(True) for f in source.schema_arrow])
    (data / "nullable").mkdir(exist_ok=True)
    with pq.ParquetWriter(data / "nullable" / "visits.parquet", kinds, compression="lz4") as w:
        for i in range(source.num_row_groups):
            w.write_table(source.read_row_group(i).cast(kinds))


def spark_run(args: argparse.Namespace) -> dict:
    """Spark local[cores] beside the single process, in one process, --repeat interleaved
    pairs (both warm, both writing per-visit results): medians of the wall times, the CPU
    seconds of the JVM and its Python workers (/proc: the JVM's process tree, exited workers
    included) and of this driver, the JVM's peak resident memory."""
    import os

    from gongji import policy
    from gongji.analysis.replay import ReplayPolicy, replay
    from gongji.analysis.spark import replay_spark, session

    data = Path(args.data)
    scenarios = [ReplayPolicy("baseline", policy.load_region(args.region))]
    visits, members = data / "visits.parquet", data / "members.parquet"
    cores = os.cpu_count() or 1
    t = time.perf_counter()
    spark = session(f"local[{cores}]", partitions=cores)
    spark.sparkContext.setLogLevel("ERROR")
    started = time.perf_counter() - t
    jvm = spark.sparkContext._gateway.proc.pid

    def on_spark(out: str) -> dict:
        return replay_spark(lambda: spark, visits, members, scenarios, data / out, cores)

    single = replay(visits, members, scenarios, data / "out-single")
    same = on_spark("out-spark")["scenarios"] == single["scenarios"]  # warm-up, checked
    walls, spark_walls, jvm_cpu, driver_cpu = [], [], [], []
    for _ in range(args.repeat):
        t = time.perf_counter()
        replay(visits, members, scenarios, data / "out-single")
        walls.append(time.perf_counter() - t)
        tree, mine, t = _tree_cpu(jvm), _own_cpu(), time.perf_counter()
        same &= on_spark("out-spark")["scenarios"] == single["scenarios"]
        spark_walls.append(time.perf_counter() - t)
        jvm_cpu.append(_tree_cpu(jvm) - tree)
        driver_cpu.append(_own_cpu() - mine)
    peak = _status_mb(jvm, "VmHWM")
    spark.stop()
    med = statistics.median
    return {
        "single": med(walls),
        "spark": med(spark_walls),
        "jvm_cpu": med(jvm_cpu),
        "driver_cpu": med(driver_cpu),
        "jvm_peak_mb": peak,
        "session": started,
        "cores": cores,
        "same": same,
    }


def _tree_cpu(pid: int) -> float:
    """CPU seconds of a process and its descendants, reaped children included."""
    import os

    parents = {}
    for p in filter(str.isdigit, os.listdir("/proc")):
        try:
            stat = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(p)] = (int(stat[1]), sum(int(x) for x in stat[11:15]))
    tree = {pid}
    while True:
        more = {p for p, (parent, _) in parents.items() if parent in tree} - tree
        if not more:
            break
        tree |= more
    ticks = sum(parents[p][1] for p in tree if p in parents)
    return ticks / os.sysconf("SC_CLK_TCK")


def _own_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _status_mb(pid: int, key: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) / 1024
    return 0.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--members", type=int, default=740_000)
    ap.add_argument("--region", default="kaifeng")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--check", type=int, default=1000, help="visits checked a results file")
    ap.add_argument("--data", default=None)
    ap.add_argument("--no-spark", action="store_true")
    ap.add_argument("--only", help="these measurements only, comma-separated (no check)")
    ap.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    args.data = args.data or f"/tmp/gongji-bench-replay/{args.region}-{args.members}"
    if args.worker:
        print(json.dumps(worker(args)))
        return
    data = Path(args.data)
    if not (data / "visits.parquet").is_file():
        from gongji.analysis.generate import generate

        t = time.perf_counter()
        generate(args.region, args.members, 2023, data)
        print(f"generated in {time.perf_counter() - t:.1f} s -> {data}")
    if not (data / "nullable" / "visits.parquet").is_file():
        nullable_copy(data)
    labels = {
        "baseline": "baseline: Parquet read + a plain loop",
        "loop": "plain loop in memory, one thread",
        "kernel": "kernel: the rules over decoded batches",
        "warm": "end to end, warm: Parquet -> aggregates",
        "warm-results": "end to end, warm: + per-visit results.parquet",
        "cold": "end to end, cold process: -> aggregates",
        "cold-results": "end to end, cold process: + results.parquet",
        "nullable-results": "warm + results, visits declared all nullable",
    }
    chosen = args.only.split(",") if args.only else list(labels)
    results = {what: measure(args, what) for what in labels if what in chosen}
    n = next(iter(results.values()))["visits"]
    print(f"{args.region}: {n:,} visits, median of {args.repeat} runs, 2-core machine")
    base = results["baseline"]["rate"] if "baseline" in results else None
    for what, r in results.items():
        versus = f"{r['rate'] / base:>5.2f} x baseline" if base else ""
        print(
            f"{labels[what]:<48}{r['rate'] / 1e6:>7.2f} M visits/s  {r['seconds']:>6.2f} s"
            f"  {versus}  peak {r['rss_mb']:>6.0f} MB"
        )
    if "loop" in results and "kernel" in results:
        ratio = results["kernel"]["rate"] / results["loop"]["rate"]
        print(f"kernel in memory / plain loop in memory: {ratio:.2f} (issue 22's target: ≥ 0.6)")
    if args.only:
        return
    if not args.no_spark:
        sp = spark_run(args)
        same = sp["same"]
        label = f"Spark local[{sp['cores']}], one slice a core -> results"
        print(
            f"{label:<48}{n / sp['spark'] / 1e6:>7.2f} M visits/s  {sp['spark']:>6.2f} s"
            f"  {sp['single'] / sp['spark']:>5.2f} x the single process beside it"
            f" ({n / sp['single'] / 1e6:.2f} M/s, {sp['single']:.2f} s)"
        )
        print(
            f"{'':<48}JVM + Python workers {sp['jvm_cpu']:.2f} CPU s, driver"
            f" {sp['driver_cpu']:.2f} CPU s, JVM peak {sp['jvm_peak_mb']:.0f} MB,"
            f" session start {sp['session']:.1f} s (not counted);"
            f" aggregates identical to the single process: {same}"
        )
    wrong, checked = check(args)
    if not args.no_spark and not same:
        wrong.append("Spark's aggregates differ from the single process's")
    if wrong:
        print(f"WRONG: {len(wrong)} replayed results differ", *wrong[:10], sep="\n  ")
        sys.exit(1)
    print(f"checked: {checked:,} replayed results ({', '.join(RESULT_RUNS)}) equal engine.settle's")


if __name__ == "__main__":
    main()
