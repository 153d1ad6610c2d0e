"""A settlement in the national platform's names (national-interface §5.9–§5.11): the
`setlinfo` and `setldetail` of 2206 (pre-settlement), 2207 (settlement) and 2208 (its
cancellation, the amounts negated).

Readings (the spec's sources are silent or disagree):
- The member's identity comes from the members table (migration 0014); a field not recorded
  is null. `age` is on the settlement's date, in years with one decimal, truncated: a member
  is not a tenth of a year older until that tenth has passed (the recorded 1101 samples show
  tenths, 35.1 and 69.2).
- `setl_time` is the settlement's own time, when the ledger recorded it; a pre-settlement
  has none, nor a clearing agency or way (null in the recorded 2206 sample). A cancellation
  answers the settlement's time (the recorded 2208 sample: 11:41 against its own 11:47).
- `clr_optins` is the insured region's division code (统筹区划); `clr_way` is 1, the value of
  the recorded outpatient samples (the code table is not in the sources); `clr_type` 11 is
  outpatient.
- `pool_prop_selfpay` is the ratio the pooling fund paid of the in-scope amount above the
  deductible (hifp_pay / (inscp_scp_amt − act_pay_dedc)), to four decimals: the policy
  ratio, unless a cap cut the payment; 0 where nothing was above the deductible.
- Funds gongji does not have (civil servants', enterprise supplementary, residents'
  critical illness, large-amount, medical assistance, other) pay 0, as does the hospital;
  `crt_payb_lmt_amt` is 0 (null in the recorded sample, which MD cannot read; its meaning
  is not in the sources).
Every amount is a JSON number made once from integer fen (money.json_number): never null,
never -0.0.
"""

from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import Engine, select

from gongji import policy
from gongji.ledger import views
from gongji.ledger.answer import Settled
from gongji.ledger.schema import visits
from gongji.ledger.settlement import proc_info
from gongji.money import json_number
from gongji.service.member_info import PSN_TYPE, age_on

FUND_NAME = {"310100": "职工基本医疗保险统筹基金", "310200": "职工基本医疗保险个人账户基金"}
CLEARING_WAY, OUTPATIENT = "1", "11"  # clr_way of the recorded samples; clr_type outpatient


@dataclass(frozen=True)
class Facts:
    """What setlinfo tells beyond the ledger's answer: the member as the platform knows
    them, and when the settlement was recorded."""

    psn_name: str | None
    psn_cert_type: str | None
    certno: str | None
    gend: str | None
    naty: str | None
    brdy: date | None
    psn_type: str
    admdvs: str  # the insured region's division code: the clearing agency
    med_type: str | None  # the registered visit's, where there is one
    settled_at: datetime | None


def facts(db: Engine, member_id: str, txn_id: str | None, mdtrt_id: str | None) -> Facts:
    """The member's identity and category, the registered visit's med_type (`mdtrt_id`
    None: the caller has it already) and the time the settlement under `txn_id` was
    recorded (None: not settled, a pre-settlement)."""
    with db.connect() as conn:  # one connection for the three reads
        who = views.member_identity(conn, member_id)
        at = None if txn_id is None else views.recorded_at(conn, txn_id)
        med_type = None
        if mdtrt_id is not None:  # the service's own record of the visit
            med_type = conn.execute(
                select(visits.c.med_type).where(visits.c.mdtrt_id == mdtrt_id)
            ).scalar()
    return Facts(
        psn_name=who["name"],
        psn_cert_type=who["psn_cert_type"],
        certno=who["certno"],
        gend=who["gender"],
        naty=who["nationality"],
        brdy=who["birth_date"],
        psn_type=PSN_TYPE.get(who["type"], "1101"),
        admdvs=policy.load_region(who["region"]).admdvs,
        med_type=med_type,
        settled_at=at,
    )


