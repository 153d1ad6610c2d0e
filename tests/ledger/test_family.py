"""Family mutual aid: a relative's visit paid from a member's account, in every region whose
text allows it (佳木斯 第十一条, 开封 第十七条, 南阳 第九条, 攀枝花 第五条, 西双版纳 第二十四条):
the user's own account first, then the holder's; a user without an account draws on the
holder's directly. Bindings as families have them, ended by unbind or a death. On SQLite and
PostgreSQL."""

import asyncio
import json
from datetime import date
from decimal import Decimal

import psycopg
import pytest
import yaml
from sqlalchemy import select, update

from gongji import policy
from gongji.errors import InputError
from gongji.ledger import check, imports, members, registry, views
from gongji.ledger.accounts import close_account
from gongji.ledger.family import bind, unbind
from gongji.ledger.journal import legs_of
from gongji.ledger.schema import entries, settlements
from gongji.ledger.settlement import cancel, settle, settle_many, settle_many_async
from gongji.policy.loader import PACKS_DIR, PACKS_ENV

# XSBN-9/10 at level 1: deductible 30, employee 60%. A 100-yuan visit: the fund pays
# (100 - 30) x 60% = 42, the member's in-scope share is 58.
VISIT = {"id": "V1", "time": "2023-03-01T09:00:00", "institution": "X1", "total": "100.00"}


@pytest.fixture
def family(db):
    with db.begin() as conn:
        registry.add_institution(
            conn,
            {
                "code": "X1",
                "name": "景洪市社区卫生服务中心",
                "region": "xishuangbanna",
                "level": "level1",
            },
        )
    add_family(db)
    return db


def add_family(db, suffix: str = "") -> None:
    """The holder H, a user U with a small account, a user F without one (ids + suffix)."""
    for member_id, mtype, balance in (
        ("H", "employee", "100.00"),
        ("U", "employee", "10.00"),
        ("F", "flexible", "0"),  # XSBN-18: a flexible worker has no account
    ):
        members.add_member(
            db,
            "xishuangbanna",
            {"id": member_id + suffix, "type": mtype, "account_balance": balance},
        )
    with db.begin() as conn:
        for user, rel, start in (("U", "child", "2023-02-01"), ("F", "spouse", "2023-01-10")):
            bind(
                conn,
                {
                    "holder": "H" + suffix,
                    "user": user + suffix,
                    "relationship": rel,
                    "from": start,
                    "to": "2023-12-31",
                },
            )


def money(db, member_id: str) -> Decimal:
    return views.account_show(db, member_id)["account_balance"]


def test_the_users_account_first_then_the_holders(family):
    got = settle(family, "T1", "U", VISIT)
    assert (got["fund_pay"], got["account_pay"], got["mutual_aid_pay"], got["cash_pay"]) == (
        "42.00",
        "10.00",
        "48.00",
        "0.00",
    )
    assert got["holder"] == "H" and got["trace"][-1]["rule"] == "XSBN-24"
    assert (money(family, "U"), money(family, "H")) == (Decimal("0.00"), Decimal("52.00"))
    assert check.problems(family) == []


def test_a_user_without_an_account_draws_on_the_holders_directly(family):
    got = settle(family, "T1", "F", VISIT)
    assert (got["account_pay"], got["mutual_aid_pay"], got["cash_pay"]) == ("0.00", "58.00", "0.00")
    # the holder's balance runs out: the rest is cash
    again = settle(family, "T2", "F", {**VISIT, "id": "V2", "time": "2023-03-02T09:00:00"})
    assert (again["mutual_aid_pay"], again["cash_pay"]) == ("42.00", "16.00")
    assert money(family, "H") == Decimal("0.00")
    assert check.problems(family) == []


def test_cancel_gives_the_holder_back_what_it_paid(family):
    settle(family, "T1", "U", VISIT)
    settle(family, "T2", "H", {**VISIT, "id": "V2", "time": "2023-03-01T10:00:00"})
    assert money(family, "H") == Decimal("0.00")  # 52 left, the holder's own share 58
    cancel(family, "T1")
    assert (money(family, "U"), money(family, "H")) == (Decimal("10.00"), Decimal("48.00"))
    assert check.problems(family) == []


