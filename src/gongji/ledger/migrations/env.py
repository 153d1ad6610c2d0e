"""Alembic environment: the connection is handed in by gongji.ledger.store."""

from alembic import context

from gongji.ledger.schema import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata)
with context.begin_transaction():
    context.run_migrations()
