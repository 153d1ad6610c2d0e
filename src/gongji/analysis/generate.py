"""Synthetic members and a year of their visits for one region: what `gongji generate` writes
(out/members.parquet and out/visits.parquet, schemas MEMBERS and VISITS of `schema.py`).

Deterministic: the same region, member count, year and seed give byte-identical files (numpy
PCG64, seeded from the seed, a BLAKE2 digest of the region, the year and the chunk's number).
Members are made in chunks of consecutive ids and each chunk is written as one Parquet row
group, its visits sorted by (member_id, time), so memory stays bounded at any size.

Only days on which a version of the pack is in force get visits, and only categories that
every version in force that year pays. Amounts are drawn as floats in yuan and rounded to
integer fen before they are stored. The assumptions (λ: a Poisson mean per member and year,
scaled by the member's frailty, a Gamma(2, 0.5) factor with mean 1; LN(m, σ): a lognormal
with median m yuan):

=================  ===========================  ===========================  ====================
What               How often                    Distribution                 Why plausible
=================  ===========================  ===========================  ====================
member type        employee 60%, retiree 27%,   categorical                  ~1 retiree per 2.7
                   flexible 10%, single_pool                                 contributors
                   3% (where the pack lists it
                   in without_account)
age                every member                 employee N(40, 10),          working ages;
                                                flexible N(42, 9),           retirees mostly in
                                                single_pool N(45, 9) in      their sixties
                                                18-60; retiree 55 +
                                                Gamma(2, 6), at most 90
sex                M 55% (retirees 45%)         Bernoulli                    women retire
                                                                             earlier, live longer
contribution base  contributors; 0 for          LN(6000, 0.45) within        60-300% of the
                   retirees                     4,000-20,000; 60% of         average wage
                                                flexible workers at the
                                                floor
has_account        type not in the version's    -                            the rule itself
                   without_account
contribution       90%                          Bernoulli                    most pay the raised
raised                                                                       rate where needed
balance, 1         members with an account      LN(2000, 1.0), retirees      years of credits,
January            (else 0)                     LN(3000, 1.0); at most       skewed by spending
                                                100,000
chronic diseases   at age 60: hypertension      Bernoulli each, scaled by    certified
                   15%, diabetes 8%, coronary   (age - 20) / 40 in           conditions, rising
                   4%, copd 2.5%, tumour 1%,    0.05-1.75                    with age
                   renal failure 0.6%, pack's
                   exception diseases 0.4%
recognised         every disease, but where     Bernoulli                    most 两病 patients
(chronic_diseases) the pack pays two_diseases:                               do not meet the
                   hypertension and diabetes                                 chronic criteria
                   30% (PZH-10)
retires this year  4% of employees aged 55-60   processed on a uniform day;  a small cohort each
                                                retired_from by the pack's   year
                                                timing
earlier            60% of retirees (else null)  a month 1+ years back, at    old records lack
retirement                                      60 (men) or 55 (women)       dates
inpatient stay     employees 8%, retirees 20%,  one, 3 + Exp(5) days, at     admission rates by
                   others 6%                    most 20                      age
remote filing      retirees 6%, others 2%       from a month's first day,    retirees living away
                                                2-6 months
arrears            10% of flexible workers      1-2 whole months             they pay themselves
benefit periods    5% of flexible workers;      from 1 April-October to 31   a new joiner's wait
                   null for the rest            December
general visits     λ = 6 + 0.1 (age - 20),      Poisson x frailty; days      use rises with age
                   6-10; retirees 16 + 0.4      weighted Sat 0.75, Sun 0.6
                   (age - 55), 16-30
their level        employees / retirees:        categorical                  most care near home
                   primary 30/40%, level1
                   12/14%, level2 22/18%,
                   level3 18/12%, pharmacy
                   18/16%
their cost         primary LN(60, 0.8), level1  5 to 20,000 yuan             typical bills
                   LN(90), level2 LN(180),
                   level3 LN(350), pharmacy
                   LN(80)
chronic visits     each recognised disease,     one a month; two diseases    monthly
                   80% of months                LN(150, 0.5), other chronic  prescriptions
                                                LN(250, 0.6), special
                                                LN(1500, 0.7)
their category     two_diseases (hypertension,  -                            the categories'
                   diabetes), special (renal                                 definitions
                   failure, tumour, exception
                   diseases), else chronic;
                   general where not paid
their disease      the one drawn; 3% of         uniform over the diseases    a claim for another
                   chronic and special visits                                disease (JMS-18,
                   any disease (often one not                                PZH-11)
                   recognised)
emergency          λ = 0.05, retirees 0.15,     LN(1200, 0.9), level1-3,     rare, costly
                   where paid                   any hour
day surgery        λ = 0.02, retirees 0.05,     LN(6000, 0.5), level2-3      rare, costly
                   where paid
negotiated drug    30% of members with a        monthly (90%) from a         costly drugs
                   special disease, where paid  uniform month; one of        dispensed monthly
                                                XJ01-XJ12; LN(3000, 0.5),
                                                level2-3
visit in a stay    90% of those drawn are       -                            inpatients seldom
                   dropped                                                   visit clinics
time of day        92% in opening hours         uniform: hospitals           clinics keep hours
                                                08:00-17:30, pharmacies
                                                08:00-21:00; else any hour
in_scope           every visit                  total x (60% + 40% Beta(4,   most of a bill is in
                                                1.2)), mean 91%              the catalogue
remote             70% of visits in a filing,   Bernoulli; another city's    filed members are
                   0.4% of others               institution                  away
designated,        97%; 0.3% (remote 15%);      Bernoulli                    most care is
manual,            0.3%                                                      designated, online
third_party
internet           1% of hospital visits,       Bernoulli                    a small channel
                   where the channel exists
use_account        93%                          Bernoulli                    the default
prescription       30% of pharmacy sales,       primary 30%, level1 15%,     circulated
level              where the channel exists     level2 30%, level3 25%       prescriptions
institutions       160 primary, 60 level1, 30   popularity 1 / (rank + 3)    a prefecture's
                   level2, 12 level3, 200                                    network
                   pharmacies; 6 a level in 3
                   other cities
=================  ===========================  ===========================  ====================
"""

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from gongji.analysis.schema import MEMBERS, VISITS
from gongji.engine import layout as L
from gongji.engine import retirement_effective, tables_on
from gongji.engine.facts import day_number, day_of
from gongji.policy import Pack, load_region
from gongji.terms import Category, Level, MemberType

