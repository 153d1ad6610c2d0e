"""What a replay adds up: visits and money by member type, level, category and month, and
each member's out-of-pocket (account + cash) for the distribution members bear.

Integer fen throughout; partial aggregates (a Spark partition's, a batch's) add up exactly,
so the single-process and Spark runs give identical figures. `summary` turns them into a
scenario's part of aggregates.json (amounts as yuan strings), the file `aggregates_file`
describes and `gongji report` reads.
"""

import io
from decimal import ROUND_HALF_UP, Decimal

import numpy as np

from gongji.analysis import kernel as K
from gongji.money import fmt
from gongji.terms import Category, Level, MemberType

MEASURES = ("visits", "refused", "total", "in_scope", "deductible", "fund_pay", "account_pay")
MEASURES += ("cash_pay",)
COUNTS = ("visits", "refused")
# dimension -> (its first row in the sums, its keys)
DIMENSIONS = {
    "member_type": (K.ROW_TYPE, [t.value for t in MemberType]),
    "level": (K.ROW_LEVEL, [lv.value for lv in Level]),
    "category": (K.ROW_CATEGORY, [c.value for c in Category]),
    "month": (
        K.ROW_MONTH,
        [f"{m // 12}-{m % 12 + 1:02d}" for m in range(K.MONTH_BASE, K.MONTH_BASE + K.N_MONTHS)],
    ),
}
# out-of-pocket histogram edges, yuan a member a year (the last bucket is open)
EDGES = (0, 100, 200, 500, 1000, 2000, 5000, 10000, 20000)
PERCENTILES = (50, 90, 99)


class Aggregates:
    """Sums by dimension (added to by the replay's kernel) and out-of-pocket by member."""

    def __init__(self, members: int):
        self.sums = np.zeros((K.N_ROWS, K.N_MEASURES), np.int64)
        self.out_of_pocket = np.zeros(members, np.int64)

    def by(self, dimension: str) -> np.ndarray:
        first, keys = DIMENSIONS[dimension]
        return self.sums[first : first + len(keys)]

    def merge(self, other: "Aggregates") -> None:
        self.sums += other.sums
        self.out_of_pocket += other.out_of_pocket

    def to_bytes(self) -> bytes:
        buf = io.BytesIO()
        np.savez(buf, sums=self.sums, out_of_pocket=self.out_of_pocket)
        return buf.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> "Aggregates":
        arrays = np.load(io.BytesIO(data))
        out = cls(len(arrays["out_of_pocket"]))
        out.sums = arrays["sums"]
        out.out_of_pocket = arrays["out_of_pocket"]
        return out

    def summary(self, member_types: np.ndarray) -> dict:
        by = {
            name: {
                key: _measures(row)
                for key, row in zip(keys, self.by(name), strict=True)
                if row[K.A_VISITS]
            }
            for name, (_, keys) in DIMENSIONS.items()
        }
        return {
            "totals": _measures(self.by("member_type").sum(axis=0)),
            "by": by,
            "out_of_pocket": _distribution(self.out_of_pocket, member_types),
        }


def _measures(row: np.ndarray) -> dict:
    return {
        name: int(v) if name in COUNTS else fmt(int(v))
        for name, v in zip(MEASURES, row, strict=True)
    }


def _distribution(oop: np.ndarray, member_types: np.ndarray) -> dict:
    out = _stats(oop)
    edges = [e * 100 for e in EDGES]
    counts = np.bincount(np.searchsorted(edges, oop, side="right") - 1, minlength=len(edges))
    out["histogram"] = [
        {
            "from": fmt(lo),
            "to": fmt(edges[i + 1]) if i + 1 < len(edges) else None,
            "members": int(counts[i]),
        }
        for i, lo in enumerate(edges)
    ]
    out["by_member_type"] = {
        t.value: _stats(oop[member_types == i])
        for i, t in enumerate(MemberType)
        if (member_types == i).any()
    }
    return out


def _stats(oop: np.ndarray) -> dict:
    """Members, mean (half-up to the fen), nearest-rank percentiles and max, in yuan."""
    n = len(oop)
    if n == 0:
        return {"members": 0}
    ranks = [max((p * n + 99) // 100 - 1, 0) for p in PERCENTILES]
    ranked = np.partition(oop, [*ranks, n - 1])  # those ranks in place, no full sort
    mean = (Decimal(int(oop.sum())) / n).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    out = {"members": n, "mean": fmt(int(mean))}
    for p, k in zip(PERCENTILES, ranks, strict=True):
        out[f"p{p}"] = fmt(int(ranked[k]))
    out["max"] = fmt(int(ranked[n - 1]))
    return out
