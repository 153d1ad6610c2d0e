"""Loading policy packs: YAML -> validated `Pack`, or a `PolicyError` naming file, key, reason.

A pack lists versions by effective date. The first version is complete; each later version
gives only the nodes that change (e.g. Kaifeng's 2023 version restores the annual cap halved
in 2022) and inherits the rest, so a policy change is a few lines of data.
"""

import hashlib
import os
import pickle
import re
import sys
import threading
from functools import cache
from pathlib import Path

import yaml
from pydantic import ValidationError

from gongji import documents
from gongji.errors import InputError, PolicyError, first_error
from gongji.policy.schema import (
    CATEGORY_SECTIONS,
    Benefit,
    Cap,
    Cited,
    ClassRules,
    Inpatient,
    Pack,
    PaymentMethods,
    PerItemDeductible,
    PerVisitDeductible,
    Ratio,
    Version,
)
from gongji.terms import AccountPurpose, Condition, DeductibleWindow, Level, MemberClass

PACKS_DIR = Path(__file__).parent / "packs"
# A bureau's own packs (a region's published values, a new region) in a folder of its own:
# a file there takes the place of the shipped pack of the same name.
PACKS_ENV = "GONGJI_PACKS"
MEDICAL_LEVELS = [Level.primary, Level.level1, Level.level2, Level.level3]
_SECTIONS_MERGED_BY_NODE = ("general", *CATEGORY_SECTIONS)
# categories whose cap is the inpatient cap (XSBN-15, XSBN-16, XSBN-17): no pool of their own
SHARED_ONLY = ("emergency", "negotiated_drug", "day_surgery")
REDIRECTS = ("unrecognised", "recognised")  # a benefit's redirects, by the member's diseases


REGION_ID = re.compile(r"[a-z][a-z0-9_]{0,63}")  # as schema.Pack.region, and short


def _pack_dirs() -> list[Path]:
    own = os.environ.get(PACKS_ENV)
    return [Path(own), PACKS_DIR] if own else [PACKS_DIR]


def known_regions() -> list[str]:
    return sorted({p.stem for d in _pack_dirs() for p in d.glob("*.yaml")})


def load_region(region: str) -> Pack:
    return _load_region(region, os.environ.get(PACKS_ENV))


@cache
def _load_region(region: str, _own_dir: str | None) -> Pack:
    return _region_pack(region_path(region))


def _region_pack(path: Path, overrides: dict[str, str] | None = None) -> Pack:
    """A pack found by its region's name: the region it says must be that name."""
    pack = load_file(path, overrides)
    if pack.region != path.stem:
        raise PolicyError(path.name, "region", f"must match the file name ({path.stem!r})")
    return pack


def region_path(region: str) -> Path:
    # a region is a pack's file name: anything else (a path, a name too long for the file
    # system) is an unknown region, never a question to the file system
    known = isinstance(region, str) and REGION_ID.fullmatch(region) is not None
    path = next(
        (d / f"{region}.yaml" for d in _pack_dirs() if known and (d / f"{region}.yaml").is_file()),
        None,
    )
    if path is None:
        raise InputError(
            "region", f"unknown region {region!r} (known: {', '.join(known_regions())})"
        )
    return path


def load(name: str, overrides: dict[str, str] | None = None) -> Pack:
    """A region id of a shipped pack, or the path of a pack file; `overrides` change values
    in every version (what-if analysis: `general.annual_cap.employee=3000`)."""
    path = Path(name)
    if not (path.suffix in (".yaml", ".yml") and path.exists()):
        if not overrides:
            return load_region(name)
        return _region_pack(region_path(name), overrides)
    return load_file(path, overrides)


def load_file(path: Path, overrides: dict[str, str] | None = None) -> Pack:
    """A pack file, whatever it is named (reform.yaml): the region is the one it says."""
    if overrides:
        return _parse_file(path, overrides)
    return _cached(path)


def _parse_file(path: Path, overrides: dict[str, str] | None = None) -> Pack:
    file = path.name
    try:
        raw = documents.read(path)
    except InputError as exc:
        raise PolicyError(file, "", exc.reason) from None
    if not isinstance(raw, dict):
        raise PolicyError(file, "", "a pack is a mapping with region, name, versions, ...")
    raw = dict(raw)
    raw["versions"] = _inherit(file, raw.get("versions"))
    for key, value in (overrides or {}).items():
        _override(file, raw["versions"], key, value)
    try:
        pack = Pack.model_validate(raw)
    except ValidationError as exc:
        key, reason = first_error(exc)
        raise PolicyError(file, key, reason) from None
    _check(file, pack)
    return pack


