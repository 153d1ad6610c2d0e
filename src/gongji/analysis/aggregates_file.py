"""aggregates.json, described once: `gongji replay` writes it (`replay.write_aggregates`) and
`gongji report` reads it, both through `AggregatesFile`.

The file holds the replay's region, visits file and visit count, and per scenario (by name,
in the order replayed) the policy versions, overrides and pack file it ran under and what it
added up (`aggregate.Aggregates.summary`): totals, the same figures by member type, level,
category and month (only keys with visits), and members' out-of-pocket a year (account +
cash) with its histogram; a scenario after the baseline also says how many members pay more,
less or the same out of pocket than under the baseline (`versus_baseline`). A replay of a
sample weighted to its population says how (`weight`): its counts and amounts are the
population's. Counts are whole numbers; amounts are integer fen inside and yuan
as strings in the file ("1234.50"), never JSON numbers. Keys the model does not name are
ignored when read. A bad file is an `InputError` naming the field, e.g.
`scenarios.baseline.totals.fund_pay`.
"""

import json
from pathlib import Path
from typing import Annotated, Any, Self, TypeVar

from pydantic import (
    BaseModel,
    BeforeValidator,
    Field,
    PlainSerializer,
    PlainValidator,
    model_validator,
)

from gongji.errors import InputError, validated
from gongji.money import fmt, to_fen

NAME = "aggregates.json"


def _count(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError("must be a whole number ≥ 0")
    return value


def _yuan(value: object) -> int:
    if not isinstance(value, str):
        raise ValueError('must be an amount in yuan as a string, e.g. "1234.50"')
    return to_fen(value)  # a MoneyError is a ValueError: its reason names the problem


def _text(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError("must be a string")
    return value


def _object(value: object) -> object:
    if not isinstance(value, dict):
        raise ValueError("must be an object")
    return value


def _list_of(what: str):
    def check(value: object) -> object:
        if not isinstance(value, list):
            raise ValueError(f"must be a list of {what}")
        return value

    return check


K = TypeVar("K")
V = TypeVar("V")
Count = Annotated[int, PlainValidator(_count)]
Fen = Annotated[int, PlainValidator(_yuan), PlainSerializer(fmt, return_type=str)]
Text = Annotated[str, PlainValidator(_text)]
Keyed = Annotated[dict[K, V], BeforeValidator(_object)]  # a JSON object of V by key


class _Object(BaseModel):
    """A JSON object of named fields (anything else "must be an object")."""

    @model_validator(mode="before")
    @classmethod
    def _an_object(cls, value: object) -> object:
        return _object(value)


class Figures(_Object):
    """Visits and money of some visits: a scenario's totals, or one key of a breakdown."""

    visits: Count
    refused: Count  # visits not settled
    total: Fen
    in_scope: Fen
    deductible: Fen
    fund_pay: Fen
    account_pay: Fen
    cash_pay: Fen


class Breakdowns(_Object):
    """Figures by the keys of each dimension (terms' values; months as "2023-01")."""

    member_type: Keyed[str, Figures]
    level: Keyed[str, Figures]
    category: Keyed[str, Figures]
    month: Keyed[str, Figures]


class OutOfPocketStats(_Object):
    """Members' out-of-pocket a year: the mean (half-up to the fen), nearest-rank percentiles
    and the maximum. A group without members has no amounts: the keys are absent (not null)."""

    members: Count
    mean: Fen = None
    p50: Fen = None
    p90: Fen = None
    p99: Fen = None
    max: Fen = None


class HistogramBin(_Object):
    """Members whose out-of-pocket a year is from `low` up to (not including) `high`."""

    low: Fen = Field(alias="from")
    high: Fen | None = Field(alias="to")  # null: the open last bin
    members: Count


class OutOfPocket(OutOfPocketStats):
    """All members' out-of-pocket: the stats, the histogram, and the stats by member type."""

    histogram: Annotated[list[HistogramBin], BeforeValidator(_list_of("bins"))]
    by_member_type: Keyed[str, OutOfPocketStats]


class Effect(_Object):
    """Members paying more, less and the same out of pocket a year than under the baseline,
    and what the first pay more in all and the second less (positive amounts)."""

    paying_more: Count
    paying_less: Count
    paying_same: Count
    more_paid: Fen
    less_paid: Fen


class ReformEffect(Effect):
    """All members' change, and by member type."""

    by_member_type: Keyed[str, Effect]


class ScenarioAggregates(_Object):
    """One scenario of a replay: what it ran under and what it added up."""

    policy: Annotated[list[Text], BeforeValidator(_list_of("policy versions"))]  # version ids
    overrides: Keyed[str, Any]  # pack path -> value, as given
    pack_file: Text | None
    totals: Figures
    by: Breakdowns
    out_of_pocket: OutOfPocket
    versus_baseline: ReformEffect | None = None  # a scenario after the baseline


class AggregatesFile(_Object):
    """The whole file."""

    region: Text
    visits_file: Text
    visit_count: Count
    scenarios: Keyed[str, ScenarioAggregates]  # by name, in the order replayed
    # a weighted sample: "20" (each member stands for 20) or "members.<column>" (each its own)
    weight: Text | None = None

    @classmethod
    def read(cls, directory: Path) -> Self:
        """directory/aggregates.json; a missing or bad file is an InputError."""
        path = directory / NAME
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise InputError(str(path), "file not found (run `gongji replay` first)") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(str(path), f"cannot be read: {exc}") from None
        try:
            document = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputError(str(path), f"not valid JSON: {exc}") from None
        return validated(cls, document)

    def write(self, directory: Path) -> None:
        """directory/aggregates.json: the keys as given (a group without members keeps no
        amounts), in the model's order, which is the order the replay builds them in."""
        document = self.model_dump(mode="json", by_alias=True, exclude_unset=True)
        (directory / NAME).write_text(
            json.dumps(document, ensure_ascii=False, indent=1), encoding="utf-8"
        )
