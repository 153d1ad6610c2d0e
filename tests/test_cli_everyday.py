"""The everyday tools a bureau expects from `gongji` (issue 21, items 8 and 9): credentials
listed with the id `revoke` takes, staff added from a script, CSV files as Excel saves them
on a Chinese Windows (GBK, UTF-8 with a BOM), every bad row and a wrong header reported,
months and years refused in one line when they are not what a command takes."""

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gongji.cli import app
from gongji.console import auth as console_auth
from gongji.csvfile import decode
from gongji.errors import InputError
from gongji.ledger import imports, store, views

runner = CliRunner()
EXAMPLES = Path(__file__).parents[1] / "examples"
MEMBERS = "region,id,type,account_balance,name,certno\n"
GBK_ROWS = "kaifeng,G1,employee,100.00,张三丰,410202198801150014\nkaifeng,G2,retiree,0,欧阳娜娜,\n"


@pytest.fixture
def db(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("GONGJI_DATABASE_URL", url)
    monkeypatch.delenv("GONGJI_STAFF_PASSWORD", raising=False)
    assert gongji("db", "init").exit_code == 0
    engine = store.connect(url)
    yield engine
    engine.dispose()


def gongji(*args: str, stdin: str | None = None):
    return runner.invoke(app, list(args), input=stdin)


def one_line(result) -> str:
    """A refusal: exit 2, one line on stderr, no traceback."""
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    (line,) = result.stderr.splitlines()
    return line


def csv_file(tmp_path, text: str, encoding: str = "utf-8", name: str = "m.csv") -> str:
    (tmp_path / name).write_text(text, encoding=encoding)
    return str(tmp_path / name)


def test_credential_list_shows_the_id_revoke_takes_and_never_a_token_or_secret(db, tmp_path):
    institutions = csv_file(
        tmp_path, "code,name,region,level\nH1,开封市第一人民医院,kaifeng,level3\n", name="i.csv"
    )
    assert gongji("import", "institutions", institutions).exit_code == 0
    issued = json.loads(gongji("credential", "issue", "--institution", "H1", "--json").stdout)
    bureau = gongji("credential", "issue", "--bureau", "--label", "医保局")
    assert bureau.exit_code == 0 and bureau.stderr.startswith("凭证 credential 2  paasid: ")
    listed = gongji("credential", "list", "--json")
    assert listed.exit_code == 0, listed.output
    rows = json.loads(listed.stdout)
    assert [(r["id"], r["institution"], r["paasid"], r["revoked"]) for r in rows] == [
        (1, "H1", issued["paasid"], None),
        (2, None, rows[1]["paasid"], None),
    ]
    assert len(rows[0]["issued"]) == len("2026-11-29 20:09:21")
    table = gongji("credential", "list")
    for shown in (listed.stdout, table.stdout):
        assert issued["token"] not in shown and issued["secret"] not in shown
    assert "医保局 bureau" in table.stdout and issued["paasid"] in table.stdout
    assert gongji("credential", "revoke", "1").exit_code == 0
    after = json.loads(gongji("credential", "list", "--json", "--institution", "H1").stdout)
    assert len(after) == 1 and after[0]["revoked"] is not None


def test_staff_add_reads_the_password_from_stdin_without_a_terminal(db):
    added = gongji(
        "staff", "add", "clerk", "--name", "王经办", "--role", "operator", "--password-stdin",
        stdin="a long passphrase\n",
    )  # fmt: skip
    assert added.exit_code == 0, added.output
    assert json.loads(added.stdout) == {"added": "clerk", "role": "operator"}
    assert console_auth.login(db, "clerk", "a long passphrase") is not None
    # no terminal to ask at and no password given: say how, do not hang on a prompt
    line = one_line(gongji("staff", "add", "other", "--name", "李经办", stdin=""))
    assert line.startswith("密码：没有终端可输入密码") and "(password: " in line
    assert "--password-stdin" in line


@pytest.mark.parametrize("encoding", ["gb18030", "gbk", "utf-8-sig", "utf-8"])
def test_a_members_file_as_excel_saves_it_imports(db, tmp_path, encoding):
    """Excel on a Chinese Windows saves CSV in GBK, and CSV UTF-8 with a byte-order mark."""
    imported = gongji("import", "members", csv_file(tmp_path, MEMBERS + GBK_ROWS, encoding))
    assert imported.exit_code == 0, imported.output
    assert "已导入 2 名参保人 (imported 2 members)" in imported.stdout
    assert views.member_show(db, "G1")["identity"]["name"] == "张三丰"
    assert views.member_show(db, "G2")["identity"]["name"] == "欧阳娜娜"


def test_the_reader_takes_an_uploads_bytes_too(db):
    """The console's upload page hands the file's bytes to the same reader."""
    data = (MEMBERS + GBK_ROWS).encode("gb18030")
    assert imports.import_csv(db, "members", data, name="上传.csv") == 2
    assert views.member_show(db, "G2")["identity"]["name"] == "欧阳娜娜"


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        ((MEMBERS + GBK_ROWS).encode("utf-16"), "UTF-16"),
        (b"PK\x03\x04\x14\x00\x06\x00" + bytes(range(256)), "Excel"),
        (MEMBERS.encode() + b"kaifeng,X1,employee,0,\x81\x20,\n", "neither UTF-8 nor GBK"),
    ],
    ids=["utf-16", "xlsx", "not-gbk"],
)
def test_a_file_in_no_encoding_read_is_refused_in_one_line(db, tmp_path, data, reason):
    (tmp_path / "m.csv").write_bytes(data)
    line = one_line(gongji("import", "members", str(tmp_path / "m.csv")))
    assert line.startswith("m.csv：") and "(m.csv: " in line and reason in line and "CSV" in line
    with pytest.raises(InputError):
        decode(data, "m.csv")


