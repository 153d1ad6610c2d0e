"""Index layout of the engine's flat integer records.

The kernel works on three flat integer records so the same code runs in CPython (lists) and
compiled by numba (int64 arrays) for batch replay:
- P: the parameter table of one policy version (compiled from a pack by `tables.py`): one
  block per *benefit line* (general outpatient, chronic disease, emergency rescue, ...);
- S: a member's year-to-date state (explicit and small: it is what the ledger persists):
  per *pool* (the accumulator a cap counts against) the fund paid this year and month and
  the annual deductible met, the account balance, open deductible windows, per-item
  deductibles;
- a trace: (step, amount, a, b) records, rendered to text outside the hot path.
Module-level ints are compile-time constants to numba.
"""

from gongji.terms import Category, Condition, Level, MemberClass, MemberType

# The vocabulary's indices: an enum member's index is its place in its enum (terms.py), and
# every index below is derived from these lists, never written as a number.
LEVELS = list(Level)
CONDITIONS = list(Condition)
MEMBER_TYPES = list(MemberType)
CATEGORIES = list(Category)
CLASSES = list(MemberClass)  # benefit classes
N_LEVELS = len(LEVELS)
N_CONDITIONS = len(CONDITIONS)
N_CLASSES = len(CLASSES)
EMPLOYEE = CLASSES.index(MemberClass.employee)  # benefit class index
RETIREE = CLASSES.index(MemberClass.retiree)

# -- benefit lines and pools ---------------------------------------------------------------
# A line is one way of paying a visit; a category maps to a line, and a line may pass what
# its cap leaves unpaid on to another line (routing). Lines a pack does not define are off.
LINE_NAMES = (
    "general",
    "general_overflow",  # general in-scope cost above its cap (XSBN-11)
    "chronic",
    "special",
    "special_exception",  # special diseases with their own ratio, no deductible (XSBN-13)
    "two_diseases",
    "emergency",
    "negotiated_drug",
    "day_surgery",
)
N_LINES = len(LINE_NAMES)
GENERAL = 0
POOL_NAMES = ("general", "chronic", "special", "two_diseases", "inpatient")
N_POOLS = len(POOL_NAMES)

# -- parameter table P: N_LINES blocks of LINE_SIZE --------------------------------------
DED_NONE, DED_PER_VISIT, DED_ANNUAL, DED_PER_ITEM_YEAR = 0, 1, 2, 3
ENFORCED, EXEMPT = 1, 2  # condition flags
WIN_NONE, WIN_SAME_DAY, WIN_HOURS = 0, 1, 2

L_ON = 0  # 1 where the pack defines the line
L_DED_BASIS = 1
L_DED_WINDOW = 2
L_DED_WINDOW_SPAN = 3  # seconds a WIN_HOURS window stays open after the charged visit
L_DED_YEAR_END = 4  # 1 where a window closes at the end of the year it was opened in
L_DED_LEVEL = 5  # per-visit (or per-item) deductible by level
L_DED_CLASS = L_DED_LEVEL + N_LEVELS  # annual deductible by class
L_LEVEL_OK = L_DED_CLASS + N_CLASSES  # 1 where the level is paid by the line
L_RATIO = L_LEVEL_OK + N_LEVELS  # basis points at [class * N_LEVELS + level]
L_POOL = L_RATIO + N_CLASSES * N_LEVELS  # pool index the line's fund pay counts against
L_DED_POOL = L_POOL + 1  # pool whose annual deductible the line meets (may differ: XSBN-13)
L_ANNUAL_CAP = L_DED_POOL + 1  # by class
L_CAP_PER_EXTRA = L_ANNUAL_CAP + N_CLASSES  # added to the cap per recognised disease past the first
L_CAP_MAX = L_CAP_PER_EXTRA + 1  # ceiling of the grown cap; -1 = no growth
L_MONTHLY_CAP = L_CAP_MAX + 1  # by class; -1 = no monthly cap
L_CONDITION = L_MONTHLY_CAP + N_CLASSES  # ENFORCED or EXEMPT per condition (0: not applied)
L_RAISE_TYPES = L_CONDITION + N_CONDITIONS  # member types raised_contribution binds (bit mask)
L_OVERFLOW = L_RAISE_TYPES + 1  # line that takes what the cap leaves unpaid; -1 = none
LINE_SIZE = L_OVERFLOW + 1
# after the lines' blocks, the version's own parameters
P_ACCOUNT_SHARE = N_LINES * LINE_SIZE  # what the account may pay after the fund
ACCOUNT_IN_SCOPE, ACCOUNT_MEMBER = 0, 1  # the in-scope share; the member's whole share
P_SIZE = P_ACCOUNT_SHARE + 1

# -- member state S -----------------------------------------------------------------------
# A state keeps as many deductible windows as item deductibles: WINDOWS in a new state (the
# common case, and its fixed size); a member who needs more has a grown state, twice the
# slots of both (state.grown). A state's slots follow from its length (state.kept), so one
# of S_SIZE is as stored before states grew, and the kernel reads any size.
WINDOWS = 8  # open per-visit deductible windows kept (one per institution within a day)
W_INST, W_OPENED, W_MET, W_STRIDE = 0, 1, 2, 3
ITEMS = WINDOWS  # per-item-year deductibles kept (negotiated drugs used this year)
I_KEY, I_MET, I_STRIDE = 0, 1, 2
SLOT_STRIDE = W_STRIDE + I_STRIDE  # a window and an item: what a state grows by per slot
PU_ANNUAL, PU_MONTHLY, PU_DED_MET, PU_STRIDE = 0, 1, 2, 3

