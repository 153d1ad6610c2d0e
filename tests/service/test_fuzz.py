"""Issue 17: a bounded, seeded fuzz of every national transaction and every REST route, on
both stores, through the app in process (httpx over ASGI, no sockets: thousands of requests
in a minute or two). Valid requests are mutated — types swapped, numbers huge, tiny and not
numbers, strings over-long, NUL, lone surrogates, dates out of range, nesting 1,000 deep,
fields missing or extra, bodies broken — and every answer must be:

- never a 5xx, and never a hang;
- refused (4xx, or `infcode` -1): the store exactly as it was (a snapshot compared);
- accepted: the ledger's invariants hold (`check.problems`, after every CHECK_EVERY writes
  and at the end: it re-settles every settlement of the store, so after each write the
  check grew with the square of the run and took most of its time).

Deterministic: the requests follow from SEED (and the answers the store gives)."""

import asyncio
import json
import random
from dataclasses import dataclass, field
from urllib.parse import quote

import httpx
import pytest

from gongji.ledger import check
from gongji.service.app import create_app
from gongji.service.settings import Settings

from .conftest import HOSPITAL, prepare, snapshot

FUZZ_REQUESTS = 5_000  # a store; printed with the figures
SEED = 17
MUTATED = 0.8  # the share of requests mutated; the rest are valid and move the state on
HANG = 120.0  # seconds: a request unanswered this long has hung (not a timing assertion)
CHECK_EVERY = 10  # accepted writes between two checks of the ledger's invariants

pytestmark = pytest.mark.fuzz


# -- weird values ---------------------------------------------------------------------------
# JSON that json.dumps cannot write (numbers beyond a double, NaN tokens, nesting 1,000 deep)
# travels as a marker string, replaced by its raw text once the body is written.
RAW = {
    "1e400": "1e400",
    "1e30": "1e30",
    "-0": "-0",
    "1e-400": "1e-400",
    "NaN": "NaN",
    "Infinity": "Infinity",
    "-Infinity": "-Infinity",
    "huge exponent": "1e999999999999",
    "deep list": "[" * 1000 + "]" * 1000,
    "deep object": '{"a":' * 1000 + "1" + "}" * 1000,
    "deep mixed": '[{"a":' * 500 + "0" + "}]" * 500,
}


def raw(name: str) -> str:
    return f"@@RAW:{name}@@"


WEIRD: list = [
    True, False, {}, [], None, 0, -1, 10**30, -(10**30), 2**63, 1.5,
    *[raw(k) for k in RAW],
    "1e30", "1e400", "-0", "NaN", "Infinity", "-Infinity", "1e999999999", "0x10", "1_000",
    "", " ", "x" * 41, "x" * 65, "9" * 31, "x" * 300, "x" * 20_000,
    "\x00", "L\x00", "\ud800", "a\udfff", "\x07\x1b", "\u202e", "１２３",
    "9999-12-31", "0000-00-00", "9999-12-31 23:59:59", "2023-02-30", "0001-01-01",
    "2023-03-01T10:00:00+08:00", "../../etc/passwd",
]  # fmt: skip


def weird(rng: random.Random, current: object) -> object:
    """A weird value; sometimes the current one spoilt (a NUL, a surrogate, length)."""
    if isinstance(current, str) and current and rng.random() < 0.3:
        return rng.choice([current + "\x00", current + "\ud800", current * 50, current + " "])
    return rng.choice(WEIRD)


def encode(document: object) -> bytes:
    """JSON as a client could send it: lone surrogates as \\u escapes, the RAW markers as
    their raw text."""
    written = json.dumps(document, ensure_ascii=True)
    for name, token in RAW.items():
        written = written.replace(json.dumps(raw(name)), token)
    return written.encode()


BROKEN_BODIES = [
    b"", b"{", b"[]", b"null", b"1e400", b'"text"', b"\xff\xfe{}", b"\xef\xbb\xbf{}",
    b"NaN", ("[" * 1000 + "]" * 1000).encode(), ('{"a":' * 1000 + "1" + "}" * 1000).encode(),
    b'{"a": 1, "a": 2}', b"{\"txn_id\": \"\\ud800\"}",
]  # fmt: skip


