"""Kill the writer (SIGKILL) mid-stream, restart, retry everything: nothing partial, nothing
paid twice, the journal checks clean."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import func, select

from gongji.ledger import check
from gongji.ledger.members import add_member
from gongji.ledger.schema import settlements
from gongji.ledger.settlement import settle

sys.path.insert(0, str(Path(__file__).parent))
from settle_stream import stream_visit

N = 60


def test_sigkill_mid_stream_loses_nothing_and_pays_once(db):
    for m in range(4):
        add_member(db, "kaifeng", {"id": f"M{m}", "type": "employee", "account_balance": "500.00"})
    url = db.url.render_as_string(hide_password=False)
    writer = subprocess.Popen(
        [sys.executable, str(Path(__file__).parent / "settle_stream.py"), url, "0", str(N)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ},
    )
    done = 0
    deadline = time.monotonic() + 60
    while done < N // 3 and time.monotonic() < deadline:  # let a third through, then kill
        if writer.stdout.readline():
            done += 1
    writer.send_signal(signal.SIGKILL)
    writer.wait(timeout=30)
    assert done >= N // 3

    assert check.problems(db) == []  # no partial settlement survived the kill
    with db.connect() as conn:
        survived = conn.execute(select(func.count()).select_from(settlements)).scalar()
    assert done <= survived < N

    # the client retries every transaction, in order, as a HIS would after a lost answer
    for i in range(N):
        txn, member, visit = stream_visit(i)
        settle(db, txn, member, visit)
    with db.connect() as conn:
        ids = conn.execute(select(settlements.c.txn_id)).scalars().all()
    assert sorted(ids) == sorted(f"S{i}" for i in range(N))  # each exactly once
    assert check.problems(db) == []


def test_processes_racing_for_one_member_never_spend_twice(db):
    from decimal import Decimal

    add_member(db, "kaifeng", {"id": "M0", "type": "employee", "account_balance": "300.00"})
    url = db.url.render_as_string(hide_password=False)
    script = str(Path(__file__).parent / "settle_stream.py")
    workers = [
        subprocess.Popen([sys.executable, script, "burst", url, str(w), "5"]) for w in range(4)
    ]
    assert [w.wait(timeout=120) for w in workers] == [0, 0, 0, 0]
    with db.connect() as conn:
        results = conn.execute(select(settlements.c.result)).scalars().all()
    assert len(results) == 20
    # 60% of 100 each would be 1200 in all; the 150 monthly cap (KF-9b) binds once,
    # and the 300 balance is spent once
    assert sum(Decimal(r["fund_pay"]) for r in results) == Decimal("150.00")
    assert sum(Decimal(r["account_pay"]) for r in results) == Decimal("300.00")
    assert check.problems(db) == []
