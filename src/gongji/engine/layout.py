"""Index layout of the engine's flat integer records.

The kernel works on three flat integer records so the same code runs in CPython (lists) and
compiled by numba (int64 arrays) for batch replay:
- P: the parameter table of one policy version (compiled from a pack by `tables.py`);
- S: a member's year-to-date state (explicit and small: it is what the ledger persists);
- a trace: (step, amount, a, b) records, rendered to text outside the hot path.
Module-level ints are compile-time constants to numba.
"""

from gongji.terms import Condition, Level, MemberType

N_LEVELS = len(Level)
N_CONDITIONS = len(Condition)
LEVELS = list(Level)
CONDITIONS = list(Condition)
MEMBER_TYPES = list(MemberType)
EMPLOYEE, RETIREE = 0, 1  # benefit class index

# -- parameter table P --------------------------------------------------------------------
DED_PER_VISIT, DED_ANNUAL = 1, 2
WIN_NONE, WIN_SAME_DAY, WIN_HOURS = 0, 1, 2

P_DED_BASIS = 0
P_DED_WINDOW = 1
P_DED_WINDOW_SPAN = 2  # seconds a WIN_HOURS window stays open after the charged visit
P_DED_LEVEL = 3  # per-visit deductible by level
P_DED_CLASS = P_DED_LEVEL + N_LEVELS  # annual deductible by class
P_LEVEL_OK = P_DED_CLASS + 2  # 1 where the level is in general outpatient pooling
P_RATIO = P_LEVEL_OK + N_LEVELS  # basis points at [class * N_LEVELS + level]
P_ANNUAL_CAP = P_RATIO + 2 * N_LEVELS  # by class
P_MONTHLY_CAP = P_ANNUAL_CAP + 2  # by class; -1 = no monthly cap
P_CONDITION = P_MONTHLY_CAP + 2  # 1 where the pack enforces the condition
P_RAISE_TYPES = P_CONDITION + N_CONDITIONS  # bit mask of member types raised_contribution binds
P_SIZE = P_RAISE_TYPES + 1

# -- member state S -----------------------------------------------------------------------
WINDOWS = 8  # open per-visit deductible windows kept (one per institution within a day)
W_INST, W_OPENED, W_MET, W_STRIDE = 0, 1, 2, 3

S_YEAR = 0
S_MONTH = 1  # year * 12 + month - 1
S_DED_MET = 2  # annual cumulative deductible met
S_ANNUAL_USED = 3  # fund paid this year from the general outpatient pool
S_MONTHLY_USED = 4  # fund paid this month
S_BALANCE = 5  # personal account balance (carried across years)
S_WINDOW = 6  # WINDOWS x (institution key, opened at [s], deductible met); opened -1 = free
S_SIZE = S_WINDOW + WINDOWS * W_STRIDE
SECONDS_PER_DAY = 86_400  # calendar arithmetic (same-day windows), not a policy value

# -- facts about one visit, computed from the member's record ------------------------------
F_DESIGNATED = 1 << 0
F_IN_BENEFIT = 1 << 1
F_IN_STAY = 1 << 2
F_IN_ARREARS = 1 << 3
F_HAS_ACCOUNT = 1 << 4
F_RAISED = 1 << 5
F_REMOTE = 1 << 6
F_FILED = 1 << 7
F_MANUAL = 1 << 8
F_THIRD_PARTY = 1 << 9
F_RETIRED = 1 << 10
F_SWITCHED_THIS_YEAR = 1 << 11  # retired earlier in the visit's year (caps merge)

# -- trace steps ---------------------------------------------------------------------------
T_YEAR_RESET = 0
T_CONDITION = 1  # + condition index: the condition failed, the fund pays nothing
T_LEVEL_NOT_COVERED = T_CONDITION + N_CONDITIONS
T_DED_ANNUAL = T_LEVEL_NOT_COVERED + 1
T_DED_PER_VISIT = T_DED_ANNUAL + 1
T_DED_WINDOW = T_DED_PER_VISIT + 1
T_DED_NONE = T_DED_WINDOW + 1
T_RATIO = T_DED_NONE + 1
T_RETIREE_MERGED = T_RATIO + 1
T_MONTHLY_CAP = T_RETIREE_MERGED + 1
T_ANNUAL_CAP = T_MONTHLY_CAP + 1
T_FUND = T_ANNUAL_CAP + 1
T_ACCOUNT = T_FUND + 1
T_NO_ACCOUNT = T_ACCOUNT + 1
T_CASH = T_NO_ACCOUNT + 1
N_STEPS = T_CASH + 1
TRACE_STRIDE = 4  # step, amount, a, b

# -- kernel status -------------------------------------------------------------------------
OK = 0
WINDOWS_FULL = 1
