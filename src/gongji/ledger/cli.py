"""The ledger's commands: db, member, import, settle, cancel, account, family, year.

Output is JSON for programs (money as yuan strings); bad input is one line on stderr naming
the field, exit 2, and nothing written.
"""

from pathlib import Path

import typer

from gongji.commands import (
    bad_rows,
    batch,
    checked_year,
    day,
    document,
    fail,
    fen,
    first_of_month,
    progress,
    run,
    store,
)
from gongji.commands import console as out
from gongji.errors import InputError

db_app = typer.Typer(
    no_args_is_help=True, help="账本数据库 (the ledger store, GONGJI_DATABASE_URL)."
)
member_app = typer.Typer(no_args_is_help=True, help="参保人 (members of the scheme).")
account_app = typer.Typer(no_args_is_help=True, help="个人账户 (personal accounts).")
year_app = typer.Typer(no_args_is_help=True, help="医保年度 (the insurance year, X-1).")
family_app = typer.Typer(no_args_is_help=True, help="家庭共济绑定 (family mutual aid bindings).")


def register(app: typer.Typer) -> None:
    app.add_typer(db_app, name="db")
    app.add_typer(member_app, name="member")
    app.add_typer(account_app, name="account")
    app.add_typer(year_app, name="year")
    app.add_typer(family_app, name="family")
    app.command("import")(import_records)
    app.command()(settle)
    app.command()(cancel)


@db_app.command("init")
def db_init() -> None:
    """建库：在所配置的存储中建立账本各表（最新结构）。
    Create the ledger's tables (the newest schema) in the configured store."""
    from gongji.ledger import store

    store.upgrade(store.connect())
    out().print(f"数据库已就绪 (ready): {store.database_url()}")


@db_app.command("upgrade")
def db_upgrade() -> None:
    """升级账本数据库结构。
    Migrate the store to the newest schema."""
    db_init()


@db_app.command("check")
def db_check() -> None:
    """账目核对：由流水与结算重算余额和参保状态。
    Recompute balances and member states from the journal and settlements; exit 1 on
    any difference."""
    from gongji.ledger import check

    with progress() as bar:
        task = bar.add_task("账目核对 (checking)", total=None)
        found = check.problems(
            store(), lambda done, total: bar.update(task, completed=done, total=total)
        )
    for problem in found:
        typer.echo(problem, err=True)
    if found:
        raise typer.Exit(1)
    out().print(
        "账目一致：分录借贷平衡，余额与参保状态可由流水重算 (ledger consistent: entries balance,"
        " balances and member states recompute)"
    )


@member_app.command("add")
def member_add(
    region: str = typer.Argument(..., help="Policy pack id."),
    member_file: str = typer.Argument(..., help="Member YAML/JSON (as in a scenario), or -."),
) -> None:
    """登记参保人及其个人账户期初余额。
    Register a member, with their opening account balance."""
    from gongji.ledger import members

    run(lambda db: {"added": members.add_member(db, region, document(member_file))})


@member_app.command("show")
def member_show(member_id: str = typer.Argument(..., help="Member id.")) -> None:
    """查询参保人：登记信息、余额、本年度累计、往年、家庭共济。
    A member: record, balances, this year's accumulators, earlier years, family."""
    from gongji.ledger import views

    run(views.member_show, member_id)


@member_app.command("retire")
def member_retire(
    member_id: str = typer.Argument(..., help="Member id."),
    processed: str = typer.Option(..., "--processed", help="Day retirement was processed."),
    retired_from: str | None = typer.Option(
        None, "--retired-from", help="Day retiree benefits start, where not the pack's (KF-12)."
    ),
) -> None:
    """办理退休（退休待遇切换）。
    The retirement switch (X-2, JMS-10b, KF-16, NY-11): the pack gives when it takes
    effect from the processing day, unless the day retiree benefits start is given."""
    from gongji.ledger import members

    start = None if retired_from is None else day(retired_from, "retired_from")
    run(members.retire, member_id, day(processed, "processed"), start)


def import_records(
    kind: str = typer.Argument(
        ..., help="members | institutions | contributions | bindings | filings | stays | arrears"
    ),
    csv_file: Path = typer.Argument(
        ..., exists=True, dir_okay=False, help="CSV with a header (UTF-8, or GBK as Excel saves)."
    ),
) -> None:
    """从 CSV 导入记录：全部导入或全部不导入，逐行报告错误。
    Import records from CSV, all or nothing; every bad row is reported by its line."""
    from gongji.ledger import imports

    db = store()
    try:
        rows = imports.read(kind, csv_file)
        with progress() as bar:
            task = bar.add_task(f"importing {kind}", total=len(rows))
            count = imports.import_csv(db, kind, rows, lambda n: bar.advance(task, n))
    except imports.ImportFailed as exc:
        bad_rows(exc)
    except InputError as exc:
        fail(exc)
    out().print(f"已导入 {count} {IMPORTED.get(kind, kind)} (imported {count} {kind})")


# what an import brought in, counted as Chinese counts it (the kinds of imports.read)
IMPORTED = {
    "members": "名参保人",
    "institutions": "家定点机构",
    "contributions": "条缴费记录",
    "bindings": "条家庭共济绑定",
    "filings": "条异地就医备案",
    "stays": "条住院记录",
    "arrears": "条欠费记录",
}


