"""`gongji generate / replay / report` as people run them, and bad input: a clear error naming
the field and row, exit 2, and nothing written that looks like a result."""

import json
import re

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from gongji.cli import app

runner = CliRunner()


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    folder = tmp_path_factory.mktemp("data")
    args = ["generate", str(folder), "--region", "panzhihua", "--members", "400", "--year", "2024"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "400 members" in result.output
    return folder


def test_generate_replay_report(data, tmp_path):
    out = tmp_path / "out"
    result = runner.invoke(
        app,
        [
            "replay",
            str(data / "visits.parquet"),
            "--region",
            "panzhihua",
            "--out",
            str(out),
            "--set",
            "general.annual_cap.employee=0",
        ],
    )
    assert result.exit_code == 0, result.output
    aggregates = json.loads((out / "aggregates.json").read_text())
    base, reform = aggregates["scenarios"]["baseline"], aggregates["scenarios"]["reform"]
    assert reform["overrides"] == {"general.annual_cap.employee": "0"}
    # no cap room for employees' general outpatient: the fund pays less
    assert float(reform["by"]["member_type"]["employee"]["fund_pay"]) < float(
        base["by"]["member_type"]["employee"]["fund_pay"]
    )
    assert pq.read_table(out / "reform" / "results.parquet").num_rows == aggregates["visit_count"]
    result = runner.invoke(app, ["report", str(out)])
    assert result.exit_code == 0, result.output
    assert (out / "report.html").is_file()
    assert len(list((out / "charts").glob("*.png"))) >= 5


def _broken(data, tmp_path, change) -> tuple:
    """A copy of the visits with one change, the members beside it."""
    table = pq.read_table(data / "visits.parquet")
    folder = tmp_path / "bad"
    folder.mkdir()
    pq.write_table(change(table), folder / "visits.parquet", row_group_size=1000)
    pq.write_table(pq.read_table(data / "members.parquet"), folder / "members.parquet")
    return folder / "visits.parquet", tmp_path / "out"


def _set(table: pa.Table, column: str, row: int, value) -> pa.Table:
    values = table.column(column).to_pylist()
    values[row] = value
    i = table.schema.get_field_index(column)
    return table.set_column(i, column, pa.array(values, table.schema.field(i).type))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda t: _set(t, "in_scope", 2500, 10**9), "visits[2500].in_scope: must be between"),
        (lambda t: _set(t, "total", 1700, -1), "visits[1700].total: must not be negative"),
        (lambda t: _set(t, "level", 3001, "level9"), "visits[3001].level: unknown value 'level9'"),
        (lambda t: _set(t, "member_id", 2999, 10**9), "visits[2999].member_id: member 1000000000"),
        (lambda t: _set(t, "member_id", 1200, 1), "visits[1200]: visits must be sorted"),
        (lambda t: _set(t, "category", 10, "dental"), "visits[10].category: unknown value"),
        (lambda t: t.drop_columns(["in_scope"]), "missing column(s): in_scope (in_scope_fen"),
        # a file that declares a required column nullable is read, up to the missing value
        (lambda t: _set(t, "total", 1500, None), "visits[1500].total: missing"),
    ],
)
def test_bad_visits_are_named_and_leave_no_results(data, tmp_path, change, message):
    visits, out = _broken(data, tmp_path, change)
    result = runner.invoke(app, ["replay", str(visits), "--region", "panzhihua", "--out", str(out)])
    assert result.exit_code == 2
    assert message in result.output
    assert not list(out.rglob("*.parquet")) and not (out / "aggregates.json").exists()


