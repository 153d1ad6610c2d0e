"""The replay on Apache Spark: slices of the visits file, each whole members, through the
same kernel in Spark's Python workers.

    driver: the file's row groups ─ cut into slices at member boundaries ─ one task a slice
    task:   its rows as Arrow batches (pyarrow) ─ Decoder ─ the compiled kernel
            ─ its results as out/<scenario>/results/part-NNNNN.parquet, its partial aggregates
    driver: the partial aggregates added up ─ out/aggregates.json

The visits must be sorted by member_id, then time, as for the single-process replay (a
task's Decoder checks its rows, the driver the rows either side of each cut). So no Spark
shuffle or sort is needed: a member's visits are already together, and a slice that starts
and ends where the member changes holds whole members. Rows cross the JVM not at all (they
cost more to pass through it than to settle: measured, the repartition and sort alone took
eight times the whole single-process replay's CPU); Spark schedules the tasks, retries a
failed one (a retry rewrites the same part file) and runs them where the cores are.

Partial aggregates are integer sums, exactly additive, so the figures equal the
single-process run's. The members table and the compiled policies reach the tasks as one
broadcast. Each task runs the kernel on one thread (Spark gives a task one core).

On a cluster: `spark-submit` with gongji installed on every executor (pip install
'gongji[spark]'), the visits, members and --out on storage every executor reads and writes
(a shared file system), `--partitions` 2–4 per executor core (so a slow executor holds up
less; on one machine one a core is fastest: equal slices, least fixed cost a task); each
executor loads the compiled kernel once (cached per machine under ~/.cache/gongji).
"""

import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from gongji.analysis import columns as cols
from gongji.analysis import inputs, schema
from gongji.analysis.aggregate import Aggregates
from gongji.analysis.replay import (
    BATCH_ROWS,
    Ahead,
    Decoder,
    MemberTable,
    ReplayPolicy,
    Run,
    results_schema,
    results_writer,
    source_columns,
    summary,
    visits_file,
    write_aggregates,
)
from gongji.errors import InputError

UNSORTED = "visits must be sorted by member_id, then time (sort the file)"


def session(master: str = "local[*]", partitions: int = 8):
    """A Spark session whose Python workers run this interpreter (so they import gongji)."""
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    from pyspark.sql import SparkSession

    builder = SparkSession.builder
    if master.startswith("local"):
        # The JVM only schedules the tasks here: its optimising compiler and parallel
        # collector cost more CPU than they save (measured: half the JVM's CPU a job).
        builder = builder.config(
            "spark.driver.extraJavaOptions", "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC"
        )
    return (
        builder.master(master)
        .appName("gongji-replay")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.default.parallelism", str(partitions))
        .config("spark.python.worker.reuse", "true")  # the kernel loads once a worker
        .getOrCreate()
    )


@dataclass(frozen=True)
class Group:
    """A row group of one of the visits files: rows [first, first + rows) of them all."""

    file: str
    index: int
    first: int
    rows: int


@dataclass(frozen=True)
class Slice:
    """A task's rows [start, stop) of the visits (whole members) and its part file's number."""

    part: int
    start: int
    stop: int


def replay_spark(
    start: Callable[[], Any],
    visits: Path,
    members: Path,
    scenarios: list[ReplayPolicy],
    out: Path,
    partitions: int = 8,
    weight: int | str | None = None,
    batch_rows: int = BATCH_ROWS,
) -> dict:
    """As `replay.replay`, on Spark: out/<scenario>/results/ (Parquet parts, in the visits'
    order by part number) and out/aggregates.json (returned). Visits in Parquet (a file, or
    a folder of parts in name order), sorted by member then time, member ids whole numbers.
    `start` gives the Spark session, called once the inputs are checked: starting one
    starts a JVM (seconds), which a missing file should not wait for."""
    files = _files(visits)
    table = MemberTable.read(members, weight, scenarios[0].pack)
    if table.names is not None:
        raise InputError("members.member_id", "--spark needs whole-number ids, not text")
    groups = _groups(files)
    slices = _slices(groups, partitions)
    for s in scenarios:
        folder = out / s.name / "results"
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.glob("part-*.parquet"):  # a last run's, maybe more parts
            old.unlink()
    spark = start()
    shared = spark.sparkContext.broadcast((table, scenarios, groups, str(out), batch_rows))
    done = (
        spark.sparkContext.parallelize(slices, max(len(slices), 1))
        .map(lambda piece: _task(shared.value, piece))
        .collect()
    )
    runs = [Run(s, table) for s in scenarios]
    for error, parts in done:
        if error is not None:
            raise InputError(*error)
        for run, data in zip(runs, parts, strict=True):
            run.aggregates.merge(Aggregates.from_bytes(data))
    aggregates = summary(visits, table, runs)
    write_aggregates(out, aggregates)
    return aggregates


