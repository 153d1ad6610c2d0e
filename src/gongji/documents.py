"""Reading YAML and JSON documents exactly: every number stays a Decimal, never a float."""

import json
from decimal import Decimal
from pathlib import Path

import yaml

from gongji.errors import InputError


class _ExactLoader(yaml.SafeLoader):
    """SafeLoader whose floats are Decimals, so '250.005' is caught rather than rounded."""


def _decimal(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> Decimal:
    return Decimal(loader.construct_scalar(node).replace("_", ""))


_ExactLoader.add_constructor("tag:yaml.org,2002:float", _decimal)


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