CHUNK = 50_000  # members per chunk (one row group in each file)

TYPES = L.MEMBER_TYPES
LEVELS = L.LEVELS
CATEGORIES = L.CATEGORIES
EMP, RET, FLEX, SINGLE = (
    TYPES.index(t)
    for t in (MemberType.employee, MemberType.retiree, MemberType.flexible, MemberType.single_pool)
)
PHARMACY = LEVELS.index(Level.pharmacy)
# The order of the per-level lists below; _by_level puts them in the levels' index order.
LEVEL_COLUMNS = (Level.primary, Level.level1, Level.level2, Level.level3, Level.pharmacy)


def _by_level(values: list) -> list:
    """A list written in LEVEL_COLUMNS' order, in the order of level indices."""
    return [values[LEVEL_COLUMNS.index(lv)] for lv in LEVELS]


TYPE_SHARE = {MemberType.employee: 0.60, MemberType.retiree: 0.27, MemberType.flexible: 0.10}
SINGLE_POOL_SHARE = 0.03

# Recognised disease codes and their prevalence at age 60; exception diseases are added.
PREVALENCE = {
    "hypertension": 0.15,
    "diabetes": 0.08,
    "coronary_heart_disease": 0.04,
    "copd": 0.025,
    "chronic_renal_failure": 0.006,
    "malignant_tumor": 0.01,
}
EXCEPTION_PREVALENCE = 0.004
TWO_DISEASES = {"hypertension", "diabetes"}
TWO_RECOGNISED = 0.3  # a 两病 patient recognised for the chronic policy (PZH-10)
OTHER_DISEASE = 0.03  # a chronic or special visit claimed for any disease (JMS-18, PZH-11)
SPECIAL_DISEASES = {"chronic_renal_failure", "malignant_tumor"}  # plus exception diseases
DRUGS = [f"XJ{k:02d}" for k in range(1, 13)]

