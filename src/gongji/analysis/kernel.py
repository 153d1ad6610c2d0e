"""The replay's batch loop: the engine's own kernel folded over member-sorted columns.

Numba subset (compiled by `engine/jit.py`). A batch is cut at member boundaries into chunks
that run in parallel; each chunk carries one member's state at a time, and the first chunk
may continue the member the previous batch ended with (`carry`). Per visit: the policy
version in force, the line its category starts on and the level it settles at are looked
up in tables built from the engine's own functions (replay.py); the engine's `visit_facts`
and `settle_visit` do the rest; the figures are added to the chunk's sums. A visit the
engine refuses (no policy in force, a category the version does not pay) is recorded with
its status and zero amounts and leaves the member's state as it was — as the ledger refuses
it. A visit the state has no room for (more open deductible windows or items than it keeps:
engine/state.py) stops the chunk there, its state as before the visit; the caller settles
the member on with a grown state, then the chunk's rest (replay.py, `Parts`). A visit
settled is checked against the engine's invariants of its figures (engine/invariants.py:
fund + account + cash = total, no amount negative, the fund within in-scope cost, the
account within its balance); a chunk records the first visit that breaks one, and the batch
raises InvariantError.

Named tuples of arrays (see replay.py): `V` the visits, `M` the members (by member row),
`T` the batch's lookup tables (`Lookups`), `R` the results (like the visits).
"""

import numpy as np
from numba import prange

from gongji.engine import layout as L
from gongji.engine.facts import class_of, visit_bits, visit_facts
from gongji.engine.invariants import broken_invariant
from gongji.engine.kernel import settle_visit
from gongji.engine.state import start_state

# The sums: one row per key of each dimension, one column per measure (see aggregate.py).
A_VISITS, A_REFUSED, A_TOTAL, A_IN_SCOPE, A_DEDUCTIBLE, A_FUND, A_ACCOUNT, A_CASH = range(8)
N_MEASURES = 8
MONTH_BASE = 2000 * 12  # months are kept from January 2000 ...
N_MONTHS = 100 * 12  # ... to December 2099
ROW_TYPE = 0  # + the index of the member's type (layout.MEMBER_TYPES)
ROW_LEVEL = ROW_TYPE + len(L.MEMBER_TYPES)  # + the visit's level (layout.LEVELS)
ROW_CATEGORY = ROW_LEVEL + len(L.LEVELS)  # + its category (layout.CATEGORIES)
ROW_MONTH = ROW_CATEGORY + len(L.CATEGORIES)  # + its month - MONTH_BASE
N_ROWS = ROW_MONTH + N_MONTHS


def replay_chunks(
    P, T, bounds, carry, carry_member, V, M, R, last_states, sums, oop, broken, stopped, tr
):
    """Settle visits [bounds[k], bounds[k+1]) for every chunk k, adding to sums[k] and to
    the members' out-of-pocket `oop` (chunks hold different members); chunk k's final state
    goes to last_states[k], and its first visit to break an invariant to broken[k] (row,
    invariant; left as it is if none does). `carry` is the state of member row
    `carry_member` (-1: none). stopped[k] is -1, or the visit chunk k stopped at (its state
    had no room for it; last_states[k] is the state before it)."""
    for k in prange(len(bounds) - 1):
        backup = last_states[k].copy()
        carried = carry_member if k == 0 else -1
        lo, hi = bounds[k], bounds[k + 1]
        stopped[k] = settle_chunk(
            P,
            T,
            lo,
            hi,
            carry,
            carried,
            V,
            M,
            R,
            last_states[k],
            backup,
            sums[k],
            oop,
            broken[k],
            tr,
        )


