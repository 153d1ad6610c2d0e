"""The settlement rules for general outpatient pooling, one small function per mechanism.

Written in the subset of Python that numba compiles: integers, indexing into the flat
records of `layout.py`, no objects. The online engine runs these functions as they are; the
batch replay compiles the very same functions (`jit.py`), so there is one rulebook.

Order of a visit (X-5: the fund first, then the account, then cash):
year/month roll -> eligibility -> level coverage -> deductible -> ratio -> caps -> account.
"""

from gongji.engine.layout import (
    DED_ANNUAL,
    F_DESIGNATED,
    F_FILED,
    F_HAS_ACCOUNT,
    F_IN_ARREARS,
    F_IN_BENEFIT,
    F_IN_STAY,
    F_MANUAL,
    F_RAISED,
    F_REMOTE,
    F_RETIRED,
    F_SWITCHED_THIS_YEAR,
    F_THIRD_PARTY,
    N_CONDITIONS,
    N_LEVELS,
    OK,
    P_ANNUAL_CAP,
    P_CONDITION,
    P_DED_BASIS,
    P_DED_CLASS,
    P_DED_LEVEL,
    P_DED_WINDOW,
    P_DED_WINDOW_SPAN,
    P_LEVEL_OK,
    P_MONTHLY_CAP,
    P_RAISE_TYPES,
    P_RATIO,
    RETIREE,
    S_ANNUAL_USED,
    S_BALANCE,
    S_DED_MET,
    S_MONTH,
    S_MONTHLY_USED,
    S_WINDOW,
    S_YEAR,
    SECONDS_PER_DAY,
    T_ACCOUNT,
    T_ANNUAL_CAP,
    T_CASH,
    T_CONDITION,
    T_DED_ANNUAL,
    T_DED_NONE,
    T_DED_PER_VISIT,
    T_DED_WINDOW,
    T_FUND,
    T_LEVEL_NOT_COVERED,
    T_MONTHLY_CAP,
    T_NO_ACCOUNT,
    T_RATIO,
    T_RETIREE_MERGED,
    T_YEAR_RESET,
    W_INST,
    W_MET,
    W_OPENED,
    W_STRIDE,
    WIN_NONE,
    WIN_SAME_DAY,
    WINDOWS,
    WINDOWS_FULL,
)
from gongji.money import apply_ratio

# Condition indices, in the order of terms.Condition
C_DESIGNATED, C_BENEFIT_PERIOD, C_NOT_INPATIENT, C_NOT_IN_ARREARS, C_HAS_ACCOUNT = 0, 1, 2, 3, 4
C_RAISED_CONTRIBUTION, C_REMOTE_FILING, C_REMOTE_DIRECT, C_NO_THIRD_PARTY = 5, 6, 7, 8


def emit(tracing, tr, step, amount, a, b):
    if tracing:
        tr.append(step)
        tr.append(amount)
        tr.append(a)
        tr.append(b)


def settle_general(
    P, S, when, month, inst, level, klass, mtype, facts, total, in_scope, tracing, tr
):
    """One general outpatient visit. Mutates S; returns (deductible, fund, account, cash, status).

    `when` is local time in seconds since 1970, `month` is year * 12 + month - 1, amounts fen.
    """
    roll_year(S, month, tracing, tr)
    deductible = 0
    fund = 0
    if eligible(P, mtype, facts, tracing, tr) and covered(P, level, tracing, tr):
        deductible, status = charge_deductible(
            P, S, when, inst, level, klass, in_scope, tracing, tr
        )
        if status != OK:
            return 0, 0, 0, 0, status
        fund = apply_caps(
            P,
            S,
            klass,
            facts,
            pay_ratio(P, level, klass, in_scope - deductible, tracing, tr),
            tracing,
            tr,
        )
    account = pay_account(S, facts, in_scope - fund, tracing, tr)
    cash = total - fund - account
    emit(tracing, tr, T_CASH, cash, total - in_scope, 0)
    return deductible, fund, account, cash, OK


def roll_year(S, month, tracing, tr):
    """X-1: accumulators are per calendar year; monthly caps lapse at the month's end."""
    year = month // 12
    if S[S_YEAR] != year:
        if S[S_YEAR] != 0:
            emit(tracing, tr, T_YEAR_RESET, S[S_ANNUAL_USED], S[S_YEAR], year)
        S[S_YEAR] = year
        S[S_DED_MET] = 0
        S[S_ANNUAL_USED] = 0
        for i in range(WINDOWS):
            S[S_WINDOW + i * W_STRIDE + W_OPENED] = -1
    if S[S_MONTH] != month:
        S[S_MONTH] = month
        S[S_MONTHLY_USED] = 0


def eligible(P, mtype, facts, tracing, tr):
    """Every condition the pack enforces must hold, or the pooling fund pays nothing."""
    for c in range(N_CONDITIONS):
        if P[P_CONDITION + c] != 0 and condition_fails(P, c, mtype, facts):
            emit(tracing, tr, T_CONDITION + c, 0, 0, 0)
            return False
    return True