def family_requests(suffix: str) -> list:
    """One family's day: the holder twice before the users who draw on it, a refused
    request, a retry inside the batch."""

    def at(hour: int, total: str = "100.00") -> dict:
        # each family's own visits: a visit (institution and id) is paid once
        vid = f"V{hour}{suffix}"
        return {**VISIT, "id": vid, "time": f"2023-03-01T{hour:02d}:00:00", "total": total}

    return [
        ("T0" + suffix, "H" + suffix, at(7, "20.00")),  # below the deductible: 20 own
        ("T1" + suffix, "H" + suffix, at(8)),
        ("T2" + suffix, "U" + suffix, at(9)),
        ("T3" + suffix, "nobody", at(9)),
        ("T4" + suffix, "F" + suffix, at(10)),
        ("T2" + suffix, "U" + suffix, at(9)),  # a retry: the first answer
        ("T5" + suffix, "U" + suffix, at(11)),
    ]


def comparable(answer) -> object:
    if isinstance(answer, InputError):
        return answer.code, answer.field
    return {k: v for k, v in answer.items() if k not in ("txn_id", "holder", "visit_id")}


def test_a_batch_settles_as_the_same_requests_one_by_one(family):
    """Group commit (`settle_many`): one family's requests settled as one batch give the
    answers and balances that settling each request alone gives a twin family."""
    batch = settle_many(family, family_requests(""))
    add_family(family, "2")
    alone = []
    for txn_id, member_id, visit in family_requests("2"):
        try:
            alone.append(settle(family, txn_id, member_id, visit))
        except InputError as exc:
            alone.append(exc)
    assert [comparable(a) for a in batch] == [comparable(a) for a in alone]
    assert batch[5] == batch[2] and batch[2]["mutual_aid_pay"] == "22.00"
    for member_id in "HUF":
        assert money(family, member_id) == money(family, member_id + "2")
    assert money(family, "H") == Decimal("0.00")
    assert check.problems(family) == []


def test_an_asyncio_batch_settles_as_a_batch(family):
    """`settle_many_async` (the service's, on PostgreSQL) gives what `settle_many` gives."""
    if family.dialect.name != "postgresql":
        pytest.skip("asyncio batches are PostgreSQL's (SQLite's run in a thread)")

    async def run() -> list:
        url = family.url.set(drivername="postgresql").render_as_string(hide_password=False)
        async with await psycopg.AsyncConnection.connect(url) as conn:
            return await settle_many_async(conn, family_requests(""))

    got = asyncio.run(run())
    add_family(family, "2")
    assert [comparable(a) for a in got] == [
        comparable(a) for a in settle_many(family, family_requests("2"))
    ]
    for member_id in "HUF":
        assert money(family, member_id) == money(family, member_id + "2")
    assert check.problems(family) == []


# -- a relative's visit paid from a member's account, in each region --------------------------
# The user U has 10.00 of their own, the holder H 1,000.00; one visit in March 2023 at the
# level named. Each line's arithmetic is from the region's general outpatient article:
WORKED = [
    # 佳木斯 第七条: a 500 annual deductible, level 1 pays 70%: (700 - 500) x 70% = 140;
    # the in-scope share 560: U's own 10, then H's 550 (第十一条)
    ("jiamusi", "level1", "700.00", "140.00", "550.00", "X-4", "第十一条"),
    # 开封 第九条: 40 a visit at level 2, then 55%: (100 - 40) x 55% = 33; 67: 10 + 57 (第十七条)
    ("kaifeng", "level2", "100.00", "33.00", "57.00", "KF-17", "第十七条"),
    # 南阳 第五条: 30 a visit at level 2, then 55%: (100 - 30) x 55% = 38.50; 61.50: 10 + 51.50
    ("nanyang", "level2", "100.00", "38.50", "51.50", "X-4", "第九条"),
    # 攀枝花 第七条: a 200 annual deductible, level 1 pays 60%: (300 - 200) x 60% = 60;
    # 240: 10 + 230 (第五条)
    ("panzhihua", "level1", "300.00", "60.00", "230.00", "PZH-5", "第五条"),
    # 西双版纳 第九条/第十条: 30 at level 1, then 60%: (100 - 30) x 60% = 42; 58: 10 + 48
    ("xishuangbanna", "level1", "100.00", "42.00", "48.00", "XSBN-24", "第二十四条"),
]


