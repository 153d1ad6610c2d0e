"""Reading YAML and JSON documents exactly: every number stays a Decimal, never a float."""

import json
from decimal import Decimal
from pathlib import Path

import yaml

from gongji.errors import InputError


class _ExactLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
    """SafeLoader whose floats are Decimals, so '250.005' is caught rather than rounded.
    On libyaml's parser where PyYAML has it (its wheels do): every command reads a policy
    pack, and the pure-Python parser took longer over one than the rest of a calculation."""


def _decimal(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> Decimal:
    return Decimal(loader.construct_scalar(node).replace("_", ""))


def _timestamp(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> object:
    """A date or time as YAML reads it; one that does not exist (2023-02-30) stays its text,
    so the field it is in is named when the document is validated, as in JSON."""
    try:
        return yaml.SafeLoader.construct_yaml_timestamp(loader, node)
    except ValueError:
        return loader.construct_scalar(node)


_ExactLoader.add_constructor("tag:yaml.org,2002:float", _decimal)
_ExactLoader.add_constructor("tag:yaml.org,2002:timestamp", _timestamp)


def parse(text: str, source: str) -> object:
    """Parse YAML (JSON is a subset, but is read with the JSON parser when it looks like it)."""
    try:
        if text.lstrip().startswith(("{", "[")):
            return json.loads(text, parse_float=Decimal)
        return yaml.load(text, Loader=_ExactLoader)
    except json.JSONDecodeError as exc:
        raise InputError(source, f"not valid JSON: {exc.msg} at line {exc.lineno}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or "syntax error"
        raise InputError(source, f"not valid YAML: {problem}{where}") from None


def read(path: Path) -> object:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(str(path), f"cannot read: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise InputError(str(path), "not UTF-8 text") from None
    return parse(text, str(path))


# -- request bodies ------------------------------------------------------------------------
MAX_DEPTH = 32  # objects and lists within each other: the deepest request nests six
MAX_KEY = 64  # characters in a field's name
INT_RANGE = range(-(2**63), 2**63)  # what a store's BIGINT and a JSON answer can hold


class _NotANumber:
    """Where the body had NaN, Infinity or -Infinity: JSON has no such numbers."""


NOT_A_NUMBER = _NotANumber()


def read_json(raw: bytes | str, where: str = "(body)") -> object:
    """A request body as JSON, numbers exact (decimals, never floats); an InputError naming
    the field for what no front end may pass on: NaN and Infinity, text holding NUL (no
    PostgreSQL text can) or an unpaired surrogate (not Unicode: no store and no answer can
    encode it), a whole number beyond 64 bits, nesting deeper than MAX_DEPTH."""
    try:
        document = json.loads(raw, parse_float=Decimal, parse_constant=lambda _: NOT_A_NUMBER)
    except RecursionError:
        raise InputError(where, f"nested deeper than {MAX_DEPTH}") from None
    except ValueError as exc:  # not JSON, not UTF-8, an integer of thousands of digits
        reason = exc.msg if isinstance(exc, json.JSONDecodeError) else "not UTF-8 JSON text"
        raise InputError(where, f"not JSON: {reason}") from None
    _check_values(document, where)
    return document


def _check_values(document: object, where: str) -> None:
    """Every value of the document, depth first, without recursion (a deep document must
    not exhaust the stack it is refused for)."""
    todo: list[tuple[object, tuple]] = [(document, ())]
    while todo:
        value, at = todo.pop()
        if isinstance(value, dict | list):
            if len(at) >= MAX_DEPTH:  # named where it starts, not 32 levels down
                raise InputError(_path(at[:3], where), f"nested deeper than {MAX_DEPTH}")
            todo += _children(value, at, where)
            continue
        bad = _bad_value(value)
        if bad:
            raise InputError(_path(at, where), bad)


def _children(value: dict | list, at: tuple, where: str) -> list[tuple[object, tuple]]:
    if isinstance(value, list):
        return [(v, (*at, i)) for i, v in enumerate(value)]
    for key in value:
        bad = _bad_text(key) or (len(key) > MAX_KEY and f"over {MAX_KEY} characters")
        if bad:
            raise InputError(_path(at, where), f"a field's name {bad}")
    return [(v, (*at, k)) for k, v in value.items()]


def _bad_value(value: object) -> str | None:
    if isinstance(value, str):
        return _bad_text(value)
    if value is NOT_A_NUMBER:
        return "NaN and Infinity are not numbers"
    if isinstance(value, int) and not isinstance(value, bool) and value not in INT_RANGE:
        return "too large a number"
    return None


def _bad_text(text: str) -> str | None:
    if "\x00" in text:
        return "contains a NUL character"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "contains an unpaired surrogate (not Unicode text)"
    return None


def _path(at: tuple, where: str) -> str:
    """('visit', 'items', 0) -> 'visit.items[0]'; the document itself is `where`."""
    out = ""
    for part in at:
        out += f"[{part}]" if isinstance(part, int) else f".{part}" if out else str(part)
    return out or where