def settle_chunk(P, T, lo, hi, carry, carried, V, M, R, S, backup, sums, oop, broken, tr):
    """One chunk's visits in order, a member's state in S (and `backup`, as large). Returns
    -1, or the visit it stopped at: S had no room for it, and holds the state before it.
    Compiled without reference counting, and the named tuples of arrays are read here, not
    passed on: a call that takes them copies every array's header (the loop cost more than
    the rules did)."""
    current = -1
    weight = 1  # the members the current member stands for (read once a member)
    if carried >= 0:
        copy_into(S, carry)
        current = carried
        weight = M.weight[carried]
    # the first visit to break an invariant, kept in locals and stored once after the loop
    # (a store into `broken` inside the loop cost the loop a tenth of its time)
    first_broken = -1
    which = 0
    for i in range(lo, hi):
        m = V.member[i]
        if m != current:
            start_state(S, M.balance[m])
            current = m
            weight = M.weight[m]
        day = V.when[i] // L.SECONDS_PER_DAY - T.first_day
        v = T.version[day]
        line = -1
        level = V.level[i]
        if v >= 0:
            category, exception = V.category[i], T.exception[v, V.disease[i]]
            line = T.line[v, category, exception, 0]
            # JMS-18, PZH-10/11: where the line differs by whether the visit's disease is
            # among the member's recognised ones, find out which
            known = T.line[v, category, exception, 1]
            disease = T.disease_id[V.disease[i]]
            if known != line and has_disease(
                M.disease_ids, M.disease_lo[m], M.disease_hi[m], disease
            ):
                line = known
            level = T.level[v, level, V.prescription[i]]
        status = L.NO_POLICY if v < 0 else L.NO_CATEGORY if line < 0 else L.OK
        klass = deductible = fund = account = cash = 0
        if status == L.OK:
            facts = visit_facts(
                day + T.first_day,
                T.year_start[day],
                M.bits[m] | V.bits[i],
                M.retiree[m],
                M.retired_from[m],
                M.limited[m],
                M.periods,
                M.lo[m],
                M.hi[m],
            )
            klass = class_of(facts)
            copy_into(backup, S)
            deductible, fund, account, cash, status = settle_visit(
                P[v],
                S,
                V.when[i],
                T.month[day],
                V.inst[i],
                V.item[i],
                level,
                klass,
                M.type[m],
                facts,
                T.counted[T.counting[v], m],
                V.total[i],
                V.in_scope[i],
                line,
                False,
                tr,
            )
            if status != L.OK:  # no room in S: stop, with the state before the visit
                copy_into(S, backup)
                store_broken(broken, first_broken, which)
                return i
            invariant = broken_invariant(
                V.total[i],
                V.in_scope[i],
                deductible,
                fund,
                account,
                cash,
                backup[L.S_BALANCE],
                S[L.S_BALANCE],
            )
            if invariant != 0 and which == 0:
                first_broken = i
                which = invariant
        R.version[i] = v
        R.status[i] = status
        R.klass[i] = klass
        R.deductible[i] = deductible
        R.fund[i] = fund
        R.account[i] = account
        R.cash[i] = cash
        R.balance[i] = S[L.S_BALANCE]
        keys = (M.type[m], V.level[i], V.category[i], T.month[day] - MONTH_BASE)
        amounts = (V.total[i], V.in_scope[i], deductible, fund, account, cash)
        tally(sums, keys, status, amounts, weight)
        oop[m] += account + cash
    store_broken(broken, first_broken, which)
    return -1


def store_broken(broken, row, which):
    """Keep the first visit to break an invariant (a chunk settled in parts: the earliest)."""
    if which != 0 and broken[1] == 0:
        broken[0] = row
        broken[1] = which


def has_disease(ids, lo, hi, disease):
    """A member's recognised diseases, ids[lo:hi], include `disease` (-1: no disease)."""
    found = False
    for j in range(lo, hi):  # a loop, not any(): numba compiles no generator here
        found = found or ids[j] == disease
    return found and disease >= 0


def tally(sums, keys, status, amounts, weight):
    """Add one visit to its row in every dimension, `weight` times (the members a sampled
    member stands for; 1 unweighted). Unweighted, the common case, adds without multiplying:
    weighting every visit made the replay's loop some 10% slower."""
    if weight != 1:
        weighted_tally(sums, keys, status, amounts, weight)
        return
    for row in (
        ROW_TYPE + keys[0],
        ROW_LEVEL + keys[1],
        ROW_CATEGORY + keys[2],
        ROW_MONTH + keys[3],
    ):
        sums[row, A_VISITS] += 1
        if status != L.OK:
            sums[row, A_REFUSED] += 1
            continue
        for j in range(len(amounts)):
            sums[row, A_TOTAL + j] += amounts[j]


def weighted_tally(sums, keys, status, amounts, weight):
    """`tally` of a member who stands for `weight` members."""
    for row in (
        ROW_TYPE + keys[0],
        ROW_LEVEL + keys[1],
        ROW_CATEGORY + keys[2],
        ROW_MONTH + keys[3],
    ):
        sums[row, A_VISITS] += weight
        if status != L.OK:
            sums[row, A_REFUSED] += weight
            continue
        for j in range(len(amounts)):
            sums[row, A_TOTAL + j] += amounts[j] * weight


def copy_into(dst, src):
    for j in range(len(src)):  # a plain loop: a slice assignment may allocate
        dst[j] = src[j]


# Why decode_rows stopped at a row.
BAD_ORDER, BAD_TOTAL, BAD_IN_SCOPE, BAD_MEMBER, BAD_CODE = 1, 2, 3, 4, 5