def relatives(db, region: str, holder: str = "1000.00", user: str = "10.00", to=None) -> None:
    """H and U insured in `region`, U bound to H as a child from 1 February 2023."""
    for member_id, balance in (("H", holder), ("U", user)):
        members.add_member(
            db, region, {"id": member_id, "type": "employee", "account_balance": balance}
        )
    binding = {"holder": "H", "user": "U", "relationship": "child", "from": "2023-02-01"}
    with db.begin() as conn:
        bind(conn, binding if to is None else {**binding, "to": to})


def institution(db, region: str, level: str, code: str = "I1", **flags) -> None:
    with db.begin() as conn:
        registry.add_institution(
            conn,
            {"code": code, "name": f"医院 {code}", "region": region, "level": level, **flags},
        )


@pytest.mark.parametrize("region,level,total,fund,aid,rule,article", WORKED)
def test_a_relatives_visit_is_paid_from_the_members_account(
    db, region, level, total, fund, aid, rule, article
):
    institution(db, region, level)
    relatives(db, region)
    visit = {"id": "V1", "time": "2023-03-01T09:00:00", "institution": "I1", "total": total}
    got = settle(db, "T1", "U", visit)
    assert (got["fund_pay"], got["account_pay"], got["mutual_aid_pay"], got["cash_pay"]) == (
        fund,
        "10.00",
        aid,
        "0.00",
    )
    assert got["holder"] == "H" and got["trace"][-1]["rule"] == rule
    assert money(db, "H") == Decimal("1000.00") - Decimal(aid)
    assert money(db, "U") == Decimal("0.00")
    pack_rule = policy.load_region(region).version_on(date(2023, 3, 1)).family
    assert (pack_rule.rule, pack_rule.article) == (rule, article)
    assert check.problems(db) == []


def test_a_holders_last_fen_is_drawn(db):
    """A holder's account holding one fen pays it (then the rest is cash): an account is
    drawn on while it holds anything."""
    institution(db, "xishuangbanna", "level1", "X1")
    relatives(db, "xishuangbanna", holder="0.01", user="0")
    got = settle(db, "T1", "U", {**VISIT, "institution": "X1"})
    assert (got["mutual_aid_pay"], got["cash_pay"]) == ("0.01", "57.99")


def test_a_user_who_pays_in_cash_draws_on_no_holder(family):
    """XSBN-24: the holder pays only where the user's own account is not enough; a user who
    chose cash this time (acct_used_flag 0) leaves both accounts alone."""
    got = settle(family, "T1", "U", {**VISIT, "use_account": False})
    assert (got["account_pay"], got["cash_pay"]) == ("0.00", "58.00")
    assert "holder" not in got
    assert (money(family, "U"), money(family, "H")) == (Decimal("10.00"), Decimal("100.00"))


