"""The ledger commands end to end on an SQLite store (GONGJI_DATABASE_URL)."""

import json
import os
import subprocess
import sys

from gongji.console import auth as console_auth
from gongji.ledger import store


def gongji(tmp_path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "GONGJI_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}"}
    return subprocess.run(
        [sys.executable, "-m", "gongji", *args],
        input=stdin,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def numbers(document: object, where: str = "") -> list[str]:
    """The paths of the JSON numbers in a document (a count like `year` aside): an amount a
    person reads is yuan text ("300.00"), not a number of fen."""
    if isinstance(document, dict):
        return [p for k, v in document.items() if k != "year" for p in numbers(v, f"{where}.{k}")]
    if isinstance(document, list):
        return [p for i, v in enumerate(document) for p in numbers(v, f"{where}[{i}]")]
    is_number = isinstance(document, int | float) and not isinstance(document, bool)
    return [where] if is_number else []


def test_init_add_settle_retry_cancel_check(tmp_path):
    assert (
        gongji(tmp_path, "settle", "-", "--member", "P1", "--txn", "T1", stdin="{}").returncode == 2
    )  # not initialised: a clear one-line error
    assert gongji(tmp_path, "db", "init").returncode == 0
    added = gongji(
        tmp_path,
        "member",
        "add",
        "kaifeng",
        "-",
        stdin="id: P1\ntype: employee\naccount_balance: 300.00\n",
    )
    assert added.returncode == 0, added.stderr
    (tmp_path / "institutions.csv").write_text(
        "code,name,region,level,designated\nH1,开封市第一人民医院,kaifeng,level3,true\n"
    )
    imported = gongji(tmp_path, "import", "institutions", str(tmp_path / "institutions.csv"))
    assert imported.returncode == 0, imported.stderr
    visit = (
        "id: V1\ntime: 2023-03-01T10:00:00\ninstitution: H1\nlevel: level3\n"
        "total: 250.00\nin_scope: 200.00\n"
    )
    first = gongji(tmp_path, "settle", "-", "--member", "P1", "--txn", "T1", stdin=visit)
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["fund_pay"] == "75.00"
    retry = gongji(tmp_path, "settle", "-", "--member", "P1", "--txn", "T1", stdin=visit)
    assert retry.stdout == first.stdout
    bad = gongji(
        tmp_path,
        "settle",
        "-",
        "--member",
        "P1",
        "--txn",
        "T2",
        stdin=visit.replace("level3", "level9").replace("V1", "V2"),
    )
    assert (
        bad.returncode == 2
        and bad.stderr.startswith("就诊·机构级别：")
        and "(visit.level:" in bad.stderr
    )
    assert gongji(tmp_path, "cancel", "T1").returncode == 0
    checked = gongji(tmp_path, "db", "check")
    assert (
        checked.returncode == 0 and "账目一致" in checked.stdout and "consistent" in checked.stdout
    )


def test_import_credit_show_and_a_bad_import(tmp_path):
    def csv(name: str, text: str) -> str:
        (tmp_path / name).write_text(text, encoding="utf-8")
        return str(tmp_path / name)

    assert gongji(tmp_path, "db", "init").returncode == 0
    bad = gongji(
        tmp_path,
        "import",
        "members",
        csv("bad.csv", "region,id,type\nkaifeng,A,employee\nkaifeng,B,nobody\nkaifeng,C,retiree\n"),
    )
    assert bad.returncode == 2
    assert bad.stderr.splitlines()[0].startswith("第3行·人员类别：不认识的取值 'nobody'")
    assert "(line 3.type: unknown value 'nobody'" in bad.stderr.splitlines()[0]
    assert "nothing imported" in bad.stderr
    shown = gongji(tmp_path, "member", "show", "A")
    assert shown.returncode == 2
    assert shown.stderr == "个人编号：没有这个参保人（A） (member_id: unknown member A)\n"

    members = csv(
        "m.csv", "region,id,type,account_balance\nkaifeng,A,employee,0\nkaifeng,R,retiree,5.00\n"
    )
    assert gongji(tmp_path, "import", "members", members).returncode == 0
    paid = csv("c.csv", "member,month,base,paid_on\nA,2023-03,5000.00,2023-03-08\n")
    assert gongji(tmp_path, "import", "contributions", paid).returncode == 0
    credited = gongji(tmp_path, "account", "credit", "kaifeng", "2023-03")
    assert credited.returncode == 0, credited.stderr
    assert json.loads(credited.stdout) == {"month": "2023-03", "credited": 2, "amount": "160.00"}
    account = json.loads(gongji(tmp_path, "account", "show", "R").stdout)
    assert account["account_balance"] == "65.00"
    assert [(j["kind"], j["amount"]) for j in account["journal"]] == [
        ("opening", "5.00"),
        ("monthly", "60.00"),
    ]
    premium = gongji(
        tmp_path, "account", "premium", "A", "--amount", "30", "--purpose", "fitness",
        "--on", "2023-03-20", "--op", "OP1",
    )  # fmt: skip
    assert premium.returncode == 2 and "(purpose: a kaifeng account" in premium.stderr
    resident = ["account", "premium", "A", "--amount", "30", "--purpose", "family_resident_premium",
                "--on", "2023-03-20", "--op", "OP2"]  # fmt: skip
    unnamed = gongji(tmp_path, *resident)  # KF-17: a resident premium is a relative's
    assert unnamed.returncode == 2 and "(beneficiary: required" in unnamed.stderr
    paid = gongji(tmp_path, *resident, "--beneficiary", "parent", "--relative", "李四")
    assert paid.returncode == 0, paid.stderr
    assert json.loads(paid.stdout)["beneficiary"] == "parent"
    shown = json.loads(gongji(tmp_path, "account", "show", "A").stdout)
    assert shown["account_balance"] == "70.00"  # 2% of 5000 credited, 30 paid
    assert [(p["beneficiary"], p["relative"], p["amount"]) for p in shown["premiums"]] == [
        ("parent", "李四", "30.00")
    ]
    retired = gongji(
        tmp_path, "member", "retire", "A", "--processed", "2023-06-15",
        "--retired-from", "2023-07-01",
    )  # fmt: skip
    assert retired.returncode == 0, retired.stderr
    member = json.loads(gongji(tmp_path, "member", "show", "A").stdout)
    assert not numbers(member), numbers(member)  # yuan as text with two decimals, never fen
    assert member["record"]["account_balance"] == "0.00" and member["account_balance"] == "70.00"
    assert member["record"]["retirement_processed"] == "2023-06-15"
    assert member["record"]["retired_from"] == "2023-07-01"  # KF-12: its own day
    rolled = gongji(tmp_path, "year", "rollover", "2024")
    assert json.loads(rolled.stdout) == {"year": 2024, "rolled": 0}  # no visits yet
    assert gongji(tmp_path, "db", "check").returncode == 0


def test_demo_prepares_a_store_and_settles_the_sample_visits(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "gongji", "demo", "--no-serve", "--db", str(tmp_path / "d.db")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("D1  总额 250.00  统筹 75.00  账户 125.00  现金 50.00")
    assert "(开封市 2023-01-01 起施行; KF-9a" in lines[0]
    assert any("H41020000001 的令牌 (token): " in line for line in lines)
    # what an HIS integrator needs: the hospital's signing, a member's ID number (issue 18)
    assert any(
        line.startswith("H41020000001 的 HIS 签名凭据 (an HIS's signing): paasid ")
        for line in lines
    )
    assert (
        "示例参保人 (sample member) KF0001（张三）：身份证号 (ID number) 410202198801150014"
        in lines
    )
    # every demo member, with the ID number and card a hospital would identify them by
    assert (
        "  KF0002  李四  开封市 kaifeng  退休人员  身份证号 ID number 410203195506200114"
        "  社保卡 card DEMOCARD0002"
    ) in lines
    assert (
        "  XS0001  赵六  西双版纳州 xishuangbanna  在职职工  身份证号 ID number 53280119850912034X"
        in lines
    )
    login = "管理后台登录 (console login)：用户名 user admin  密码 password "
    (console,) = [line for line in lines if line.startswith(login)]
    demo_store = store.connect(f"sqlite:///{tmp_path / 'd.db'}")
    assert console_auth.login(demo_store, "admin", console.split("password ")[1]) is not None
    demo_store.dispose()
    env = {**os.environ, "GONGJI_DATABASE_URL": f"sqlite:///{tmp_path / 'd.db'}"}
    checked = subprocess.run(
        [sys.executable, "-m", "gongji", "db", "check"], env=env, capture_output=True, text=True
    )
    assert checked.returncode == 0, checked.stderr


def test_family_bind_import_unbind(tmp_path):
    """Family mutual aid's bindings from the command line and a CSV file (开封 第十七条)."""
    assert gongji(tmp_path, "db", "init").returncode == 0
    (tmp_path / "m.csv").write_text(
        "region,id,type\nkaifeng,K1,employee\nkaifeng,K2,employee\nkaifeng,K3,employee\n"
    )
    assert gongji(tmp_path, "import", "members", str(tmp_path / "m.csv")).returncode == 0
    bound = gongji(
        tmp_path, "family", "bind", "K1", "K2", "--relationship", "spouse", "--from", "2023-02-01"
    )
    assert bound.returncode == 0, bound.stderr
    assert json.loads(bound.stdout) == {"binding": 1}
    (tmp_path / "b.csv").write_text(
        "holder,user,relationship,from,to\nK1,K3,child,2023-02-01,\nK2,K1,spouse,2023-02-01,"
        "2023-12-31\n"
    )
    imported = gongji(tmp_path, "import", "bindings", str(tmp_path / "b.csv"))
    assert imported.returncode == 0, imported.stderr
    bad = gongji(
        tmp_path, "family", "bind", "K1", "K2", "--relationship", "cousin", "--from", "2023-02-01"
    )
    assert bad.returncode == 2 and bad.stderr.startswith("家庭共济绑定·关系：")
    assert "(binding.relationship:" in bad.stderr
    ended = gongji(tmp_path, "family", "unbind", "K1", "K2", "--on", "2023-03-01")
    assert json.loads(ended.stdout)["valid_to"] == "2023-02-28"
    family = json.loads(gongji(tmp_path, "member", "show", "K1").stdout)["family"]
    assert [(b["role"], b["other"], b["to"]) for b in family] == [
        ("holder", "K2", "2023-02-28"),
        ("holder", "K3", None),
        ("user", "K2", "2023-12-31"),
    ]
    assert gongji(tmp_path, "db", "check").returncode == 0