# Care kinds: what a visit's cost is drawn by. A general visit's kind is its level's index.
K_CHRONIC, K_TWO, K_SPECIAL, K_EMERGENCY, K_DAY_SURGERY, K_DRUG = range(
    len(LEVELS), len(LEVELS) + 6
)
COST = np.array(  # (median yuan, sigma, cap yuan) per kind
    [
        *_by_level(  # general visits at each level
            [
                (60, 0.8, 20_000),
                (90, 0.8, 20_000),
                (180, 0.8, 20_000),
                (350, 0.8, 20_000),
                (80, 0.8, 20_000),
            ]
        ),
        (250, 0.6, 20_000),
        (150, 0.5, 20_000),
        (1500, 0.7, 100_000),
        (1200, 0.9, 100_000),
        (6000, 0.5, 100_000),
        (3000, 0.5, 100_000),
    ]
)
GENERAL_LEVELS = {  # level mix of general visits: non-retirees, retirees
    False: _by_level([0.30, 0.12, 0.22, 0.18, 0.18]),
    True: _by_level([0.40, 0.14, 0.18, 0.12, 0.16]),
}
KIND_LEVELS = {  # level mix of the other kinds
    K_CHRONIC: _by_level([0.40, 0.15, 0.28, 0.17, 0]),
    K_TWO: _by_level([0.40, 0.15, 0.28, 0.17, 0]),
    K_SPECIAL: _by_level([0, 0, 0.4, 0.6, 0]),
    K_EMERGENCY: _by_level([0, 0.1, 0.45, 0.45, 0]),
    K_DAY_SURGERY: _by_level([0, 0, 0.4, 0.6, 0]),
    K_DRUG: _by_level([0, 0, 0.3, 0.7, 0]),
}
PRESCRIBER_LEVELS = _by_level([0.30, 0.15, 0.30, 0.25, 0])
LOCAL_POOL = _by_level([160, 60, 30, 12, 200])  # institutions per level
REMOTE_CITIES = ("110100", "310100", "440100")  # Beijing, Shanghai, Guangzhou
REMOTE_PER_CITY = 2


def generate(
    region: str,
    members: int,
    year: int,
    out: Path,
    seed: int = 1,
    progress: Callable[[int], None] | None = None,
) -> tuple[int, int]:
    """Write out/members.parquet and out/visits.parquet; return (members, visits)."""
    if members < 0 or seed < 0:
        raise ValueError("members and seed must not be negative")
    pack = load_region(region)
    yr = _year_of(pack, year)
    inst = _Institutions.of(pack.admdvs)
    root = [seed, _digest(region), year]
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = {name: out / f"{name}.parquet" for name in ("members", "visits")}
    tmp = {name: p.with_name(p.name + ".partial") for name, p in paths.items()}
    visits = 0
    # written under temporary names, so an interrupted run leaves no file that looks complete
    try:
        with (
            pq.ParquetWriter(tmp["members"], MEMBERS, compression="zstd") as mw,
            # LZ4: a replay reads it a third faster than zstd, for a quarter more bytes
            pq.ParquetWriter(tmp["visits"], VISITS, compression="lz4") as vw,
        ):
            for chunk, first in enumerate(range(0, members, CHUNK)):
                # one stream per chunk: the data depends on the seed, not on the machine
                seeds = np.random.SeedSequence([*root, chunk])
                rng = np.random.Generator(np.random.PCG64(seeds))
                n = min(CHUNK, members - first)
                pop, member_table = _members(rng, first + 1, n, yr)
                visit_table = _visits(rng, pop, yr, inst, visits + 1)
                mw.write_table(member_table)
                vw.write_table(visit_table)
                visits += visit_table.num_rows
                if progress:
                    progress(first + n)
    except BaseException:
        for p in tmp.values():
            p.unlink(missing_ok=True)
        raise
    for name, p in paths.items():
        os.replace(tmp[name], p)
    return members, visits


def _digest(region: str) -> int:
    """A stable integer for the region (Python's hash() changes from run to run)."""
    return int.from_bytes(hashlib.blake2b(region.encode(), digest_size=8).digest())


# -- the year as the pack sees it ----------------------------------------------------------


@dataclass(frozen=True)
class _Year:
    pack: Pack
    year: int
    days: np.ndarray  # days in force, as days since 1970, ascending
    weights: np.ndarray  # a general visit's chance to fall on each of them
    month_first: np.ndarray  # per month with days in force: index of its first day in `days`
    month_count: np.ndarray  # ... and how many
    month_start: np.ndarray  # ... the first of that calendar month, days since 1970
    categories: frozenset[Category]
    without_account: frozenset[MemberType]
    diseases: tuple[str, ...]  # recognised disease codes: PREVALENCE's, then exception ones
    special: np.ndarray  # bool per disease: a special disease
    internet: bool
    prescription: bool

    @property
    def end(self) -> int:
        """31 December, days since 1970."""
        return day_number(date(self.year, 12, 31))


