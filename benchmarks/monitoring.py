"""Monitoring rules: recall and false alarms on planted anomalies, and how fast they run.

    python benchmarks/monitoring.py [--members 200000] [--per-rule 200] [--repeat 3]

Generates a year of visits (`gongji generate`, kept in --data and reused), replays them under
the region's pack, plants `--per-rule` anomalies of each kind (institution indicators: one
institution per 20) and prints each rule's recall and false alarms (each rule measured with
only its own kind planted). Then times `monitor()` over all the claims, median of --repeat,
beside a baseline measured in the same run: one group-by over the same visits (per member
and day: the cheapest pass any of the rules makes).
"""

import argparse
import statistics
import time
from pathlib import Path

import polars as pl


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--members", type=int, default=200_000)
    ap.add_argument("--region", default="kaifeng")
    ap.add_argument("--per-rule", type=int, default=200)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--data", default="/tmp/gongji-bench-monitoring")
    args = ap.parse_args()

    from gongji import policy
    from gongji.analysis import generate, replay
    from gongji.supervision import monitoring, planted

    data = Path(args.data) / f"{args.region}-{args.members}"
    if not (data / "visits.parquet").is_file():
        generate.generate(args.region, args.members, 2023, data, seed=1)
    results = data / "run" / "baseline" / "results.parquet"
    if not results.is_file():
        scenario = replay.ReplayPolicy("baseline", policy.load_region(args.region))
        replay.replay(data / "visits.parquet", data / "members.parquet", [scenario], data / "run")
    claims = planted.generated_claims(data, results)
    print(f"{claims.visits.height:,} visits, {args.per_rule} anomalies planted per rule")

    report = planted.measure(claims, per_rule=args.per_rule)
    with pl.Config(tbl_rows=40, tbl_width_chars=140, fmt_str_lengths=40):
        print(report)

    config = monitoring.load_config()
    rules, base = [], []
    for _ in range(args.repeat):
        t = time.perf_counter()
        claims.visits.group_by("member_id", pl.col("time").dt.date()).len()
        base.append(time.perf_counter() - t)
        t = time.perf_counter()
        alerts = monitoring.monitor(claims, config)
        rules.append(time.perf_counter() - t)
    n = claims.visits.height
    r, b = statistics.median(rules), statistics.median(base)
    print(f"monitor(): {r:.2f} s median ({n / r / 1e6:.2f} M visits/s), {alerts.height} alerts")
    print(f"baseline group-by: {b:.2f} s median; ratio monitor/baseline {r / b:.1f}x")


if __name__ == "__main__":
    main()
