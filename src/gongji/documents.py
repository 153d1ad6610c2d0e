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
        text = _text(raw)
        document = _DECODER.decode(text)
    except RecursionError:
        raise InputError(where, f"nested deeper than {MAX_DEPTH}") from None
    except ValueError as exc:  # not JSON, not UTF-8, an integer of thousands of digits
        reason = exc.msg if isinstance(exc, json.JSONDecodeError) else "not UTF-8 JSON text"
        raise InputError(where, f"not JSON: {reason}") from None
    if not (_plain(text) and _fine(document)):
        _check_values(document, where)
    return document


# made once: json.loads with arguments builds a decoder a call (a fifth of reading a body)
_DECODER = json.JSONDecoder(parse_float=Decimal, parse_constant=lambda _: NOT_A_NUMBER)


def _text(raw: bytes | str) -> str:
    """The body as text, as json.loads takes it (which `_DECODER` does not): bytes in the
    encoding JSON's first bytes show (RFC 4627), surrogates passed on, to be refused; text
    with a BOM refused."""
    if isinstance(raw, str):
        if raw.startswith("\ufeff"):
            raise json.JSONDecodeError("Unexpected UTF-8 BOM (decode using utf-8-sig)", raw, 0)
        return raw
    return raw.decode(json.detect_encoding(raw), "surrogatepass")


def _plain(text: str) -> bool:
    """No text in a document parsed from `text` can hold a NUL or an unpaired surrogate: it
    has no \\u escape (a raw control character is not JSON) and no surrogate of its own."""
    if "\\u" in text:
        return False
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _fine(document: object) -> bool:
    """The quick pass before `_check_values`, for a document whose text is `_plain`: True
    when that walk would find nothing (the nesting, the names' lengths, the numbers), with
    no paths kept; False sends the document to it, which names what it finds."""
    if not isinstance(document, dict | list):
        return _bad_value(document) is None
    todo = [(document, 0)]
    while todo:
        value, depth = todo.pop()
        if depth >= MAX_DEPTH:
            return False
        items = value.values() if isinstance(value, dict) else value
        if isinstance(value, dict) and any(len(key) > MAX_KEY for key in value):
            return False
        for item in items:
            if isinstance(item, dict | list):
                todo.append((item, depth + 1))
            elif item is NOT_A_NUMBER or (type(item) is int and item not in INT_RANGE):
                return False
    return True


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
