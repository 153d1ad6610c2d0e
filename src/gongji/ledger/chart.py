"""The chart of accounts: every account a journal leg can name, written `kind:key`.

A leg moves money into (+) or out of (-) one account; every entry's legs sum to zero
(`journal.balanced`). The kinds, and whose key each takes:
"""

from enum import StrEnum


class Chart(StrEnum):
    account = "account"  # a member's personal account (member id)
    frozen = "frozen"  # a member's amount frozen for a premium (member id; XSBN-26)
    cash = "cash"  # what a member paid in cash (member id)
    opening = "opening"  # a member's opening balance brought in (member id)
    transfer = "transfer"  # a closed account's balance moved to another region (member id)
    payout = "payout"  # a closed account's balance paid out (member id)
    fund = "fund"  # the region's pooling fund (region)
    premium = "premium"  # contributions clearing: the accounts' share of them (region)
    contributions = "contributions"  # contributions paid in: the fund's outside source (region)
    institution = "institution"  # owed to a designated institution (its code)
    payable = "payable"  # premiums paid from accounts, owed to their collector (purpose)

    def of(self, key: object) -> str:
        """The account of this kind for `key`: Chart.account.of("P001") == "account:P001"."""
        return f"{self.value}:{key}"

    @property
    def prefix(self) -> str:
        return f"{self.value}:"

    @property
    def like(self) -> str:
        """Every account of this kind, as an SQL LIKE pattern."""
        return f"{self.value}:%"

    def key(self, account: str) -> str | None:
        """The key of `account` if it is of this kind, else None."""
        return account.removeprefix(self.prefix) if account.startswith(self.prefix) else None
