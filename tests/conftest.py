import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"


@pytest.fixture(scope="session")
def inventory_text() -> str:
    path = SHARED / "spec" / "rules-inventory.md"
    if not path.is_file():
        if os.environ.get("CI"):
            pytest.fail(f"{path} is missing: CI runs with shared/ beside the checkout")
        pytest.skip("shared/ is not beside this checkout")
    return path.read_text(encoding="utf-8")
