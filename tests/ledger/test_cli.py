"""The ledger commands end to end on an SQLite store (GONGJI_DATABASE_URL)."""

import json
import os
import subprocess
import sys


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
    assert bad.returncode == 2 and bad.stderr.startswith("visit.level:")
    assert gongji(tmp_path, "cancel", "T1").returncode == 0
    checked = gongji(tmp_path, "db", "check")
    assert checked.returncode == 0 and "consistent" in checked.stdout
