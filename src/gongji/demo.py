"""`gongji demo`: a fresh SQLite store with sample institutions and members, a few visits
settled through the ledger (their answers printed), then the HTTP service with a token for
a sample hospital and a console login for an administrator."""

import secrets
import shlex
from pathlib import Path

from gongji.console import auth as console
from gongji.csvfile import read_rows
from gongji.ledger import imports, store
from gongji.ledger.answer import Settled
from gongji.ledger.settlement import settle
from gongji.service import auth

DATA = Path(__file__).parent / "data"
HOSPITAL = "H41020000001"
VISITS = [
    ("DEMO-1", "KF0001", {"id": "D1", "time": "2023-03-01T09:30:00", "institution": HOSPITAL,
                          "total": "250.00", "in_scope": "200.00"}),
    ("DEMO-2", "KF0002", {"id": "D2", "time": "2023-03-02T10:00:00",
                          "institution": "H41020000002", "total": "180.00"}),
    ("DEMO-3", "XS0002", {"id": "D3", "time": "2023-03-03T08:00:00",
                          "institution": "H53280000002", "total": "100.00"}),
]  # fmt: skip


CONSOLE_USER = "admin"
SAMPLE_MEMBER = "KF0001"  # insured in Kaifeng, where the demo hospital is


def sample_members() -> list[dict]:
    """The demo members' rows of demo-members.csv: each one's id, region, type, name, ID
    number `certno` (what a hospital's 1101 would present, mdtrt_cert_type 02) and card
    number. All the identities there are made up: placeholder names, ID numbers of valid
    form only."""
    return [row for _, row in read_rows(DATA / "demo-members.csv")]


def sample_member(member_id: str = SAMPLE_MEMBER) -> dict:
    """A demo member's row of demo-members.csv (sample_members)."""
    return next(row for row in sample_members() if row["id"] == member_id)


def prepare(path: Path) -> tuple[auth.Issued, list[Settled], str]:
    """A new demo store at `path` (replacing one there); the hospital's credential (its
    token, paasid and secret), the demo visits' answers and the console administrator's
    password."""
    path.unlink(missing_ok=True)
    db = store.connect(f"sqlite:///{path}")
    store.upgrade(db)
    imports.import_csv(db, "institutions", DATA / "demo-institutions.csv")
    imports.import_csv(db, "members", DATA / "demo-members.csv")
    answers = [settle(db, txn, member, visit) for txn, member, visit in VISITS]
    issued = auth.issue_credential(db, HOSPITAL, "demo hospital")
    password = secrets.token_urlsafe(12)
    console.add_staff(db, CONSOLE_USER, "演示管理员", "admin", password, "demo")
    db.dispose()
    return issued, answers, password


def signed_1101(issued: auth.Issued, certno: str, url: str) -> str:
    """A shell command an HIS integrator can paste: 1101 for the member with ID number
    `certno`, signed as the platform's clients sign (x-tif-*: SHA-256 of timestamp + secret +
    nonce + timestamp, national-interface §2.1), on the platform's dispatcher path."""
    envelope = (
        f'{{"infno":"1101","msgid":"{HOSPITAL}202303010930000001","fixmedins_code":"{HOSPITAL}",'
        '"mdtrtarea_admvs":"410200","insuplc_admdvs":"","infver":"V1.0","opter_type":"1",'
        f'"input":{{"data":{{"mdtrt_cert_type":"02","mdtrt_cert_no":"{certno}"}}}}}}'
    )
    return (
        f"SECRET={shlex.quote(issued.secret)}; PAASID={shlex.quote(issued.paasid)}; "
        'TS=$(date +%s); NONCE=$(date +%N); SIG=$(printf %s "${TS}${SECRET}${NONCE}${TS}"'
        " | sha256sum | cut -c1-64); "
        f"curl -s {url}/fsi/api/rsfComIfsService/callService "
        '-H "x-tif-paasid: $PAASID" -H "x-tif-timestamp: $TS" '
        '-H "x-tif-nonce: $NONCE" -H "x-tif-signature: $SIG" '
        f"-H 'Content-Type: application/json' -d '{envelope}'"
    )