def test_bad_options_are_named(data, tmp_path):
    visits = str(data / "visits.parquet")
    for args, message in (
        (["--set", "general.annual_cap"], "--set: expected key=value"),
        (["--set", "general.no_such_node.x=1"], "general.no_such_node.x: no such node"),
        (["--set", "general.annual_cap.employee=lots"], "annual_cap.employee: not an amount"),
        (["--members", str(tmp_path / "none.parquet")], "members: no such file"),
    ):
        result = runner.invoke(app, ["replay", visits, "--region", "panzhihua", *args])
        assert result.exit_code == 2, args
        assert message in result.output, (args, result.output)
    result = runner.invoke(app, ["replay", str(tmp_path / "no.parquet"), "--region", "panzhihua"])
    assert result.exit_code == 2 and "visits: no such file" in result.output
    result = runner.invoke(app, ["report", str(tmp_path)])
    assert result.exit_code == 2 and "aggregates.json" in result.output


def test_spark_is_not_started_for_a_missing_file(tmp_path, monkeypatch):
    # starting a session starts a JVM (seconds): a typing mistake is answered first
    from gongji.analysis import spark

    def started(*args, **kwargs):
        pytest.fail("a Spark session was started before the inputs were checked")

    monkeypatch.setattr(spark, "session", started)
    args = ["replay", str(tmp_path / "no.parquet"), "--region", "panzhihua", "--spark"]
    result = runner.invoke(app, args)
    assert result.exit_code == 2 and "visits: no such file" in result.output, result.output


def test_the_first_replay_says_it_compiles_and_how_long_it_took(data, tmp_path, monkeypatch):
    from gongji import policy
    from gongji.analysis import kernel
    from gongji.analysis.replay import ReplayPolicy, load_kernel
    from gongji.engine import jit

    # this process has the kernel already: the replays below compile nothing
    load_kernel(data / "visits.parquet", ReplayPolicy("baseline", policy.load_region("panzhihua")))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # as after an install
    assert not jit.cached(kernel.__name__, grown=False)
    args = ["replay", str(data / "visits.parquet"), "--region", "panzhihua"]
    first = runner.invoke(app, [*args, "--out", str(tmp_path / "first")])
    assert first.exit_code == 0, first.output
    said = "".join(first.stderr.split())  # as printed, lines wrapped to the terminal
    assert "".join(kernel.COMPILING.split()) in said
    assert re.search(r"编译用时\d+秒，以后运行直接加载\(compiledin\d+s;laterrunsloadit\)", said)
    # numba keeps what it compiled, an index beside each function's code
    folder = jit.cache_folder(kernel.__name__, grown=False)
    index = folder / "analysis_0" / "kernel.replay_chunks-41.py311.nbi"
    index.parent.mkdir(parents=True)
    index.touch()
    assert jit.cached(kernel.__name__, grown=False)
    later = runner.invoke(app, [*args, "--out", str(tmp_path / "later")])
    assert later.exit_code == 0, later.output
    assert "compil" not in later.stderr


def test_replays_totals_are_printed_in_chinese(monkeypatch):
    """The totals table of `gongji replay --set`: the region, 基线 beside 改革方案, each measure
    by its Chinese name, amounts in yuan with thousands separators."""
    import io

    from rich.console import Console

    from gongji.analysis import cli

    printed = io.StringIO()
    monkeypatch.setattr(cli, "out", lambda: Console(file=printed, width=80))
    totals = {"visits": 2, "refused": 0, "total": "15800.00", "fund_pay": "75.00"}
    reform = {**totals, "fund_pay": "0.00"}
    cli._print_totals(
        {
            "region": "kaifeng",
            "visit_count": 2,
            "scenarios": {"baseline": {"totals": totals}, "reform": {"totals": reform}},
        }
    )
    text = printed.getvalue()
    assert "开封市：2 次就诊" in text
    assert re.search(r"基线\s.*改革方案", text)
    assert re.search(r"医疗费总额\s.*15,800\.00\s.*15,800\.00", text)
    assert re.search(r"统筹基金支出\s.*75\.00\s.*0\.00", text)
    assert "就诊人次" in text and "未予结算人次" in text
    assert not re.search(r"fund_pay|baseline|reform|visits", text)