def _year_of(pack: Pack, year: int) -> _Year:
    first = date(year, 1, 1)
    in_force = [
        d
        for d in (first + timedelta(days=i) for i in range((date(year + 1, 1, 1) - first).days))
        if pack.version_index_on(d) is not None
    ]
    if not in_force:
        last = pack.versions[-1].valid_to
        raise ValueError(
            f"no {pack.region} policy is in force in {year}: the pack covers "
            f"{pack.versions[0].valid_from} to {last or 'today'}"
        )
    versions = {pack.version_index_on(d): d for d in in_force}  # one day of each version
    tables = [tables_on(pack, d) for d in versions.values()]
    chosen = [pack.versions[i] for i in versions]
    exceptions = sorted(set().union(*(t.exception_diseases for t in tables)) - set(PREVALENCE))
    diseases = (*PREVALENCE, *exceptions)
    days = np.array([day_number(d) for d in in_force], dtype=np.int64)
    weekday = (days + 3) % 7  # 1 January 1970 was a Thursday; Monday is 0
    weights = np.select([weekday == 5, weekday == 6], [0.75, 0.6], 1.0)
    months = np.array([d.month for d in in_force])
    month_first = np.flatnonzero(np.diff(months, prepend=0))
    return _Year(
        pack=pack,
        year=year,
        days=days,
        weights=weights / weights.sum(),
        month_first=month_first,
        month_count=np.diff(month_first, append=len(days)),
        month_start=np.array(
            [day_number(in_force[i].replace(day=1)) for i in month_first], dtype=np.int64
        ),
        categories=frozenset.intersection(*(frozenset(t.entry) for t in tables)),
        without_account=frozenset(chosen[0].accounts.without_account),
        diseases=diseases,
        special=np.array([d in SPECIAL_DISEASES or d in exceptions for d in diseases]),
        internet=all(v.channels.internet is not None for v in chosen),
        prescription=all(v.channels.prescription is not None for v in chosen),
    )


# -- institutions ----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Institutions:
    """Codes with a fixed level each: local pools per level, then remote pools per level."""

    codes: pa.Array
    start: np.ndarray  # [remote, level] -> index of the pool's first code
    popularity: list[list[np.ndarray]]  # [remote][level] -> choice probabilities

    @classmethod
    def of(cls, admdvs: str) -> "_Institutions":
        codes: list[str] = []
        start = np.zeros((2, len(LEVELS)), dtype=np.int64)
        popularity: list[list[np.ndarray]] = [[], []]
        numbered = {"H": 0, "P": 0}  # hospitals and pharmacies are numbered apart
        for remote in (0, 1):
            for level in range(len(LEVELS)):
                start[remote, level] = len(codes)
                prefix = "P" if level == PHARMACY else "H"
                cities = (
                    [c for c in REMOTE_CITIES for _ in range(REMOTE_PER_CITY)]
                    if remote
                    else [admdvs] * LOCAL_POOL[level]
                )
                for city in cities:
                    numbered[prefix] += 1
                    codes.append(f"{prefix}{city}{numbered[prefix]:04d}")
                w = 1 / (np.arange(len(codes) - start[remote, level]) + 3)  # a few are busy
                popularity[remote].append(w / w.sum())
        return cls(pa.array(codes, pa.string()), start, popularity)

    def choose(self, rng: np.random.Generator, level: np.ndarray, remote: np.ndarray) -> np.ndarray:
        """An institution of each visit's level, local or in another city."""
        idx = np.empty(len(level), dtype=np.int64)
        for r in (0, 1):
            for lv in range(len(LEVELS)):
                sel = np.flatnonzero((level == lv) & (remote == r))
                p = self.popularity[r][lv]
                idx[sel] = self.start[r, lv] + rng.choice(len(p), size=len(sel), p=p)
        return idx


# -- members ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Population:
    """What visits are drawn from, per member of the chunk."""

    first_id: int
    type: np.ndarray
    age: np.ndarray
    frailty: np.ndarray  # Gamma(2, 0.5): some members simply use more care
    diseases: np.ndarray  # bool [member, disease]: has it (visits are drawn for it)
    stay: np.ndarray  # [member, (start, end)], days since 1970; -1 without a stay
    filing: np.ndarray  # the same for the remote filing

    @property
    def retiree(self) -> np.ndarray:
        return self.type == RET


