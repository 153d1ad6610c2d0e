"""Two `gongji serve` processes on one store (an SQLite file, a PostgreSQL database), as
behind a load balancer: the service keeps nothing of its own, so the rate limit and the
console's login throttle hold across both, and across a restart. The windows are long: the
counts do not depend on how fast the requests go."""

import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from gongji.console import auth as console_auth
from gongji.console.schema import audit_log

from .conftest import free_port, prepare

LIMIT = 10


def launch(url: str, port: int) -> subprocess.Popen:
    env = {
        **os.environ,
        "GONGJI_DATABASE_URL": url,
        "GONGJI_PORT": str(port),
        "GONGJI_RATE": str(LIMIT),
        "GONGJI_RATE_WINDOW": "3600",
        "GONGJI_ACCESS_LOG": "0",
    }
    env.pop("GONGJI_TRUSTED_PROXIES", None)  # the default: no forwarded address believed
    command = [sys.executable, "-m", "gongji", "serve"]
    return subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def ready(proc: subprocess.Popen, port: int) -> str:
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if httpx.get(f"{base}/health").status_code == 200:
                return base
        except httpx.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise AssertionError(f"gongji serve did not start: {proc.stderr.read().decode()[-2000:]}")


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.fixture
def two(db):
    """The store prepared (members, credentials, a console administrator) and two
    processes serving it: (hospital token, [url, url], restart(i) -> url)."""
    hospital, _clinic, _bureau = prepare(db)
    console_auth.add_staff(db, "admin1", "管理员", "admin", "correct horse battery", "test")
    url = db.url.render_as_string(hide_password=False)
    ports = [free_port(), free_port()]
    procs = [launch(url, port) for port in ports]
    try:
        bases = [ready(p, port) for p, port in zip(procs, ports, strict=True)]

        def restart(i: int) -> str:
            stop(procs[i])
            procs[i] = launch(url, ports[i])
            return ready(procs[i], ports[i])

        yield hospital, bases, restart
    finally:
        for p in procs:
            stop(p)


def at_once(calls) -> list[int]:
    with ThreadPoolExecutor(20) as pool:
        return list(pool.map(lambda call: call(), calls))


def test_the_rate_limit_and_the_login_throttle_hold_across_two_processes(two, db):
    hospital, bases, restart = two

    def visits(base: str):
        headers = {"Authorization": f"Bearer {hospital}"}
        return lambda: httpx.get(f"{base}/v1/visits", headers=headers, timeout=60).status_code

    # 100 requests at once, alternately to each process: at most LIMIT in all (each process
    # counting for itself would let twice as many through)
    codes = at_once([visits(bases[i % 2]) for i in range(100)])
    assert sorted(codes) == [200] * LIMIT + [429] * (100 - LIMIT)

    def wrong(base: str, i: int):
        # each claims another address: believed from nobody by default
        data = {"username": "admin1", "password": f"guess {i}"}
        headers = {"X-Forwarded-For": f"10.{i}.0.1"}
        return lambda: (
            httpx.post(f"{base}/console/login", data=data, headers=headers, timeout=60).status_code
        )

    codes = at_once([wrong(bases[i % 2], i) for i in range(40)])
    assert sorted(codes) == [401] * 5 + [429] * 35  # five heard in all
    with db.connect() as conn:
        refused = conn.execute(
            audit_log.select().where(audit_log.c.action == "login.refused")
        ).all()
    assert len(refused) == 5

    # a restart forgets neither
    base = restart(1)
    assert visits(base)() == 429
    right = {"username": "admin1", "password": "correct horse battery"}
    assert httpx.post(f"{base}/console/login", data=right).status_code == 429
