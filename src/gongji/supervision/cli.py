"""Supervision commands: `gongji monitor` (alerts over the store's settled visits, kept as a
run), `gongji monitor-measure` (recall and false alarms on generated data with planted
anomalies), `gongji statements`, `gongji clearing` and `gongji fund-stats` (JSON, yuan)."""

from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from gongji.commands import checked_year, day, emit, fail, first_of_month, store
from gongji.commands import console as out
from gongji.errors import InputError
from gongji.money import fmt

if TYPE_CHECKING:
    import polars as pl


def register(app: typer.Typer) -> None:
    app.command()(monitor)
    app.command("monitor-measure")(monitor_measure)
    app.command()(statements)
    app.command()(clearing)
    app.command("fund-stats")(fund_stats)


def statements(
    month: str = typer.Argument(..., help="The month (YYYY-MM)."),
    institution: str = typer.Option(None, "--institution", help="Only this institution."),
    config: Path = typer.Option(None, "--config", help="Payment methods (default: payment.yaml)."),
) -> None:
    """机构月度结算单。
    Monthly statements (结算单) per institution: what the fund owes, under its payment
    method (M-2); every amount sums the journal."""
    from gongji.supervision import payment, present
    from gongji.supervision import statements as S
    from gongji.supervision.legs import month_span

    first = first_of_month(month, "month")
    try:
        cfg = payment.load_payment(config) if config else payment.load_payment()
        if institution:
            begin, end = month_span(first)
            found = [S.statement(store(), institution, begin, end, cfg)]
        else:
            found = S.statements(store(), first, cfg)
    except InputError as exc:
        fail(exc)
    emit(present.in_yuan(found))


def clearing(
    region: str = typer.Argument(..., help="Policy pack id (the insured region)."),
    month: str = typer.Argument(..., help="The month (YYYY-MM)."),
) -> None:
    """跨统筹区清算。
    Clearing with other regions (M-7): remote care and cross-region account mutual aid."""
    from gongji.supervision import present
    from gongji.supervision.clearing import clearing as cleared

    first = first_of_month(month, "month")
    try:
        emit(present.in_yuan(cleared(store(), region, first)))
    except InputError as exc:
        fail(exc)


def fund_stats(
    region: str = typer.Argument(..., help="Policy pack id."),
    year: int = typer.Argument(..., help="The year."),
) -> None:
    """基金统计。
    Fund statistics (M-1): income, expenditure by category and level, accounts, balances,
    month by month."""
    from gongji.supervision import present
    from gongji.supervision.fund import fund_statistics

    checked_year(year)
    try:
        emit(present.in_yuan(fund_statistics(store(), region, year)))
    except InputError as exc:
        fail(exc)


def monitor(
    begin: str = typer.Option(..., "--from", help="First visit day (YYYY-MM-DD)."),
    end: str = typer.Option(..., "--to", help="Last visit day (YYYY-MM-DD)."),
    config: Path = typer.Option(None, "--config", help="Thresholds (default: monitoring.yaml)."),
    save: Path = typer.Option(
        None,
        "--out",
        help="Write every alert here: .csv in yuan (amount_yuan), or .parquet in integer fen.",
    ),
) -> None:
    """智能监控：按规则检查已结算就诊并保存预警。
    Monitoring (智能监控): run the rules over settled visits, keep the run and its alerts
    in the store (the console lists them), and print them."""
    from gongji.supervision import monitoring, runs

    first, last = day(begin, "--from"), day(end, "--to")
    if last < first:
        fail(InputError("--to", f"{last} is before --from {first}"))
    try:
        cfg = monitoring.load_config(config) if config else monitoring.load_config()
        if save is not None and save.suffix not in (".csv", ".parquet"):
            raise InputError("--out", "give a .csv or .parquet file")
        run_id, alerts = runs.run(store(), first, last, "cli", cfg)
        if save is not None:
            _save(alerts, save)
    except InputError as exc:
        fail(exc)
    _print_alerts(alerts, first, last, run_id)


