"""The replay on Apache Spark: the same batches through the same kernel, partitioned by member.

    visits ─ repartition(member_id) ─ sortWithinPartitions(member_id, time, visit_id)
           ─ mapInArrow(replay_batches)  ─▶ results per scenario, partial aggregates

Each partition holds whole members in time order; its Arrow batches stream through
`replay.replay_batches`, which carries the member a batch ends with into the next batch (no
whole-group frames in memory). At its end a partition emits its partial aggregates (integer
sums, exactly additive) as one extra row; the driver adds them up, so the figures equal the
single-process run's. The members table and the compiled policies reach the executors as
one broadcast.

On a cluster: `spark-submit` with gongji installed on every executor (pip install
'gongji[spark]'), the visits and members on storage every executor reads (HDFS, S3), and
`--partitions` about 2–4 per executor core; each executor compiles the kernel once (cached
per machine under ~/.cache/gongji).
"""

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa

from gongji.analysis import inputs
from gongji.analysis.aggregate import Aggregates
from gongji.analysis.replay import (
    RESULTS,
    MemberTable,
    ReplayPolicy,
    Run,
    replay_batches,
    summary,
    write_aggregates,
)
from gongji.errors import InputError

# What a partition emits: result rows (aggregates null) and, last, one row per scenario with
# its partial aggregates (the visit columns null).
OUTPUT = pa.schema(
    [
        ("scenario", pa.string()),
        # results.parquet's columns, dictionaries as their plain values (Spark takes those)
        *(
            (f.name, f.type.value_type if pa.types.is_dictionary(f.type) else f.type)
            for f in RESULTS
        ),
        ("aggregates", pa.binary()),
    ]
)
_SPARK_TYPES = {pa.string(): "string", pa.binary(): "binary", pa.int64(): "long"}
SPARK_OUTPUT = ", ".join(f"{f.name} {_SPARK_TYPES[f.type]}" for f in OUTPUT)


def session(master: str = "local[*]", partitions: int = 8):
    """A Spark session whose Python workers run this interpreter (so they import gongji)."""
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    from pyspark.sql import SparkSession

    return (
        SparkSession.builder.master(master)
        .appName("gongji-replay")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.session.timeZone", "UTC")  # times are local wall-clock, kept as is
        .config("spark.sql.shuffle.partitions", str(partitions))
        .config("spark.sql.execution.arrow.maxRecordsPerBatch", "65536")
        .getOrCreate()
    )


def replay_spark(
    spark,
    visits: Path,
    members: Path,
    scenarios: list[ReplayPolicy],
    out: Path,
    partitions: int = 8,
    weight: int | str | None = None,
) -> dict:
    """As `replay.replay`, on Spark: out/<scenario>/results/ (Parquet parts) and
    out/aggregates.json (returned). Visits in Parquet, member ids whole numbers."""
    if not visits.exists():
        raise InputError("visits", f"no such file: {visits}")
    if visits.suffix.lower() == ".csv":
        raise InputError("visits", "--spark reads Parquet (replay a CSV without --spark)")
    table = MemberTable.read(members, weight, scenarios[0].pack)
    if table.names is not None:
        raise InputError("members.member_id", "--spark needs whole-number ids, not text")
    shared = spark.sparkContext.broadcast((table, scenarios))
    frame = (
        spark.read.parquet(str(visits))
        .repartition(partitions, "member_id")
        .sortWithinPartitions("member_id", "time", "visit_id")
        .mapInArrow(lambda batches: _partition(shared.value, batches), SPARK_OUTPUT)
    )
    staged = out / "spark-staging"
    frame.write.mode("overwrite").parquet(str(staged))
    saved = spark.read.parquet(str(staged))
    runs = [Run(s, table) for s in scenarios]
    for run in runs:
        mine = saved.where(saved.scenario == run.scenario.name)
        parts = mine.where(mine.aggregates.isNotNull()).select("aggregates").collect()
        for row in parts:
            run.aggregates.merge(Aggregates.from_bytes(row.aggregates))
        results = mine.where(mine.aggregates.isNull()).drop("scenario", "aggregates")
        results.write.mode("overwrite").parquet(str(out / run.scenario.name / "results"))
    aggregates = summary(visits, table, runs)
    write_aggregates(out, aggregates)
    return aggregates


def _partition(shared, batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    table, scenarios = shared
    runs = [Run(s, table) for s in scenarios]
    shaped = (inputs.shaped(b, 0) for b in batches)  # amounts in fen, as any file's
    for d, settled in replay_batches(shaped, table, runs):
        for run, results in zip(runs, settled, strict=True):
            yield _with_scenario(run.scenario.name, run.to_batch(d, results))
    for run in runs:
        row = {f.name: [None] for f in OUTPUT}
        row["scenario"] = [run.scenario.name]
        row["aggregates"] = [run.aggregates.to_bytes()]
        yield pa.record_batch(row, schema=OUTPUT)


def _with_scenario(name: str, batch: pa.RecordBatch) -> pa.RecordBatch:
    columns = {"scenario": pa.array([name] * batch.num_rows, pa.string())}
    for f in OUTPUT:
        if f.name in batch.schema.names:
            columns[f.name] = batch.column(f.name).cast(f.type)
    columns["aggregates"] = pa.nulls(batch.num_rows, pa.binary())
    return pa.record_batch(columns, schema=OUTPUT)
