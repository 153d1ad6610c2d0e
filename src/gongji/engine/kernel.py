"""The settlement rules, one small function per mechanism.

Written in the subset of Python that numba compiles: integers, indexing into the flat
records of `layout.py` (imported as `L`), no objects. The online engine runs these functions
as they are; the batch replay compiles the very same functions (`jit.py`), so there is one
rulebook.

A visit is paid by one benefit line, chosen from its category (X-5: the fund first, then the
account, then cash):
year roll -> for the line: eligibility -> level -> deductible -> ratio -> caps
[-> what the cap left unpaid passes to the line's overflow line] -> account -> cash.
"""

from gongji.engine import layout as L
from gongji.engine.facts import year_start
from gongji.engine.state import item_base
from gongji.money import apply_ratio

# Whether the code handles grown states (state.grown) as well as those of S_SIZE. True here:
# the engine settles any state. The replay compiles these functions a second time with it
# False for its common case (jit.compiled's `grown`; numba takes a global as a constant), and
# there every grown-state branch is compiled away: untaken, they had cost the compiled
# settle_visit a fifth more instructions a visit (callgrind, issue 19).
GROWN = True


def emit(tracing, tr, step, amount, a, b):
    """Record a trace step: `tr[0]` counts the integers written after it (a fixed buffer,
    `layout.TRACE_CAPACITY`, which a visit's steps provably never fill)."""
    if tracing:
        n = tr[0]
        tr[n + 1] = step
        tr[n + 2] = amount
        tr[n + 3] = a
        tr[n + 4] = b
        tr[0] = n + L.TRACE_STRIDE


def settle_visit(
    P,
    S,
    when,
    month,
    inst,
    item,
    level,
    klass,
    mtype,
    facts,
    diseases,
    total,
    in_scope,
    line,
    tracing,
    tr,
):
    """One visit, first paid by `line`. Mutates S.

    Returns (deductible, fund, account, cash, status). `when` is local time in seconds since
    1970, `month` is year * 12 + month - 1, amounts are fen, `item` keys a per-item deductible
    (a negotiated drug), `diseases` counts the member's recognised chronic diseases.
    """
    roll_year(S, month, tracing, tr)
    deductible = 0
    fund = 0
    scope = in_scope
    while line >= 0:
        emit(tracing, tr, L.T_LINE, line, scope, 0)
        base = line * L.LINE_SIZE
        charged, paid, left, status = settle_line(
            P,
            S,
            base,
            when,
            month,
            inst,
            item,
            level,
            klass,
            mtype,
            facts,
            diseases,
            scope,
            tracing,
            tr,
        )
        if status != L.OK:
            return 0, 0, 0, 0, status
        deductible += charged
        fund += paid
        line = P[base + L.L_OVERFLOW] if left > 0 else -1
        if line >= 0:
            emit(tracing, tr, L.T_OVERFLOW, left, line, 0)
        scope = left
    # the pack's reading of what the account may pay: the in-scope share, or the member's
    # whole share (out-of-scope cost too)
    owed = total if P[L.P_ACCOUNT_SHARE] == L.ACCOUNT_MEMBER else in_scope
    account = pay_account(S, facts, owed - fund, tracing, tr)
    cash = total - fund - account
    emit(tracing, tr, L.T_CASH, cash, total - in_scope, 0)
    return deductible, fund, account, cash, L.OK


def settle_line(
    P, S, base, when, month, inst, item, level, klass, mtype, facts, diseases, scope, tracing, tr
):
    """(deductible, fund, cost the cap left unpaid, status) for `scope` fen under one line."""
    if not (eligible(P, base, mtype, facts, tracing, tr) and covered(P, base, level, tracing, tr)):
        return 0, 0, 0, L.OK
    charged, status = charge_deductible(
        P, S, base, when, month, inst, item, level, klass, scope, tracing, tr
    )
    if status != L.OK:
        return 0, 0, 0, status
    above = scope - charged
    due = pay_ratio(P, base, level, klass, above, tracing, tr)
    paid = apply_caps(P, S, base, klass, facts, diseases, due, tracing, tr)
    # Cost the cap left unpaid, in proportion to the fund pay it cut (for routing onwards).
    left = 0 if due == 0 else (above * (due - paid) * 2 + due) // (2 * due)
    return charged, paid, left, L.OK