def condition_fails(P, c, mtype, facts):
    if c == C_DESIGNATED:
        return facts & F_DESIGNATED == 0
    if c == C_BENEFIT_PERIOD:
        return facts & F_IN_BENEFIT == 0
    if c == C_NOT_INPATIENT:
        return facts & F_IN_STAY != 0
    if c == C_NOT_IN_ARREARS:
        return facts & F_IN_ARREARS != 0
    if c == C_HAS_ACCOUNT:
        return facts & F_HAS_ACCOUNT == 0
    if c == C_RAISED_CONTRIBUTION:
        bound = (P[P_RAISE_TYPES] >> mtype) & 1 == 1 and facts & F_RETIRED == 0
        return bound and facts & F_RAISED == 0
    if c == C_REMOTE_FILING:
        return facts & F_REMOTE != 0 and facts & F_FILED == 0
    if c == C_REMOTE_DIRECT:
        return facts & F_REMOTE != 0 and facts & F_MANUAL != 0
    if c == C_NO_THIRD_PARTY:
        return facts & F_THIRD_PARTY != 0
    return False


def covered(P, level, tracing, tr):
    if P[P_LEVEL_OK + level] == 0:
        emit(tracing, tr, T_LEVEL_NOT_COVERED, 0, level, 0)
        return False
    return True


def charge_deductible(P, S, when, inst, level, klass, in_scope, tracing, tr):
    """The part of in-scope cost left to the member before the ratio applies."""
    if P[P_DED_BASIS] == DED_ANNUAL:
        standard = P[P_DED_CLASS + klass]
        met = S[S_DED_MET]
        charge = min(max(standard - met, 0), in_scope)
        S[S_DED_MET] = met + charge
        emit(tracing, tr, T_DED_ANNUAL, charge, standard, met)
        return charge, OK
    standard = P[P_DED_LEVEL + level]
    if standard == 0:
        emit(tracing, tr, T_DED_NONE, 0, level, 0)
        return 0, OK
    window = P[P_DED_WINDOW]
    span = P[P_DED_WINDOW_SPAN]
    slot = open_window(S, window, span, inst, when)
    if slot >= 0:
        # A visit inside the window shares the one deductible already opened there (met may
        # exceed this visit's standard if the institution's level changed within the window).
        met = S[slot + W_MET]
        charge = min(max(standard - met, 0), in_scope)
        S[slot + W_MET] = met + charge
        emit(tracing, tr, T_DED_WINDOW, charge, standard, S[slot + W_OPENED])
        return charge, OK
    charge = min(standard, in_scope)
    emit(tracing, tr, T_DED_PER_VISIT, charge, standard, level)
    if window == WIN_NONE or charge == 0:
        return charge, OK
    slot = free_window(S, window, span, when)
    if slot < 0:
        return charge, WINDOWS_FULL
    S[slot + W_INST] = inst
    S[slot + W_OPENED] = when
    S[slot + W_MET] = charge
    return charge, OK


def window_is_open(window, span, opened, when):
    if opened < 0:
        return False
    if window == WIN_SAME_DAY:
        return opened // SECONDS_PER_DAY == when // SECONDS_PER_DAY
    return when - opened < span


def open_window(S, window, span, inst, when):
    """The state slot of the institution's open deductible window, or -1."""
    if window == WIN_NONE:
        return -1
    for i in range(WINDOWS):
        slot = S_WINDOW + i * W_STRIDE
        if S[slot + W_INST] == inst and window_is_open(window, span, S[slot + W_OPENED], when):
            return slot
    return -1


def free_window(S, window, span, when):
    """A slot whose window is closed (or never used), or -1 when all are open."""
    for i in range(WINDOWS):
        slot = S_WINDOW + i * W_STRIDE
        if not window_is_open(window, span, S[slot + W_OPENED], when):
            return slot
    return -1


def pay_ratio(P, level, klass, base, tracing, tr):
    ratio = P[P_RATIO + klass * N_LEVELS + level]
    fund = apply_ratio(base, ratio)
    emit(tracing, tr, T_RATIO, fund, ratio, base)
    return fund


def apply_caps(P, S, klass, facts, fund, tracing, tr):
    """Monthly then annual cap; one accumulator per pool whatever the class (X-2 merge)."""
    used = S[S_ANNUAL_USED]
    annual = P[P_ANNUAL_CAP + klass]
    if klass == RETIREE and facts & F_SWITCHED_THIS_YEAR != 0 and used > 0:
        emit(tracing, tr, T_RETIREE_MERGED, used, annual, 0)
    monthly = P[P_MONTHLY_CAP + klass]
    if monthly >= 0:
        room = max(monthly - S[S_MONTHLY_USED], 0)
        if fund > room:
            emit(tracing, tr, T_MONTHLY_CAP, fund - room, monthly, S[S_MONTHLY_USED])
            fund = room
    room = max(annual - used, 0)
    if fund > room:
        emit(tracing, tr, T_ANNUAL_CAP, fund - room, annual, used)
        fund = room
    S[S_ANNUAL_USED] = used + fund
    S[S_MONTHLY_USED] += fund
    emit(tracing, tr, T_FUND, fund, used + fund, annual)
    return fund


def pay_account(S, facts, share, tracing, tr):
    """X-5: the member's in-scope share from the personal account, up to its balance."""
    if facts & F_HAS_ACCOUNT == 0:
        emit(tracing, tr, T_NO_ACCOUNT, 0, 0, share)
        return 0
    paid = min(share, S[S_BALANCE])
    S[S_BALANCE] -= paid
    emit(tracing, tr, T_ACCOUNT, paid, S[S_BALANCE], share)
    return paid


# Names the JIT compiles, leaves first (see jit.py).
KERNEL_FUNCTIONS = (
    "apply_ratio",
    "emit",
    "window_is_open",
    "open_window",
    "free_window",
    "condition_fails",
    "roll_year",
    "eligible",
    "covered",
    "charge_deductible",
    "pay_ratio",
    "apply_caps",
    "pay_account",
    "settle_general",
)