# -- valid requests of every route -----------------------------------------------------------
@dataclass
class Call:
    method: str
    path: str  # may hold {param} markers, filled from `params`
    token: str  # "hospital", "clinic", "bureau" or "none"
    body: object = None
    params: dict = field(default_factory=dict)
    query: dict = field(default_factory=dict)
    writes: bool = False
    national: bool = False
    then: object = None  # (state, answer) -> None: what an accepted valid request changes
    mutated: bool = False
    route: str = ""  # the route (a national transaction by its number), before mutation

    def __post_init__(self):
        self.route = f"{self.method} {self.path}"
        if self.national:
            self.route += " " + self.body["infno"]


@dataclass
class State:
    n: int = 0
    members: list = field(default_factory=lambda: ["P001", "P002"])
    registered: list = field(default_factory=list)  # 2201 done: mdtrt ids
    with_fees: list = field(default_factory=list)  # 2204 done
    settled_2207: list = field(default_factory=list)  # (msgid, mdtrt_id, member)
    settled_rest: list = field(default_factory=list)  # txn ids
    bound: list = field(default_factory=list)  # (holder, user)

    def next(self) -> int:
        self.n += 1
        return self.n


def envelope(st: State, infno: str, input: dict) -> dict:
    return {
        "infno": infno,
        "msgid": f"{HOSPITAL}20230301{st.next():012d}",
        "mdtrtarea_admvs": "410200",
        "insuplc_admdvs": "410200",
        "recer_sys_code": "YBXT",
        "infver": "V1.0",
        "opter": "001",
        "opter_type": "1",
        "opter_name": "fuzz",
        "inf_time": "2023-03-01 10:00:00",
        "fixmedins_code": HOSPITAL,
        "fixmedins_name": "医院",
        "sign_no": "1",
        "input": input,
    }


def national(st: State, infno: str, input: dict, writes: bool = False, then=None) -> Call:
    body = envelope(st, infno, input)
    return Call("POST", "/fsi/api", "hospital", body, writes=writes, national=True, then=then)


def day(rng: random.Random) -> str:
    return f"2023-03-{rng.randint(1, 28):02d}"


def n1101(st, rng):
    member = rng.choice(st.members)
    return national(st, "1101", {"data": {"mdtrt_cert_type": "02", "mdtrt_cert_no": member}})


def n2201(st, rng):
    member = rng.choice(st.members)
    data = {"psn_no": member, "insutype": "310", "begntime": f"{day(rng)} 10:00:00",
            "ipt_otp_no": f"MZ{st.next()}", "mdtrt_cert_type": "01", "mdtrt_cert_no": member,
            "atddr_no": "D1", "dr_name": "医生", "dept_code": "01",
            "dept_name": "内科"}  # fmt: skip

    def then(s, out):
        s.registered.append((out["data"]["mdtrt_id"], member))

    return national(st, "2201", {"data": data}, writes=True, then=then)


def n2202(st, rng):
    if not st.registered:
        return n2201(st, rng)
    mdtrt_id, member = rng.choice(st.registered)

    def then(s, _out):  # cancelled: nothing more on it
        s.registered.remove((mdtrt_id, member))
        if (mdtrt_id, member) in s.with_fees:
            s.with_fees.remove((mdtrt_id, member))

    data = {"psn_no": member, "mdtrt_id": mdtrt_id}
    return national(st, "2202", {"data": data}, writes=True, then=then)