def _members(
    rng: np.random.Generator, first_id: int, n: int, yr: _Year
) -> tuple[_Population, pa.Table]:
    shares = [TYPE_SHARE.get(t, 0.0) for t in TYPES]
    if MemberType.single_pool in yr.without_account:
        shares[SINGLE] = SINGLE_POOL_SHARE
    mtype = rng.choice(len(TYPES), size=n, p=np.array(shares) / sum(shares))
    retiree = mtype == RET
    age = _ages(rng, mtype)
    male = rng.random(n) < np.where(retiree, 0.45, 0.55)
    has_account = ~np.isin(mtype, [TYPES.index(t) for t in yr.without_account])
    diseases = _diseases(rng, age, yr)
    recognised = _recognised(rng, diseases, yr)
    stay = _one_period(rng, np.select([mtype == EMP, retiree], [0.08, 0.20], 0.06), yr, "stay")
    filing = _one_period(rng, np.where(retiree, 0.06, 0.02), yr, "filing")
    flexible = mtype == FLEX
    arrears = _one_period(rng, np.where(flexible, 0.10, 0.0), yr, "arrears")
    benefit = _one_period(rng, np.where(flexible, 0.05, 0.0), yr, "benefit")
    balance = rng.lognormal(np.log(np.where(retiree, 3000, 2000)), 1.0)
    pop = _Population(first_id, mtype, age, rng.gamma(2.0, 0.5, n), diseases, stay, filing)
    columns = [
        pa.array(np.arange(first_id, first_id + n, dtype=np.int64)),
        _names(TYPES, mtype),
        pa.array(age.astype(np.int16)),
        pa.array(np.where(male, "M", "F"), pa.string()),
        pa.array(_contribution_base(rng, mtype)),
        pa.array(has_account),
        _retired_from(rng, mtype, age, male, yr),
        pa.array(rng.random(n) < 0.9),
        pa.array(np.where(has_account, _fen(np.minimum(balance, 100_000)), 0)),
        _disease_lists(recognised, yr),
        _periods(benefit, nullable=True),
        _periods(stay),
        _periods(arrears),
        _periods(filing),
    ]
    return pop, pa.Table.from_arrays(columns, schema=MEMBERS)


def _ages(rng: np.random.Generator, mtype: np.ndarray) -> np.ndarray:
    mean = np.select([mtype == FLEX, mtype == SINGLE], [42, 45], 40)
    working = np.clip(np.rint(rng.normal(mean, np.where(mtype == EMP, 10, 9))), 18, 60)
    retired = np.minimum(55 + np.floor(rng.gamma(2.0, 6.0, len(mtype))), 90)
    return np.where(mtype == RET, retired, working).astype(np.int64)


def _contribution_base(rng: np.random.Generator, mtype: np.ndarray) -> np.ndarray:
    """Yuan a month, in fen: the employer's declared wage within the floor and ceiling; many
    flexible workers choose the floor; retirees contribute nothing."""
    floor, ceiling = 4_000, 20_000
    base = np.clip(rng.lognormal(np.log(6_000), 0.45, len(mtype)), floor, ceiling)
    at_floor = (mtype == FLEX) & (rng.random(len(mtype)) < 0.6)
    base = np.where(at_floor, floor, base)
    return np.where(mtype == RET, 0, np.rint(base) * 100).astype(np.int64)


def _diseases(rng: np.random.Generator, age: np.ndarray, yr: _Year) -> np.ndarray:
    prevalence = np.array([PREVALENCE.get(d, EXCEPTION_PREVALENCE) for d in yr.diseases])
    by_age = np.clip((age - 20) / 40, 0.05, 1.75)  # recognised conditions grow with age
    return rng.random((len(age), len(prevalence))) < by_age[:, None] * prevalence[None, :]


def _recognised(rng: np.random.Generator, diseases: np.ndarray, yr: _Year) -> np.ndarray:
    """The diseases recorded as recognised (chronic_diseases): all a member has, but where
    the pack pays 两病 care, hypertension and diabetes only for the share that meets the
    chronic criteria (PZH-10); the others are 两病 patients only."""
    two = np.isin(np.array(yr.diseases), list(TWO_DISEASES))
    if Category.two_diseases not in yr.categories:
        return diseases
    meets = rng.random(diseases.shape) < TWO_RECOGNISED
    return diseases & (~two[None, :] | meets)


