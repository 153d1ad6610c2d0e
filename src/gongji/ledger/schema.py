"""The ledger's tables (SQLAlchemy Core). Migrations in migrations/ create them.

Money is integer fen. The journal (entries and their legs) is the record of every money
movement and is never edited; the balance columns on `members` are kept in step with it in
the same transaction and `gongji db check` recomputes them from the legs.
"""

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
    true,
)

metadata = MetaData()

members = Table(
    "members",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("region", String(40), nullable=False),
    Column("status", String(12), nullable=False, server_default="active"),  # or closed
    # a closed account: where its balance went (payout:<id> or transfer:<id>); a cancelled
    # visit's money for the account goes there too
    Column("closed_to", String(60)),
    Column("opening_balance", BigInteger, nullable=False),
    # = the legs of "account:<id>" and of "frozen:<id>"; kept in step, checked by db check
    Column("account_balance", BigInteger, nullable=False, server_default="0"),
    Column("frozen", BigInteger, nullable=False, server_default="0"),
    Column("last_visit", DateTime),  # the latest active settlement's: an earlier one is late
    # the member record (model.MemberIn) with its stays, filings, arrears and benefit
    # periods; read with the lock, so a settlement needs no other query about the member
    Column("profile", JSON, nullable=False),
    # the member's year-to-date engine state (YearState.slots); locked per settlement
    Column("state", JSON, nullable=False),
    # identity as the national platform knows it (1101 looks a member up by certno or
    # card_no); optional, migration 0014
    Column("psn_cert_type", String(6)),  # 01 resident ID card (national-interface §7.2)
    Column("certno", String(50), index=True),
    Column("card_no", String(50), index=True),  # social security card
    Column("name", String(50)),
    Column("gender", String(6)),  # 1 male, 2 female (§7.12)
    Column("birth_date", Date),
    Column("nationality", String(3)),  # 民族 code (§7.13)
    CheckConstraint("account_balance >= 0", name="ck_members_balance"),
    CheckConstraint("frozen >= 0", name="ck_members_frozen"),
)

institutions = Table(
    "institutions",
    metadata,
    Column("code", String(40), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("region", String(40), nullable=False),
    Column("level", String(20), nullable=False),  # an internet hospital: its physical level
    Column("designated", Boolean, nullable=False),  # for outpatient pooling (KF-19)
    # designated (定点): under a service agreement, so the personal account may pay there
    Column("agreement", Boolean, nullable=False, server_default=true()),
    Column("kind", String(12), nullable=False),  # hospital | pharmacy | internet
    Column("physical", String(40)),  # an internet hospital's physical institution
    Column("dual_channel", Boolean, nullable=False, server_default="0"),
)

family_bindings = Table(
    "family_bindings",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("holder_id", String(40), ForeignKey("members.id"), nullable=False, index=True),
    Column("user_id", String(40), ForeignKey("members.id"), nullable=False, index=True),
    Column("relationship", String(20), nullable=False),
    Column("valid_from", Date, nullable=False),
    Column("valid_to", Date),  # the last day; NULL: until ended (unbind, death, closing)
)

contributions = Table(
    "contributions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("member_id", String(40), ForeignKey("members.id"), nullable=False),
    Column("month", Date, nullable=False),  # the first day of the month paid for
    Column("base", BigInteger, nullable=False),
    Column("paid_on", Date, nullable=False),
    # the whole contribution paid for the month (employer + member), when it was given: then
    # its journal entry (kind "contribution") brings it into the fund and the accounts'
    # clearing (premium:<region>); older records give only the base
    Column("amount", BigInteger),
    # the member's own part of it (个人缴费), where given: a pack that credits the member's own
    # contribution (PZH-4a) credits this
    Column("own", BigInteger),
    Column("entry_id", Integer, ForeignKey("journal_entries.id")),
    UniqueConstraint("member_id", "month", name="uq_contributions_month"),
)

# Double-entry: an entry's legs sum to zero. Accounts are named by kind and owner, as the
# chart of accounts (chart.py) lists them: "account:P001", "fund:kaifeng", ...
entries = Table(
    "journal_entries",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(20), nullable=False),
    Column("txn_id", String(64), nullable=False),
    Column("reverses", Integer, ForeignKey("journal_entries.id")),
    Column("created_at", DateTime, nullable=False),  # when it was recorded
    # the day the operation took effect, where it gave one (a premium paid, an account
    # closed on a day): what reports date the entry by; else the month it links to
    Column("business_date", Date),
)