def _override(file: str, versions: list[dict], key: str, text: str) -> None:
    """Set `key` (dotted: `general.ratio.employee.level3`) to `text` in every version that
    has the node above it. The pack is validated afterwards, so a bad value is named there."""
    *path, leaf = key.split(".")
    value = yaml.safe_load(text) if text.strip() else text
    if isinstance(value, float):  # amounts stay exact: '3000.5' is read as text, not a float
        value = text
    found = False
    for version in versions:
        node = version
        for part in path:
            node = node.get(part) if isinstance(node, dict) else None
        if isinstance(node, dict):
            node[leaf] = value
            found = True
    if not found:
        raise PolicyError(file, key, "no such node in any version (override)")


def _inherit(file: str, versions: object) -> list[dict]:
    """Fill each later version with the nodes it does not change from the one before."""
    if not isinstance(versions, list) or not versions:
        raise PolicyError(file, "versions", "a pack needs at least one version")
    merged: list[dict] = []
    for i, version in enumerate(versions):
        if not isinstance(version, dict):
            raise PolicyError(file, f"versions[{i}]", "a version is a mapping")
        if not merged:
            merged.append(version)
            continue
        base = {k: v for k, v in merged[-1].items() if k not in ("from", "to", "note")}
        full = {**base, **version}
        for section in _SECTIONS_MERGED_BY_NODE:
            if isinstance(version.get(section), dict) and isinstance(base.get(section), dict):
                full[section] = {**base[section], **version[section]}
        merged.append(full)
    return merged


def _check(file: str, pack: Pack) -> None:
    """Consistency the schema alone cannot express."""
    for i, version in enumerate(pack.versions):
        where = f"versions[{i}]"
        _check_dates(file, pack, i)
        _check_inpatient(file, f"{where}.inpatient", version.inpatient)
        for name in ("general", *CATEGORY_SECTIONS):
            benefit = getattr(version, name)
            if benefit is not None:
                _check_benefit(file, f"{where}.{name}", name, benefit, version)
        _check_general(file, f"{where}.general", version)
        for name in ("year", "settlement", "accounts", "retirement"):
            _check_single_rule(file, f"{where}.{name}", getattr(version, name))
        _check_payment_methods(file, f"{where}.payment_methods", version.payment_methods)
        _check_family(file, f"{where}.family", version)
        _check_premiums(file, where, version)
    for med_type in pack.med_types:
        category = pack.category_of(med_type)
        if not any(getattr(v, category.value) is not None for v in pack.versions):
            raise PolicyError(
                file, f"med_types.{med_type}", f"the pack has no {category.value} policy"
            )


def _check_family(file: str, where: str, version: Version) -> None:
    """A relative's care is paid from an account where the account may pay for it, and then
    the pack says which relatives and where they are insured (family)."""
    allowed = AccountPurpose.family_care in version.account_use.allowed
    if allowed != (version.family is not None):
        raise PolicyError(file, where, "give it where account_use allows family_care, only then")


def _check_dates(file: str, pack: Pack, i: int) -> None:
    version = pack.versions[i]
    if version.valid_to is not None and version.valid_to < version.valid_from:
        raise PolicyError(file, f"versions[{i}].to", "ends before it starts")
    if i == 0:
        return
    before = pack.versions[i - 1]
    if version.valid_from <= before.valid_from:
        raise PolicyError(file, f"versions[{i}].from", "versions must be in date order")
    if before.valid_to is not None and before.valid_to >= version.valid_from:
        raise PolicyError(
            file,
            f"versions[{i - 1}].to",
            f"overlaps versions[{i}], which starts {version.valid_from.isoformat()}",
        )


def _check_general(file: str, where: str, version: Version) -> None:
    general = version.general
    ratio = general.ratio
    if ratio.employee is None:
        raise PolicyError(
            file, f"{where}.ratio", "general outpatient needs employee/retiree tables"
        )
    missing = [lv.value for lv in MEDICAL_LEVELS if lv not in ratio.employee]
    if missing:
        raise PolicyError(file, f"{where}.ratio.employee", f"missing levels: {', '.join(missing)}")
    ded = general.deductible
    if isinstance(ded, PerVisitDeductible) and ded.by_level is None:
        raise PolicyError(file, f"{where}.deductible.by_level", "required for general outpatient")
    if isinstance(ded, PerVisitDeductible) and set(ded.by_level) != set(ratio.employee):
        raise PolicyError(
            file, f"{where}.deductible.by_level", "must list the same levels as the ratio table"
        )
    if general.pool is None:
        raise PolicyError(file, f"{where}.pool", "required: the pool general outpatient pays from")