def roll_year(S, month, tracing, tr):
    """X-1: accumulators are per calendar year; monthly caps lapse at the month's end."""
    year = month // 12
    if S[L.S_YEAR] != year:
        if S[L.S_YEAR] != 0:
            used = 0
            for p in range(L.N_POOLS):
                used += S[L.S_POOL + p * L.PU_STRIDE + L.PU_ANNUAL]
            emit(tracing, tr, L.T_YEAR_RESET, used, S[L.S_YEAR], year)
        S[L.S_YEAR] = year
        # a deductible window is not a yearly accumulator: 24 hours from a visit on 31
        # December run into 1 January (NY-5a), unless the pack closes windows at the year's
        # end (charge_deductible); a calendar-day window closes by itself
        for p in range(L.N_POOLS):
            S[L.S_POOL + p * L.PU_STRIDE + L.PU_ANNUAL] = 0
            S[L.S_POOL + p * L.PU_STRIDE + L.PU_DED_MET] = 0
        # every item freed (key and met 0): a state of S_SIZE's with bounds the compiler knows
        if GROWN and len(S) != L.S_SIZE:
            clear(S, item_base(S), len(S))
        else:
            clear(S, L.S_ITEM, L.S_SIZE)
    if S[L.S_MONTH] != month:
        S[L.S_MONTH] = month
        for p in range(L.N_POOLS):
            S[L.S_POOL + p * L.PU_STRIDE + L.PU_MONTHLY] = 0


def eligible(P, base, mtype, facts, tracing, tr):
    """Every condition the line enforces must hold, or the line pays nothing."""
    for c in range(L.N_CONDITIONS):
        flag = P[base + L.L_CONDITION + c]
        if flag != 0 and condition_fails(P, base, c, mtype, facts):
            if flag == L.EXEMPT:
                emit(tracing, tr, L.T_EXEMPT, 0, c, 0)
                continue
            emit(tracing, tr, L.T_CONDITION + c, 0, 0, 0)
            return False
    return True


def condition_fails(P, base, c, mtype, facts):
    if c == L.C_DESIGNATED:
        return facts & L.F_DESIGNATED == 0
    if c == L.C_BENEFIT_PERIOD:
        return facts & L.F_IN_BENEFIT == 0
    if c == L.C_NOT_INPATIENT:
        return facts & L.F_IN_STAY != 0
    if c == L.C_NOT_IN_ARREARS:
        return facts & L.F_IN_ARREARS != 0
    if c == L.C_HAS_ACCOUNT:
        return facts & L.F_HAS_ACCOUNT == 0
    if c == L.C_RAISED_CONTRIBUTION:
        bound = (P[base + L.L_RAISE_TYPES] >> mtype) & 1 == 1 and facts & L.F_RETIRED == 0
        return bound and facts & L.F_RAISED == 0
    if c == L.C_REMOTE_FILING:
        return facts & L.F_REMOTE != 0 and facts & L.F_FILED == 0
    if c == L.C_REMOTE_DIRECT:
        return facts & L.F_REMOTE != 0 and facts & L.F_MANUAL != 0
    if c == L.C_NO_THIRD_PARTY:
        return facts & L.F_THIRD_PARTY != 0
    return False


def covered(P, base, level, tracing, tr):
    if P[base + L.L_LEVEL_OK + level] == 0:
        emit(tracing, tr, L.T_LEVEL_NOT_COVERED, 0, level, 0)
        return False
    return True