def _files(visits: Path) -> list[Path]:
    if not visits.exists():
        raise InputError("visits", f"no such file: {visits}")
    if inputs.is_csv(visits):
        raise InputError("visits", "--spark reads Parquet (replay a CSV without --spark)")
    files = sorted(visits.glob("*.parquet")) if visits.is_dir() else [visits]
    if not files:
        raise InputError("visits", f"no .parquet files in {visits}")
    for f in files:
        visits_file(f)  # the columns the replay reads, checked before any task runs
    return files


def _groups(files: list[Path]) -> list[Group]:
    groups, first = [], 0
    for f in files:
        meta = pq.ParquetFile(f).metadata
        for i in range(meta.num_row_groups):
            groups.append(Group(str(f), i, first, meta.row_group(i).num_rows))
            first += meta.row_group(i).num_rows
    return [g for g in groups if g.rows]


def _slices(groups: list[Group], parts: int) -> list[Slice]:
    """About equal slices of the rows, each cut moved on to where the member changes."""
    total = groups[-1].first + groups[-1].rows if groups else 0
    cuts = [0]
    for k in range(1, parts):
        at = _member_start(groups, max(total * k // parts, cuts[-1] + 1))
        if at < total and at > cuts[-1]:
            cuts.append(at)
    cuts.append(total)
    return [Slice(i, a, b) for i, (a, b) in enumerate(pairwise(cuts)) if b > a]


def _member_start(groups: list[Group], row: int) -> int:
    """The first row at or after `row` whose member differs from row - 1's (the total if
    none); the two members in order, else InputError."""
    before = None
    for g in groups:
        if g.first + g.rows <= row - 1:
            continue
        ids = _member_ids(g)
        if before is None:
            before = ids[row - 1 - g.first]
        lo = max(row - g.first, 0)
        changed = np.flatnonzero(ids[lo:] != before)
        if len(changed):
            at = lo + int(changed[0])
            if ids[at] < before:
                raise InputError(f"visits[{g.first + at}]", UNSORTED)
            return g.first + at
    return groups[-1].first + groups[-1].rows if groups else 0


def _member_ids(g: Group) -> np.ndarray:
    column = pq.ParquetFile(g.file).read_row_group(g.index, columns=["member_id"]).column(0)
    try:
        return cols.filled(column.cast(pa.int64()), -1)  # (a missing id: the task says so)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        raise InputError("visits.member_id", "--spark needs whole-number ids") from None


def _task(shared, piece: Slice) -> tuple[tuple[str, str, str] | None, list[bytes]]:
    """One slice replayed: its results written, its partial aggregates (or the input error,
    to be raised on the driver, where the user sees it)."""
    import numba

    numba.set_num_threads(1)  # one core a task: Spark runs as many tasks as it has cores
    table, scenarios, groups, out, rows = shared
    runs = [Run(s, table) for s in scenarios]
    try:
        _replay_slice(groups, piece, rows, table, runs, Path(out))
    except InputError as exc:
        return (exc.field, exc.reason, exc.code), []
    return None, [run.aggregates.to_bytes() for run in runs]


def _replay_slice(
    groups, piece: Slice, rows: int, table: MemberTable, runs: list[Run], out: Path
) -> None:
    decoder = Decoder(table)
    decoder.rows = piece.start  # errors name the row of the whole file
    writers: list[pq.ParquetWriter] = []
    paths = [out / r.scenario.name / "results" / f"part-{piece.part:05d}.parquet" for r in runs]
    temporary = [p.with_name(f".{p.name}.partial") for p in paths]
    batches = Ahead(decoder.decode(b) for b in _batches(groups, piece, rows))
    try:
        for d in batches:
            calendar = decoder.calendar(d.first_day, d.last_day)
            if not writers:
                kind = results_schema(d.visit_id.type, False)
                writers = [results_writer(p, kind) for p in temporary]
            for run, writer in zip(runs, writers, strict=True):
                results = run.settle(d, calendar)
                writer.write_batch(run.to_batch(d, results))
                run.buffers.give(results)
            decoder.settled(d)
    finally:
        batches.close()
        for writer in writers:
            writer.close()
    for part, path in zip(temporary, paths, strict=True):
        part.replace(path)  # named only when whole (a retried task rewrites it)


def _batches(groups: list[Group], piece: Slice, rows: int) -> Iterator[pa.RecordBatch]:
    """Rows [start, stop) of the visits as Arrow batches in the replay's shape."""
    for g in groups:
        lo, hi = max(piece.start, g.first), min(piece.stop, g.first + g.rows)
        if lo >= hi:
            continue
        f = visits_file(Path(g.file))
        names = source_columns(f, schema.VISITS.names)
        at = g.first
        for batch in f.iter_batches(rows, row_groups=[g.index], columns=names):
            a, b = max(lo - at, 0), min(hi - at, batch.num_rows)
            if a < b:
                yield inputs.shaped(batch.slice(a, b - a), at + a)
            at += batch.num_rows
