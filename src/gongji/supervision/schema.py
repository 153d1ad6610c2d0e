"""Monitoring runs and their alerts, kept: staff work through a run's alerts after it ran
(the console lists them), and a run is never edited — the next run is a new one."""

from sqlalchemy import BigInteger, Column, Date, DateTime, ForeignKey, Integer, String, Table, Text

from gongji.ledger.schema import metadata

monitoring_runs = Table(
    "monitoring_runs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", DateTime, nullable=False),
    Column("actor", String(40), nullable=False),  # a staff username, or "cli"
    Column("begin", Date, nullable=False),  # the visit days monitored
    Column("end", Date, nullable=False),
    Column("alerts", Integer, nullable=False),
)

alerts = Table(
    "alerts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", Integer, ForeignKey("monitoring_runs.id"), nullable=False, index=True),
    Column("rule", String(40), nullable=False),
    Column("rules", String(80), nullable=False),
    Column("subject", String(120), nullable=False),
    Column("amount", BigInteger, nullable=False),  # fen
    Column("evidence", Text, nullable=False),  # JSON
)
