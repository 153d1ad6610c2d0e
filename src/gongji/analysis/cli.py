"""`gongji generate`, `gongji replay`, `gongji report`: the analysis commands.

Thin over the analysis modules; long runs show a progress bar (on stderr, so the printed
figures stay clean), bad input is one line naming the field and exit 2.
"""

import atexit
import gc
import time
from pathlib import Path

import typer

from gongji.commands import console as out
from gongji.commands import fail
from gongji.errors import InputError


def _analysis_installed() -> None:
    try:
        import numba  # noqa: F401
        import pyarrow  # noqa: F401
    except ImportError:
        fail(InputError("install", "the analysis tools need: pip install 'gongji[analysis]'"))


def register(app: typer.Typer) -> None:
    app.command()(generate)
    app.command()(replay)
    app.command()(report)


def _progress(what: str):
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(
        TextColumn(what),
        BarColumn(),
        TextColumn("{task.completed:,}/{task.total:,}"),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    )


def generate(
    out_dir: Path = typer.Argument(..., help="Folder for members.parquet and visits.parquet."),
    region: str = typer.Option(..., "--region", help="Region whose pack the data follows."),
    members: int = typer.Option(..., "--members", min=1, help="Members to generate."),
    year: int = typer.Option(..., "--year", help="The year of visits."),
    seed: int = typer.Option(1, "--seed", min=0, help="Same seed, same data."),
) -> None:
    """生成合成数据。
    Synthetic data (合成数据): a population and a year of its visits, as Parquet."""
    _analysis_installed()
    from gongji import policy
    from gongji.analysis.generate import generate as run

    try:
        policy.load_region(region)
        with _progress("generating") as bar:
            task = bar.add_task("", total=members)
            n, visits = run(
                region, members, year, out_dir, seed, lambda done: bar.update(task, completed=done)
            )
    except (InputError, ValueError) as exc:
        fail(exc if isinstance(exc, InputError) else InputError("generate", str(exc)))
    out().print(
        f"{n:,} 名参保人，{visits:,} 次就诊 -> {out_dir} ({n:,} members, {visits:,} visits)"
    )


def replay(
    visits: Path = typer.Argument(
        ..., help="visits.parquet or visits.csv (sorted by member_id, time)."
    ),
    region: str = typer.Option(
        None, "--region", help="The baseline: this region's pack (default: --pack's region)."
    ),
    out_dir: Path = typer.Option(Path("replay"), "--out", help="Folder for the results."),
    members: Path = typer.Option(None, "--members", help="Default: members.parquet beside."),
    overrides: list[str] = typer.Option(
        [], "--set", help="A reform: key=value in every version (general.annual_cap.employee=3000)."
    ),
    pack: Path = typer.Option(None, "--pack", help="A reform: an alternative pack file."),
    weight: str = typer.Option(
        None, "--weight", help="A sample: members each stands for (20), or a members column."
    ),
    spark: bool = typer.Option(False, "--spark", help="Run on Apache Spark (needs Java 17+)."),
    master: str = typer.Option("local[*]", "--master", help="Spark master (with --spark)."),
    partitions: int = typer.Option(8, "--partitions", min=1, help="Spark partitions."),
) -> None:
    """回放测算（可与改革方案对比）。
    Replay visits under the policy (回放测算); with --set or --pack, beside a reform."""
    _analysis_installed()
    atexit.unregister(_exit_quickly)  # (once, however many replays a process runs)
    atexit.register(_exit_quickly)
    from gongji import policy
    from gongji.analysis import kernel
    from gongji.analysis.replay import ReplayPolicy, load_kernel, visit_count
    from gongji.analysis.replay import replay as run
    from gongji.policy.loader import load

    try:
        changes = dict(_pair(o) for o in overrides)
        # a reform file, whatever its name: its region is the one it says
        reform = load(str(pack), changes) if pack else None
        region = region or (reform.region if reform else None)
        if region is None:
            raise InputError("--region", "required (or a --pack file, whose region it reads)")
        scenarios = [ReplayPolicy("baseline", policy.load_region(region))]
        if changes and not pack:
            reform = load(region, changes)
        if reform is not None:
            scenarios.append(ReplayPolicy("reform", reform, changes, str(pack) if pack else None))
        members = members or visits.with_name("members.parquet")
        if spark:
            from gongji.analysis.spark import replay_spark, session

            aggregates = replay_spark(
                lambda: session(master, partitions),
                visits,
                members,
                scenarios,
                out_dir,
                partitions,
                weight_of(weight),
            )
        else:
            if not kernel.cached():
                _compiling(lambda: load_kernel(visits, scenarios[0]))
            total = visit_count(visits) if visits.is_file() else 0
            with _progress("replaying") as bar:
                task = bar.add_task("", total=total)
                aggregates = run(
                    visits,
                    members,
                    scenarios,
                    out_dir,
                    lambda rows: bar.advance(task, rows),
                    weight=weight_of(weight),
                    say=bar.console.print,  # above the bar
                )
    except InputError as exc:
        fail(exc)
    _print_totals(aggregates)
    out().print(
        f"结果与 aggregates.json 已写入 {out_dir}；`gongji report {out_dir}` 生成报告"
        f" (results and aggregates.json in {out_dir}; `gongji report {out_dir}` draws them)"
    )