def n2203(st, rng):
    if not st.registered:
        return n2201(st, rng)
    mdtrt_id, member = rng.choice(st.registered)
    info = {"mdtrt_id": mdtrt_id, "psn_no": member, "med_type": "11",
            "begntime": "2023-03-01 10:00:00", "main_cond_dscr": "咳嗽"}  # fmt: skip
    diagnoses = [{"diag_type": "1", "diag_srt_no": "1", "diag_code": "J06.900",
                  "diag_name": "上呼吸道感染", "diag_dept": "内科", "dise_dor_no": "D1",
                  "dise_dor_name": "医生", "diag_time": "2023-03-01 10:00:00",
                  "vali_flag": "1"}]  # fmt: skip
    return national(st, "2203", {"mdtrtinfo": info, "diseinfo": diagnoses}, writes=True)


def fee_lines(mdtrt_id: str, member: str) -> list:
    common = {"mdtrt_id": mdtrt_id, "psn_no": member, "chrg_bchno": "B1", "rx_circ_flag": "0",
              "fee_ocur_time": "2023-03-01 10:05:00", "bilg_dept_codg": "01",
              "bilg_dept_name": "内科", "bilg_dr_codg": "D1", "bilg_dr_name": "医生",
              "hosp_appr_flag": "1"}  # fmt: skip
    return [
        {**common, "feedetl_sn": "1", "med_list_codg": "001101000010000",
         "medins_list_codg": "A1", "cnt": 1, "pric": 200.00, "det_item_fee_sumamt": 200.00},
        {**common, "feedetl_sn": "2", "med_list_codg": "UNLISTED-0001",
         "medins_list_codg": "A2", "cnt": 2, "pric": 25.00, "det_item_fee_sumamt": 50.00},
    ]  # fmt: skip


def n2204(st, rng):
    if not st.registered:
        return n2201(st, rng)
    mdtrt_id, member = rng.choice(st.registered)

    def then(s, _out):
        s.with_fees.append((mdtrt_id, member))

    return national(st, "2204", {"feedetail": fee_lines(mdtrt_id, member)}, True, then)


def n2205(st, rng):
    if not st.with_fees:
        return n2204(st, rng)
    mdtrt_id, member = rng.choice(st.with_fees)

    def then(s, _out):  # its batch withdrawn: no fees left
        if (mdtrt_id, member) in s.with_fees:
            s.with_fees.remove((mdtrt_id, member))

    data = {"mdtrt_id": mdtrt_id, "psn_no": member, "chrg_bchno": "B1"}
    return national(st, "2205", {"data": data}, writes=True, then=then)


def settle_data(mdtrt_id: str, member: str) -> dict:
    return {"psn_no": member, "mdtrt_id": mdtrt_id, "med_type": "11", "medfee_sumamt": 250.00,
            "insutype": "310", "acct_used_flag": "1", "mdtrt_cert_type": "01",
            "mdtrt_cert_no": member, "psn_setlway": "01", "chrg_bchno": "B1",
            "fulamt_ownpay_amt": 50.00, "overlmt_selfpay": 0, "preselfpay_amt": 0,
            "inscp_scp_amt": 200.00}  # fmt: skip


def n2206(st, rng):
    if not st.with_fees:
        return n2204(st, rng)
    mdtrt_id, member = rng.choice(st.with_fees)
    return national(st, "2206", {"data": settle_data(mdtrt_id, member)})


def n2207(st, rng):
    if not st.with_fees:
        return n2204(st, rng)
    mdtrt_id, member = rng.choice(st.with_fees)
    call = national(st, "2207", {"data": settle_data(mdtrt_id, member)}, writes=True)
    msgid = call.body["msgid"]
    call.then = lambda s, out: s.settled_2207.append(
        (out["setlinfo"]["setl_id"], msgid, member, mdtrt_id)
    )
    return call


def n2208(st, rng):
    if not st.settled_2207:
        return n2207(st, rng)
    setl_id, _, member, mdtrt_id = rng.choice(st.settled_2207)
    data = {"setl_id": setl_id, "mdtrt_id": mdtrt_id, "psn_no": member}
    return national(st, "2208", {"data": data}, writes=True)