def _one_period(rng: np.random.Generator, chance: np.ndarray, yr: _Year, kind: str) -> np.ndarray:
    """At most one period per member, within the year: [member, (start, end)], -1 for none."""
    n = len(chance)
    has = rng.random(n) < chance
    month = rng.integers(0, len(yr.month_start), n)
    if kind == "stay":
        start = yr.days[rng.integers(0, len(yr.days), n)]
        end = start + np.minimum(2 + np.floor(rng.exponential(5.0, n)), 19).astype(np.int64)
    elif kind == "filing":
        start = yr.month_start[month]
        end = _month_end(yr, month + rng.integers(1, 6, n))
    elif kind == "arrears":
        start = yr.month_start[month]
        end = _month_end(yr, month + rng.integers(0, 2, n))
    else:  # a benefit period after a new joiner's wait: from April to October, to year end
        start = _month_start(yr.year, rng.integers(4, 11, n))
        end = np.full(n, yr.end)
    period = np.stack([start, np.minimum(end, yr.end)], axis=1)
    return np.where(has[:, None], period, -1)


def _month_start(year: int, month: np.ndarray) -> np.ndarray:
    """The first of each month (1-12; 13 is next January), days since 1970."""
    months = (year - 1970) * 12 + month - 1
    return months.astype("datetime64[M]").astype("datetime64[D]").astype(np.int64)


def _month_end(yr: _Year, index: np.ndarray) -> np.ndarray:
    """The last day of the month `index` months after the year's first month in force."""
    first_month = (yr.month_start[0].astype("datetime64[D]").astype("datetime64[M]")).astype(int)
    months = first_month + index + 1
    return months.astype("datetime64[M]").astype("datetime64[D]").astype(np.int64) - 1


def _retired_from(rng, mtype, age, male, yr: _Year) -> pa.Array:
    """Employees aged 55-60 who retire this year switch on the day the pack's timing gives;
    retirees' earlier dates are often missing from old records."""
    n = len(mtype)
    days = np.zeros(n, dtype=np.int64)
    switching = np.flatnonzero((mtype == EMP) & (age >= 55) & (rng.random(n) < 0.04))
    for i, d in zip(switching, rng.choice(yr.days, len(switching)), strict=True):
        processed = day_of(int(d))
        timing = yr.pack.version_on(processed).retirement.takes_effect
        days[i] = day_number(retirement_effective(processed, timing))
    retired = (mtype == RET) & (rng.random(n) < 0.6)
    years_ago = np.maximum(1, age - np.where(male, 60, 55))
    past = _month_start(yr.year, 1 - 12 * years_ago + rng.integers(0, 12, n))
    days = np.where(retired, past, days)
    known = retired.copy()
    known[switching] = True
    return pa.array(days.astype("datetime64[D]"), pa.date32(), mask=~known)


def _disease_lists(diseases: np.ndarray, yr: _Year) -> pa.Array:
    member, disease = np.nonzero(diseases)
    offsets = np.concatenate([[0], np.cumsum(np.bincount(member, minlength=len(diseases)))])
    return pa.ListArray.from_arrays(pa.array(offsets, pa.int32()), _names(yr.diseases, disease))


def _periods(period: np.ndarray, nullable: bool = False) -> pa.Array:
    """One list per member of its (at most one) period; null instead of [] where `nullable`."""
    has = period[:, 0] >= 0
    offsets = np.concatenate([[0], np.cumsum(has)]).astype(np.int32)
    start, end = (pa.array(period[has, i].astype("datetime64[D]"), pa.date32()) for i in (0, 1))
    values = pa.StructArray.from_arrays([start, end], names=["start", "end"])
    mask = pa.array(~has) if nullable else None
    return pa.ListArray.from_arrays(pa.array(offsets), values, mask=mask)


# -- visits ----------------------------------------------------------------------------------


