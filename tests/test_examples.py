"""Every scenario in examples/ runs through `gongji calculate`, as a table and as JSON."""

import json
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gongji.cli import app
from gongji.policy import known_regions

EXAMPLES = sorted((Path(__file__).parents[1] / "examples").glob("*.*"))
runner = CliRunner()


def test_examples_cover_every_region():
    assert len(EXAMPLES) >= 10
    regions = {
        json.loads(runner.invoke(app, ["calculate", str(p), "--json"]).stdout)["region"]
        for p in EXAMPLES
    }
    assert regions == set(known_regions())


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example_runs(path):
    table = runner.invoke(app, ["calculate", str(path)])
    assert table.exit_code == 0, table.output
    assert "totals" in table.output
    proc = runner.invoke(app, ["calculate", str(path), "--json"])
    assert proc.exit_code == 0, proc.output
    out = json.loads(proc.stdout, parse_float=Decimal)
    for v in out["visits"]:
        assert v["fund_pay"] + v["account_pay"] + v["cash_pay"] == v["total"]
        assert v["trace"] and all(step["rule"] for step in v["trace"])
    assert out["totals"]["total"] == sum(v["total"] for v in out["visits"])


def test_examples_cover_every_category():
    from gongji import documents
    from gongji.terms import Category

    used = {
        visit.get("category", "general")
        for path in EXAMPLES
        for visit in documents.read(path)["visits"]
    }
    assert used == {c.value for c in Category}