def n2601(st, rng):
    if st.settled_2207 and rng.random() < 0.5:
        _, msgid, member, _ = rng.choice(st.settled_2207)
    else:  # a 2207 that never arrived: withdrawn
        msgid, member = f"{HOSPITAL}LOST{st.next()}", rng.choice(st.members)
    data = {"psn_no": member, "omsgid": msgid, "oinfno": "2207"}
    return national(st, "2601", {"data": data}, writes=True)


PERIOD = {"stmt_begndate": "2023-03-01", "stmt_enddate": "2023-03-31", "insutype": "310",
          "clr_type": "11", "setl_optins": "410200"}  # fmt: skip


def n3201(st, rng):
    data = {**PERIOD, "medfee_sumamt": 500.00, "fund_pay_sumamt": 165.00, "acct_pay": 175.00,
            "fixmedins_setl_cnt": 2, "refd_setl_flag": "0"}  # fmt: skip
    return national(st, "3201", {"data": data})


def n3202(st, rng):
    rows = [{"setl_id": s, "medfee_sumamt": 250.00, "fund_pay_sumamt": 75.00, "acct_pay": 125.00,
             "refd_setl_flag": "0"} for s, *_ in st.settled_2207[-3:]]  # fmt: skip
    rows.append({"setl_id": "NOT-OURS", "medfee_sumamt": 1.00, "fund_pay_sumamt": 0,
                 "acct_pay": 0, "refd_setl_flag": "0"})  # fmt: skip
    data = {**PERIOD, "file_qury_no": "F1", "medfee_sumamt": 0, "fund_pay_sumamt": 0,
            "cash_payamt": 0, "fixmedins_setl_cnt": 0, "detail": rows}  # fmt: skip
    return national(st, "3202", {"data": data})


def visit(st: State, rng: random.Random, items: bool = False) -> dict:
    v = {"id": f"V{st.next()}", "time": f"{day(rng)}T{rng.randint(8, 17):02d}:00:00",
         "institution": HOSPITAL}  # fmt: skip
    if items:
        v["items"] = [
            {"code": "001101000010000", "quantity": "1", "unit_price": "20.00"},
            {"code": "UNLISTED-0001", "quantity": "0.5", "unit_price": "8.00"},
        ]
    else:
        v |= {"total": "80.00", "in_scope": "60.00", "disease": "J06.900"}
    return v


def r_settle(st, rng):
    txn = f"T{st.next()}"
    body = {"txn_id": txn, "member_id": rng.choice(st.members),
            "visit": visit(st, rng, rng.random() < 0.3)}  # fmt: skip
    then = lambda s, _out: s.settled_rest.append(txn)  # noqa: E731
    return Call("POST", "/v1/settlements", "hospital", body, writes=True, then=then)


def r_presettle(st, rng):
    body = {"member_id": rng.choice(st.members), "visit": visit(st, rng, rng.random() < 0.3)}
    return Call("POST", "/v1/settlements/pre", "hospital", body)


def r_reimburse(st, rng):
    v = {**visit(st, rng), "id": f"INV-{st.next()}"}
    body = {"txn_id": f"M{st.next()}", "member_id": rng.choice(st.members), "visit": v}
    return Call("POST", "/v1/reimbursements", "bureau", body, writes=True)


def a_settlement(st, rng) -> str:
    return rng.choice(st.settled_rest) if st.settled_rest else "T-none"


def r_settlement(st, rng):
    return Call(
        "GET", "/v1/settlements/{txn_id}", "hospital", params={"txn_id": a_settlement(st, rng)}
    )


def r_cancel(st, rng):
    params = {"txn_id": a_settlement(st, rng)}
    return Call("POST", "/v1/settlements/{txn_id}/cancel", "hospital", params=params, writes=True)


def r_member(st, rng):
    token = rng.choice(["hospital", "bureau"])
    return Call(
        "GET", "/v1/members/{member_id}", token, params={"member_id": rng.choice(st.members)}
    )


