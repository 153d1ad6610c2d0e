"""Taking a test store back to an earlier schema revision, to test a migration on the rows
an older version of the ledger left."""

from alembic import command
from alembic.config import Config

from gongji.ledger import store


def back_to(db, revision: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(store.MIGRATIONS))
    with db.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, revision)
