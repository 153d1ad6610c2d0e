"""A model-based test of the ledger (issue 16), in the manner of TigerBeetle's simulator:
hypothesis drives random sequences of operations against a real store and a deliberately
simple in-memory model, and after every step the store must agree with the model and keep
its invariants.

Operations: settlements (in and out of date order, the same visit again under new
transaction ids, retries of a transaction with the same or another request, other
institutions), cancellations in any order (repeated too), reversals of transactions that
never arrived, monthly crediting, premiums paid from the account, premiums frozen (XSBN-26),
released or transferred, a member record updated (stays imported), the year rollover, a
settlement that crashes before its commit, and family mutual aid (issue 23): bindings made
and ended (unbind), and a death that closes an account and ends its bindings.

After every step (`invariants`):
1. `gongji db check` finds nothing (entries balance; balances are their legs; every
   settlement re-runs to its stored result and use and started from the uses active when
   it was made; accumulators are the active settlements' uses; records read back);
2. each member's balance is the model's (opening + credits - account pay of active
   settlements - premiums paid or frozen + freezes released) and is never below zero; the
   frozen amount is the open freezes';
3. each visit (institution, visit id) has at most one active settlement, and the fund paid
   is the sum of the model's active settlements' fund pay;
4. no cap is exceeded: the year's and the month's general fund pay within KF-9b's caps;
5. mutual aid: each settlement drew on the holder the model expects (the first bound on the
   visit's day whose account is open and holds money), exactly what the user's own account
   could not pay or the holder's balance, whichever is less; a cancellation gives it back
   (to the holder's heirs if the holder has died since); no balance is ever below zero.

Kaifeng, 2023: employee caps 150 a month / 1000 a year, retiree 200 / 1500 (KF-9b); a
retiree is credited 60 a month from the fund (KF-16).
"""

import uuid
from collections import Counter
from contextlib import suppress
from datetime import date, datetime, timedelta
from pathlib import Path
from unittest import mock

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from sqlalchemy import create_engine, func, select, text

from gongji import engine
from gongji.errors import InputError
from gongji.ledger import accounts, check, family, imports, members, store, year
from gongji.ledger.driver import Driver
from gongji.ledger.schema import freezes, legs, settlements
from gongji.ledger.schema import members as member_rows
from gongji.ledger.settlement import cancel, reverse, settle
from gongji.money import to_fen
from tests.conftest import PG_ADMIN, examples, register_institutions

SEEN: Counter = Counter()  # how often the runs reached family paths (printed with -s)
PEOPLE = {"E": ("employee", 300_00), "R": ("retiree", 0), "S": ("employee", 20_00)}
CAPS = {"employee": (150_00, 1000_00), "retiree": (200_00, 1500_00)}  # KF-9b: month, year
PLACES = {"H001": "level3", "H1": "level2", "C1": "level1"}
START = datetime(2023, 3, 1, 8, 0)


class Store:
    """A fresh store of one kind for one run of the machine."""

    def __init__(self, kind: str, tmp: str):
        self.kind, self.name = kind, f"gongji_m_{uuid.uuid4().hex[:12]}"
        if kind == "sqlite":
            self.db = store.connect(f"sqlite:///{tmp}/{self.name}.db")
        else:
            admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{self.name}"'))
            admin.dispose()
            self.db = store.connect(PG_ADMIN.rsplit("/", 1)[0] + f"/{self.name}")
        store.upgrade(self.db)
        register_institutions(self.db)

    def close(self) -> None:
        self.db.dispose()
        if self.kind == "postgresql":
            admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE "{self.name}" WITH (FORCE)'))
            admin.dispose()