def r_member_add(st, rng):
    member_id = f"F{st.next()}"
    member = {"id": member_id, "type": "employee", "account_balance": "100.00",
              "contribution_base": "5000.00", "chronic_diseases": ["E11"],
              "benefit_periods": [{"from": "2023-01-01", "to": "2023-12-31"}],
              "name": "张三", "gender": "1", "nationality": "01"}  # fmt: skip
    then = lambda s, _out: s.members.append(member_id)  # noqa: E731
    return Call("POST", "/v1/members", "bureau", {"region": "kaifeng", "member": member},
                writes=True, then=then)  # fmt: skip


def r_visits(st, rng):
    query = {"limit": str(rng.randint(1, 20)), "offset": "0"}
    return Call("GET", "/v1/visits", rng.choice(["hospital", "bureau"]), query=query)


def r_account(st, rng):
    return Call(
        "GET", "/v1/accounts/{member_id}", "bureau", params={"member_id": rng.choice(st.members)}
    )


def r_bind(st, rng):
    holder, user = rng.sample(st.members, 2)
    body = {"holder": holder, "user": user, "relationship": "spouse", "from": "2023-01-01"}
    then = lambda s, _out: s.bound.append((holder, user))  # noqa: E731
    return Call("POST", "/v1/bindings", "bureau", body, writes=True, then=then)


def r_unbind(st, rng):
    holder, user = rng.choice(st.bound) if st.bound else rng.sample(st.members, 2)
    body = {"holder": holder, "user": user, "on": "2023-12-01"}
    return Call("POST", "/v1/bindings/end", "bureau", body, writes=True)


def r_premium(st, rng):
    body = {"op_id": f"OP{st.next()}", "amount": "1.00", "purpose": "family_resident_premium",
            "on": "2023-03-20", "beneficiary": "spouse", "relative": "王芳"}  # fmt: skip
    params = {"member_id": rng.choice(st.members)}
    return Call("POST", "/v1/accounts/{member_id}/premiums", "bureau", body, params, writes=True)


def r_health(st, rng):
    return Call("GET", "/health", "none")


ROUTES = [
    n1101, n2201, n2202, n2203, n2204, n2205, n2206, n2207, n2207, n2208, n2601, n3201, n3202,
    r_settle, r_settle, r_presettle, r_reimburse, r_settlement, r_cancel, r_member,
    r_member_add, r_visits, r_account, r_bind, r_unbind, r_premium, r_health,
]  # fmt: skip


# -- mutations -------------------------------------------------------------------------------
def places(document: object) -> list[tuple[object, object]]:
    """Every (container, key) in the document, the nested ones included."""
    out, todo = [], [document]
    while todo:
        node = todo.pop()
        keys = list(node) if isinstance(node, dict) else range(len(node))
        for key in keys:
            out.append((node, key))
            if isinstance(node[key], dict | list):
                todo.append(node[key])
    return out


def mutate(call: Call, rng: random.Random) -> str:
    """Spoil the call once; what was done, for the report."""
    kinds = ["value"] * 6 + ["delete", "extra", "param", "token", "body"]
    kind = rng.choice(kinds)
    if kind in ("value", "delete", "extra") and isinstance(call.body, dict):
        where = places(call.body)
        node, key = rng.choice(where)
        if kind == "delete":
            node.pop(key)  # a field, or an element of a list
            return f"delete {key}"
        if kind == "extra":
            target = node[key] if isinstance(node[key], dict) else node
            if isinstance(target, dict):
                target["zz_extra"] = weird(rng, None)
                return "extra field"
            return "extra (none)"
        node[key] = weird(rng, node[key])
        return f"{key} = {node[key]!r:.40}"
    if kind == "param" and (call.params or call.query):
        target = call.params if call.params and rng.random() < 0.7 else call.query or call.params
        key = rng.choice(list(target))
        target[key] = str(weird(rng, target[key]))
        return f"param {key} = {target[key]!r:.40}"
    if kind == "token":
        call.token = rng.choice(["none", "clinic", "bogus", "hospital", "bureau"])
        return f"token {call.token}"
    if call.method == "POST":
        call.body = rng.choice(BROKEN_BODIES)
        return f"body {call.body[:20]!r}"
    return "none"


