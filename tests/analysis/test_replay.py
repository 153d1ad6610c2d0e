"""Replay against the engine, visit by visit: the differential test of the issue.

For every region, a generated population's year of visits (>= 100,000) is replayed in small
batches (so members straddle batch and chunk boundaries) and settled again one visit at a
time by `engine.settle`, the online entry point; every figure of every visit must agree.
The members are read back from Parquet here with this test's own conversion, so a mistake in
the replay's reading of them is caught too.
"""

import random
from collections import defaultdict
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

import numba
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from gongji import engine, policy
from gongji.analysis import kernel as K
from gongji.analysis.generate import generate
from gongji.analysis.replay import Parts, ReplayPolicy, replay
from gongji.analysis.schema import MEMBERS as MEMBERS_SCHEMA
from gongji.analysis.schema import VISITS as VISITS_SCHEMA
from gongji.engine import layout as L
from gongji.errors import InputError
from gongji.money import fmt
from gongji.policy import loader

from .rows import to_member, to_visit

MEMBERS = {"jiamusi": 9000, "kaifeng": 9000, "nanyang": 9000, "panzhihua": 9000}
YEAR = {"kaifeng": 2023}


def reference(visits_path: Path, members_path: Path, pack) -> dict[int, tuple]:
    """visit_id -> (status, version, class, deductible, fund, account, cash, balance)."""
    members = {r["member_id"]: r for r in pq.read_table(members_path).to_pylist()}
    state: dict[int, engine.YearState] = {}
    out = {}
    for v in pq.read_table(visits_path).to_pylist():
        row = members[v["member_id"]]
        member = to_member(row)
        before = state.get(v["member_id"]) or engine.YearState.new(row["account_balance"])
        visit = to_visit(v)
        tables = engine.tables_on(pack, visit.time.date())
        if tables is None:
            out[v["visit_id"]] = ("E_NO_POLICY", "", "employee", 0, 0, 0, 0, before.account_balance)
            continue
        try:
            r, after = engine.settle(tables, member, before, visit, trace=False)
        except engine.EngineError as exc:
            out[v["visit_id"]] = (exc.code, tables.version_id, "employee", 0, 0, 0, 0)
            out[v["visit_id"]] += (before.account_balance,)
            continue
        state[v["member_id"]] = after
        out[v["visit_id"]] = (
            "",
            r.version_id,
            r.member_class.value,
            r.deductible,
            r.fund_pay,
            r.account_pay,
            r.cash_pay,
            r.account_balance,
        )
    return out


def replayed(results: Path) -> dict[int, tuple]:
    out = {}
    for r in pq.read_table(results).to_pylist():
        out[r["visit_id"]] = (
            r["status"],
            r["policy_version"],
            r["member_class"],
            r["deductible"],
            r["fund_pay"],
            r["account_pay"],
            r["cash_pay"],
            r["account_balance"],
        )
    return out


@pytest.mark.parametrize("region", policy.known_regions())
def test_replay_equals_the_engine_visit_by_visit(region, tmp_path):
    pack = policy.load_region(region)
    data = tmp_path / "data"
    _, visits = generate(region, MEMBERS.get(region, 9000), YEAR.get(region, 2024), data)
    assert visits >= 100_000
    aggregates = replay(
        data / "visits.parquet",
        data / "members.parquet",
        [ReplayPolicy("baseline", pack)],
        tmp_path / "out",
        batch_rows=7_919,  # members straddle batches
    )
    got = replayed(tmp_path / "out" / "baseline" / "results.parquet")
    want = reference(data / "visits.parquet", data / "members.parquet", pack)
    assert len(got) == len(want) == visits
    differences = [(k, got[k], want[k]) for k in want if got[k] != want[k]]
    assert differences[:5] == []
    # the data exercised the rules: the fund paid, caps and the account were reached
    assert sum(w[4] for w in want.values()) > 0
    assert sum(w[5] for w in want.values()) > 0
    totals = aggregates["scenarios"]["baseline"]["totals"]
    settled = [w for w in want.values() if w[0] == ""]
    assert totals["visits"] == visits
    assert totals["refused"] == visits - len(settled)
    assert totals["fund_pay"] == fmt(sum(w[4] for w in settled))
    assert totals["cash_pay"] == fmt(sum(w[6] for w in settled))