def _visits(
    rng: np.random.Generator, pop: _Population, yr: _Year, inst: _Institutions, first_id: int
) -> pa.Table:
    parts = [_general(rng, pop, yr), *_chronic(rng, pop, yr), *_rare(rng, pop, yr)]
    v = {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}
    v = _keep(v, ~_in(pop.stay, v["member"], v["day"]) | (rng.random(len(v["day"])) < 0.1))
    n = len(v["day"])
    time = v["day"] * L.SECONDS_PER_DAY + _seconds(rng, v["kind"], v["level"])
    order = np.lexsort((time, v["member"]))
    v = {key: a[order] for key, a in v.items()}
    time, level, kind = time[order], v["level"], v["kind"]
    filed = _in(pop.filing, v["member"], v["day"])
    remote = np.where(filed, rng.random(n) < 0.7, rng.random(n) < 0.004)
    total = _cost(rng, kind)
    in_scope = np.rint(total * (0.6 + 0.4 * rng.beta(4.0, 1.2, n))).astype(np.int64)
    hospital = level != PHARMACY
    prescribed = ~hospital & (rng.random(n) < 0.3) & yr.prescription
    prescriber = rng.choice(len(LEVELS), n, p=PRESCRIBER_LEVELS)
    columns = [
        pa.array(np.arange(first_id, first_id + n, dtype=np.int64)),
        pa.array(pop.first_id + v["member"]),
        pa.array(time.astype("datetime64[s]")),
        inst.codes.take(pa.array(inst.choose(rng, level, remote))),
        _names(LEVELS, level),
        _names(CATEGORIES, v["category"]),
        _names(yr.diseases, v["disease"]),
        _names(DRUGS, v["drug"]),
        pa.array(total),
        pa.array(np.minimum(in_scope, total)),
        pa.array(remote),
        pa.array(rng.random(n) < 0.97),  # designated
        pa.array(rng.random(n) < np.where(remote, 0.15, 0.003)),  # manual
        pa.array(rng.random(n) < 0.003),  # third_party
        pa.array(hospital & (kind < K_CHRONIC) & (rng.random(n) < 0.01) & yr.internet),
        pa.array(rng.random(n) < 0.93),  # use_account
        _names(LEVELS, np.where(prescribed, prescriber, -1)),
    ]
    return pa.Table.from_arrays(columns, schema=VISITS)


def _part(member, day, kind, level, category, disease=None, drug=None) -> dict[str, np.ndarray]:
    """One kind of visits, as arrays of equal length (-1 for no disease or drug)."""
    none = np.full(len(member), -1, dtype=np.int64)
    return {
        "member": member.astype(np.int64),
        "day": day,
        "kind": kind,
        "level": level,
        "category": np.full(len(member), CATEGORIES.index(category), dtype=np.int64)
        if isinstance(category, Category)
        else category,
        "disease": none if disease is None else disease,
        "drug": none if drug is None else drug,
    }


def _general(rng: np.random.Generator, pop: _Population, yr: _Year) -> dict[str, np.ndarray]:
    age = pop.age
    rate = np.where(pop.retiree, 16 + 0.4 * (age - 55), 6 + 0.1 * (age - 20))
    member = np.repeat(np.arange(len(age)), rng.poisson(rate * pop.frailty))
    day = rng.choice(yr.days, len(member), p=yr.weights)
    retiree = pop.retiree[member]
    level = np.where(
        retiree,
        rng.choice(len(LEVELS), len(member), p=GENERAL_LEVELS[True]),
        rng.choice(len(LEVELS), len(member), p=GENERAL_LEVELS[False]),
    )
    return _part(member, day, level, level, Category.general)


def _chronic(rng: np.random.Generator, pop: _Population, yr: _Year) -> list[dict]:
    """Monthly visits for each recognised disease, and negotiated drugs for some special
    diseases: under the category the pack pays them as, else as general visits."""
    member, disease = np.nonzero(pop.diseases)
    month_of, day = _monthly(rng, len(member), np.zeros(len(member), dtype=np.int64), 0.8, yr)
    member, disease = member[month_of], disease[month_of]
    names = np.array(yr.diseases)
    two, special = np.isin(names, list(TWO_DISEASES))[disease], yr.special[disease]
    kind = np.select([two, special], [K_TWO, K_SPECIAL], K_CHRONIC)
    paid = yr.categories
    category = np.full(len(member), CATEGORIES.index(Category.general))
    for cat, holds in (
        (Category.chronic, np.ones(len(member), dtype=bool)),
        (Category.special, special),
        (Category.two_diseases, two),
    ):
        if cat in paid:
            category = np.where(holds, CATEGORIES.index(cat), category)
    general = category == CATEGORIES.index(Category.general)
    if {Category.chronic, Category.special} & paid:  # (drawn only where paid: the data of
        # other packs stay as they were) a few chronic and special visits claimed for any
        # disease, often one not recognised (paid as general outpatient: JMS-18, PZH-11)
        claimed = ~general & ~two & (rng.random(len(member)) < OTHER_DISEASE)
        disease = np.where(claimed, rng.integers(0, len(names), len(member)), disease)
    parts = [
        _part(
            member,
            day,
            kind,
            _levels(rng, kind),
            category,
            disease=np.where(general, -1, disease),
        )
    ]
    if Category.negotiated_drug in paid:
        parts.append(_drugs(rng, pop, yr))
    return parts


