"""The Python API, for notebooks: what `gongji calculate` and `gongji replay` do, as functions.

    import gongji

    pack = gongji.load_pack("kaifeng")          # a region, or a pack file's path
    trial = gongji.settle(pack, scenario)       # a member's visits -> split and trace
    table = gongji.replay("visits.csv", "members.parquet", pack,
                          reform={"general.annual_cap.employee": "3000"})

`settle` is `gongji calculate` (calculate.py): the scenario document of
shared/spec/calculate.md without its region (the pack's), the answer the same document as
`calculate --json` with amounts as Decimal yuan. `replay` is `gongji replay`
(analysis/replay.py): the same files, the same aggregates.json, returned as a Polars table.

`import gongji` loads none of this: the package's `__getattr__` imports this module when a
name is first used, and these functions import what they need when called.
"""

from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import polars

    from gongji.policy.schema import Pack

# The table's columns after scenario, dimension and key: the figures of aggregates.json
FIGURES = (
    "visits",
    "refused",
    "total",
    "in_scope",
    "deductible",
    "fund_pay",
    "account_pay",
    "cash_pay",
)
COUNTS = ("visits", "refused")
EFFECT = ("paying_more", "paying_less", "paying_same", "more_paid", "less_paid")
# id(pack) -> (the pack, what it was loaded from, its overrides): a reform given as overrides
# of a Pack is loaded from the same source with them added
_LOADED: dict[int, tuple["Pack", str, dict[str, str]]] = {}


def load_pack(region_or_path: "str | Path", overrides: dict[str, str] | None = None) -> "Pack":
    """A region's shipped pack ("kaifeng"), or a pack file (a .yaml path); `overrides`
    change values in every version, as `gongji replay --set` does."""
    from gongji.policy.loader import load

    changes = {k: str(v) for k, v in (overrides or {}).items()}
    pack = load(str(region_or_path), changes)
    _LOADED[id(pack)] = (pack, str(region_or_path), changes)
    return pack


def settle(pack: "Pack | str", scenario: dict, catalogue_csv: "str | Path | None" = None) -> dict:
    """Settle a member's visits (in time order: the earlier ones of the year are the state
    the later ones settle from) under `pack`: per visit the split (deductible, fund,
    account, cash) and the trace of the rules applied, and the totals, amounts Decimal yuan.
    `scenario`: {"member": {...}, "visits": [...]} as shared/spec/calculate.md has them."""
    from gongji import calculate, catalogue

    pack = _pack(pack)
    items = catalogue.load_csv(Path(catalogue_csv)) if catalogue_csv else None
    return calculate.calculate(scenario, items, pack)


def replay(
    visits: "str | Path",
    members: "str | Path | None",
    pack: "Pack | str",
    reform: "dict[str, str] | Pack | str | Path | None" = None,
    *,
    weight: int | str | None = None,
    out: "str | Path | None" = None,
) -> "polars.DataFrame":
    """Replay the visits (Parquet or CSV; members: members.parquet beside them if None)
    under `pack` (a region, a pack file or a Pack) and, if given, a `reform` (overrides
    of `pack` like {"general.annual_cap.employee": "3000"}, a pack file or a Pack). A
    sample's `weight`: a whole number for every member, or a members column. The files
    (results per scenario, aggregates.json for `gongji report`) go to `out` if given.

    Returns one row per scenario and key: dimension "all" (key "") and by "member_type",
    "level", "category" and "month", with the counts and the amounts in Decimal yuan."""
    import tempfile

    from gongji.analysis.replay import ReplayPolicy
    from gongji.analysis.replay import replay as run

    visits = Path(visits)
    members = Path(members) if members else visits.with_name("members.parquet")
    scenarios = [ReplayPolicy("baseline", _pack(pack))]
    if reform is not None:
        scenarios.append(_reform(pack, reform))
    if out is not None:
        aggregates = run(visits, members, scenarios, Path(out), weight=weight)
    else:
        with tempfile.TemporaryDirectory() as folder:
            aggregates = run(visits, members, scenarios, Path(folder), results=False, weight=weight)
    return table(aggregates)


