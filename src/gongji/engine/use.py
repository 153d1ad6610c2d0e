"""What one settled visit consumed of its member's year, and giving it back.

A visit adds to the year's accumulators (each pool's fund pay for the year and the month,
the annual deductible met, each item's yearly deductible met) and may open or share a
deductible window at its institution. `Use` is exactly that difference, read off the state
before and after the visit. The ledger keeps it with the settlement, so that:

- a cancellation gives back exactly what its settlement consumed, whatever was settled
  after it (`YearState` minus the use); later settlements stand as they were paid;
- a late claim (a visit dated before the member's last settlement) settles against the
  accumulators of its own year and month, the sum of the uses of that year's settlements
  (`accumulated`), and its own use is then added to the member's state;
- `gongji db check` verifies that the member's accumulators are the sum of the uses of the
  active settlements.

A deductible window is not an accumulator of the year: giving a use back closes the window
it opened once nothing is met in it; adding one keeps the newest window of an institution.
"""

from collections.abc import Iterable
from dataclasses import dataclass

from gongji.engine import kernel
from gongji.engine import layout as L
from gongji.engine.invariants import InvariantError
from gongji.engine.state import YearState, grown, item_base, kept, start_state

POOL_SLOTS = L.N_POOLS * L.PU_STRIDE


@dataclass(frozen=True, slots=True)
class Use:
    month: int  # the visit's year * 12 + month - 1
    pools: tuple[int, ...]  # N_POOLS x (annual, monthly, deductible met), as in the state
    items: tuple[tuple[int, int], ...] = ()  # (item key, deductible met)
    windows: tuple[tuple[int, int, int], ...] = ()  # (institution key, opened at, met)

    @property
    def year(self) -> int:
        return self.month // 12

    def pool(self, index: int) -> tuple[int, int, int]:
        """(annual, monthly, deductible met) of one pool."""
        at = index * L.PU_STRIDE
        return self.pools[at], self.pools[at + L.PU_MONTHLY], self.pools[at + L.PU_DED_MET]

    def document(self) -> dict:
        return {"month": self.month, "pools": list(self.pools),
                "items": [list(i) for i in self.items],
                "windows": [list(w) for w in self.windows]}  # fmt: skip

    @classmethod
    def from_document(cls, doc: dict) -> "Use":
        return cls(
            doc["month"],
            tuple(doc["pools"]),
            tuple((k, m) for k, m in doc["items"]),
            tuple((i, o, m) for i, o, m in doc["windows"]),
        )


def use_of(before: YearState, after: YearState, month: int) -> Use:
    """What the visit settled in `month` added: `after` against `before` carried into the
    visit's month (the year roll the kernel made first)."""
    rolled = list(before.slots)
    kernel.roll_year(rolled, month, False, [])
    s = after.slots
    pools = tuple(s[L.S_POOL + i] - rolled[L.S_POOL + i] for i in range(POOL_SLOTS))
    met_before = items_met(rolled)
    items = tuple(
        (key, met - met_before.get(key, 0))
        for key, met in items_met(s).items()
        if met != met_before.get(key, 0)
    )
    if kept(rolled) < kept(s):  # the visit grew the state: compare like with like
        rolled = grown(rolled, kept(s))
    windows = []
    for i in range(kept(s)):
        at = L.S_WINDOW + i * L.W_STRIDE
        inst, opened, met = s[at : at + L.W_STRIDE]
        was = rolled[at : at + L.W_STRIDE]
        if (inst, opened, met) != tuple(was) and opened >= 0:
            same = was[L.W_INST] == inst and was[L.W_OPENED] == opened
            windows.append((inst, opened, met - was[L.W_MET] if same else met))
    return Use(month, pools, items, tuple(windows))


