"""The supervision reports in yuan, for people and for JSON.

The reports (statements, clearing, fund statistics) keep every amount as integer fen; the
few integers that are counts are named here, every other integer is an amount.
"""

from gongji.money import to_yuan

COUNTS = frozenset({"settlements", "cancelled", "member_months", "year"})


def in_yuan(report: object, key: str | None = None) -> object:
    """A copy of the report with its amounts as Decimal yuan ('1234.50')."""
    if isinstance(report, dict):
        return {k: in_yuan(v, k) for k, v in report.items()}
    if isinstance(report, list):
        return [in_yuan(v, key) for v in report]
    if isinstance(report, int) and not isinstance(report, bool) and key not in COUNTS:
        return to_yuan(report)
    return report
