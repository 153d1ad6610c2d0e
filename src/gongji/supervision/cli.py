"""`gongji monitor` (alerts over the store's settled visits) and `gongji monitor-measure`
(recall and false alarms of the rules on generated data with planted anomalies)."""

from datetime import date
from pathlib import Path

import polars as pl
import typer
from rich.console import Console
from rich.table import Table

from gongji.errors import InputError
from gongji.ledger.cli import _day, _store, fail
from gongji.money import fmt

out = Console()


def register(app: typer.Typer) -> None:
    app.command()(monitor)
    app.command("monitor-measure")(monitor_measure)


def monitor(
    begin: str = typer.Option(..., "--from", help="First visit day (YYYY-MM-DD)."),
    end: str = typer.Option(..., "--to", help="Last visit day (YYYY-MM-DD)."),
    config: Path = typer.Option(None, "--config", help="Thresholds (default: monitoring.yaml)."),
    save: Path = typer.Option(None, "--out", help="Write every alert here (.csv or .parquet)."),
) -> None:
    """Monitoring (智能监控): run the rules over settled visits and list the alerts."""
    from gongji.supervision import claims, monitoring

    first, last = _day(begin, "--from"), _day(end, "--to")
    if last < first:
        fail(InputError("--to", f"{last} is before --from {first}"))
    try:
        cfg = monitoring.load_config(config) if config else monitoring.load_config()
        alerts = monitoring.monitor(claims.from_ledger(_store(), first, last), cfg)
        if save is not None:
            _save(alerts, save)
    except InputError as exc:
        fail(exc)
    _print_alerts(alerts, first, last)


def monitor_measure(
    data: Path = typer.Argument(..., help="Folder of `gongji generate` (members, visits)."),
    results: Path = typer.Argument(..., help="results.parquet of `gongji replay` on it."),
    per_rule: int = typer.Option(40, "--per-rule", min=1, help="Anomalies planted per rule."),
    seed: int = typer.Option(1, "--seed", help="Seed of the planting."),
) -> None:
    """Plant anomalies in generated data; print each rule's recall and false alarms."""
    from gongji.supervision import planted

    for path, field in ((data / "visits.parquet", "data"), (results, "results")):
        if not path.is_file():
            fail(InputError(field, f"no such file: {path}"))
    report = planted.measure(planted.generated_claims(data, results, seed), per_rule, seed)
    table = Table(title=f"Monitoring rules on planted anomalies (seed {seed})")
    for column in ("rule", "planted", "alerts", "found", "recall", "false alarms", "of alerts"):
        table.add_column(column, justify="left" if column == "rule" else "right")
    for r in report.iter_rows(named=True):
        table.add_row(
            r["rule"],
            str(r["planted"]),
            str(r["alerts"]),
            str(r["found"]),
            f"{r['recall_bp'] / 100:.1f}%",  # display only
            str(r["false_alarms"]),
            f"{r['false_alarm_bp'] / 100:.1f}%",
        )
    out.print(table)


def _save(alerts: pl.DataFrame, path: Path) -> None:
    if path.suffix == ".parquet":
        alerts.write_parquet(path)
    elif path.suffix == ".csv":
        alerts.write_csv(path)
    else:
        raise InputError("--out", "give a .csv or .parquet file")


def _print_alerts(alerts: pl.DataFrame, first: date, last: date) -> None:
    counts = alerts.group_by("rule", "rules").agg(pl.len(), pl.col("amount").sum()).sort("rule")
    table = Table(title=f"预警 alerts {first} – {last}: {alerts.height}")
    for column in ("rule", "rule IDs", "alerts", "amount (yuan)"):
        table.add_column(
            column, justify="right" if column in ("alerts", "amount (yuan)") else "left"
        )
    for r in counts.iter_rows(named=True):
        table.add_row(r["rule"], r["rules"], str(r["len"]), fmt(r["amount"]))
    out.print(table)
    for r in alerts.head(20).iter_rows(named=True):
        out.print(f"[bold]{r['rule']}[/] {r['subject']}  {r['evidence']}", highlight=False)
    if alerts.height > 20:
        out.print(f"… {alerts.height - 20} more (--out FILE writes them all)")