legs = Table(
    "journal_legs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("entry_id", Integer, ForeignKey("journal_entries.id"), nullable=False, index=True),
    Column("account", String(80), nullable=False, index=True),
    Column("amount", BigInteger, nullable=False),  # fen; debits positive
)

credits = Table(
    "credits",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("member_id", String(40), ForeignKey("members.id"), nullable=False),
    Column("month", Date, nullable=False),
    Column("kind", String(12), nullable=False),  # monthly | back_credit
    Column("amount", BigInteger, nullable=False),
    Column("rule", String(20), nullable=False),
    Column("entry_id", Integer, ForeignKey("journal_entries.id"), nullable=False),
    Index("ix_credits_member_month", "member_id", "month"),
)

freezes = Table(
    "freezes",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("member_id", String(40), ForeignKey("members.id"), nullable=False, index=True),
    Column("amount", BigInteger, nullable=False),
    Column("purpose", String(40), nullable=False),
    Column("frozen_on", Date, nullable=False),
    Column("due", Date, nullable=False),  # transfer by this day
    Column("entry_id", Integer, ForeignKey("journal_entries.id"), nullable=False),
    Column("outcome", String(12)),  # transferred | released
    Column("outcome_entry_id", Integer, ForeignKey("journal_entries.id")),
)

# Every premium paid from an account and whom it was for (X-4, KF-17); a frozen one also has
# its freeze (the same entry_id).
premiums = Table(
    "premiums",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("member_id", String(40), ForeignKey("members.id"), nullable=False, index=True),
    Column("op_id", String(64), nullable=False),
    Column("purpose", String(40), nullable=False),
    Column("beneficiary", String(12), nullable=False),  # member | spouse | parent | child
    Column("relative", String(100)),  # the relative's id or name, as the clerk gave it
    Column("amount", BigInteger, nullable=False),
    Column("paid_on", Date, nullable=False),
    Column("rule", String(20), nullable=False),
    Column("entry_id", Integer, ForeignKey("journal_entries.id"), nullable=False),
    UniqueConstraint("op_id", name="uq_premiums_op"),
)

year_accumulators = Table(
    "year_accumulators",
    metadata,
    Column("member_id", String(40), ForeignKey("members.id"), primary_key=True),
    Column("year", Integer, primary_key=True),
    Column("pool", String(20), primary_key=True),
    Column("fund_paid", BigInteger, nullable=False),
    Column("deductible_met", BigInteger, nullable=False),
)

settlements = Table(
    "settlements",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("txn_id", String(64), nullable=False),
    Column("member_id", String(40), ForeignKey("members.id"), nullable=False, index=True),
    Column("institution", String(40), index=True),  # where the visit was (reconciliation)
    Column("visit_id", Text),  # the visit's id at its institution: the two name the visit
    # indexed: statements, reconciliation and monitoring read a period's settlements
    Column("visit_time", DateTime, nullable=False, index=True),
    Column("payload_hash", String(64), nullable=False),
    Column("request", JSON, nullable=False),
    Column("result", JSON, nullable=False),
    Column("state_before", JSON, nullable=False),  # where the settlement started
    # what it consumed of the member's year (engine/use.py): what a cancellation gives back
    Column("consumed", JSON),
    # indexed: reports kept over the journal find the settlements of new entries
    Column("entry_id", Integer, ForeignKey("journal_entries.id"), nullable=False, index=True),
    Column("cancel_entry_id", Integer, ForeignKey("journal_entries.id")),
    # the cancellation's own transaction id (the national 2208's msgid, scoped), where one
    # was given: a retry finds it, a reversal (2601) of it is refused (migration 0016)
    Column("cancel_txn_id", String(64)),
    UniqueConstraint("txn_id", name="uq_settlements_txn"),
    Index("uq_settlements_cancel_txn", "cancel_txn_id", unique=True),
    Index(
        "ix_settlements_cancel_entry_id",
        "cancel_entry_id",
        postgresql_where=text("cancel_entry_id IS NOT NULL"),
        sqlite_where=text("cancel_entry_id IS NOT NULL"),
    ),
    # a visit is paid once, whatever transaction ids it is sent under (cancelled: again)
    Index(
        "uq_settlements_active_visit",
        "institution",
        "visit_id",
        unique=True,
        postgresql_where=text("cancel_entry_id IS NULL"),
        sqlite_where=text("cancel_entry_id IS NULL"),
    ),
)