def test_a_reform_changes_what_the_fund_pays_as_the_engine_says(tmp_path):
    """A what-if: a higher annual cap, replayed beside the baseline in one pass."""
    data = tmp_path / "data"
    generate("kaifeng", 3000, 2023, data)
    overrides = {"general.annual_cap.employee": "3000", "general.annual_cap.retiree": "3600"}
    reform = loader.load("kaifeng", overrides)
    aggregates = replay(
        data / "visits.parquet",
        data / "members.parquet",
        [
            ReplayPolicy("baseline", policy.load_region("kaifeng")),
            ReplayPolicy("r", reform, overrides),
        ],
        tmp_path / "out",
    )
    want = reference(data / "visits.parquet", data / "members.parquet", reform)
    assert replayed(tmp_path / "out" / "r" / "results.parquet") == want
    base, new = (aggregates["scenarios"][s] for s in ("baseline", "r"))
    assert new["overrides"] == overrides
    assert new["totals"]["fund_pay"] == fmt(sum(w[4] for w in want.values()))
    assert Decimal(new["totals"]["fund_pay"]) > Decimal(base["totals"]["fund_pay"])


def test_out_of_pocket_is_per_member_account_plus_cash(tmp_path):
    data = tmp_path / "data"
    generate("nanyang", 500, 2024, data)
    pack = policy.load_region("nanyang")
    aggregates = replay(
        data / "visits.parquet", data / "members.parquet", [ReplayPolicy("b", pack)], tmp_path / "o"
    )
    want = reference(data / "visits.parquet", data / "members.parquet", pack)
    visits = pq.read_table(data / "visits.parquet", columns=["visit_id", "member_id"]).to_pylist()
    per_member = defaultdict(int)
    for v in visits:
        per_member[v["member_id"]] += want[v["visit_id"]][5] + want[v["visit_id"]][6]
    all_members = pq.read_table(data / "members.parquet", columns=["member_id"]).num_rows
    amounts = sorted([per_member.get(m, 0) for m in range(1, all_members + 1)])
    oop = aggregates["scenarios"]["b"]["out_of_pocket"]
    assert oop["members"] == all_members
    assert oop["max"] == fmt(amounts[-1])
    assert oop["p50"] == fmt(amounts[(50 * len(amounts) + 99) // 100 - 1])
    assert sum(h["members"] for h in oop["histogram"]) == all_members


def test_the_kernel_is_loaded_with_the_types_the_replay_calls_it_with(tmp_path, monkeypatch):
    """`load_kernel` settles an empty batch while the files are read, so that a new process
    loads the compiled kernel early. Were any argument's numba type different from the real
    batches' (a read-only array where the replay passes a writable one), numba would compile
    a second version: seconds, not the half second saved."""
    data = tmp_path / "data"
    generate("kaifeng", 300, 2023, data)
    members = data / "members.parquet"  # in several row groups, as a large file is (Arrow
    pq.write_table(pq.read_table(members), members, row_group_size=100)  # copies chunks)
    compiled = K.compiled()
    calls = defaultdict(set)
    for name in ("decode_rows", "replay_chunks"):

        def recorded(*args, _name=name, _fn=compiled[name]):
            calls[_name].add(tuple(numba.typeof(a) for a in args))
            return _fn(*args)

        monkeypatch.setitem(compiled, name, recorded)
    pack = policy.load_region("kaifeng")
    replay(data / "visits.parquet", members, [ReplayPolicy("b", pack)], tmp_path / "o")
    assert set(calls) == {"decode_rows", "replay_chunks"}
    assert {name: len(types) for name, types in calls.items()} == dict.fromkeys(calls, 1)


def test_a_visit_breaking_an_invariant_stops_the_replay(tmp_path, monkeypatch):
    """The replay's loop checks every visit it settles (engine/invariants.py): figures that
    break one (here the account pays a negative amount: the balances are made negative
    behind the reader's back) raise InvariantError naming the visit, and no results remain."""
    data = tmp_path / "data"
    generate("kaifeng", 300, 2023, data)
    compiled = K.compiled()
    real = compiled["replay_chunks"]

    def replay_chunks(P, T, bounds, carry, carry_member, V, M, *rest):
        below = M._replace(balance=M.balance - 10**9)
        return real(P, T, bounds, carry, carry_member, V, below, *rest)

    monkeypatch.setitem(compiled, "replay_chunks", replay_chunks)
    pack = policy.load_region("kaifeng")
    with pytest.raises(engine.InvariantError, match=r"visits\[\d+\]: no amount negative"):
        replay(
            data / "visits.parquet", data / "members.parquet", [ReplayPolicy("b", pack)], tmp_path
        )
    assert not (tmp_path / "b" / "results.parquet").exists()


def test_a_negative_opening_balance_is_named_not_settled(tmp_path):
    """A members file is input: an overdrawn account is refused by name (it would otherwise
    pay negative amounts from the account, which the invariants then stop)."""
    data = tmp_path / "data"
    generate("kaifeng", 50, 2023, data)
    members = pq.read_table(data / "members.parquet")
    balances = members.column("account_balance").to_pylist()
    balances[7] = -100
    bad = members.set_column(
        members.schema.get_field_index("account_balance"),
        members.schema.field("account_balance"),
        pa.array(balances, members.schema.field("account_balance").type),
    )
    pq.write_table(bad, data / "members.parquet")
    pack = policy.load_region("kaifeng")
    with pytest.raises(InputError) as refused:
        replay(
            data / "visits.parquet", data / "members.parquet", [ReplayPolicy("b", pack)], tmp_path
        )
    assert refused.value.field == "members.account_balance"
    assert f"member {members.column('member_id')[7].as_py()}'s" in refused.value.reason
    assert not (tmp_path / "b" / "results.parquet").exists()


def _beyond_room(rng, region: str, members: int) -> tuple[pa.Table, pa.Table]:
    """Members files and visits: most members need more deductible windows open at once
    (9-20 institutions within a day or 24 hours) or more negotiated drugs in a year (9-20)
    than a new state keeps (layout.WINDOWS, layout.ITEMS), some only a few visits; each
    visits some institutions and drugs again (the windows and items kept must be found)."""
    rows, visits = [], []
    for m in range(1, members + 1):
        rows.append(
            {"member_id": m, "type": "employee", "age": 40, "sex": "F",
             "contribution_base": 500_000, "has_account": True, "retired_from": None,
             "contribution_raised": False, "account_balance": rng.randint(0, 300_000),
             "chronic_diseases": [], "benefit_periods": None, "inpatient_stays": [],
             "arrears": [], "remote_filings": []}
        )  # fmt: skip
        kind = rng.choice(("windows", "drugs", "few"))
        n = rng.randint(9, 20) if kind != "few" else rng.randint(1, 4)
        t = datetime(2024, 3, 1, 8) + timedelta(days=rng.randint(0, 200))
        picks = list(range(n)) + [rng.randrange(n) for _ in range(rng.randint(0, 5))]
        for j, k in enumerate(picks):
            drug = kind == "drugs"
            when = t + (timedelta(days=j) if drug else timedelta(minutes=17 * j))
            visits.append(
                {"member_id": m, "time": when, "institution": f"H{k}" if not drug else "H0",
                 "level": rng.choice(("level2", "level3")),
                 "category": "negotiated_drug" if drug else "general", "disease": None,
                 "drug": f"D{k}" if drug else None, "total": rng.randint(1, 400_000),
                 "remote": False, "designated": True, "manual": False, "third_party": False,
                 "internet": False, "use_account": True, "prescription_level": None}
            )  # fmt: skip
            visits[-1]["in_scope"] = rng.randint(0, visits[-1]["total"])
    for i, v in enumerate(visits):
        v["visit_id"] = i + 1
    members_table = pa.Table.from_pylist(rows, schema=MEMBERS_SCHEMA)
    return members_table, pa.Table.from_pylist(visits, schema=VISITS_SCHEMA)


@pytest.mark.parametrize("region", ["kaifeng", "nanyang", "xishuangbanna"])
def test_members_beyond_a_new_states_room_replay_as_the_engine_settles(
    region, tmp_path, monkeypatch
):
    """Issue 19: no valid visit is refused for the size of the member's state. Members with
    9-20 open deductible windows (KF-9a same day, NY-5a 24 hours) or negotiated drugs
    (XSBN-16, no limit) are replayed in batches of 13 rows (grown states carried across
    batches and chunks) and settled visit by visit by the engine: every figure agrees, and
    none is refused."""
    rng = random.Random(19)
    members, visits = _beyond_room(rng, region, 60)
    pq.write_table(members, tmp_path / "members.parquet")
    pq.write_table(visits, tmp_path / "visits.parquet")
    pack = policy.load_region(region)
    grown_from = []  # the size of each state a member's visits went on from, past the loop
    real = Parts.member

    def member(self, lo, hi, state, sums, broken):
        grown_from.append(len(state))
        return real(self, lo, hi, state, sums, broken)

    monkeypatch.setattr(Parts, "member", member)
    replay(
        tmp_path / "visits.parquet",
        tmp_path / "members.parquet",
        [ReplayPolicy("baseline", pack)],
        tmp_path / "out",
        batch_rows=13,
    )
    # both ways past the loop were taken: a chunk stopped, and a grown state carried in
    assert L.S_SIZE in grown_from and max(grown_from) > L.S_SIZE
    got = replayed(tmp_path / "out" / "baseline" / "results.parquet")
    want = reference(tmp_path / "visits.parquet", tmp_path / "members.parquet", pack)
    assert [(k, got[k], want[k]) for k in want if got[k] != want[k]][:5] == []
    refused = {w[0] for w in want.values()} - {""}
    assert refused <= {"E_CATEGORY"}  # kaifeng and nanyang pay no negotiated drug line
    assert sum(1 for w in want.values() if w[0] == "") > len(want) // 2


def test_the_first_grown_state_after_install_says_its_kernel_compiles(tmp_path, monkeypatch):
    """Issue 22: the kernel for grown states compiles on its first use (seconds, under the
    progress bar): `gongji replay` says so once, and how long it took; once it is kept in
    numba's cache, nothing is said."""
    from typer.testing import CliRunner

    from gongji.cli import app
    from gongji.engine import jit

    members, visits = _beyond_room(random.Random(22), "kaifeng", 10)
    pq.write_table(members, tmp_path / "members.parquet")
    pq.write_table(visits, tmp_path / "visits.parquet")
    args = ["replay", str(tmp_path / "visits.parquet"), "--region", "kaifeng"]
    # this process has both kernels already: the replays below compile nothing
    assert CliRunner().invoke(app, [*args, "--out", str(tmp_path / "warm")]).exit_code == 0
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # as after an install
    assert not K.cached(grown=True)
    first = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "first")])
    assert first.exit_code == 0, first.output
    said = "".join(first.stderr.split())  # as printed, lines wrapped to the terminal
    assert said.count("".join(K.COMPILING_GROWN.split())) == 1
    assert said.count("编译用时") == 2  # the replay's loop's kernel, then the grown one's
    for grown in (False, True):  # numba keeps what it compiled, an index beside its code
        index = jit.cache_folder(K.__name__, grown) / "analysis_0" / "kernel.f-1.py311.nbi"
        index.parent.mkdir(parents=True, exist_ok=True)
        index.touch()
    later = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "later")])
    assert later.exit_code == 0, later.output
    assert "compil" not in later.stderr
