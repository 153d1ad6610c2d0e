"""A member's year-to-date state: small, explicit, immutable between visits."""

from dataclasses import dataclass

from gongji.engine import layout as L


def start_state(S, account_balance):
    """A member's state before their first visit (numba subset: the replay calls it too)."""
    for i in range(L.S_SIZE):
        S[i] = 0
    S[L.S_BALANCE] = account_balance
    for i in range(L.WINDOWS):
        S[L.S_WINDOW + i * L.W_STRIDE + L.W_OPENED] = -1


KERNEL_FUNCTIONS = ("start_state",)


@dataclass(frozen=True, slots=True)
class PoolUse:
    """What one pool (the accumulator caps count against) holds for the year and month."""

    annual: int  # fund paid this year
    monthly: int  # fund paid this month
    deductible_met: int  # annual deductible met this year


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
        start_state(s, account_balance)
        return cls(tuple(s))

    @property
    def year(self) -> int:
        return self.slots[L.S_YEAR]

    @property
    def month(self) -> int:
        """1-12 (0 before the first visit)."""
        return self.slots[L.S_MONTH] % 12 + 1 if self.year else 0

    @property
    def account_balance(self) -> int:
        return self.slots[L.S_BALANCE]

    def with_balance(self, balance: int) -> "YearState":
        """The same state with the account balance changed by a movement outside a visit
        (crediting, mutual aid, a premium, a refund)."""
        s = list(self.slots)
        s[L.S_BALANCE] = balance
        return YearState(tuple(s))

    def pool(self, name: str) -> PoolUse:
        at = L.S_POOL + L.pool_index(name) * L.PU_STRIDE
        return PoolUse(*self.slots[at : at + L.PU_STRIDE])

    @property
    def open_windows(self) -> tuple[OpenWindow, ...]:
        out = []
        for i in range(L.WINDOWS):
            at = L.S_WINDOW + i * L.W_STRIDE
            inst, opened, met = self.slots[at : at + L.W_STRIDE]
            if opened >= 0:
                out.append(OpenWindow(inst, opened, met))
        return tuple(out)
