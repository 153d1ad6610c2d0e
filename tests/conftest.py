import os
import uuid
from pathlib import Path

import pytest
from hypothesis import settings
from sqlalchemy import create_engine, text

from gongji.ledger import registry, store

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"

# -- hypothesis: the `dev` profile by default; `ci` where CI is set (.ci/run sets it): seeded
# (the same examples on every run, so a CI failure reproduces and a pass is not the luck of
# the draw) and three times the examples. `pytest --hypothesis-profile NAME` chooses another.
# A property test sets its number of examples with `examples(n)`: n under `dev`, scaled with
# the loaded profile, so the profile decides and an expensive test still takes fewer than a
# cheap one.
DEV_EXAMPLES = 100
settings.register_profile("dev", max_examples=DEV_EXAMPLES)
settings.register_profile(
    "ci", max_examples=3 * DEV_EXAMPLES, derandomize=True, database=None, print_blob=True
)
settings.load_profile("ci" if os.environ.get("CI") else "dev")


def examples(n: int, most: int | None = None) -> int:
    """A test's max_examples: `n` under the `dev` profile, scaled to the loaded one (and no
    more than `most`, for a test whose examples cost more and more)."""
    scaled = max(1, n * settings().max_examples // DEV_EXAMPLES)
    return scaled if most is None else min(scaled, max(n, most))


@pytest.fixture(scope="session")
def inventory_text() -> str:
    path = SHARED / "spec" / "rules-inventory.md"
    if not path.is_file():
        if os.environ.get("CI"):
            pytest.fail(f"{path} is missing: CI runs with shared/ beside the checkout")
        pytest.skip("shared/ is not beside this checkout")
    return path.read_text(encoding="utf-8")


# -- stores: every ledger and service test runs on an SQLite file and on a fresh PostgreSQL
# database. PostgreSQL is at GONGJI_TEST_PG (default: the local server, database `test`, trust
# auth). Where it cannot be reached the PostgreSQL cases fail: they must run in CI, not skip.

PG_ADMIN = os.environ.get("GONGJI_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


# The institutions the ledger tests' visits name (a local visit must name a registered one).
INSTITUTIONS = [
    ("H001", "level3"),
    ("H0", "level2"),
    ("H1", "level2"),
    ("H2", "level2"),
    ("C1", "level1"),
]


def register_institutions(engine, region: str = "kaifeng") -> None:
    with engine.begin() as conn:
        for code, level in INSTITUTIONS:
            registry.add_institution(
                conn, {"code": code, "name": f"医院 {code}", "region": region, "level": level}
            )


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request, tmp_path):
    if request.param == "sqlite":
        engine = store.connect(f"sqlite:///{tmp_path / 'gongji.db'}")
        store.upgrade(engine)
        register_institutions(engine)
        yield engine
        engine.dispose()
        return
    name = f"gongji_t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine = store.connect(PG_ADMIN.rsplit("/", 1)[0] + f"/{name}")
    store.upgrade(engine)
    register_institutions(engine)
    yield engine
    engine.dispose()
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
    admin.dispose()