S_YEAR = 0
S_MONTH = 1  # year * 12 + month - 1
S_BALANCE = 2  # personal account balance (carried across years)
S_POOL = 3  # N_POOLS x (fund paid this year, this month, annual deductible met)
S_WINDOW = S_POOL + N_POOLS * PU_STRIDE  # kept x (institution, opened at [s], met)
S_ITEM = S_WINDOW + WINDOWS * W_STRIDE  # kept x (item key, deductible met); key 0 = free
# (S_ITEM is where items start in a state of S_SIZE; state.item_base(S) in any state)
S_SIZE = S_ITEM + ITEMS * I_STRIDE
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
F_ACCOUNT_DECLINED = 1 << 12  # the member chose not to pay from the account this time
F_NO_AGREEMENT = 1 << 13  # not a designated institution (定点): the account may not pay there

# -- conditions: the index of each in L_CONDITION's block and in T_CONDITION + index ----------
C_DESIGNATED = CONDITIONS.index(Condition.designated)
C_BENEFIT_PERIOD = CONDITIONS.index(Condition.benefit_period)
C_NOT_INPATIENT = CONDITIONS.index(Condition.not_inpatient)
C_NOT_IN_ARREARS = CONDITIONS.index(Condition.not_in_arrears)
C_HAS_ACCOUNT = CONDITIONS.index(Condition.has_account)
C_RAISED_CONTRIBUTION = CONDITIONS.index(Condition.raised_contribution)
C_REMOTE_FILING = CONDITIONS.index(Condition.remote_filing)
C_REMOTE_DIRECT = CONDITIONS.index(Condition.remote_direct_settlement)
C_NO_THIRD_PARTY = CONDITIONS.index(Condition.no_third_party)

# -- trace steps ---------------------------------------------------------------------------
T_YEAR_RESET = 0
T_CONDITION = 1  # + condition index: the condition failed, the line pays nothing
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
T_LINE = T_CASH + 1  # amount = line index: the steps that follow belong to that line
T_OVERFLOW = T_LINE + 1  # amount = cost passed on, a = to line
T_DED_ITEM = T_OVERFLOW + 1  # per item per year deductible; b = item deductible met before
T_EXEMPT = T_DED_ITEM + 1  # a = condition index the line is expressly not limited by
T_INTERNET = T_EXEMPT + 1  # recorded before the kernel: a = the physical institution's level
T_PRESCRIPTION = T_INTERNET + 1  # recorded before the kernel: a = pharmacy, b = prescriber level
T_OUT_OF_SCOPE = T_PRESCRIPTION + 1  # recorded before the kernel from line-item pricing
T_ABOVE_STANDARD = T_OUT_OF_SCOPE + 1
T_CLASS_B = T_ABOVE_STANDARD + 1
T_ACCOUNT_DECLINED = T_CLASS_B + 1  # b = the in-scope share, paid in cash at the member's wish
T_ACCOUNT_NOT_DESIGNATED = T_ACCOUNT_DECLINED + 1  # b = the in-scope share, paid in cash
# recorded before the kernel: the visit's category is paid by another line's policy, as its
# disease is not (T_UNRECOGNISED) or is (T_RECOGNISED) among the member's recognised
# diseases; a = the category's line (whose rule it cites), b = the line that pays
T_UNRECOGNISED = T_ACCOUNT_NOT_DESIGNATED + 1
T_RECOGNISED = T_UNRECOGNISED + 1
# recorded before the kernel: b of the member's recognised diseases do not raise the cap of
# line a (XSBN-12/13: the special ones)
T_NOT_COUNTED = T_RECOGNISED + 1
N_STEPS = T_NOT_COUNTED + 1
TRACE_STRIDE = 4  # step, amount, a, b
# A visit records at most: 7 steps before the kernel, a year reset, and per line it passes
# through (each line at most once) a line mark, one step per condition, level, deductible,
# ratio, retiree merge, two caps, fund and overflow; then account and cash.
MAX_STEPS = 7 + 1 + N_LINES * (1 + N_CONDITIONS + 8) + 2
TRACE_CAPACITY = 1 + MAX_STEPS * TRACE_STRIDE

# -- result status -------------------------------------------------------------------------
# The kernel's own, then the refusals made before the kernel runs; and each one's error code
# (EngineError.code, and the status column of the replay's results).
OK = 0
# S too small: more institutions with an open deductible window, or more items with a yearly
# deductible, than S keeps. Never a refusal: the caller grows S and settles the visit again.
WINDOWS_FULL = 1
ITEMS_FULL = 2
NO_POLICY = 3  # no policy version in force on the visit's day
NO_CATEGORY = 4  # the version does not pay the visit's category
STATUS_CODES = {
    OK: "",
    WINDOWS_FULL: "E_WINDOWS_FULL",
    ITEMS_FULL: "E_ITEMS_FULL",
    NO_POLICY: "E_NO_POLICY",
    NO_CATEGORY: "E_CATEGORY",
}


def line_index(name: str) -> int:
    return LINE_NAMES.index(name)


def pool_index(name: str) -> int:
    return POOL_NAMES.index(name)