def test_no_account_pays_where_the_institution_is_not_designated(db):
    """The account pays at designated institutions (定点, 开封 第十七条); an institution
    under agreement but not designated for outpatient pooling (KF-19) gets no fund pay, and
    the accounts pay there."""
    institution(db, "kaifeng", "level2", "N", designated=False, agreement=False)
    institution(db, "kaifeng", "level2", "A", designated=False)
    relatives(db, "kaifeng")
    visit = {"id": "V1", "time": "2023-03-01T09:00:00", "institution": "N", "total": "100.00"}
    got = settle(db, "T1", "U", visit)
    assert (got["fund_pay"], got["account_pay"], got["cash_pay"]) == ("0.00", "0.00", "100.00")
    assert "holder" not in got and "KF-17" in [s["rule"] for s in got["trace"]]
    # not designated for pooling, designated all the same: 100 in scope, no fund, U's 10 and H's 90
    got = settle(db, "T2", "U", {**visit, "id": "V2", "institution": "A"})
    assert (got["fund_pay"], got["account_pay"], got["mutual_aid_pay"]) == (
        "0.00",
        "10.00",
        "90.00",
    )
    with db.begin() as conn, pytest.raises(InputError) as err:
        registry.add_institution(
            conn,
            {"code": "B", "name": "B", "region": "kaifeng", "level": "level1", "agreement": False},
        )
    assert err.value.field == "institution.agreement"


def test_an_institutions_file_says_which_are_designated(db, tmp_path):
    """The registry's two designations from a CSV file: not designated at all (the account
    pays nothing there), and designated but not for outpatient pooling (KF-19)."""
    path = tmp_path / "institutions.csv"
    path.write_text(
        "code,name,region,level,designated,agreement\n"
        "N1,诊所,kaifeng,level1,false,false\nA1,医院,kaifeng,level2,false,true\n",
        encoding="utf-8",
    )
    assert imports.import_csv(db, "institutions", path) == 2
    relatives(db, "kaifeng")
    visit = {"id": "V1", "time": "2023-03-01T09:00:00", "institution": "N1", "total": "10.00"}
    assert settle(db, "T1", "U", visit)["cash_pay"] == "10.00"
    got = settle(db, "T2", "U", {**visit, "id": "V2", "institution": "A1"})
    assert (got["account_pay"], got["cash_pay"]) == ("10.00", "0.00")


def test_spouses_bind_each_other_and_a_child_both_parents(db):
    """Bindings as families have them. The child's visit draws on the parent who bound it
    first; once that account is empty, on the other."""
    institution(db, "xishuangbanna", "level1", "X1")
    for member_id, balance in (("A", "30.00"), ("B", "100.00"), ("C", "0")):
        members.add_member(
            db, "xishuangbanna", {"id": member_id, "type": "employee", "account_balance": balance}
        )
    with db.begin() as conn:
        for holder, user, rel in (("A", "B", "spouse"), ("B", "A", "spouse"), ("A", "C", "child"),
                                  ("B", "C", "child")):  # fmt: skip
            bind(conn, {"holder": holder, "user": user, "relationship": rel, "from": "2023-02-01"})
    # the child's in-scope share 58: A (bound first) has 30
    got = settle(db, "T1", "C", {**VISIT, "institution": "X1"})
    assert (got["holder"], got["mutual_aid_pay"], got["cash_pay"]) == ("A", "30.00", "28.00")
    got = settle(db, "T2", "C", {**VISIT, "id": "V2", "time": "2023-03-02T09:00:00"})
    assert (got["holder"], got["mutual_aid_pay"], got["cash_pay"]) == ("B", "58.00", "0.00")
    # A's own visit: A's account is empty now, B pays as A's spouse: 58 of B's 42 left
    got = settle(db, "T3", "A", {**VISIT, "id": "V3", "time": "2023-03-03T09:00:00"})
    assert (got["holder"], got["mutual_aid_pay"], got["cash_pay"]) == ("B", "42.00", "16.00")
    assert [money(db, m) for m in "ABC"] == [Decimal("0.00")] * 3
    assert check.problems(db) == []
    with db.begin() as conn, pytest.raises(InputError) as err:
        bind(conn, {"holder": "A", "user": "C", "relationship": "child", "from": "2023-06-01"})
    assert err.value.code == "E_EXISTS"