def charge_deductible(P, S, base, when, month, inst, item, level, klass, scope, tracing, tr):
    """The part of in-scope cost left to the member before the ratio applies."""
    basis = P[base + L.L_DED_BASIS]
    if basis == L.DED_ANNUAL:
        standard = P[base + L.L_DED_CLASS + klass]
        met_at = L.S_POOL + P[base + L.L_DED_POOL] * L.PU_STRIDE + L.PU_DED_MET
        met = S[met_at]
        charge = min(max(standard - met, 0), scope)
        S[met_at] = met + charge
        emit(tracing, tr, L.T_DED_ANNUAL, charge, standard, met)
        return charge, L.OK
    standard = P[base + L.L_DED_LEVEL + level]
    if basis == L.DED_NONE or standard == 0:
        emit(tracing, tr, L.T_DED_NONE, 0, level, 0)
        return 0, L.OK
    if basis == L.DED_PER_ITEM_YEAR:
        return charge_item_deductible(S, item, standard, scope, tracing, tr)
    window = P[base + L.L_DED_WINDOW]
    span = P[base + L.L_DED_WINDOW_SPAN]
    # a window opened before `since` is closed: the year's first second where the pack
    # closes windows at the year's end, else none is
    since = year_start(month // 12) if P[base + L.L_DED_YEAR_END] != 0 else 0
    # the windows every state keeps first, with bounds the compiler knows (the common case,
    # loops unrolled), then a grown state's others (S_ITEM: where the first WINDOWS end)
    slot = -1
    if window != L.WIN_NONE:
        slot = open_window(S, L.S_WINDOW, L.S_ITEM, window, span, since, inst, when)
        if slot < 0 and GROWN and len(S) > L.S_SIZE:
            slot = open_window(S, L.S_ITEM, item_base(S), window, span, since, inst, when)
    if slot >= 0:
        # A visit inside the window shares the one deductible already opened there (met may
        # exceed this visit's standard if the institution's level changed within the window).
        met = S[slot + L.W_MET]
        charge = min(max(standard - met, 0), scope)
        S[slot + L.W_MET] = met + charge
        emit(tracing, tr, L.T_DED_WINDOW, charge, standard, S[slot + L.W_OPENED])
        return charge, L.OK
    charge = min(standard, scope)
    emit(tracing, tr, L.T_DED_PER_VISIT, charge, standard, level)
    if window == L.WIN_NONE or charge == 0:
        return charge, L.OK
    slot = free_window(S, L.S_WINDOW, L.S_ITEM, window, span, since, when)
    if slot < 0 and GROWN and len(S) > L.S_SIZE:
        slot = free_window(S, L.S_ITEM, item_base(S), window, span, since, when)
    if slot < 0:
        return charge, L.WINDOWS_FULL
    S[slot + L.W_INST] = inst
    S[slot + L.W_OPENED] = when
    S[slot + L.W_MET] = charge
    return charge, L.OK


def charge_item_deductible(S, item, standard, scope, tracing, tr):
    """One deductible per item (e.g. a negotiated drug) per year."""
    # a state of S_SIZE's items with bounds the compiler knows (the common case), else S's
    if GROWN and len(S) != L.S_SIZE:
        slot, free = find_item(S, item_base(S), len(S), item)
    else:
        slot, free = find_item(S, L.S_ITEM, L.S_SIZE, item)
    if slot >= 0:
        met = S[slot + L.I_MET]
        charge = min(max(standard - met, 0), scope)
        S[slot + L.I_MET] = met + charge
        emit(tracing, tr, L.T_DED_ITEM, charge, standard, met)
        return charge, L.OK
    if free < 0:
        return 0, L.ITEMS_FULL
    charge = min(standard, scope)
    S[free + L.I_KEY] = item
    S[free + L.I_MET] = charge
    emit(tracing, tr, L.T_DED_ITEM, charge, standard, 0)
    return charge, L.OK


def find_item(S, lo, hi, item):
    """(the slot keeping `item` among S[lo:hi], the first free one), each -1 if none."""
    free = -1
    for k in range((hi - lo) // L.I_STRIDE):  # a count, not a stepped range: unrolled
        slot = lo + k * L.I_STRIDE
        key = S[slot + L.I_KEY]
        if key == item:
            return slot, free
        if key == 0 and free < 0:
            free = slot
    return -1, free


def clear(S, lo, hi):
    for j in range(lo, hi):
        S[j] = 0


def window_is_open(window, span, since, opened, when):
    """`since` >= 0: a window opened before it is closed (a slot never used has opened -1)."""
    if opened < since:
        return False
    if window == L.WIN_SAME_DAY:
        return opened // L.SECONDS_PER_DAY == when // L.SECONDS_PER_DAY
    return when - opened < span


def open_window(S, lo, hi, window, span, since, inst, when):
    """The state slot of the institution's open deductible window among S[lo:hi], or -1."""
    for k in range((hi - lo) // L.W_STRIDE):
        slot = lo + k * L.W_STRIDE
        opened = S[slot + L.W_OPENED]
        if S[slot + L.W_INST] == inst and window_is_open(window, span, since, opened, when):
            return slot
    return -1


def free_window(S, lo, hi, window, span, since, when):
    """A slot of S[lo:hi] whose window is closed (or never used), or -1 when all are open."""
    for k in range((hi - lo) // L.W_STRIDE):
        slot = lo + k * L.W_STRIDE
        if not window_is_open(window, span, since, S[slot + L.W_OPENED], when):
            return slot
    return -1


def pay_ratio(P, base, level, klass, amount, tracing, tr):
    ratio = P[base + L.L_RATIO + klass * L.N_LEVELS + level]
    due = apply_ratio(amount, ratio)
    emit(tracing, tr, L.T_RATIO, due, ratio, amount)
    return due


def line_cap(P, base, klass, diseases):
    """The line's annual cap; it may grow with the number of recognised diseases (XSBN-12)."""
    cap = P[base + L.L_ANNUAL_CAP + klass]
    ceiling = P[base + L.L_CAP_MAX]
    if ceiling >= 0 and diseases > 1:
        cap = min(cap + (diseases - 1) * P[base + L.L_CAP_PER_EXTRA], ceiling)
    return cap


def apply_caps(P, S, base, klass, facts, diseases, fund, tracing, tr):
    """Monthly then annual cap on the line's pool; one accumulator whatever the class (X-2)."""
    pool = L.S_POOL + P[base + L.L_POOL] * L.PU_STRIDE
    used = S[pool + L.PU_ANNUAL]
    annual = line_cap(P, base, klass, diseases)
    if klass == L.RETIREE and facts & L.F_SWITCHED_THIS_YEAR != 0 and used > 0:
        emit(tracing, tr, L.T_RETIREE_MERGED, used, annual, 0)
    monthly = P[base + L.L_MONTHLY_CAP + klass]
    if monthly >= 0:
        room = max(monthly - S[pool + L.PU_MONTHLY], 0)
        if fund > room:
            emit(tracing, tr, L.T_MONTHLY_CAP, fund - room, monthly, S[pool + L.PU_MONTHLY])
            fund = room
    room = max(annual - used, 0)
    if fund > room:
        emit(tracing, tr, L.T_ANNUAL_CAP, fund - room, annual, used)
        fund = room
    S[pool + L.PU_ANNUAL] = used + fund
    S[pool + L.PU_MONTHLY] += fund
    emit(tracing, tr, L.T_FUND, fund, used + fund, annual)
    return fund


def pay_account(S, facts, share, tracing, tr):
    """X-5: the member's share the account may pay, from it, up to its balance."""
    if facts & L.F_HAS_ACCOUNT == 0:
        emit(tracing, tr, L.T_NO_ACCOUNT, 0, 0, share)
        return 0
    if facts & L.F_ACCOUNT_DECLINED:
        emit(tracing, tr, L.T_ACCOUNT_DECLINED, 0, 0, share)
        return 0
    if facts & L.F_NO_AGREEMENT:
        emit(tracing, tr, L.T_ACCOUNT_NOT_DESIGNATED, 0, 0, share)
        return 0
    paid = min(share, S[L.S_BALANCE])
    S[L.S_BALANCE] -= paid
    emit(tracing, tr, L.T_ACCOUNT, paid, S[L.S_BALANCE], share)
    return paid


# Names the JIT compiles (see jit.py).
KERNEL_FUNCTIONS = (
    "emit",
    "window_is_open",
    "open_window",
    "free_window",
    "find_item",
    "charge_item_deductible",
    "condition_fails",
    "clear",
    "roll_year",
    "eligible",
    "covered",
    "charge_deductible",
    "pay_ratio",
    "line_cap",
    "apply_caps",
    "pay_account",
    "settle_line",
    "settle_visit",
)
KERNEL_NOT_INLINED = ("settle_visit",)  # the entry point: called from Python and by loops
