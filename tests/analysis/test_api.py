"""The Python API for notebooks (src/gongji/api.py): the figures `gongji calculate` and
`gongji replay` give, the README's example runs as written, and `import gongji` stays cheap."""

import contextlib
import io
import json
import re
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from typer.testing import CliRunner

import gongji
from gongji import documents
from gongji.cli import app
from gongji.errors import InputError

from .test_inputs import REFORM, members_as_csv, text_id_rows, write_csv, write_parquet

ROOT = Path(__file__).parents[2]
EXAMPLES = ROOT / "examples"
runner = CliRunner()


def test_import_gongji_loads_no_heavy_library():
    code = (
        "import sys, gongji\n"
        "assert callable(gongji.load_pack)\n"  # looked up: api.py, not what it calls
        "heavy = ('polars', 'pandas', 'numba', 'pyarrow', 'numpy', 'fastapi', 'pydantic')\n"
        "print(' '.join(m for m in heavy if m in sys.modules))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == []
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        gongji.nothing  # noqa: B018


@pytest.mark.parametrize("example", ["kaifeng-same-day.yaml", "nanyang-line-items.yaml"])
def test_settle_gives_what_calculate_prints(example):
    document = documents.read(EXAMPLES / example)
    printed = runner.invoke(app, ["calculate", str(EXAMPLES / example), "--json"])
    assert printed.exit_code == 0, printed.output
    pack = gongji.load_pack(document.pop("region"))
    settled = gongji.settle(pack, document)
    assert settled == json.loads(printed.stdout, parse_float=Decimal)
    assert settled["visits"][0]["trace"]  # the rules applied, step by step


def test_settle_under_a_reform_and_a_region_that_is_not_the_pack_s():
    document = documents.read(EXAMPLES / "kaifeng-same-day.yaml")
    base = gongji.settle("kaifeng", document)
    # KF-9d: 50% at level 3; the reform pays 70%
    reform = gongji.settle(gongji.load_pack("kaifeng", {"general.ratio.employee.level3": "70%"}),
                           document)  # fmt: skip
    assert reform["visits"][0]["fund_pay"] > base["visits"][0]["fund_pay"]
    with pytest.raises(InputError, match=r"the pack is .nanyang.'s"):
        gongji.settle("nanyang", document)


def test_replay_gives_the_cli_s_figures(tmp_path):
    """The same files through `gongji replay` and `gongji.replay`: the table is the CLI's
    aggregates.json, figure for figure (and its winners and losers too)."""
    visits = write_csv(tmp_path / "data", text_id_rows())
    _, members = write_parquet(tmp_path / "data", text_ids=True)
    args = ["replay", str(visits), "--region", "kaifeng", "--members", str(members)]
    args += ["--out", str(tmp_path / "cli"), *(f"--set={k}={v}" for k, v in REFORM.items())]
    printed = runner.invoke(app, args)
    assert printed.exit_code == 0, printed.output
    written = json.loads((tmp_path / "cli" / "aggregates.json").read_text())
    table = gongji.replay(visits, members, "kaifeng", reform=REFORM)
    assert table.equals(gongji.table(written))
    assert table.equals(gongji.table(tmp_path / "cli"))
    fund = table.filter(dimension="member_type", key="retiree").select("scenario", "fund_pay")
    assert fund.rows() == [("baseline", Decimal("70.00")), ("reform", Decimal("80.00"))]
    effect = gongji.reform_effect(tmp_path / "cli")
    assert effect.row(0) == ("reform", "all", 1, 1, 2, Decimal("10.00"), Decimal("10.00"))
    assert effect.get_column("member_type").to_list() == ["all", "employee", "retiree"]


def test_replay_writes_the_files_when_asked_and_weights(tmp_path):
    visits, _ = write_parquet(tmp_path / "data")  # members.parquet beside them
    table = gongji.replay(visits, None, "kaifeng", weight=2, out=tmp_path / "run")
    assert (tmp_path / "run" / "baseline" / "results.parquet").is_file()
    totals = table.filter(dimension="all").row(0, named=True)
    assert (totals["visits"], totals["fund_pay"]) == (6, Decimal("272.00"))  # 2 × (60 + 6 + 70)
    assert gongji.reform_effect(tmp_path / "run").is_empty()  # no reform


def readme_example() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    marker = "<!-- notebook example: tests/analysis/test_api.py runs this block -->"
    block = re.search(re.escape(marker) + r"\s*```python\n(.*?)```", text, re.DOTALL)
    assert block, "the README's notebook example is gone"
    return "\n".join(line.removeprefix("  ") for line in block[1].splitlines())


def test_the_readme_example_runs_as_written(tmp_path, monkeypatch):
    from gongji.analysis.generate import generate

    generate("kaifeng", 200, 2023, tmp_path / "data")
    monkeypatch.chdir(tmp_path)
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(readme_example(), "README.md", "exec"), {})
    lines = printed.getvalue().splitlines()
    said = re.search(r'visit\["cash_pay"\]\)\s+# (.*)', readme_example())
    assert lines[0] == said[1] == "75.00 125.00 50.00"  # as its comment says
    assert "KF-9a" in lines[1]
    assert "employee" in printed.getvalue() and "paying_more" in printed.getvalue()
    assert (tmp_path / "run" / "aggregates.json").is_file()


def test_replay_of_csv_loads_neither_pandas_nor_pyarrow_dataset(tmp_path):
    """The replay's start-up stays quick with the new inputs: CSV files, text ids, yuan."""
    visits = write_csv(tmp_path / "data", text_id_rows())
    _, parquet = write_parquet(tmp_path / "data", text_ids=True)
    members = members_as_csv(parquet, tmp_path / "data" / "members.csv")
    code = (
        "import sys\n"
        "from gongji.cli import app\n"
        f"sys.argv = ['gongji', 'replay', {str(visits)!r}, '--region', 'kaifeng',\n"
        f"            '--members', {str(members)!r}, '--out', {str(tmp_path / 'o')!r}]\n"
        "try:\n"
        "    app(prog_name='gongji')\n"
        "except SystemExit as exc:\n"
        "    assert not exc.code, exc.code\n"
        "heavy = ('pandas', 'pyarrow.dataset', 'polars')\n"
        "print(' '.join(m for m in heavy if m in sys.modules), file=sys.stderr)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.splitlines()[-1].split() == []
    assert (tmp_path / "o" / "aggregates.json").is_file()