# -- sending ---------------------------------------------------------------------------------
def url(call: Call) -> str:
    path = call.path
    for key, value in call.params.items():
        path = path.replace("{" + key + "}", quote(value, safe="", errors="surrogatepass"))
    if call.query:
        pairs = (f"{k}={quote(v, safe='', errors='surrogatepass')}" for k, v in call.query.items())
        path += "?" + "&".join(pairs)
    return path


async def send(client: httpx.AsyncClient, tokens: dict, call: Call) -> httpx.Response:
    headers = {"content-type": "application/json"}
    if call.token in tokens:
        headers["authorization"] = f"Bearer {tokens[call.token]}"
    elif call.token == "bogus":
        headers["authorization"] = "Bearer not-a-token"
    if call.body is None:
        content = None
    elif isinstance(call.body, bytes):
        content = call.body
    else:
        content = encode(call.body)
    request = client.request(call.method, url(call), content=content, headers=headers)
    return await asyncio.wait_for(request, HANG)


def outcome(call: Call, response: httpx.Response) -> tuple[str, object]:
    """("error", reason) for a 5xx or an answer that is not JSON; else ("refused", None) or
    ("accepted", output)."""
    if response.status_code >= 500:
        return "error", f"{response.status_code} {response.text[:300]}"
    if 300 <= response.status_code < 400:  # a path with an empty id: redirected, not served
        return "refused", None
    try:
        answer = response.json()
    except ValueError:
        return "error", f"{response.status_code}, not JSON: {response.content[:100]!r}"
    if response.status_code >= 400:
        if not isinstance(answer, dict) or "code" not in answer:
            return "error", f"{response.status_code} not in the error format: {answer!r:.200}"
        return "refused", None
    if call.national:
        if answer.get("infcode") == -1:
            if not answer.get("err_code") or not answer.get("err_msg"):
                return "error", f"infcode -1 without a code: {answer!r:.200}"
            return "refused", None
        return "accepted", answer.get("output")
    return "accepted", answer


@dataclass
class Figures:
    requests: int = 0
    mutated: int = 0
    refused: int = 0
    accepted: int = 0
    bursts: int = 0
    errors: list = field(default_factory=list)  # 5xx, hangs, answers not JSON
    changed: list = field(default_factory=list)  # refused, yet the store changed
    broken: list = field(default_factory=list)  # invariants broken after an accepted write
    routes: dict = field(default_factory=dict)  # route -> requests accepted

    def summary(self, store: str) -> str:
        return (
            f"fuzz {store}: {self.requests} requests (FUZZ_REQUESTS={FUZZ_REQUESTS}, seed"
            f" {SEED}; {self.mutated} mutated, {self.bursts} bursts of {BURST} at once):"
            f" {self.accepted} accepted, {self.refused} refused; {len(self.errors)} 5xx or"
            f" hangs, {len(self.changed)} refused yet changing the store,"
            f" {len(self.broken)} invariant problems"
        )


