"""The replay's batch loop: the engine's own kernel folded over member-sorted columns.

Numba subset (compiled by `engine/jit.py`; it runs as plain Python too, slowly, which the
tests use to check the compiled loop). A batch is cut at member boundaries into chunks that
run in parallel; each chunk carries one member's state at a time, and the first chunk may
continue the member the previous batch ended with (`carry`). A visit the engine refuses
(no policy in force, a category the version does not pay, a full window table) is recorded
with its status, zero amounts, and leaves the member's state as it was — as the ledger
refuses it.

`V`, `M` and `R` are named tuples of arrays (see replay.py): the visits' kernel arguments,
the members' (indexed by member row), and the results (indexed like the visits).
"""

from numba import prange

from gongji.engine import layout as L
from gongji.engine.facts import class_of, member_bits, visit_bits, visit_facts
from gongji.engine.kernel import settle_visit
from gongji.engine.state import start_state

# Result status beyond the kernel's own (layout.OK, WINDOWS_FULL, ITEMS_FULL).
NO_POLICY = 3  # no policy version in force on the visit's day (engine: E_NO_POLICY)
NO_CATEGORY = 4  # the version does not pay the visit's category (engine: E_CATEGORY)
STATUS_CODES = ("", "E_WINDOWS_FULL", "E_ITEMS_FULL", "E_NO_POLICY", "E_CATEGORY")


def replay_chunks(P, bounds, carry, carry_member, V, M, R, last_states, tr):
    """Settle visits [bounds[k], bounds[k+1]) for every chunk k; chunk k's final state goes
    to last_states[k]. `carry` is the state of member row `carry_member` (-1: none)."""
    for k in prange(len(bounds) - 1):
        backup = last_states[k].copy()
        carried = carry_member if k == 0 else -1
        settle_chunk(
            P, bounds[k], bounds[k + 1], carry, carried, V, M, R, last_states[k], backup, tr
        )


def settle_chunk(P, lo, hi, carry, carried, V, M, R, S, backup, tr):
    """One chunk's visits in order, a member's state in S. Compiled without reference
    counting, and the named tuples of arrays are read here, not passed on: a call that takes
    them copies every array's header (the loop cost more than the rules did)."""
    current = -1
    if carried >= 0:
        copy_into(S, carry)
        current = carried
    for i in range(lo, hi):
        m = V.member[i]
        if m != current:
            start_state(S, M.balance[m])
            current = m
        v = V.version[i]
        line = V.line[i]
        status = NO_POLICY if v < 0 else NO_CATEGORY if line < 0 else L.OK
        klass = deductible = fund = account = cash = 0
        if status == L.OK:
            facts = visit_facts(
                V.day[i],
                V.year_start[i],
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
                V.month[i],
                V.inst[i],
                V.item[i],
                V.level[i],
                klass,
                M.type[m],
                facts,
                M.diseases[m],
                V.total[i],
                V.in_scope[i],
                line,
                False,
                tr,
            )
            if status != L.OK:  # refused as the engine refuses: the state stays as it was
                copy_into(S, backup)
                klass = deductible = fund = account = cash = 0
        R.status[i] = status
        R.klass[i] = klass
        R.deductible[i] = deductible
        R.fund[i] = fund
        R.account[i] = account
        R.cash[i] = cash
        R.balance[i] = S[L.S_BALANCE]


def copy_into(dst, src):
    for j in range(len(src)):  # a plain loop: a slice assignment may allocate
        dst[j] = src[j]


def member_bits_all(has_account, raised, out):
    for i in range(len(out)):
        out[i] = member_bits(has_account[i], raised[i])


def visit_bits_all(designated, remote, manual, third_party, use_account, out):
    for i in range(len(out)):
        out[i] = visit_bits(designated[i], remote[i], manual[i], third_party[i], use_account[i])


# Measures of the aggregates, in this order (see aggregate.py).
A_VISITS, A_REFUSED, A_TOTAL, A_IN_SCOPE, A_DEDUCTIBLE, A_FUND, A_ACCOUNT, A_CASH = range(8)
N_MEASURES = 8


def accumulate(
    by_type, by_level, by_category, by_month, out_of_pocket, keys, member, R, total, in_scope
):
    """Add a batch's settled visits to the aggregates: one row per key of each dimension
    (keys[d][i] is visit i's key in dimension d), and each member's out-of-pocket."""
    for i in range(len(member)):
        add(by_type[keys[0][i]], R, total, in_scope, i)
        add(by_level[keys[1][i]], R, total, in_scope, i)
        add(by_category[keys[2][i]], R, total, in_scope, i)
        add(by_month[keys[3][i]], R, total, in_scope, i)
        out_of_pocket[member[i]] += R.account[i] + R.cash[i]


def add(row, R, total, in_scope, i):
    row[A_VISITS] += 1
    if R.status[i] != L.OK:
        row[A_REFUSED] += 1
        return
    row[A_TOTAL] += total[i]
    row[A_IN_SCOPE] += in_scope[i]
    row[A_DEDUCTIBLE] += R.deductible[i]
    row[A_FUND] += R.fund[i]
    row[A_ACCOUNT] += R.account[i]
    row[A_CASH] += R.cash[i]


def compiled() -> dict:
    """This module's kernel functions, compiled (on first use; a few seconds)."""
    from gongji.engine import jit

    return jit.compiled(__name__)


KERNEL_FUNCTIONS = (
    "replay_chunks",
    "settle_chunk",
    "copy_into",
    "member_bits_all",
    "visit_bits_all",
    "accumulate",
    "add",
)