def test_unbind_ends_the_binding_from_its_day(family):
    with family.begin() as conn:
        ended = unbind(conn, {"holder": "H", "user": "U", "on": "2023-03-01"})
        assert (ended["valid_to"], ended["ended"]) == ("2023-02-28", 1)
        again = unbind(conn, {"holder": "H", "user": "U", "on": "2023-03-01"})
        assert again["ended"] == 0  # ending it again changes nothing
    got = settle(family, "T1", "U", VISIT)  # 1 March: unbound
    assert "holder" not in got and got["cash_pay"] == "48.00"
    # a visit of 28 February, settled late, was in the binding's time: the holder pays
    got = settle(family, "T2", "U", {**VISIT, "id": "V0", "time": "2023-02-28T09:00:00"})
    assert (got["late"], got["holder"], got["mutual_aid_pay"]) == (True, "H", "58.00")
    with family.begin() as conn, pytest.raises(InputError) as err:
        unbind(conn, {"holder": "H", "user": "U", "on": "2023-02-15"})  # before T2's visit
    assert (err.value.field, err.value.code) == ("unbind.on", "E_AID_PAID")
    assert "T2" in err.value.reason
    assert check.problems(family) == []


def test_unbind_ends_the_binding_in_force_and_any_later_one(family):
    """A renewal on record (from next year) does not stop the current binding being ended,
    and ends with it; a binding undone on its first day and made again is the one ended."""
    with family.begin() as conn:
        renewal = {"holder": "H", "user": "U", "relationship": "child", "from": "2024-01-01"}
        bind(conn, renewal)  # U's first binding runs to 2023-12-31
        assert unbind(conn, {"holder": "H", "user": "U", "on": "2023-03-01"})["ended"] == 2
    members.add_member(family, "xishuangbanna", {"id": "C", "type": "employee"})
    with family.begin() as conn:
        child = {"holder": "H", "user": "C", "relationship": "child", "from": "2023-03-01"}
        bind(conn, child)
        unbind(conn, {"holder": "H", "user": "C", "on": "2023-03-01"})  # a mistake, undone
        bind(conn, child)  # bound again from the same day: the undone one never held
        assert unbind(conn, {"holder": "H", "user": "C", "on": "2023-04-01"})["ended"] == 1
    for user, day in (("U", "2023-03-05"), ("U", "2024-02-01"), ("C", "2023-04-05")):
        visit = {**VISIT, "id": f"V{user}{day}", "time": f"{day}T09:00:00"}
        assert "holder" not in settle(family, f"T{user}{day}", user, visit)
    got = settle(family, "TC", "C", {**VISIT, "id": "VC", "time": "2023-03-31T09:00:00"})
    assert got["holder"] == "H"  # in the second binding's month
    assert check.problems(family) == []


def test_a_holder_has_an_account_to_share(family):
    """F, a flexible worker in 西双版纳, has no account (XSBN-18): nothing to bind to."""
    with family.begin() as conn, pytest.raises(InputError) as err:
        bind(conn, {"holder": "F", "user": "U", "relationship": "spouse", "from": "2023-03-01"})
    assert (err.value.field, err.value.code) == ("binding.holder", "E_NOT_IN_POLICY")


def test_a_holders_death_ends_the_binding_not_the_users_settlement(family):
    """The user's pooling benefit does not depend on the holder: from the day the holder's
    account closes, what the user's own account does not cover is cash."""
    close_account(family, "H", "death", date(2023, 2, 20))
    got = settle(family, "T1", "U", VISIT)
    assert (got["fund_pay"], got["account_pay"], got["cash_pay"]) == ("42.00", "10.00", "48.00")
    assert "holder" not in got
    shown = views.member_show(family, "U")["family"]
    assert [(b["other"], b["to"]) for b in shown] == [("H", "2023-02-19")]
    assert check.problems(family) == []


def test_a_cancel_after_the_holders_death_gives_the_aid_to_the_heirs(family):
    """The aid a cancelled visit took from a holder who has died since goes where the
    holder's balance went on closing (paid out to the heirs), not to a closed account."""
    settle(family, "T1", "U", VISIT)  # U's 10, H's 48
    close_account(family, "H", "death", date(2023, 3, 5))  # 52 paid out
    answer = cancel(family, "T1")
    assert answer["cancelled"] and money(family, "U") == Decimal("10.00")
    with family.connect() as conn:
        legs = legs_of(conn, _entry(conn, "cancel", "T1"))
        payout = dict(legs)["payout:H"]
    assert payout == 4800  # fen
    assert check.problems(family) == []


