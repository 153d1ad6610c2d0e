"""Staff, roles, login sessions and the audit log.

Roles are ordered: a viewer looks things up; an operator also enters changes (manual
reimbursement); an admin also manages staff and reads the audit log. Passwords are kept as
salted scrypt hashes; a session is a random token in an HttpOnly cookie (only its hash is
stored) with its own CSRF token that every form of the session must carry back.
"""

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, Engine, delete, insert, select, update

from gongji import policy
from gongji.console.schema import audit_log, staff, staff_sessions
from gongji.errors import InputError
from gongji.ledger import limits

ROLES = ("viewer", "operator", "admin")
SESSION_HOURS = 8  # a working day; then log in again
_SCRYPT = {"n": 2**14, "r": 8, "p": 1}


@dataclass(frozen=True)
class Staff:
    username: str
    name: str
    role: str
    csrf: str
    region: str | None = None  # the region they work for: their home page opens on it

    def may(self, role: str) -> bool:
        return ROLES.index(self.role) >= ROLES.index(role)


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, **_SCRYPT)
    return f"scrypt${salt.hex()}${digest.hex()}"


def _matches(password: str, stored: str) -> bool:
    _, salt, digest = stored.split("$")
    given = hashlib.scrypt(password.encode(), salt=bytes.fromhex(salt), **_SCRYPT)
    return hmac.compare_digest(given.hex(), digest)


_DUMMY = hash_password(secrets.token_urlsafe(16))  # what an unknown username is checked against


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def add_staff(
    db: Engine,
    username: str,
    name: str,
    role: str,
    password: str,
    actor: str,
    region: str | None = None,
) -> None:
    if region is not None and region not in policy.known_regions():
        raise InputError("region", f"没有这个统筹地区 no region {region[:40]!r}")
    if role not in ROLES:
        raise InputError("role", f"one of {', '.join(ROLES)}")
    if not username.isascii() or not username.replace("_", "").isalnum() or len(username) > 40:
        raise InputError("username", "letters, digits and _ only, at most 40")
    if len(password) < 10:
        raise InputError("password", "密码至少 10 位 at least 10 characters")
    if not name.strip() or len(name) > 80:
        raise InputError("name", "姓名必填，至多 80 字 required, at most 80 characters")
    with db.begin() as conn:
        if conn.execute(select(staff.c.username).where(staff.c.username == username)).first():
            raise InputError("username", f"{username} exists already", "E_EXISTS")
        conn.execute(
            insert(staff).values(
                username=username,
                name=name,
                role=role,
                password_hash=hash_password(password),
                created_at=datetime.now(),
                region=region,
            )
        )
        detail = {"name": name, "role": role, **({"region": region} if region else {})}
        record(conn, actor, "staff.add", username, detail)


def login(db: Engine, username: str, password: str, client: str = "-") -> str | None:
    """A new session's token, or None (unknown user, wrong password, disabled). After
    FAILURES refused logins of a username or from a client within THROTTLE seconds of the
    first, more are refused unheard (E_THROTTLED) until those seconds have passed."""
    counted = _throttle(db, username, client)
    with db.begin() as conn:
        row = conn.execute(select(staff).where(staff.c.username == username)).first()
        # an unknown username costs the same hashing: the time does not tell who exists
        stored = row.password_hash if row is not None else _DUMMY
        if not _matches(password, stored) or row is None or row.disabled_at is not None:
            # what was typed is recorded only when it is a username (not a mistyped password)
            record(conn, username if row is not None else "(unknown)", "login.refused", None,
                   {"client": client})  # fmt: skip
            return None
        token = secrets.token_urlsafe(32)
        now = datetime.now()
        conn.execute(delete(staff_sessions).where(staff_sessions.c.expires_at < now))
        conn.execute(
            insert(staff_sessions).values(
                token_hash=_token_hash(token),
                username=username,
                csrf=secrets.token_urlsafe(32),
                expires_at=now + timedelta(hours=SESSION_HOURS),
            )
        )
        record(conn, username, "login", None, {})
        for name in counted:  # not a refused login: it does not count against either
            limits.give_back(conn, name, time.time())
    return token


FAILURES, THROTTLE = 5, 15 * 60.0


def _throttle(db: Engine, username: str, client: str) -> list[str]:
    """Counts this attempt against the username and the client in the store before the
    password is checked: of any number of attempts at once, in any number of processes,
    only FAILURES a window are heard (counting failures afterwards let 68 of 200 concurrent
    ones through). A login that succeeds is given back. The keys counted, or E_THROTTLED."""
    # the username hashed: a password typed into its field is not kept in the store
    user = hashlib.sha256(username.encode()).hexdigest()[:32]
    names = sorted((f"login-user:{user}", f"login-client:{client}"))  # one lock order
    now = time.time()
    with db.begin() as conn:
        limits.prune(conn, now)
    with db.begin() as conn:
        counts = [limits.hit(conn, name, 1, now, THROTTLE)[0] for name in names]
    if max(counts) > FAILURES:
        raise InputError(
            "username", "登录失败次数过多，请 15 分钟后再试 too many refused logins", "E_THROTTLED"
        )
    return names


def session(db: Engine, token: str | None) -> Staff | None:
    if not token:
        return None
    with db.connect() as conn:
        row = conn.execute(
            select(
                staff.c.username, staff.c.name, staff.c.role, staff_sessions.c.csrf, staff.c.region
            )
            .join(staff, staff.c.username == staff_sessions.c.username)
            .where(
                staff_sessions.c.token_hash == _token_hash(token),
                staff_sessions.c.expires_at > datetime.now(),
                staff.c.disabled_at.is_(None),
            )
        ).first()
    return Staff(row.username, row.name, row.role, row.csrf, row.region) if row else None


def logout(db: Engine, who: Staff, token: str) -> None:
    with db.begin() as conn:
        conn.execute(
            delete(staff_sessions).where(staff_sessions.c.token_hash == _token_hash(token))
        )
        record(conn, who.username, "logout", None, {})


def disable(db: Engine, username: str, actor: str) -> None:
    with db.begin() as conn:
        done = conn.execute(
            update(staff)
            .where(staff.c.username == username, staff.c.disabled_at.is_(None))
            .values(disabled_at=datetime.now())
        )
        if done.rowcount == 0:
            raise InputError("username", f"no active staff {username}", "E_NOT_FOUND")
        conn.execute(delete(staff_sessions).where(staff_sessions.c.username == username))
        record(conn, actor, "staff.disable", username, {})


def record(conn: Connection, actor: str, action: str, target: str | None, detail: dict) -> None:
    """One line of the audit log, in the transaction of the change it records."""
    conn.execute(
        insert(audit_log).values(
            at=datetime.now(), actor=actor, action=action, target=target, detail=detail
        )
    )
