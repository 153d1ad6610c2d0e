"""Running the monitoring rules over the store and keeping what they found."""

from collections.abc import Callable
from datetime import date, datetime

import polars as pl
from sqlalchemy import Connection, Engine, insert, select

from gongji.errors import InputError
from gongji.supervision import claims, monitoring
from gongji.supervision.schema import alerts, monitoring_runs


def run(
    db: Engine,
    begin: date,
    end: date,
    actor: str,
    config: monitoring.Config | None = None,
    also: Callable[[Connection, int, pl.DataFrame], None] | None = None,
) -> tuple[int, pl.DataFrame]:
    """Monitor the visits of [begin, end]; the run is recorded with its alerts (one
    transaction: a run is there whole or not at all; `also` writes in it too, e.g. the
    audit line). Returns (run id, alerts)."""
    if end < begin:
        raise InputError("end", f"before the beginning ({end} < {begin})")
    config = config or monitoring.load_config()
    rx_days = config.prescription_circulation.valid_days
    found = monitoring.monitor(claims.from_ledger(db, begin, end, rx_days), config)
    with db.begin() as conn:
        run_id = conn.execute(
            insert(monitoring_runs).returning(monitoring_runs.c.id),
            {"at": datetime.now(), "actor": actor, "begin": begin, "end": end,
             "alerts": found.height},
        ).scalar_one()  # fmt: skip
        if found.height:
            conn.execute(insert(alerts), [{"run_id": run_id, **row} for row in found.to_dicts()])
        if also is not None:
            also(conn, run_id, found)
    return run_id, found


def latest(db: Engine, rule: str | None = None, limit: int = 500) -> tuple[object, list]:
    """The last run and its alerts (of one rule, if given), largest amounts first."""
    with db.connect() as conn:
        last = conn.execute(
            select(monitoring_runs).order_by(monitoring_runs.c.id.desc()).limit(1)
        ).first()
        if last is None:
            return None, []
        query = select(alerts).where(alerts.c.run_id == last.id)
        if rule == "institution_indicators":  # one rule, an alert name per indicator
            query = query.where(alerts.c.rule.startswith("institution_"))
        elif rule:
            query = query.where(alerts.c.rule == rule)
        rows = conn.execute(query.order_by(alerts.c.amount.desc(), alerts.c.id).limit(limit)).all()
    return last, rows
