"""A settlement's answer: what the ledger settled, in fen, until an edge formats it.

`Settled` is made once by the settlement (`settlement._answer`) and read by every front end:
the REST JSON, the national platform's `setlinfo`, the console, the CLI, `db check`. Each
formats once through `money.py`.

Its *document* is the answer as stored with the settlement and as the REST API and the CLI
have always returned it (money as yuan text, the keys in a fixed order). A retry of a
transaction gets the document stored at the first settlement back, so the document's shape
is part of the contract: `from_document(s.document()) == s`, and a stored document read back
gives the same document. `Settled` is also a read-only mapping of its document
(`answer["fund_pay"] == "75.00"`), for code that reads the answer as the JSON it is.
"""

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace

from gongji.engine.invariants import InvariantError
from gongji.money import fmt, to_fen

# the amounts of every answer, in the document's order
AMOUNTS = ("total", "in_scope", "deductible", "fund_pay", "account_pay", "account_balance")
# how total minus in_scope splits (glossary names): line-item visits
SPLIT = ("out_of_scope", "above_standard", "class_b_self_pay")


@dataclass(frozen=True, slots=True)
class Step:
    """A trace step for machines: the rule ID and its amount (fen)."""

    rule: str
    amount: int


@dataclass(frozen=True, slots=True)
class Settled(Mapping):
    txn_id: str | None  # None for a pre-settlement (2206), which writes nothing
    visit_id: str
    institution: str
    time: str  # the visit's local time, ISO text as the visit gave it
    total: int
    in_scope: int
    deductible: int
    fund_pay: int
    account_pay: int
    account_balance: int  # the member's balance after the visit
    out_of_scope: int
    above_standard: int
    class_b_self_pay: int
    cash_pay: int
    policy_version: str
    member_class: str
    trace: tuple[Step, ...]
    trace_records: tuple[int, ...]  # the engine's records: `explain` renders their words
    holder: str | None = None  # account mutual aid (XSBN-24): the holder whose account paid
    mutual_aid_pay: int = 0
    presettle: bool = False
    remote_region: str | None = None  # care the registry places in another region: remote
    late: bool = False  # dated before the member's last settlement (a late claim)
    # the document, made once: the settlement stores it and the service answers with it
    _document: dict | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # the answer's invariant (engine/invariants.py's first, with the holder's mutual aid):
        # every fen of the visit is paid by someone, once
        paid = self.fund_pay + self.account_pay + self.mutual_aid_pay + self.cash_pay
        if paid != self.total:
            raise InvariantError(f"{self.visit_id}: fund + account + aid + cash != total")

    def as_presettlement(self) -> "Settled":
        return replace(self, txn_id=None, presettle=True)

    def document(self) -> dict:
        """The answer as JSON-ready values (money as yuan text), in the stored order: a new
        dict each call (its values shared: read them, do not change them)."""
        return dict(self._made())

    def _made(self) -> dict:
        if self._document is None:
            object.__setattr__(self, "_document", self._built())
        return self._document

    def _built(self) -> dict:
        out: dict = {
            "txn_id": self.txn_id,
            "visit_id": self.visit_id,
            "institution": self.institution,
            "time": self.time,
        }
        for key in AMOUNTS + SPLIT:
            out[key] = fmt(getattr(self, key))
        if self.holder is not None:
            out["mutual_aid_pay"] = fmt(self.mutual_aid_pay)
            out["holder"] = self.holder
        out["cash_pay"] = fmt(self.cash_pay)
        out["policy_version"] = self.policy_version
        out["member_class"] = self.member_class
        out["trace"] = [{"rule": s.rule, "amount": fmt(s.amount)} for s in self.trace]
        out["trace_records"] = list(self.trace_records)
        if self.remote_region is not None:
            out["remote_region"] = self.remote_region
        if self.late:
            out["late"] = True
        if self.presettle:
            out["presettle"] = True
        return out

    @classmethod
    def from_document(cls, doc: dict) -> "Settled":
        """An answer stored with its settlement, read back."""
        holder = doc.get("holder")
        return cls(
            txn_id=doc.get("txn_id"),
            visit_id=doc["visit_id"],
            institution=doc["institution"],
            time=doc["time"],
            **{key: to_fen(doc[key]) for key in AMOUNTS + SPLIT + ("cash_pay",)},
            policy_version=doc["policy_version"],
            member_class=doc["member_class"],
            trace=tuple(Step(s["rule"], to_fen(s["amount"])) for s in doc["trace"]),
            trace_records=tuple(doc["trace_records"]),
            holder=holder,
            mutual_aid_pay=0 if holder is None else to_fen(doc["mutual_aid_pay"]),
            presettle=bool(doc.get("presettle", False)),
            remote_region=doc.get("remote_region"),
            late=bool(doc.get("late", False)),
        )

    # -- read-only mapping of the document ------------------------------------------------
    def __getitem__(self, key: str) -> object:
        return self._made()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._made())

    def __len__(self) -> int:
        return len(self._made())