def test_a_cancel_after_an_emptied_holders_death_gives_the_aid_to_the_heirs(family):
    """The aid emptied the holder's account (H's 100: 58 for U's first visit, 42 for the
    second), the holder died with nothing to pay out; cancelling the second visit gives its
    42 to the heirs all the same."""
    settle(family, "T1", "F", VISIT)
    settle(family, "T2", "F", {**VISIT, "id": "V2", "time": "2023-03-02T09:00:00"})
    close_account(family, "H", "death", date(2023, 3, 5))  # 0 paid out
    answer = cancel(family, "T2")
    # F has no account: its own account gets nothing back (the aid goes to the heirs)
    assert (answer["cancelled"], answer["returned"]["account_pay"]) == (True, "0.00")
    with family.connect() as conn:
        assert dict(legs_of(conn, _entry(conn, "cancel", "T2")))["payout:H"] == 4200
    assert check.problems(family) == []


def test_check_finds_aid_its_answer_does_not_say(family):
    """`db check` compares what other accounts paid with the answer's holder and aid."""
    settle(family, "T1", "U", VISIT)
    with family.begin() as conn:
        stored = conn.execute(select(settlements.c.result)).scalar_one()
        stored = json.loads(stored) if isinstance(stored, str) else stored
        tampered = {**stored, "mutual_aid_pay": "40.00", "cash_pay": "8.00"}
        conn.execute(update(settlements).values(result=tampered))
    assert check.problems(family) == [
        "settlement T1: other accounts paid {'account:H': -4800}, its answer says H paid 40.00"
    ]


def _entry(conn, kind: str, txn_id: str) -> int:
    return conn.execute(
        select(entries.c.id).where(entries.c.kind == kind, entries.c.txn_id == txn_id)
    ).scalar_one()


def test_who_may_be_bound(db):
    """The holder's pack decides: relatives insured in the pooling region (开封), or in the
    province (西双版纳 第二十条: 原则上限于云南省医疗保险参保人员)."""
    for member_id, region in (("K1", "kaifeng"), ("K2", "kaifeng"), ("J1", "jiamusi"),
                              ("X1", "xishuangbanna")):  # fmt: skip
        members.add_member(db, region, {"id": member_id, "type": "employee"})

    def refused(holder: str, user: str, **more) -> InputError:
        doc = {"holder": holder, "user": user, "relationship": "parent", "from": "2023-03-01"}
        with db.begin() as conn, pytest.raises(InputError) as err:
            bind(conn, {**doc, **more})
        return err.value

    err = refused("K1", "J1")
    assert (err.code, err.field) == ("E_NOT_IN_POLICY", "binding.user") and "KF-17" in err.reason
    err = refused("X1", "K1")
    assert "province" in err.reason and "XSBN-20/21 第二十条" in err.reason
    assert refused("K1", "K1").field == "binding.user"
    assert refused("K1", "K2", relationship="cousin").field == "binding.relationship"
    assert refused("K1", "K2", to="2023-02-01").field == "binding.to"
    assert refused("K1", "K2", **{"from": "2022-01-01"}).code == "E_NOT_IN_POLICY"  # before KF
    with db.begin() as conn:
        assert bind(conn, {"holder": "K1", "user": "K2", "relationship": "parent",
                           "from": "2023-03-01"}) > 0  # fmt: skip