def plus(state: YearState, use: Use, sign: int) -> YearState:
    """`state` with `use` added (sign 1: a late claim) or given back (sign -1: a
    cancellation). Accumulators of another year than the state's are not in it; the month's
    fund pay only where the state is in the use's month."""
    s = list(state.slots)
    if s[L.S_YEAR] == use.year:
        for p in range(L.N_POOLS):
            annual, monthly, met = use.pool(p)
            at = L.S_POOL + p * L.PU_STRIDE
            s[at + L.PU_ANNUAL] += sign * annual
            s[at + L.PU_DED_MET] += sign * met
            if s[L.S_MONTH] == use.month:
                s[at + L.PU_MONTHLY] += sign * monthly
        for key, met in use.items:
            _add_item(s, key, sign * met)
    for inst, opened, met in use.windows:
        _add_window(s, inst, opened, sign * met)
    if min(s[L.S_POOL : L.S_POOL + POOL_SLOTS]) < 0:
        raise InvariantError(f"an accumulator below zero after giving back {use}")
    return YearState(tuple(s))


def accumulated(uses: Iterable[Use], month: int, balance: int) -> YearState:
    """The state a visit in `month` starts from when it is settled late: the accumulators of
    its year and month, summed over the uses of that year's settlements, and `balance`.
    Windows come from the uses given (the caller's choice: those that could still be open)."""
    s = [0] * L.S_SIZE
    start_state(s, balance)
    kernel.roll_year(s, month, False, [])
    state = YearState(tuple(s))
    for use in uses:
        if use.year == month // 12:
            state = plus(state, use, 1)
    return state


def items_met(s) -> dict[int, int]:
    """Item key -> the yearly deductible met for it, in state slots `s` (an item with
    nothing met is as none)."""
    out = {}
    items = item_base(s)
    for i in range(kept(s)):
        at = items + i * L.I_STRIDE
        if s[at + L.I_KEY] != 0 and s[at + L.I_MET] != 0:
            out[s[at + L.I_KEY]] = s[at + L.I_MET]
    return out


def _add_item(s: list[int], key: int, met: int) -> None:
    free = -1
    items = item_base(s)
    for i in range(kept(s)):
        at = items + i * L.I_STRIDE
        if s[at + L.I_KEY] == key:
            s[at + L.I_MET] += met
            if s[at + L.I_MET] == 0:
                s[at + L.I_KEY] = 0  # nothing met for the item this year: its slot is free
            return
        if s[at + L.I_KEY] == 0 and free < 0:
            free = at
    if met < 0:
        raise InvariantError(f"item {key}: {met} to give back")
    if free < 0:  # every slot taken: the state grows (its first new item slot is free)
        n = kept(s)
        s[:] = grown(s, 2 * n)
        free = item_base(s) + n * L.I_STRIDE
    s[free + L.I_KEY], s[free + L.I_MET] = key, met


def _add_window(s: list[int], inst: int, opened: int, met: int) -> None:
    same, older, free = -1, -1, -1
    for i in range(kept(s)):
        at = L.S_WINDOW + i * L.W_STRIDE
        if s[at + L.W_INST] == inst and s[at + L.W_OPENED] == opened:
            same = at
        elif s[at + L.W_INST] == inst and s[at + L.W_OPENED] > opened:
            return  # a newer window at the institution: this one no longer counts
        elif s[at + L.W_INST] == inst and s[at + L.W_OPENED] >= 0:
            older = at
        elif s[at + L.W_OPENED] < 0 and free < 0:
            free = at
    if same >= 0:
        s[same + L.W_MET] += met
        if s[same + L.W_MET] <= 0:  # given back: the window it opened is closed (a free slot)
            s[same + L.W_INST], s[same + L.W_OPENED], s[same + L.W_MET] = 0, -1, 0
        return
    at = older if older >= 0 else free
    if met > 0 and at < 0:  # every slot open: the state grows (its first new slot is free)
        n = kept(s)
        s[:] = grown(s, 2 * n)
        at = L.S_WINDOW + n * L.W_STRIDE
    if met > 0:
        s[at + L.W_INST], s[at + L.W_OPENED], s[at + L.W_MET] = inst, opened, met