@dataclass(frozen=True)
class Shown:
    """How this answer shows the settlement: its id and the sender's message id, the
    request's codes, the balance after, and the sign of the amounts (-1: a cancellation)."""

    setl_id: str | None
    medins_setl_id: str
    med_type: str | None
    mdtrt_cert_type: str | None
    balance: int  # fen
    sign: int = 1


def output(a: Settled, member_id: str, f: Facts, shown: Shown) -> dict:
    """`output` of 2206/2207/2208: setlinfo and setldetail."""
    sign = shown.sign

    def n(fen: int) -> float:
        return json_number(sign * fen)

    settled = f.settled_at is not None
    on = f.settled_at.date() if settled else date.today()
    info = {
        "mdtrt_id": a.visit_id,
        "setl_id": shown.setl_id,
        "psn_no": member_id,
        "psn_name": f.psn_name,
        "psn_cert_type": f.psn_cert_type,
        "certno": f.certno,
        "gend": f.gend,
        "naty": f.naty,
        "brdy": f.brdy.isoformat() if f.brdy else None,
        "age": age(f.brdy, on) if f.brdy else None,
        "insutype": "310",
        "psn_type": f.psn_type,
        "cvlserv_flag": "0",
        "setl_time": f.settled_at.strftime("%Y-%m-%d %H:%M:%S") if settled else None,
        "mdtrt_cert_type": shown.mdtrt_cert_type,
        "med_type": shown.med_type or f.med_type,
        "medfee_sumamt": n(a.total),
        "fulamt_ownpay_amt": n(a.out_of_scope),
        "overlmt_selfpay": n(a.above_standard),
        "preselfpay_amt": n(a.class_b_self_pay),
        "inscp_scp_amt": n(a.in_scope),
        "act_pay_dedc": n(a.deductible),
        "hifp_pay": n(a.fund_pay),
        "pool_prop_selfpay": pool_ratio(a),
        **{k: n(0) for k in NO_SUCH_FUND},
        "fund_pay_sumamt": n(a.fund_pay),
        "psn_part_amt": n(a.total - a.fund_pay),
        "acct_pay": n(a.account_pay),
        "psn_cash_pay": n(a.cash_pay),
        "hosp_part_amt": n(0),
        "balc": json_number(shown.balance),
        "acct_mulaid_pay": n(a.mutual_aid_pay),
        "medins_setl_id": shown.medins_setl_id,
        "clr_optins": f.admdvs if settled else None,
        "clr_way": CLEARING_WAY if settled else None,
        "clr_type": OUTPATIENT,
    }
    if sign < 0:  # 2208: OH's and MD's models spell the cash pdn_cash_pay (§8 item 11)
        info["pdn_cash_pay"] = info["psn_cash_pay"]
    fund_trace = proc_info(a)  # each step: rule ID, amount, its words in Chinese
    detail = [
        _fund("310100", n(a.in_scope), n(a.fund_pay), fund_trace),
        _fund("310200", n(a.in_scope), n(a.account_pay), None),
    ]
    return {"setlinfo": info, "setldetail": detail}


# funds gongji has none of: they pay 0 (setlinfo §5.10)
NO_SUCH_FUND = ("cvlserv_pay", "hifes_pay", "hifmi_pay", "hifob_pay", "maf_pay", "oth_pay")


def _fund(code: str, in_scope: float, paid: float, trace: str | None) -> dict:
    return {
        "fund_pay_type": code,
        "inscp_scp_amt": in_scope,
        "crt_payb_lmt_amt": json_number(0),
        "fund_payamt": paid,
        "fund_pay_type_name": FUND_NAME[code],
        "setl_proc_info": trace,
    }


def age(born: date, on: date) -> float:
    """Years from `born` to `on` with one decimal, truncated (member_info.age_on)."""
    return float(age_on(born, on))


def pool_ratio(a: Settled) -> float:
    above = a.in_scope - a.deductible
    if above <= 0:
        return 0.0
    ratio = (Decimal(a.fund_pay) / Decimal(above)).quantize(Decimal("0.0001"), ROUND_HALF_UP)
    return float(ratio)