def test_every_bad_row_is_reported_and_nothing_imported(db, tmp_path):
    rows = (
        "kaifeng,A1,employee,100.00,,\n"
        "kaifeng,A2,boss,0,,\n"  # line 3
        "kaifeng,A3,retiree,12.345,,\n"  # line 4
        "nowhere,A4,employee,0,,\n"  # line 5
        "kaifeng,A5,employee,0,,,extra\n"  # line 6
    )
    result = gongji("import", "members", csv_file(tmp_path, MEMBERS + rows, "gb18030"))
    assert result.exit_code == 2
    lines = result.stderr.splitlines()
    # each row in Chinese first (第3行·人员类别), the English after it in brackets
    assert [line.split("：")[0] for line in lines[:-1]] == [
        "第3行·人员类别",
        "第4行·个人账户余额",
        "第5行·统筹地区",
        "第6行",
    ]
    assert [re.search(r" \((line [^:]+):", line)[1] for line in lines[:-1]] == [
        "line 3.type",
        "line 4.account_balance",
        "line 5.region",
        "line 6",
    ]
    assert lines[-1] == "m.csv：4 行有误 (m.csv: 4 行有误 bad row(s); nothing imported)"
    assert gongji("member", "show", "A1").exit_code == 2  # A1 was good, and is not kept


@pytest.mark.parametrize(
    ("header", "problem"),
    [
        (
            "regoin,id,type\n",
            "unknown column(s): regoin; missing column(s): region",
        ),
        ("region,id\n", "missing column(s): type"),
        ("region,id,type,id\n", "repeated column(s): id"),
    ],
)
def test_a_wrong_header_is_one_header_error(db, tmp_path, header, problem):
    path = csv_file(tmp_path, header + "kaifeng,A1,employee\nkaifeng,A2,employee\n")
    line = one_line(gongji("import", "members", path))
    assert line.startswith("m.csv·表头：") and problem in line
    assert "the columns are: " in line and "certno" in line


def test_a_month_not_written_yyyy_mm_is_refused_asking_for_it(db):
    line = one_line(gongji("account", "credit", "kaifeng", "2023-3"))
    assert line == (
        "月份：月份应写作 YYYY-MM"
        " (month: 月份应写作 YYYY-MM a month as YYYY-MM (e.g. 2023-03), not '2023-3')"
    )
    assert one_line(gongji("statements", "2023/03")).startswith("月份：月份应写作 YYYY-MM (month: ")
    assert gongji("account", "credit", "kaifeng", "2023-03").exit_code == 0