# A transaction id reversed (2601) before any settlement under it arrived: a late arrival is
# refused, so a reversal the client was told about can never be followed by a payment.
withdrawn_txns = Table(
    "withdrawn_txns",
    metadata,
    Column("txn_id", String(64), primary_key=True),
    Column("at", DateTime, nullable=False),
)

# The service's records (gongji.service): credentials, and visits registered through the
# national transactions (2201/2203/2204) before they are settled (2207).
credentials = Table(
    "credentials",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("token_hash", String(64), nullable=False, unique=True),  # sha256 of the token
    Column("institution", String(40)),  # None: a bureau credential
    Column("label", String(80), nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("revoked_at", DateTime),
    # the x-tif-* signature's account (national-interface §2.1), migration 0015: the gateway
    # account code and its secret. The secret is kept as issued, not hashed: the signature is
    # SHA-256(timestamp + secret + nonce + timestamp), which only a holder of the secret can
    # recompute (the platform's own gateway holds it too). NULL on credentials issued before.
    Column("paasid", String(64)),
    Column("secret", String(128)),
    Index("uq_credentials_paasid", "paasid", unique=True),
)

visits = Table(
    "visits",
    metadata,
    Column("mdtrt_id", String(40), primary_key=True),
    Column("member_id", String(40), ForeignKey("members.id"), nullable=False),
    Column("institution", String(40), nullable=False, index=True),
    Column("begntime", DateTime, nullable=False),
    Column("med_type", String(8), nullable=False),
    Column("disease", String(40)),
    Column("fees", JSON, nullable=False),  # uploaded fee details (2204), by feedetl_sn
    Column("txn_id", String(64)),  # the settlement (2207) once settled
    Column("ipt_otp_no", String(30)),  # the hospital's outpatient serial (2201, 2202)
    Column("cancelled_at", DateTime),  # the registration cancelled (2202): nothing more on it
)

# Counters every worker process of the service shares (ledger/limits.py): requests per
# credential, refused logins per username and per client. One row a key, its current window.
limits = Table(
    "limits",
    metadata,
    Column("name", String(200), primary_key=True),  # rate:12, login-user:li, login-client:10.1.2.3
    Column("until", Float, nullable=False, index=True),  # when the window ends (Unix seconds)
    Column("hits", BigInteger, nullable=False),  # counted in the window
)

# Files exchanged through the national transactions (service/files.py): a detail file an
# institution uploads (9101) for its detail reconciliation (3202), and the result file 3202
# writes for it to download (9102). In the store, so any worker serves any file; an
# institution sees only its own.
files = Table(
    "files",
    metadata,
    Column("file_qury_no", String(30), primary_key=True),  # the platform's file query number
    Column("institution", String(40), nullable=False),
    Column("filename", String(200), nullable=False),  # as the client named it
    Column("kind", String(8), nullable=False),  # upload | result
    Column("content", LargeBinary, nullable=False),  # the bytes as sent or served (a zip)
    Column("created_at", DateTime, nullable=False),
    # 3202 finds an upload by its name too (one client sends the name for file_qury_no)
    Index("ix_files_institution_filename", "institution", "filename"),
)

# The x-tif-* nonces seen (service/signed.py, ledger/nonces.py): one row a credential's
# timestamp and nonce, kept while a replay of it could still pass the timestamp's window.
nonces = Table(
    "nonces",
    metadata,
    Column("key", String(200), primary_key=True),  # <credential>:<timestamp>:<nonce>
    Column("until", Float, nullable=False, index=True),  # forgotten after (Unix seconds)
)

# Sign-ins (9001) and sign-outs (9002) of institutions' operators (service/signin.py): the
# sign_no answered is the row's id; a sign-out closes it.
sign_ins = Table(
    "sign_ins",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),  # the sign_no
    Column("institution", String(40), nullable=False, index=True),
    Column("credential", Integer, nullable=False),
    Column("opter_no", String(50)),
    Column("mac", String(50)),
    Column("ip", String(50)),
    Column("signed_in_at", DateTime, nullable=False),
    Column("signed_out_at", DateTime),
)
