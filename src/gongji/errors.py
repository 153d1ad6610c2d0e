"""Errors people and programs can act on: a stable code, the field, and the reason.

Bad input never produces a traceback: commands print `field: reason` on one line and exit 2.
"""

from pydantic import ValidationError


class InputError(ValueError):
    """Input that cannot be used as given. `field` is a path like `visits[2].in_scope`."""

    code = "E_INPUT"

    def __init__(self, field: str, reason: str, code: str | None = None):
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason
        if code:
            self.code = code


class PolicyError(InputError):
    """A policy pack that cannot be loaded: the file, the key and the reason."""

    code = "E_POLICY"

    def __init__(self, file: str, key: str, reason: str):
        super().__init__(f"{file}: {key}" if key else file, reason)
        self.file = file
        self.key = key


def validated(model, document: object, where: str = ""):
    """`document` as the pydantic `model`, or an InputError naming the first bad field
    under `where` (e.g. `visit.total`; the whole document: `where` itself)."""
    try:
        return model.model_validate(document)
    except ValidationError as exc:
        field, reason = first_error(exc)
        if where:
            field = where if field == "(document)" else f"{where}.{field}"
        raise InputError(field, reason) from None


def field_path(loc: tuple) -> str:
    """('visits', 2, 'in_scope') -> 'visits[2].in_scope'."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part == "[key]":
            continue
        else:
            out += f".{part}" if out else str(part)
    return out or "(document)"


def first_error(exc: ValidationError) -> tuple[str, str]:
    """The first validation error as (field path, reason in plain words)."""
    err = exc.errors(include_url=False)[0]
    loc = tuple(p for p in err["loc"] if not _is_union_tag(p))
    kind, ctx = err["type"], err.get("ctx") or {}
    if kind == "extra_forbidden":
        return field_path(loc), "unknown field"
    if kind == "missing":
        return field_path(loc), "required"
    if kind == "enum" or kind == "literal_error":
        got = err.get("input")
        return field_path(loc), f"unknown value {got!r} (expected {ctx.get('expected')})"
    if kind == "value_error":
        return field_path(loc), str(ctx.get("error", err["msg"]))
    return field_path(loc), err["msg"][0].lower() + err["msg"][1:]


def _is_union_tag(part: object) -> bool:
    # pydantic names the union member it tried ('constrained-str', 'function-after[...]',
    # 'ClassRules'); our field names are snake_case, so those labels are told apart and dropped
    if not isinstance(part, str) or part == "[key]":
        return False
    return "[" in part or "-" in part or part[:1].isupper()