def _exit_quickly() -> None:
    """At exit, the interpreter's last garbage collections walk every object numba, pyarrow
    and numpy made (a fifth of a million-visit replay's whole time, issue 22); what a
    replay leaves is closed already (its files written and renamed), none of it waits on a
    collection: the objects are frozen, out of the collections' way."""
    gc.freeze()


def _compiling(compile_kernel) -> None:
    """The first replay after install (or after an upgrade) compiles the kernel, which numba
    keeps for later runs: say so while it runs, on stderr, and how long it took."""
    from gongji.analysis.kernel import COMPILING, compiled_in

    err = out(stderr=True)
    start = time.perf_counter()
    if err.is_terminal:
        with err.status(COMPILING):
            compile_kernel()
    else:  # a log: the line, not a spinner
        err.print(COMPILING)
        compile_kernel()
    err.print(compiled_in(time.perf_counter() - start))


def weight_of(text: str | None) -> int | str | None:
    """--weight: a whole number (every member stands for that many), else a column name."""
    if text is None:
        return None
    return int(text) if text.strip().isdigit() else text.strip()


def _pair(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise InputError("--set", f"expected key=value, not {text!r}")
    return key.strip(), value.strip()


def _print_totals(aggregates: dict) -> None:
    """The scenarios' totals side by side, in Chinese (开封市：2 次就诊; 基线, 改革方案), amounts
    in yuan with thousands separators."""
    from rich.table import Table

    from gongji.analysis.report import FIGURE_NAMES, SCENARIO_NAMES
    from gongji.labels import label
    from gongji.money import fmt_grouped

    scenarios = aggregates["scenarios"]
    count = aggregates["visit_count"]
    table = Table(title=f"{label(aggregates['region'])}：{count:,} 次就诊", title_justify="left")
    table.add_column("项目")
    for name in scenarios:
        table.add_column(SCENARIO_NAMES.get(name, (name,))[0], justify="right")
    for measure in next(iter(scenarios.values()))["totals"]:
        cells = (s["totals"][measure] for s in scenarios.values())
        figures = (f"{v:,}" if isinstance(v, int) else fmt_grouped(v) for v in cells)
        table.add_row(FIGURE_NAMES.get(measure, (label(measure),))[0], *figures)
    out().print(table)


def report(
    folder: Path = typer.Argument(..., help="A replay's --out folder (with aggregates.json)."),
) -> None:
    """基金影响报告。
    Fund-impact report (基金影响报告): report.html with charts, and the charts as PNG."""
    _analysis_installed()
    from gongji.analysis.report import write_report

    try:
        path = write_report(folder)
    except InputError as exc:
        fail(exc)
    out().print(f"报告：{path}，图表在 {folder / 'charts'} (report; charts in {folder / 'charts'})")
