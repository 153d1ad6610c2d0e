"""What a replay adds up: visits and money by member type, level, category and month, and
each member's out-of-pocket (account + cash) for the distribution members bear.

A weighted replay (a sample standing for its population) counts each visit as many times
as its member's weight, in the kernel; here the members' figures are weighted the same way
(members counted `weight` times, means and percentiles over the weighted members).
`reform_effect` compares two scenarios member by member: who pays more out of pocket, who
less, who the same.

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
        self.rows = 0  # visits replayed (not weighted)

    def by(self, dimension: str) -> np.ndarray:
        first, keys = DIMENSIONS[dimension]
        return self.sums[first : first + len(keys)]

    def merge(self, other: "Aggregates") -> None:
        self.sums += other.sums
        self.out_of_pocket += other.out_of_pocket
        self.rows += other.rows

    def to_bytes(self) -> bytes:
        buf = io.BytesIO()
        np.savez(buf, sums=self.sums, out_of_pocket=self.out_of_pocket, rows=self.rows)
        return buf.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> "Aggregates":
        arrays = np.load(io.BytesIO(data))
        out = cls(len(arrays["out_of_pocket"]))
        out.sums = arrays["sums"]
        out.out_of_pocket = arrays["out_of_pocket"]
        out.rows = int(arrays["rows"])
        return out

    def summary(self, member_types: np.ndarray, weights: np.ndarray | None = None) -> dict:
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
            "out_of_pocket": _distribution(self.out_of_pocket, member_types, weights),
        }


def _measures(row: np.ndarray) -> dict:
    return {
        name: int(v) if name in COUNTS else fmt(int(v))
        for name, v in zip(MEASURES, row, strict=True)
    }


def _distribution(oop: np.ndarray, member_types: np.ndarray, weights: np.ndarray | None) -> dict:
    out = _stats(oop, weights)
    edges = [e * 100 for e in EDGES]
    bins = np.searchsorted(edges, oop, side="right") - 1
    counts = np.zeros(len(edges), np.int64)
    np.add.at(counts, bins, 1 if weights is None else weights)
    out["histogram"] = [
        {
            "from": fmt(lo),
            "to": fmt(edges[i + 1]) if i + 1 < len(edges) else None,
            "members": int(counts[i]),
        }
        for i, lo in enumerate(edges)
    ]
    out["by_member_type"] = {
        t.value: _stats(
            oop[member_types == i], None if weights is None else weights[member_types == i]
        )
        for i, t in enumerate(MemberType)
        if (member_types == i).any()
    }
    return out


def _stats(oop: np.ndarray, weights: np.ndarray | None = None) -> dict:
    """Members, mean (half-up to the fen), nearest-rank percentiles and max, in yuan."""
    if weights is not None:
        return _weighted_stats(oop, weights)
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


def _weighted_stats(oop: np.ndarray, weights: np.ndarray) -> dict:
    """`_stats` where member i counts weights[i] times: the same figures as the unweighted
    stats of a population holding each member that many times."""
    n = int(weights.sum())
    if n == 0:
        return {"members": 0}
    order = np.argsort(oop, kind="stable")
    ranked, upto = oop[order], np.cumsum(weights[order])  # upto[j]: members up to rank j
    mean = (Decimal(int((oop * weights).sum())) / n).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    out = {"members": n, "mean": fmt(int(mean))}
    for p in PERCENTILES:
        k = max((p * n + 99) // 100, 1)  # the k-th member, nearest rank
        out[f"p{p}"] = fmt(int(ranked[np.searchsorted(upto, k)]))
    out["max"] = fmt(int(ranked[np.searchsorted(upto, n)]))
    return out


def reform_effect(
    base: Aggregates, reform: Aggregates, member_types: np.ndarray, weights: np.ndarray | None
) -> dict:
    """Members who pay more out of pocket (account + cash, a year) under the reform than
    under the baseline, who pay less and who the same, and the sums of those differences:
    for all members and by member type (weighted as the replay is)."""
    change = reform.out_of_pocket - base.out_of_pocket
    w = np.ones(len(change), np.int64) if weights is None else weights
    out = _effect(change, w)
    out["by_member_type"] = {
        t.value: _effect(change[member_types == i], w[member_types == i])
        for i, t in enumerate(MemberType)
        if (member_types == i).any()
    }
    return out


def _effect(change: np.ndarray, weights: np.ndarray) -> dict:
    more, less = change > 0, change < 0
    return {
        "paying_more": int(weights[more].sum()),
        "paying_less": int(weights[less].sum()),
        "paying_same": int(weights[~more & ~less].sum()),
        "more_paid": fmt(int((change * weights)[more].sum())),  # what those paying more add
        "less_paid": fmt(int((-change * weights)[less].sum())),  # what those paying less save
    }