class Fuzz:
    """The run: requests one at a time, each answer judged against the store as it was
    before it; now and then a burst of settlements at once (the writer's group commit
    batches them, the bad with the good)."""

    def __init__(self, db, client: httpx.AsyncClient, tokens: dict, seed: int):
        self.db, self.client, self.tokens = db, client, tokens
        self.rng, self.st, self.fig = random.Random(seed), State(), Figures()
        self.before = snapshot(db)
        self.unchecked = 0  # accepted writes since the invariants were checked ...
        self.checked_to = 0  # ... after this request

    def wrote(self) -> None:
        """Count an accepted write; check the invariants after every CHECK_EVERY of them,
        naming the requests since the last check when one is broken."""
        self.unchecked += 1
        if self.unchecked >= CHECK_EVERY:
            since = f"after requests #{self.checked_to + 1}..#{self.fig.requests}"
            self.fig.broken += [f"{since}: {p}" for p in check.problems(self.db)]
            self.unchecked, self.checked_to = 0, self.fig.requests

    def call(self, routes: list) -> tuple[Call, str]:
        make = self.rng.choice(routes)
        call = make(self.st, self.rng)
        spoilt = []
        if self.rng.random() < MUTATED:
            spoilt = [mutate(call, self.rng) for _ in range(self.rng.choice([1, 1, 1, 2, 3]))]
        self.fig.requests += 1
        self.fig.mutated += bool(spoilt)
        call.mutated = bool(spoilt)
        self.fig.routes.setdefault(call.route, 0)
        return (
            call,
            f"#{self.fig.requests} {call.method} {call.path} {'; '.join(spoilt) or 'valid'}",
        )

    async def one(self) -> bool:
        call, what = self.call(ROUTES)
        try:
            response = await send(self.client, self.tokens, call)
        except TimeoutError:
            self.fig.errors.append(f"{what}: no answer in {HANG} s")
            return False  # the app may hold a lock: the rest would tell nothing
        kind, _ = self.judged(call, what, response)
        after = snapshot(self.db)
        if kind == "error" and after != self.before:  # written, then answered 5xx (item 2)
            self.fig.errors[-1] += " (the store changed)"
        if kind == "refused" and after != self.before:
            self.fig.changed.append(f"{what}: {response.text[:200]}")
        if kind == "accepted" and call.writes and after != self.before:
            self.wrote()
        self.before = after
        return True

    async def burst(self) -> bool:
        self.fig.bursts += 1
        calls = [self.call(SETTLING) for _ in range(BURST)]
        sending = (send(self.client, self.tokens, c) for c, _ in calls)
        try:
            responses = await asyncio.gather(*sending)
        except TimeoutError:
            self.fig.errors.append(f"a burst from {calls[0][1]}: no answer in {HANG} s")
            return False
        kinds = [self.judged(c, w, r)[0] for (c, w), r in zip(calls, responses, strict=True)]
        after = snapshot(self.db)
        if "accepted" not in kinds and after != self.before:
            self.fig.changed.append(f"a burst from {calls[0][1]}, all refused: the store changed")
        if after != self.before:
            self.wrote()
        self.before = after
        return True

    def judged(self, call: Call, what: str, response: httpx.Response) -> tuple[str, object]:
        kind, out = outcome(call, response)
        if kind == "error":
            self.fig.errors.append(f"{what}: {out}")
        elif kind == "refused":
            self.fig.refused += 1
        else:
            self.fig.accepted += 1
            self.fig.routes[call.route] += 1
            if not call.mutated and call.then is not None:
                call.then(self.st, out)
        return kind, out


BURST = 8  # settlements sent at once
BURSTS = 40  # one in this many turns is a burst
SETTLING = [n2207, r_settle, r_reimburse]


async def fuzz(db, tokens: dict, count: int, seed: int) -> Figures:
    url_ = db.url.render_as_string(hide_password=False)
    app = create_app(Settings(database_url=url_, access_log=False, rate=1e9))
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://gongji") as client:
        run = Fuzz(db, client, tokens, seed)
        going = True
        while going and run.fig.requests < count:
            going = await (run.burst() if run.rng.randrange(BURSTS) == 0 else run.one())
        await app.state.writer.stop()
    run.fig.broken += [f"at the end: {p}" for p in check.problems(db)]
    return run.fig


def test_fuzz_no_server_error_and_a_refusal_changes_nothing(db, capsys):
    hospital, clinic, bureau = prepare(db)
    tokens = {"hospital": hospital, "clinic": clinic, "bureau": bureau}
    fig = asyncio.run(fuzz(db, tokens, FUZZ_REQUESTS, SEED))
    with capsys.disabled():
        print("\n" + fig.summary(db.dialect.name))
        for line in (fig.errors + fig.changed + fig.broken)[:40]:
            print("  " + line)
    assert fig.requests >= FUZZ_REQUESTS
    assert fig.errors == [] and fig.changed == [] and fig.broken == []
    # the valid requests are valid: every route accepted some (else only refusals were tried)
    assert [r for r, n in fig.routes.items() if n == 0] == []