def table(aggregates: "dict | str | Path") -> "polars.DataFrame":
    """aggregates.json's figures as a Polars table (see `replay`): the document, or the
    folder a replay wrote it to."""
    import polars as pl

    aggregates = _aggregates(aggregates)
    rows = []
    for name, s in aggregates["scenarios"].items():
        rows.append(_row(name, "all", "", s["totals"]))
        for dimension, keys in s["by"].items():
            rows += [_row(name, dimension, key, figures) for key, figures in keys.items()]
    kinds = {"scenario": pl.String, "dimension": pl.String, "key": pl.String}
    kinds |= {f: pl.Int64 if f in COUNTS else pl.Decimal(20, 2) for f in FIGURES}
    return pl.DataFrame(rows, schema=kinds, orient="row")


def reform_effect(aggregates: "dict | str | Path") -> "polars.DataFrame":
    """Who pays more or less out of pocket under each reform than under the baseline: one
    row per reform and member type ("all" first): members paying more, less and the same,
    and what the first pay more and the second less in all (Decimal yuan). `aggregates`:
    aggregates.json's document, or the folder a replay wrote it to."""
    import polars as pl

    aggregates = _aggregates(aggregates)
    rows = []
    for name, s in aggregates["scenarios"].items():
        effect = s.get("versus_baseline")
        if effect is None:
            continue
        rows.append(_effect_row(name, "all", effect))
        rows += [_effect_row(name, t, e) for t, e in effect["by_member_type"].items()]
    kinds = {"scenario": pl.String, "member_type": pl.String}
    kinds |= {f: pl.Decimal(20, 2) if f.endswith("_paid") else pl.Int64 for f in EFFECT}
    return pl.DataFrame(rows, schema=kinds, orient="row")


def _aggregates(aggregates: "dict | str | Path") -> dict:
    """The document itself, or read (and checked) from a replay's folder."""
    if isinstance(aggregates, dict):
        return aggregates
    from gongji.analysis.aggregates_file import AggregatesFile

    document = AggregatesFile.read(Path(aggregates))
    return document.model_dump(mode="json", by_alias=True, exclude_unset=True)


def _row(scenario: str, dimension: str, key: str, figures: dict) -> tuple:
    values = (figures[f] if f in COUNTS else Decimal(figures[f]) for f in FIGURES)
    return (scenario, dimension, key, *values)


def _effect_row(scenario: str, member_type: str, effect: dict) -> tuple:
    values = (Decimal(effect[f]) if f.endswith("_paid") else effect[f] for f in EFFECT)
    return (scenario, member_type, *values)


def _pack(pack: Any) -> "Pack":
    from gongji.policy.schema import Pack

    return pack if isinstance(pack, Pack) else load_pack(pack)


def _reform(pack: Any, reform: Any):
    from gongji.analysis.replay import ReplayPolicy
    from gongji.policy.schema import Pack

    if isinstance(reform, dict):
        source, changes = str(pack), {k: str(v) for k, v in reform.items()}
        if isinstance(pack, Pack):
            if id(pack) not in _LOADED or _LOADED[id(pack)][0] is not pack:
                raise _error("reform", "overrides need a pack from gongji.load_pack, or its name")
            _, source, before = _LOADED[id(pack)]
            changes = {**before, **changes}
        file = source if Path(source).suffix in (".yaml", ".yml") else None
        return ReplayPolicy("reform", load_pack(source, changes), changes, file)
    if isinstance(reform, Pack):
        return ReplayPolicy("reform", reform)
    return ReplayPolicy("reform", load_pack(reform), {}, str(reform))


def _error(field: str, reason: str):
    from gongji.errors import InputError

    return InputError(field, reason)
