"""A member's year-to-date state: small, explicit, immutable between visits."""

from dataclasses import dataclass

from gongji.engine import layout as L

GROWN = True  # False where the replay compiles these for states of S_SIZE only (kernel.GROWN)


def kept(S):
    """How many deductible windows, and as many item deductibles, S keeps: layout.WINDOWS in
    a state of S_SIZE, more in a grown one (numba subset, as the next two)."""
    return (len(S) - L.S_WINDOW) // L.SLOT_STRIDE


def item_base(S):
    """Where S's item deductibles start (after its windows)."""
    return L.S_WINDOW + kept(S) * L.W_STRIDE


def start_state(S, account_balance):
    """A member's state before their first visit (numba subset: the replay calls it too, a
    member). A state of S_SIZE is cleared with bounds the compiler knows (its loops unrolled:
    the replay's common case); a grown one with its own."""
    if GROWN and len(S) != L.S_SIZE:
        clear_state(S, len(S), kept(S), account_balance)
    else:
        clear_state(S, L.S_SIZE, L.WINDOWS, account_balance)


def clear_state(S, size, windows, account_balance):
    for i in range(size):
        S[i] = 0
    S[L.S_BALANCE] = account_balance
    for i in range(windows):
        S[L.S_WINDOW + i * L.W_STRIDE + L.W_OPENED] = -1


KERNEL_FUNCTIONS = ("kept", "item_base", "start_state", "clear_state")


def state_size(slots: int) -> int:
    """The length of a state keeping `slots` windows and as many items."""
    return L.S_WINDOW + slots * L.SLOT_STRIDE


def grown(S, slots: int) -> list[int]:
    """S with room for `slots` windows and as many items (at least as many as it has): the
    same windows and items at the start of each, the new ones free. A visit the kernel
    finds no room for (status WINDOWS_FULL or ITEMS_FULL) is settled again from the state
    before it, grown: no valid visit is refused for the size of the state."""
    n = kept(S)
    if slots < n:
        raise ValueError(f"a state keeping {n} slots cannot shrink to {slots}")
    out = [0] * state_size(slots)
    start_state(out, 0)
    out[: L.S_WINDOW] = [int(x) for x in S[: L.S_WINDOW]]
    out[L.S_WINDOW : L.S_WINDOW + n * L.W_STRIDE] = [int(x) for x in S[L.S_WINDOW : item_base(S)]]
    at = item_base(out)
    out[at : at + n * L.I_STRIDE] = [int(x) for x in S[item_base(S) :]]
    return out


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
        for i in range(kept(self.slots)):
            at = L.S_WINDOW + i * L.W_STRIDE
            inst, opened, met = self.slots[at : at + L.W_STRIDE]
            if opened >= 0:
                out.append(OpenWindow(inst, opened, met))
        return tuple(out)