class Ledger(RuleBasedStateMachine):
    kind = "sqlite"
    tmp = "/tmp"

    def __init__(self):
        super().__init__()
        self.store = Store(self.kind, self.tmp)
        self.db = self.store.db
        for member_id, (mtype, opening) in PEOPLE.items():
            members.add_member(
                self.db,
                "kaifeng",
                {"id": member_id, "type": mtype, "account_balance": f"{opening / 100:.2f}"},
            )
        # XSBN-26 freezes a premium paid from the account until the month after: a member of
        # Xishuangbanna for the freezes
        members.add_member(
            self.db, "xishuangbanna", {"id": "X", "type": "employee", "account_balance": "300.00"}
        )
        self.balance = {m: opening for m, (_, opening) in PEOPLE.items()} | {"X": 300_00}
        self.frozen: list[tuple[int, date]] = []  # X's open freezes: (amount, frozen on)
        self.requests: dict[str, tuple[str, dict]] = {}  # txn -> (member, visit) as sent
        self.answers: dict[str, dict] = {}  # txn -> answer, for every txn that settled
        self.active: dict[str, tuple[str, str]] = {}  # txn -> (member, visit key)
        self.paid: dict[tuple[str, str], str] = {}  # visit key -> its active txn
        self.withdrawn: set[str] = set()
        self.credited: set[str] = set()  # months credited
        self.rolled = False
        self.n = 0
        self.bindings: list[list] = []  # [holder, user, first day, last day or None], in order
        self.dead: set[str] = set()
        for user in ("R", "S"):  # from the start, so that most runs draw on a holder
            self.bind_a_relative(("E", user), -59, None)

    def teardown(self):
        self.store.close()

    # -- operations ---------------------------------------------------------------------
    @rule(
        who=st.sampled_from(sorted(PEOPLE)),
        vid=st.sampled_from(["V1", "V2", "V3", "V4", "V5"]),
        place=st.sampled_from(sorted(PLACES)),
        days=st.integers(0, 75),
        hour=st.integers(0, 14),
        total=st.sampled_from([1, 50_00, 99_99, 100_00, 250_00, 333_33]),
        txn=st.sampled_from(["new", "new", "new", "retry"]),
    )
    def settle_a_visit(self, who, vid, place, days, hour, total, txn):
        when = START + timedelta(days=days, hours=hour)
        if self.rolled:
            when = when.replace(year=2024)
        visit = {"id": vid, "time": when.isoformat(), "institution": place,
                 "total": f"{total / 100:.2f}"}  # fmt: skip
        txn_id = self._txn() if txn == "new" or not self.requests else sorted(self.requests)[0]
        self._settle(txn_id, who, visit)

    @precondition(lambda self: self.answers)
    @rule(data=st.data())
    def send_a_settled_visit_again_under_a_new_txn(self, data):
        """The hospital retries with a new message id: the first answer, paid once."""
        txn_id = data.draw(st.sampled_from(sorted(self.answers)))
        member_id, visit = self.requests[txn_id]
        self._settle(self._txn(), member_id, visit)

    @precondition(lambda self: self.answers)
    @rule(data=st.data())
    def cancel_any(self, data):
        txn_id = data.draw(st.sampled_from(sorted(self.answers)))
        member_id, visit = self.requests[txn_id]
        # a settlement of a year the rollover closed cannot be cancelled (one cancelled before
        # it closed answers as cancelled)
        closed = self.rolled and visit["time"].startswith("2023") and txn_id in self.active
        try:
            out = cancel(self.db, txn_id)
        except InputError as exc:
            dead = member_id in self.dead  # a closed member's settlements stand
            assert (exc.code, closed) == ("E_YEAR_CLOSED", True) or (
                exc.code == "E_MEMBER_CLOSED" and dead
            )
            return
        assert not closed and out["cancelled"]
        if txn_id in self.active:
            self._release(txn_id)

    @rule(who=st.sampled_from(sorted(PEOPLE)))
    def reverse_a_lost_transaction(self, who):
        txn_id = self._txn()
        if who in self.dead:
            with pytest.raises(InputError, match="closed"):
                reverse(self.db, txn_id, who)
            return
        assert reverse(self.db, txn_id, who) == {
            "txn_id": txn_id, "reversed": True, "settled": False
        }  # fmt: skip
        self.withdrawn.add(txn_id)

    @precondition(lambda self: self.withdrawn)
    @rule(data=st.data())
    def a_reversed_transaction_arrives_late(self, data):
        txn_id = data.draw(st.sampled_from(sorted(self.withdrawn)))
        visit = {"id": "VX", "time": "2023-03-02T09:00:00", "institution": "C1", "total": "9.00"}
        with pytest.raises(InputError) as refused:
            settle(self.db, txn_id, "E", visit)
        assert refused.value.code == "E_TXN_REVERSED"

    @rule(month=st.sampled_from(["2023-03", "2023-04", "2023-05"]))
    def credit_a_month(self, month):
        accounts.credit_month(self.db, "kaifeng", date.fromisoformat(f"{month}-01"))
        if month not in self.credited:
            self.credited.add(month)
            self.balance["R"] += 60_00  # KF-16: retirees 60 a month; employees' come with pay

    @rule(who=st.sampled_from(sorted(PEOPLE)), amount=st.sampled_from([1, 20_00, 500_00]))
    def pay_a_premium(self, who, amount):
        try:
            accounts.pay_premium(
                self.db,
                self._txn(),
                who,
                amount,
                "family_resident_premium",
                date(2023, 4, 1),
                beneficiary="child",
            )
        except InputError as exc:
            assert (exc.code == "E_INSUFFICIENT" and amount > self.balance[who]) or (
                exc.code == "E_MEMBER_CLOSED" and who in self.dead
            )
            return
        self.balance[who] -= amount

    @rule(amount=st.sampled_from([1, 50_00, 400_00]), day=st.sampled_from([20, 50]))
    def freeze_a_premium(self, amount, day):
        on = date(2023, 3, 1) + timedelta(days=day)
        try:
            out = accounts.pay_premium(
                self.db, self._txn(), "X", amount, "family_resident_premium", on, "spouse"
            )
        except InputError as exc:
            assert exc.code == "E_INSUFFICIENT" and amount > self.balance["X"]
            return
        assert "frozen" in out
        self.balance["X"] -= amount
        self.frozen.append((amount, on))

    @precondition(lambda self: self.frozen)
    @rule(data=st.data())
    def release_a_freeze(self, data):
        with self.db.connect() as conn:
            open_ = conn.execute(
                select(freezes.c.id, freezes.c.amount, freezes.c.frozen_on)
                .where(freezes.c.outcome.is_(None))
                .order_by(freezes.c.id)
            ).all()
        freeze_id, amount, on = data.draw(st.sampled_from(open_))
        accounts.release_freeze(self.db, freeze_id)
        self.frozen.remove((amount, on))
        self.balance["X"] += amount

    @rule(today=st.sampled_from([date(2023, 4, 8), date(2023, 5, 8)]))
    def transfer_frozen_premiums(self, today):
        accounts.settle_freezes(self.db, today)
        self.frozen = [(a, on) for a, on in self.frozen if on >= today.replace(day=1)]

    @rule(
        pair=st.permutations(sorted(PEOPLE)).map(lambda p: p[:2]),
        days=st.integers(-60, 60),
        length=st.sampled_from([None, 10, 40]),
    )
    def bind_a_relative(self, pair, days, length):
        holder, user = pair = tuple(pair)
        start = date(2023, 3, 1) + timedelta(days=days)
        end = None if length is None else start + timedelta(days=length)
        doc = {"holder": holder, "user": user, "relationship": "spouse", "from": start}
        try:
            with self.db.begin() as conn:
                family.bind(conn, doc if end is None else {**doc, "to": end})
        except InputError as exc:
            clash = any(
                (h, u) == pair and (t is None or t >= max(start, f)) and (end is None or f <= end)
                for h, u, f, t in self.bindings
            )
            assert (exc.code, clash or bool(self.dead & set(pair))) in {
                ("E_EXISTS", True),
                ("E_MEMBER_CLOSED", True),
            }
            return
        assert not self.dead & set(pair)
        self.bindings.append([holder, user, start, end])

    @precondition(lambda self: self.bindings)
    @rule(data=st.data(), days=st.integers(-30, 60))
    def unbind_a_relative(self, data, days):
        holder, user = data.draw(st.sampled_from(self.bindings))[:2]
        on = date(2023, 3, 1) + timedelta(days=days)
        drawn = [
            t for t, (m, _) in self.active.items()
            if m == user and self.answers[t].get("holder") == holder
            and self.answers[t]["time"][:10] >= on.isoformat()
        ]  # fmt: skip
        try:
            with self.db.begin() as conn:
                out = family.unbind(conn, {"holder": holder, "user": user, "on": on})
        except InputError as exc:
            assert (exc.code == "E_MEMBER_CLOSED" and holder in self.dead) or (
                exc.code == "E_AID_PAID" and drawn and holder not in self.dead
            )
            return
        assert holder not in self.dead and not drawn
        ended = 0
        for b in self.bindings:
            if b[:2] != [holder, user] or (b[3] is not None and b[3] < b[2]):
                continue  # another pair's, or one that never held
            last = on - timedelta(days=1) if b[2] <= on else b[2] - timedelta(days=1)
            if b[3] is None or b[3] > last:
                b[3], ended = last, ended + 1
        assert out["ended"] == ended

    @precondition(lambda self: "S" not in self.dead)
    @rule(days=st.integers(0, 60))
    def the_spouse_dies(self, days):
        on = date(2023, 3, 1) + timedelta(days=days)
        accounts.close_account(self.db, "S", "death", on)
        self.dead.add("S")
        SEEN["a death"] += 1
        self.balance["S"] = 0
        last = on - timedelta(days=1)
        self.bindings = [
            b if "S" not in b[:2] else [*b[:3], last if b[3] is None else min(b[3], last)]
            for b in self.bindings
        ]

    @rule()
    def import_a_stay_for_the_employee(self):
        """A record update (defect 1: each one multiplied the record's money by 100)."""
        path = Path(self.tmp) / f"{self._txn()}.csv"
        path.write_text("member,from,to\nE,2023-07-01,2023-07-02\n", encoding="utf-8")
        imports.import_csv(self.db, "stays", path)

    @precondition(lambda self: not self.rolled)
    @rule()
    def roll_the_year_over(self):
        year.rollover(self.db, 2024)
        self.rolled = True

    @rule(who=st.sampled_from(sorted(PEOPLE)), days=st.integers(0, 60))
    def a_settlement_crashes_before_its_commit(self, who, days):
        when = (START + timedelta(days=days)).replace(year=2024 if self.rolled else 2023)
        visit = {"id": "VC", "time": when.isoformat(), "institution": "C1", "total": "80.00"}
        with (
            mock.patch.object(Driver, "commit", side_effect=RuntimeError("power cut")),
            suppress(RuntimeError, InputError),  # a dead member's: refused, nothing written
        ):
            settle(self.db, self._txn(), who, visit)
        # nothing of it is kept: the invariants below compare the store with the model

    # -- invariants ---------------------------------------------------------------------
    @invariant()
    def the_store_checks_clean(self):
        assert check.problems(self.db) == []

    @invariant()
    def balances_are_the_models(self):
        with self.db.connect() as conn:
            rows = dict(conn.execute(select(member_rows.c.id, member_rows.c.account_balance)).all())
        assert rows == self.balance
        assert min(rows.values()) >= 0

    @invariant()
    def frozen_amounts_are_the_models(self):
        with self.db.connect() as conn:
            frozen = conn.execute(select(member_rows.c.frozen).where(member_rows.c.id == "X"))
            assert frozen.scalar() == sum(a for a, _ in self.frozen)

    @invariant()
    def each_visit_is_paid_once(self):
        with self.db.connect() as conn:
            twice = conn.execute(
                select(settlements.c.institution, settlements.c.visit_id)
                .where(settlements.c.cancel_entry_id.is_(None))
                .group_by(settlements.c.institution, settlements.c.visit_id)
                .having(func.count() > 1)
            ).all()
            fund = conn.execute(
                select(func.coalesce(func.sum(legs.c.amount), 0)).where(
                    legs.c.account == "fund:kaifeng"
                )
            ).scalar()
        assert twice == []
        paid = sum(to_fen(self.answers[t]["fund_pay"]) for t in self.active)
        credits = 60_00 * len(self.credited)  # the retiree's, from the fund
        assert -fund == paid + credits

    @invariant()
    def no_cap_is_exceeded(self):
        with self.db.connect() as conn:
            rows = conn.execute(select(member_rows.c.id, member_rows.c.state)).all()
        for member_id, slots in rows:
            if member_id not in PEOPLE:
                continue  # the freezes' member settles nothing
            use = engine.YearState(tuple(slots)).pool("general")
            monthly, annual = CAPS[PEOPLE[member_id][0]]
            assert use.monthly <= monthly and use.annual <= annual

    # -- the model ----------------------------------------------------------------------
    def _txn(self) -> str:
        self.n += 1
        return f"T{self.n}"

    def _settle(self, txn_id: str, member_id: str, visit: dict) -> None:
        key = (visit["institution"], visit["id"])
        try:
            answer = settle(self.db, txn_id, member_id, visit)
        except InputError as exc:
            self._refused(exc, txn_id, member_id, visit, key)
            return
        assert member_id not in self.dead
        first = self.paid.get(key)
        if txn_id in self.answers:  # a retry of the transaction: its answer again
            assert self.requests[txn_id] == (member_id, visit)
            assert answer.document() == self.answers[txn_id]
            return
        if first is not None:  # the same request under a new txn: the first answer
            assert self.requests[first] == (member_id, visit)
            assert answer.document() == self.answers[first]
            return
        self.requests[txn_id] = (member_id, visit)
        self.answers[txn_id] = answer.document()
        self.active[txn_id] = (member_id, key)
        self.paid[key] = txn_id
        self.balance[member_id] -= answer.account_pay
        self._aid(answer, member_id, date.fromisoformat(visit["time"][:10]))

    def _aid(self, answer, user: str, day: date) -> None:
        """The holder and the amount the model expects of the settlement's mutual aid."""
        unpaid = answer.in_scope - answer.fund_pay - answer.account_pay
        holder = next(
            (
                h
                for h, u, f, t in self.bindings
                if u == user
                and f <= day
                and (t is None or day <= t)
                and h not in self.dead
                and self.balance[h] > 0
            ),
            None,
        )
        if unpaid <= 0 or holder is None:
            assert (answer.holder, answer.mutual_aid_pay) == (None, 0)
            return
        SEEN["mutual aid"] += 1
        assert answer.holder == holder
        assert answer.mutual_aid_pay == min(unpaid, self.balance[holder])
        self.balance[holder] -= answer.mutual_aid_pay

    def _refused(self, exc: InputError, txn_id, member_id, visit, key) -> None:
        if exc.code == "E_MEMBER_CLOSED":
            assert member_id in self.dead
        elif exc.code == "E_TXN_CONFLICT":
            assert txn_id in self.requests and self.requests[txn_id] != (member_id, visit)
        elif exc.code == "E_VISIT_SETTLED":
            first = self.paid[key]
            assert first in exc.reason and self.requests[first] != (member_id, visit)
        else:
            raise AssertionError(f"unexpected refusal {exc.code}: {exc}")

    def _release(self, txn_id: str) -> None:
        member_id, key = self.active.pop(txn_id)
        del self.paid[key]
        self.balance[member_id] += to_fen(self.answers[txn_id]["account_pay"])
        holder = self.answers[txn_id].get("holder")
        if holder is not None and holder not in self.dead:  # else: to the heirs' payout
            self.balance[holder] += to_fen(self.answers[txn_id]["mutual_aid_pay"])


# 12 runs of 25 steps a store (36 under the CI profile), each run on a fresh store
MODEL = settings(
    max_examples=examples(12),
    stateful_step_count=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_the_ledger_agrees_with_its_model(kind, tmp_path):
    machine = type(f"Ledger_{kind}", (Ledger,), {"kind": kind, "tmp": str(tmp_path)})
    machine.TestCase.settings = MODEL
    SEEN.clear()
    machine.TestCase().runTest()
    print(kind, dict(SEEN))