def _check_benefit(file: str, where: str, name: str, b: Benefit, version: Version) -> None:
    needs_inpatient = _check_ratio(file, f"{where}.ratio", b.ratio)
    needs_inpatient |= _check_deductible(file, f"{where}.deductible", b.deductible)
    needs_inpatient |= _check_cap(file, f"{where}.annual_cap", name, b.annual_cap)
    needs_inpatient |= b.overflow is not None
    if needs_inpatient and version.inpatient is None:
        raise PolicyError(file, where, "refers to inpatient parameters: add an inpatient section")
    for key, allowed in (
        ("then", name != "general"),
        ("overflow", name == "general"),
        ("exceptions", name == "special"),
    ):
        if getattr(b, key) is not None and not allowed:
            raise PolicyError(file, f"{where}.{key}", f"not for {name}")
    seen: set[Condition] = set()
    for j, cond in enumerate(b.eligibility):
        key = f"{where}.eligibility[{j}]"
        if cond.condition in seen:
            raise PolicyError(file, f"{key}.condition", f"{cond.condition.value} listed twice")
        seen.add(cond.condition)
        binds_types = cond.condition is Condition.raised_contribution
        if binds_types != (cond.member_types is not None):
            reason = (
                "required for raised_contribution"
                if binds_types
                else "only for raised_contribution"
            )
            raise PolicyError(file, f"{key}.member_types", reason)
        _check_single_rule(file, key, cond)
    if b.exempt is not None and seen & set(b.exempt.conditions):
        raise PolicyError(file, f"{where}.exempt", "a condition cannot be enforced and exempt")
    for key in ("pool", "exempt", "then", "overflow", "exceptions", *REDIRECTS):
        node = getattr(b, key)
        if node is not None:
            _check_single_rule(file, f"{where}.{key}", node)
    _check_redirects(file, where, name, b, version)


def _check_redirects(file: str, where: str, name: str, b: Benefit, version: Version) -> None:
    """A redirect names another category the version pays, which does not redirect the same
    visits again (one hop: the line a visit is paid by is found at once)."""
    for key in REDIRECTS:
        node = getattr(b, key)
        if node is None:
            continue
        target = getattr(version, node.to)
        if name == "general" or node.to == name:
            raise PolicyError(file, f"{where}.{key}", f"not for {name}")
        if target is None:
            raise PolicyError(file, f"{where}.{key}.to", f"the version has no {node.to} policy")
        if getattr(target, key) is not None:
            raise PolicyError(
                file, f"{where}.{key}.to", f"{node.to} redirects these visits again ({key})"
            )


def _check_ratio(file: str, where: str, ratio: Ratio) -> bool:
    if ratio.forms() != 1:
        raise PolicyError(file, where, "give one of employee/retiree tables, flat, from_inpatient")
    if (ratio.employee is None) != (ratio.retiree is None):
        raise PolicyError(file, where, "employee and retiree tables go together")
    if ratio.employee is not None and set(ratio.retiree) != set(ratio.employee):
        raise PolicyError(file, f"{where}.retiree", "must list the same levels as employee")
    return ratio.from_inpatient is not None


def _check_deductible(file: str, where: str, ded) -> bool:
    if isinstance(ded, PerVisitDeductible):
        if (ded.by_level is None) == (ded.from_inpatient is None):
            raise PolicyError(file, where, "give one of by_level and from_inpatient")
        timed = ded.window is DeductibleWindow.hours_from_charged
        reason = "required for hours_from_charged" if timed else "only for hours_from_charged"
        # a window of hours may run past 31 December: the pack says whether it stops there
        for key in ("window_hours", "year_end"):
            if timed != (getattr(ded, key) is not None):
                raise PolicyError(file, f"{where}.{key}", reason)
        if ded.year_end is not None:
            _check_single_rule(file, f"{where}.year_end", ded.year_end)
    if isinstance(ded, PerItemDeductible) and (ded.amount is None) == (ded.from_inpatient is None):
        raise PolicyError(file, where, "give one of amount and from_inpatient")
    return getattr(ded, "from_inpatient", None) is not None