def test_no_aid_when_the_holders_rules_are_not_in_force(db, tmp_path, monkeypatch):
    """A bureau's 开封 pack (GONGJI_PACKS) that lets relatives insured in the province use an
    account and ends on 30 June 2023: a 南阳 user bound to a 开封 holder draws on it while
    the holder's rules are in force, and not after (no rule of the holder's allows it)."""
    pack = yaml.safe_load((PACKS_DIR / "kaifeng.yaml").read_text(encoding="utf-8"))
    pack["versions"][0]["family"]["within"]["scope"] = "province"  # the later version inherits
    pack["versions"][-1]["to"] = date(2023, 6, 30)
    (tmp_path / "kaifeng.yaml").write_text(yaml.safe_dump(pack, allow_unicode=True))
    monkeypatch.setenv(PACKS_ENV, str(tmp_path))
    institution(db, "nanyang", "level2", "N2")
    members.add_member(db, "kaifeng", {"id": "H", "type": "employee", "account_balance": "500"})
    members.add_member(db, "nanyang", {"id": "U", "type": "employee"})
    with db.begin() as conn:
        bind(conn, {"holder": "H", "user": "U", "relationship": "child", "from": "2023-02-01"})
    # 南阳 第五条 at level 2: 30 a visit, then 55%: (100 - 30) x 55% = 38.50; the rest 61.50
    june = {"id": "V1", "time": "2023-06-30T09:00:00", "institution": "N2", "total": "100.00"}
    got = settle(db, "T1", "U", june)
    assert (got["holder"], got["mutual_aid_pay"]) == ("H", "61.50")
    got = settle(db, "T2", "U", {**june, "id": "V2", "time": "2023-07-03T09:00:00"})
    assert "holder" not in got and got["cash_pay"] == "61.50"


def test_a_relative_insured_elsewhere_in_the_province_may_be_bound(db, tmp_path, monkeypatch):
    """XSBN-20 (第二十条: 配偶、父母、子女范围原则上限于云南省医疗保险参保人员) — the family
    scope is the pack's value: a 西双版纳 holder binds a parent insured in another pooling
    region of Yunnan (a bureau's 昆明 pack beside the shipped ones, GONGJI_PACKS), whose visit
    there draws on the holder's account (第二十五条（二）: 在不同统筹区的 … 清算); a relative
    insured in 河南 is refused, naming the article. 南阳's scope is its pooling region
    (the project's reading of 第九条): a relative insured in 开封, in the same province, is
    refused there."""
    pack = yaml.safe_load((PACKS_DIR / "xishuangbanna.yaml").read_text(encoding="utf-8"))
    pack.update({"region": "kunming", "name": "昆明市", "admdvs": "530100"})
    (tmp_path / "kunming.yaml").write_text(yaml.safe_dump(pack, allow_unicode=True))
    monkeypatch.setenv(PACKS_ENV, str(tmp_path))
    assert policy.load_region("kunming").province == policy.load_region("xishuangbanna").province
    institution(db, "kunming", "level1", "KM1")
    people = {"XH": "xishuangbanna", "KU": "kunming", "KF": "kaifeng", "NH": "nanyang"}
    for member_id, region in people.items():
        balance = "100.00" if member_id.endswith("H") else "0"
        members.add_member(
            db, region, {"id": member_id, "type": "employee", "account_balance": balance}
        )
    doc = {"holder": "XH", "relationship": "parent", "from": "2023-02-01"}
    with db.begin() as conn:
        assert bind(conn, {**doc, "user": "KU"}) > 0
    for holder, user, cite in (("XH", "KF", "(XSBN-20/21 第二十条)"), ("NH", "KF", "(X-4 第九条)")):
        with db.begin() as conn, pytest.raises(InputError) as err:
            bind(conn, {**doc, "holder": holder, "user": user})
        assert (err.value.code, err.value.field) == ("E_NOT_IN_POLICY", "binding.user")
        assert err.value.reason.endswith(cite), err.value.reason
    # 昆明's own rules (西双版纳's values) at level 1: (100 - 30) x 60% = 42; the parent's
    # empty account nothing, the holder's the 58 left
    visit = {"id": "V1", "time": "2023-03-01T09:00:00", "institution": "KM1", "total": "100.00"}
    got = settle(db, "T1", "KU", visit)
    assert (got["fund_pay"], got["holder"], got["mutual_aid_pay"]) == ("42.00", "XH", "58.00")
    assert money(db, "XH") == Decimal("42.00")
    assert check.problems(db) == []