def monitor_measure(
    data: Path = typer.Argument(..., help="Folder of `gongji generate` (members, visits)."),
    results: Path = typer.Argument(..., help="results.parquet of `gongji replay` on it."),
    per_rule: int = typer.Option(40, "--per-rule", min=1, help="Anomalies planted per rule."),
    seed: int = typer.Option(1, "--seed", help="Seed of the planting."),
) -> None:
    """监控规则检出率测量：在合成数据中植入异常。
    Plant anomalies in generated data; print each rule's recall and false alarms."""
    from rich.table import Table

    from gongji.supervision import planted

    for path, field in ((data / "visits.parquet", "data"), (results, "results")):
        if not path.is_file():
            fail(InputError(field, f"no such file: {path}"))
    from gongji.labels import label

    report = planted.measure(planted.generated_claims(data, results, seed), per_rule, seed)
    table = Table(title=f"监控规则在植入异常上的表现（种子 {seed}）")
    for column in ("规则", "植入", "预警", "命中", "召回率", "误报", "误报占比"):
        table.add_column(column, justify="left" if column == "规则" else "right", no_wrap=True)
    for r in report.iter_rows(named=True):
        table.add_row(
            f"{label(r['rule'])} {r['rule']}",
            str(r["planted"]),
            str(r["alerts"]),
            str(r["found"]),
            f"{r['recall_bp'] / 100:.1f}%",  # display only
            str(r["false_alarms"]),
            f"{r['false_alarm_bp'] / 100:.1f}%",
        )
    out().print(table)


def _save(alerts: "pl.DataFrame", path: Path) -> None:
    """Parquet, for programs, keeps the store's integer fen (`amount`) and the evidence as
    JSON; CSV, which people open in a spreadsheet, has yuan with two decimals, its column
    named so (`amount_yuan`), the evidence as Chinese 名称：值 text in yuan, and a BOM: Excel
    on Chinese Windows reads UTF-8 without one as GBK."""
    if path.suffix == ".parquet":
        alerts.write_parquet(path)
    else:
        _in_yuan(alerts).write_csv(path, include_bom=True)


def _in_yuan(alerts: "pl.DataFrame") -> "pl.DataFrame":
    import polars as pl

    from gongji.labels import facts_text

    amounts = [fmt(fen) for fen in alerts["amount"]]
    facts = [facts_text(text) for text in alerts["evidence"]]
    columns = [c if c != "amount" else "amount_yuan" for c in alerts.columns]
    return (
        alerts.with_columns(
            pl.Series("amount", amounts, pl.Utf8), pl.Series("evidence", facts, pl.Utf8)
        )
        .rename({"amount": "amount_yuan"})
        .select(columns)
    )


def _print_alerts(alerts: "pl.DataFrame", first: date, last: date, run_id: int) -> None:
    import polars as pl
    from rich.table import Table

    from gongji.labels import facts_text, label
    from gongji.money import fmt_grouped

    counts = alerts.group_by("rule", "rules").agg(pl.len(), pl.col("amount").sum()).sort("rule")
    table = Table(title=f"预警 alerts {first} – {last}: {alerts.height} (run {run_id})")
    for column in ("规则 rule", "依据 rule IDs", "预警 alerts", "金额（元）"):
        table.add_column(column, justify="right" if column[0] in "预金" else "left")
    for r in counts.iter_rows(named=True):
        rule = f"{label(r['rule'])} {r['rule']}"  # the rule's Chinese name and its code
        table.add_row(rule, r["rules"], str(r["len"]), fmt_grouped(r["amount"]))
    out().print(table)
    for r in alerts.head(20).iter_rows(named=True):
        line = f"{label(r['rule'])} {r['subject']}  {facts_text(r['evidence'])}"
        out().print(line, highlight=False, markup=False)
    if alerts.height > 20:
        more = alerts.height - 20
        out().print(
            f"另有 {more} 条预警，--out 文件写出全部 (… {more} more; --out FILE writes them all)"
        )