@pytest.mark.parametrize(
    "args",
    [("fund-stats", "kaifeng", "23"), ("year", "rollover", "1999"), ("year", "rollover", "2200")],
)
def test_a_year_out_of_range_is_refused(db, args):
    line = one_line(gongji(*args))
    assert line == (
        f"年度：年度超出范围 (year: 年度超出范围 out of range: {int(args[-1])}"
        " (a year from 2000 to 2199, e.g. 2023))"
    )


def test_years_in_range_run(db):
    assert gongji("fund-stats", "kaifeng", "2023").exit_code == 0
    assert json.loads(gongji("year", "rollover", "2024").stdout) == {"year": 2024, "rolled": 0}


@pytest.mark.parametrize(
    ("args", "chinese", "english"),
    [
        (
            ("member", "show", "NOSUCH"),
            "个人编号：没有这个参保人",
            "member_id: unknown member NOSUCH",
        ),
        (("cancel", "NOPE"), "流水号：没有这笔结算", "txn_id: no settlement NOPE"),
        (("policy", "show", "nowhere"), "统筹地区：", "region: unknown region 'nowhere'"),
        (
            ("family", "bind", "M1", "M1", "--relationship", "spouse", "--from", "2023-01-01"),
            "家庭共济绑定·使用人：不能与本人绑定",
            "binding.user: a member cannot be bound to themselves",
        ),
    ],
    ids=["member", "cancel", "policy", "family"],
)
def test_a_refusal_is_chinese_first_with_the_english_kept(db, args, chinese, english):
    """One line: the field as people name it and the reason in Chinese, then the English
    `field: reason` in brackets (what a script or a search of the code reads)."""
    line = one_line(gongji(*args))
    assert line.startswith(chinese) and f"({english}" in line


def test_an_imports_bad_rows_are_chinese_first(db, tmp_path):
    rows = "kaifeng,B1,employe,0,,\nkaifeng,B2,employee,abc,,\n"
    result = gongji("import", "members", csv_file(tmp_path, MEMBERS + rows))
    assert result.exit_code == 2
    wrong_type, not_amount, done = result.stderr.splitlines()
    assert wrong_type.startswith("第2行·人员类别：不认识的取值 'employe'（可选：在职职工、")
    assert "(line 2.type: unknown value 'employe'" in wrong_type
    assert not_amount == (
        "第3行·个人账户余额：不是有效的金额：'abc' (line 3.account_balance: not an amount: 'abc')"
    )
    assert done.startswith("m.csv：2 行有误") and done.endswith("nothing imported)")


def test_credential_list_with_none_says_how_to_issue_one(db):
    listed = gongji("credential", "list")
    assert listed.exit_code == 0, listed.output
    assert listed.stdout.startswith("尚无凭证：用 gongji credential issue --institution")
    assert "编号 id" not in listed.stdout  # not a header over nothing
    assert gongji("credential", "list", "--json").stdout.strip() == "[]"


def test_help_is_chinese_first_with_the_options_as_they_are():
    main = gongji("--help")
    assert main.exit_code == 0
    assert "共济 gongji — 职工医保门诊共济结算 (employee outpatient" in main.stdout
    assert "待遇测算：按统筹地区政策计算参保人的就诊结算。" in main.stdout
    assert "撤销结算" in main.stdout and "Cancel a member's latest settlement" in main.stdout
    credential = gongji("credential", "--help")
    assert "凭证列表" in credential.stdout and "吊销凭证" in credential.stdout
    assert "--institution" in gongji("credential", "list", "--help").stdout


def test_the_calculate_table_is_whole_in_80_columns(monkeypatch):
    """Seven amounts with their glossary names: no header cut short (…) in a terminal of 80."""
    import io

    from rich.cells import cell_len
    from rich.console import Console

    from gongji import calculate, cli, documents

    printed = io.StringIO()
    narrow = Console(file=printed, width=80)
    monkeypatch.setattr(cli, "out", lambda: narrow)
    trial = calculate.settle(documents.read(EXAMPLES / "kaifeng-same-day.yaml"))
    cli._print_result(trial)
    text = printed.getvalue()
    assert "…" not in text and max(map(cell_len, text.splitlines())) <= 80
    for part in ("医疗费", "总额", "政策范围", "内费用", "统筹基金", "个人现金", "个人账户"):
        assert part in text
    assert "开封市 2023-01-01 起施行" in text  # the version as people name it