def _check_cap(file: str, where: str, name: str, cap: Cap) -> bool:
    shared = cap.shared_with is not None
    if shared == (cap.employee is not None or cap.retiree is not None):
        raise PolicyError(file, where, "give employee and retiree amounts, or shared_with")
    if not shared and (cap.employee is None or cap.retiree is None):
        raise PolicyError(file, where, "give both employee and retiree amounts")
    if name in SHARED_ONLY and not shared:
        raise PolicyError(file, f"{where}.shared_with", f"{name} has no pool of its own")
    if (cap.per_extra_disease is None) != (cap.max is None):
        raise PolicyError(file, where, "per_extra_disease and max go together")
    if cap.not_counted is not None and cap.per_extra_disease is None:
        raise PolicyError(file, f"{where}.not_counted", "only for a cap that grows per disease")
    return shared


def _check_inpatient(file: str, where: str, inpatient: Inpatient | None) -> None:
    if inpatient is None:
        return
    for key in ("deductible", "employee", "retiree"):
        missing = [lv.value for lv in MEDICAL_LEVELS if lv not in getattr(inpatient, key)]
        if missing:
            raise PolicyError(file, f"{where}.{key}", f"missing levels: {', '.join(missing)}")
    if set(inpatient.annual_cap) != set(MemberClass):
        raise PolicyError(file, f"{where}.annual_cap", "give employee and retiree")


def _check_payment_methods(file: str, where: str, node: PaymentMethods | None) -> None:
    if node is None:
        return
    _check_single_rule(file, where, node)
    if len(set(node.allowed)) != len(node.allowed):
        raise PolicyError(file, f"{where}.allowed", "a method is listed twice")


def _check_premiums(file: str, where: str, version: Version) -> None:
    """Every premium the account may pay says whom it may be for, and only those are frozen."""
    use = version.account_use
    allowed = {p for p in use.allowed if p.premium}
    for purpose in sorted(allowed ^ set(use.premiums)):
        reason = (
            "an allowed premium: say whom it may be for"
            if purpose in allowed
            else "not a premium the account may pay (account_use.allowed)"
        )
        raise PolicyError(file, f"{where}.account_use.premiums.{purpose.value}", reason)
    freeze = version.premium_freeze
    for purpose in [] if freeze is None else freeze.purposes:
        if purpose not in allowed:
            raise PolicyError(
                file,
                f"{where}.premium_freeze.purposes",
                f"{purpose.value} is not an allowed premium",
            )


def _check_single_rule(file: str, key: str, node: Cited) -> None:
    # per-class rule IDs only make sense where a node has employee and retiree values
    if isinstance(node.rule, ClassRules) and not hasattr(node, "retiree"):
        raise PolicyError(file, f"{key}.rule", "per-class rule IDs need employee/retiree values")


# The code a pack's reading depends on: a change to any of it is a new cache entry.
_READERS = ("loader.py", "schema.py", "../money.py", "../terms.py", "../errors.py")


def _cached(path: Path) -> Pack:
    """The pack of a file, as read before from the same bytes by the same code: `gongji
    calculate` then neither parses YAML nor builds the schema's validators (a few tenths of
    a second a run). The entry is a pickle of the checked `Pack` in the user's cache folder,
    named by a hash of the file, this package's reading code and the Python and pydantic
    versions; a folder that cannot be written or an entry that cannot be read is no error,
    the file is read as it is."""
    try:
        entry = _cache_dir() / f"{_cache_key(path.read_bytes())}.pickle"
    except (OSError, RuntimeError):  # no such file (named as ever below), no home folder
        return _parse_file(path)
    try:
        pack = pickle.loads(entry.read_bytes())
        if isinstance(pack, Pack):
            return pack
    except Exception:  # absent, partly written, stale: the file is read instead
        pass
    pack = _parse_file(path)
    try:
        entry.parent.mkdir(parents=True, exist_ok=True)
        part = entry.with_suffix(f".{os.getpid()}.{threading.get_ident()}.part")
        part.write_bytes(pickle.dumps(pack, pickle.HIGHEST_PROTOCOL))
        part.replace(entry)  # whole or not at all, whoever reads it meanwhile
    except OSError:
        pass
    return pack


def _cache_dir() -> Path:
    home = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return home / "gongji" / "packs"


def _cache_key(data: bytes) -> str:
    import pydantic

    here = Path(__file__).parent
    digest = hashlib.sha256(f"{sys.version}\0{pydantic.VERSION}\0".encode())
    for name in _READERS:
        digest.update((here / name).read_bytes())
    digest.update(data)
    return digest.hexdigest()[:32]