def _drugs(rng: np.random.Generator, pop: _Population, yr: _Year) -> dict[str, np.ndarray]:
    with_special = pop.diseases & yr.special[None, :]
    taker = np.flatnonzero(with_special.any(axis=1) & (rng.random(len(pop.age)) < 0.3))
    disease = with_special[taker].argmax(axis=1)  # the member's first special disease
    drug = rng.integers(0, len(DRUGS), len(taker))
    start = rng.integers(0, len(yr.month_start), len(taker))
    month_of, day = _monthly(rng, len(taker), start, 0.9, yr)
    kind = np.full(len(day), K_DRUG)
    return _part(
        taker[month_of],
        day,
        kind,
        _levels(rng, kind),
        Category.negotiated_drug,
        disease=disease[month_of],
        drug=drug[month_of],
    )


def _rare(rng: np.random.Generator, pop: _Population, yr: _Year) -> list[dict]:
    """Emergency rescue and day surgery, where every version in force pays them."""
    parts = []
    for category, kind, rates in (
        (Category.emergency, K_EMERGENCY, (0.05, 0.15)),
        (Category.day_surgery, K_DAY_SURGERY, (0.02, 0.05)),
    ):
        if category not in yr.categories:
            continue
        rate = np.where(pop.retiree, rates[1], rates[0]) * pop.frailty
        member = np.repeat(np.arange(len(pop.age)), rng.poisson(rate))
        day = yr.days[rng.integers(0, len(yr.days), len(member))]
        kinds = np.full(len(member), kind)
        parts.append(_part(member, day, kinds, _levels(rng, kinds), category))
    return parts


def _monthly(
    rng: np.random.Generator, n: int, first_month: np.ndarray, attend: float, yr: _Year
) -> tuple[np.ndarray, np.ndarray]:
    """For n series: a visit on a uniform day in force of each month from `first_month` (an
    index of the year's months in force), with chance `attend`. (series index, day) pairs."""
    months = np.arange(len(yr.month_start))
    due = (rng.random((n, len(months))) < attend) & (months[None, :] >= first_month[:, None])
    series, month = np.nonzero(due)
    offset = np.floor(rng.random(len(month)) * yr.month_count[month]).astype(np.int64)
    return series, yr.days[yr.month_first[month] + offset]


def _levels(rng: np.random.Generator, kind: np.ndarray) -> np.ndarray:
    level = np.zeros(len(kind), dtype=np.int64)
    for k, mix in KIND_LEVELS.items():
        sel = np.flatnonzero(kind == k)
        level[sel] = rng.choice(len(LEVELS), len(sel), p=mix)
    return level


def _seconds(rng: np.random.Generator, kind: np.ndarray, level: np.ndarray) -> np.ndarray:
    """Second of the day: opening hours mostly (pharmacies open longer), emergencies any time."""
    n = len(kind)
    hours = np.where(level == PHARMACY, 13.0, 9.5)
    open_hours = 8 * 3600 + rng.random(n) * hours * 3600
    any_time = rng.random(n) * L.SECONDS_PER_DAY
    off_hours = (kind == K_EMERGENCY) | (rng.random(n) < 0.08)
    return np.where(off_hours, any_time, open_hours).astype(np.int64)


def _cost(rng: np.random.Generator, kind: np.ndarray) -> np.ndarray:
    median, sigma, cap = COST[kind].T
    yuan = np.clip(rng.lognormal(np.log(median), sigma), 5, cap)
    return _fen(yuan)


# -- helpers ---------------------------------------------------------------------------------


def _fen(yuan: np.ndarray) -> np.ndarray:
    return np.rint(yuan * 100).astype(np.int64)


def _in(period: np.ndarray, member: np.ndarray, day: np.ndarray) -> np.ndarray:
    """Whether each (member, day) falls in the member's period."""
    return (period[member, 0] <= day) & (day <= period[member, 1])


def _keep(v: dict[str, np.ndarray], keep: np.ndarray) -> dict[str, np.ndarray]:
    return {key: a[keep] for key, a in v.items()}


def _names(vocabulary, index: np.ndarray) -> pa.Array:
    """Strings by index into `vocabulary`; -1 is null."""
    index = np.asarray(index)
    return pa.array(list(map(str, vocabulary)), pa.string()).take(
        pa.array(index, pa.int64(), mask=index < 0)
    )