def decode_rows(member_id, when, total, in_scope, last, ids, C, N, T, F, D, out):
    """One pass over a batch of visits: check order and amounts, find member rows, map
    dictionary codes through their tables (`C` codes, `N` their nulls, `T` tables; a table's
    -1 marks a value the engine does not know), copy the disease codes (`D`: codes, nulls,
    a null's code) and build the visit bits from the flags' packed bits (`F`). Returns
    (row, reason), reason 0 if the batch is good. `last` is (member id, time) of the
    previous batch's last row."""
    prev_id, prev_when = last[0], last[1]
    row = -1
    for i in range(len(member_id)):
        m, t = member_id[i], when[i]
        if m < prev_id or (m == prev_id and t < prev_when):
            return i, BAD_ORDER
        if total[i] < 0:
            return i, BAD_TOTAL
        if in_scope[i] < 0 or in_scope[i] > total[i]:
            return i, BAD_IN_SCOPE
        if m != prev_id or row < 0:
            row = min(np.searchsorted(ids, m), len(ids) - 1)
            if len(ids) == 0 or ids[row] != m:
                return i, BAD_MEMBER
        prev_id, prev_when = m, t
        out.member[i] = row
        # the coded columns, spelt out: a tuple indexed by a loop variable is slow in numba
        bad = -1
        bad = code_into(out.codes[0], T[0], C[0], N[0], i, 0, bad)
        bad = code_into(out.codes[1], T[1], C[1], N[1], i, 1, bad)
        bad = code_into(out.codes[2], T[2], C[2], N[2], i, 2, bad)
        bad = code_into(out.codes[3], T[3], C[3], N[3], i, 3, bad)
        bad = code_into(out.codes[4], T[4], C[4], N[4], i, 4, bad)
        if bad >= 0:
            return i, BAD_CODE + bad
        out.disease[i] = code_of(D[0], D[1], i, D[2])
        out.bits[i] = visit_bits(
            bit(F[0], i), bit(F[1], i), bit(F[2], i), bit(F[3], i), bit(F[4], i)
        )
    return -1, 0


def bit(flags, i):
    """Row i of an Arrow boolean column, read from its packed bits: (bytes, offset)."""
    k = flags[1] + i
    return (flags[0][k >> 3] >> (k & 7)) & 1 == 1


def code_of(codes, nulls, i, null):
    """Row i's dictionary code, or `null` where the row has none: `nulls` are the column's
    validity bits as `bit` reads them (no bytes: the column has no nulls)."""
    if len(nulls[0]) and not bit(nulls, i):
        return null
    return codes[i]


def code_into(out, table, codes, nulls, i, j, bad):
    """out[i] = table[row i's code] (a null's: the table's last); returns j for a value the
    table does not know, else bad."""
    value = table[code_of(codes, nulls, i, len(table) - 1)]
    out[i] = value
    return j if value == -1 and bad < 0 else bad


def compiled(grown: bool = False) -> dict:
    """This module's kernel functions, compiled (on first use; a few seconds): for states of
    S_SIZE, the replay's loop; `grown`, for any (a member whose state grew: replay.Parts)."""
    from gongji.engine import jit

    return jit.compiled(__name__, grown)


def cached(grown: bool = False) -> bool:
    """Whether `compiled(grown)` loads from numba's cache, else its first use compiles
    (jit.cached)."""
    from gongji.engine import jit

    return jit.cached(__name__, grown)


# What a replay says while a variant compiles (the first run after install), and after.
COMPILING = (
    "正在编译回放内核：安装后首次运行时编译一次（约 20 秒）"
    " (compiling the replay kernel: once, on the first run after install (about 20 s))"
)
COMPILING_GROWN = (
    "正在编译回放内核的扩容版本：参保人未结的起付线窗口或项目超出常规容量时才需要，"
    "仅编译一次（约 10 秒）"
    " (compiling the replay kernel for grown states: needed when a member has more open"
    " deductible windows or items than a state keeps; once (about 10 s))"
)


def compiled_in(seconds: float) -> str:
    s = f"{seconds:.0f}"
    return f"编译用时 {s} 秒，以后运行直接加载 (compiled in {s} s; later runs load it)"


KERNEL_FUNCTIONS = (
    "replay_chunks",
    "settle_chunk",
    "has_disease",
    "tally",
    "weighted_tally",
    "copy_into",
    "store_broken",
    "decode_rows",
    "code_into",
    "code_of",
    "bit",
)
# Compiled as functions of their own (see engine/jit.py): called from Python, or holding a
# loop of their own; the others are inlined.
KERNEL_NOT_INLINED = ("replay_chunks", "settle_chunk", "decode_rows")
# The batch loop runs its chunks in parallel and allocates their state: it keeps numba's
# reference counting, which the functions it calls are compiled without.
KERNEL_OPTIONS = {"replay_chunks": {"_nrt": True, "parallel": True}}