def settle(
    visit_file: str = typer.Argument(..., help="Visit YAML/JSON (as in a scenario), or -."),
    member: str = typer.Option(..., "--member", help="Member id."),
    txn: str = typer.Option(..., "--txn", help="Transaction id: a retry returns the first result."),
) -> None:
    """结算一次就诊（同一流水号只结算一次）。
    Settle one visit against the store, exactly once."""
    from gongji.ledger import settlement

    def settled(db) -> dict:
        answer = settlement.settle(db, txn, member, document(visit_file))
        return {**answer.document(), "trace": settlement.explain_answer(answer)}

    run(settled)


def cancel(txn: str = typer.Argument(..., help="Transaction id of the settlement.")) -> None:
    """撤销结算：累计额与个人账户按分恢复。
    Cancel a member's latest settlement; accumulators and account restored to the fen."""
    from gongji.ledger import settlement

    run(settlement.cancel, txn)


@account_app.command("show")
def account_show(member_id: str = typer.Argument(..., help="Member id.")) -> None:
    """个人账户：余额、封存金额与流水。
    The account's balance, frozen amount and journal."""
    from gongji.ledger import views

    run(views.account_show, member_id)


@account_app.command("credit")
def account_credit(
    region: str = typer.Argument(..., help="Policy pack id."),
    month: str = typer.Argument(..., help="YYYY-MM"),
) -> None:
    """个人账户按月划入。
    Monthly crediting (X-4): contributions paid for the month, retirees' standard."""
    first = first_of_month(month, "month")
    batch("crediting", lambda db, tick: accounts().credit_month(db, region, first, tick))


@account_app.command("back-credit")
def account_back_credit(region: str = typer.Argument(..., help="Policy pack id.")) -> None:
    """个人账户补划（划入标准提高后的差额）。
    Credit the difference where a month's standard is now higher than credited (JMS-10a)."""
    batch("back-credit", lambda db, tick: accounts().back_credit(db, region, tick))


@account_app.command("premium")
def account_premium(
    member_id: str = typer.Argument(..., help="Member id."),
    amount: str = typer.Option(..., "--amount", help="Yuan."),
    purpose: str = typer.Option(..., "--purpose", help="e.g. family_resident_premium"),
    on: str = typer.Option(..., "--on", help="Day of the application."),
    op: str = typer.Option(..., "--op", help="Operation id: a retry changes nothing."),
    beneficiary: str | None = typer.Option(
        None,
        "--beneficiary",
        help="member | spouse | parent | child (default: the member, where the pack allows it)",
    ),
    relative: str | None = typer.Option(None, "--relative", help="The relative's id or name."),
) -> None:
    """个人账户代缴保费。
    Pay a premium from the account, for a purpose and a person the region allows (X-4,
    KF-17; frozen where the pack freezes it: XSBN-26)."""
    run(
        accounts().pay_premium,
        op,
        member_id,
        fen(amount, "amount"),
        purpose,
        day(on, "on"),
        beneficiary,
        relative,
    )


@account_app.command("transfer-frozen")
def account_transfer_frozen(
    today: str = typer.Option(..., "--today", help="The run's day (by the 10th: XSBN-26)."),
) -> None:
    """划转本月之前封存的代缴保费。
    Transfer every premium frozen before this month."""
    run(accounts().settle_freezes, day(today, "today"))


@account_app.command("release")
def account_release(freeze_id: int = typer.Argument(..., help="Freeze id.")) -> None:
    """解除封存，退回个人账户。
    Give a frozen premium back to the account (not collected)."""
    run(accounts().release_freeze, freeze_id)


@account_app.command("close")
def account_close(
    member_id: str = typer.Argument(..., help="Member id."),
    reason: str = typer.Option(
        ..., "--reason", help="transfer | refund | death | emigration | withdrawal"
    ),
    on: str = typer.Option(..., "--on", help="Day."),
) -> None:
    """个人账户注销：余额一次性支付或转移。
    Pay out or transfer the balance in one sum and close the member (JMS-12, KF-18, ...)."""
    run(accounts().close_account, member_id, reason, day(on, "on"))


@family_app.command("bind")
def family_bind(
    holder: str = typer.Argument(..., help="The member whose account pays (授权人)."),
    user: str = typer.Argument(..., help="The relative whose care it pays (使用人)."),
    relationship: str = typer.Option(..., "--relationship", help="spouse | parent | child"),
    start: str = typer.Option(..., "--from", help="First day."),
    end: str = typer.Option(None, "--to", help="Last day (default: until unbound)."),
) -> None:
    """家庭共济绑定：使用人就医由授权人个人账户支付。
    Let a relative's visits draw on the holder's account where the pack allows it."""
    from gongji.ledger import family

    doc = {"holder": holder, "user": user, "relationship": relationship, "from": start}
    run(family.add_binding, doc if end is None else {**doc, "to": end})


@family_app.command("unbind")
def family_unbind(
    holder: str = typer.Argument(..., help="The holder (授权人)."),
    user: str = typer.Argument(..., help="The user (使用人)."),
    on: str = typer.Option(..., "--on", help="The first day the binding no longer holds."),
) -> None:
    """解除家庭共济绑定。
    End a binding: visits from `--on` draw on the holder's account no more."""
    from gongji.ledger import family

    run(family.end_binding, {"holder": holder, "user": user, "on": on})


@year_app.command("rollover")
def year_rollover(year: int = typer.Argument(..., help="The new year.")) -> None:
    """年度结转：保留上年累计，开启新年度。
    Keep last year's accumulators and start every member's new year (X-1)."""
    from gongji.ledger import year as year_ops

    run(year_ops.rollover, checked_year(year))


def accounts():
    from gongji.ledger import accounts as module

    return module
