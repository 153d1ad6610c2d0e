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

import pyarrow.parquet as pq
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


# An employee in Kaifeng with 300.00 in the account, two level-3 visits in March 2023 (KF-9a,
# 9d: a deductible of 50.00 a visit, then the fund pays 50%, KF-9b: at most 150.00 a month;
# the account pays the in-scope share the fund leaves while it lasts; what is out of
# scope, and what the account cannot pay, is cash):
#   V1  250.00, 200.00 in scope: fund 50% × 150 = 75.00, account 50 + 75 = 125.00 (175.00
#       left), cash 50.00 (out of scope)
#   V2  400.00, 400.00 in scope: fund 50% × 350 = 175.00, cut to the month's 150 - 75 = 75.00;
#       the in-scope share left 325.00: account 175.00 (all that is left), cash 150.00
#   account_pay 300.00, cash_pay 200.00
ACCOUNT_MEMBERS = "member_id,type,account_balance\nM0001,employee,300.00\n"  # no has_account
ACCOUNT_VISITS = [("V1", "2023-03-01T10:00:00", "250.00", "200.00"),
                  ("V2", "2023-03-08T10:00:00", "400.00", "400.00")]  # fmt: skip


def _account_files(folder: Path, visit_ids: list[str]) -> tuple[Path, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "members.csv").write_text(ACCOUNT_MEMBERS, encoding="utf-8")
    lines = ["visit_id,member_id,time,institution,level,category,total,in_scope,remote,"
             "designated,manual,third_party,internet,use_account"]  # fmt: skip
    for vid, (_, time, total, in_scope) in zip(visit_ids, ACCOUNT_VISITS, strict=True):
        lines.append(f"{vid},M0001,{time},H1,level3,general,{total},{in_scope},0,1,0,0,0,1")
    (folder / "visits.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder / "visits.csv", folder / "members.csv"


def test_a_members_csv_without_has_account_has_the_account_calculate_gives(tmp_path):
    """No has_account column: the member's type decides (an employee in Kaifeng has an
    account), as in the ledger and `gongji calculate`, not "no account"."""
    visits, members = _account_files(tmp_path / "d", [v[0] for v in ACCOUNT_VISITS])
    scenario = {"region": "kaifeng",
                "member": {"id": "M0001", "type": "employee", "account_balance": "300.00"},
                "visits": [{"id": vid, "time": time, "institution": "H1", "level": "level3",
                            "category": "general", "total": total, "in_scope": in_scope,
                            "use_account": True}
                           for vid, time, total, in_scope in ACCOUNT_VISITS]}  # fmt: skip
    (tmp_path / "scenario.json").write_text(json.dumps(scenario), encoding="utf-8")
    printed = runner.invoke(app, ["calculate", str(tmp_path / "scenario.json"), "--json"])
    assert printed.exit_code == 0, printed.output
    calculated = json.loads(printed.stdout, parse_float=Decimal)["visits"]
    assert [(v["account_pay"], v["cash_pay"]) for v in calculated] == [
        (Decimal("125.00"), Decimal("50.00")), (Decimal("175.00"), Decimal("150.00"))]  # fmt: skip
    table = gongji.replay(visits, members, "kaifeng", out=tmp_path / "run")
    totals = table.filter(dimension="all").row(0, named=True)
    assert (totals["account_pay"], totals["cash_pay"]) == (Decimal("300.00"), Decimal("200.00"))
    results = pq.read_table(tmp_path / "run" / "baseline" / "results.parquet").to_pylist()
    assert [(r["account_pay"], r["cash_pay"]) for r in results] == [(12500, 5000), (17500, 15000)]


def test_text_visit_ids_give_the_integer_ids_figures_and_come_back_as_given(tmp_path):
    """A HIS's visit ids are text ("V1"): the replay does not need them as numbers, and
    writes them back in results.parquet as they were given."""
    texts = _account_files(tmp_path / "t", ["V1", "V2"])
    numbers = _account_files(tmp_path / "n", ["1", "2"])
    by_text = gongji.replay(*texts, "kaifeng", out=tmp_path / "ot")
    assert by_text.equals(gongji.replay(*numbers, "kaifeng", out=tmp_path / "on"))
    text_ids = pq.read_table(tmp_path / "ot" / "baseline" / "results.parquet")
    assert text_ids.column("visit_id").to_pylist() == ["V1", "V2"]
    number_ids = pq.read_table(tmp_path / "on" / "baseline" / "results.parquet")
    assert number_ids.column("visit_id").to_pylist() == [1, 2]
    assert text_ids.drop_columns("visit_id").equals(number_ids.drop_columns("visit_id"))
