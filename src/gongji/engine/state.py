"""A member's year-to-date state: small, explicit, immutable between visits."""

from dataclasses import dataclass

from gongji.engine import layout as L


@dataclass(frozen=True, slots=True)
class OpenWindow:
    institution_key: int
    opened_at: int  # local seconds since 1970
    deductible_met: int


@dataclass(frozen=True, slots=True)
class YearState:
    """The kernel's state record S. Named accessors here; the ledger persists `slots`."""

    slots: tuple[int, ...]

    @classmethod
    def new(cls, account_balance: int = 0) -> "YearState":
        s = [0] * L.S_SIZE
        s[L.S_BALANCE] = account_balance
        for i in range(L.WINDOWS):
            s[L.S_WINDOW + i * L.W_STRIDE + L.W_OPENED] = -1
        return cls(tuple(s))

    @property
    def year(self) -> int:
        return self.slots[L.S_YEAR]

    @property
    def month(self) -> int:
        """1-12 (0 before the first visit)."""
        return self.slots[L.S_MONTH] % 12 + 1 if self.year else 0

    @property
    def deductible_met(self) -> int:
        return self.slots[L.S_DED_MET]

    @property
    def annual_used(self) -> int:
        return self.slots[L.S_ANNUAL_USED]

    @property
    def monthly_used(self) -> int:
        return self.slots[L.S_MONTHLY_USED]

    @property
    def account_balance(self) -> int:
        return self.slots[L.S_BALANCE]

    @property
    def open_windows(self) -> tuple[OpenWindow, ...]:
        out = []
        for i in range(L.WINDOWS):
            inst, opened, met = self.slots[L.S_WINDOW + i * L.W_STRIDE :][: L.W_STRIDE]
            if opened >= 0:
                out.append(OpenWindow(inst, opened, met))
        return tuple(out)
