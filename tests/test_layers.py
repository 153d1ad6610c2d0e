"""The import rules of docs/architecture.md, kept: a module imports only modules of its own
layer or below, and no two packages import each other (directly or round a cycle).

Every import is read from the source (module level and inside functions alike), so a lazy
import cannot hide a dependency."""

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "gongji"

# lowest first; a module belongs to the first entry its dotted name starts with
LAYERS = [
    (
        "base",
        (
            "gongji.money",
            "gongji.terms",
            "gongji.labels",
            "gongji.errors",
            "gongji.documents",
            "gongji.csvfile",
        ),
    ),
    ("policy", ("gongji.policy", "gongji.catalogue")),
    ("engine", ("gongji.engine",)),
    ("model", ("gongji.model", "gongji.calculate")),
    ("ledger", ("gongji.ledger",)),
    ("uses", ("gongji.service", "gongji.analysis", "gongji.supervision")),
    ("console", ("gongji.console",)),
    # (and the package itself, whose API api.py holds: see layer())
    (
        "commands",
        (
            "gongji.cli",
            "gongji.commands",
            "gongji.richhelp",
            "gongji.web",
            "gongji.demo",
            "gongji.__main__",
            "gongji.api",
        ),
    ),
]


def _module(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer(module: str) -> int:
    """The layer's index. A package's commands (`gongji.<package>.cli`) are commands."""
    if module.endswith(".cli") or module == "gongji":  # the package: its API, for notebooks
        return len(LAYERS) - 1
    for i, (_, prefixes) in enumerate(LAYERS):
        if any(module == p or module.startswith(p + ".") for p in prefixes):
            return i
    raise AssertionError(f"{module} is in no layer: add it to LAYERS and docs/architecture.md")


def imports(path: Path) -> set[str]:
    """The gongji modules `path` imports (`from gongji.x import y` counts as gongji.x.y when
    y is a module, else gongji.x)."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.startswith("gongji")}
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("gongji"):
            for a in node.names:
                sub = f"{node.module}.{a.name}"
                is_module = (SRC.parent / sub.replace(".", "/")).with_suffix(".py").exists() or (
                    SRC.parent / sub.replace(".", "/")
                ).is_dir()
                out.add(sub if is_module else node.module)
    return out


def package(module: str) -> str:
    """gongji.ledger.settlement -> gongji.ledger; a top-level module is its own."""
    parts = module.split(".")
    return ".".join(parts[:2])


SOURCES = sorted(p for p in SRC.rglob("*.py") if "migrations" not in p.parts)


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(SRC)))
def test_no_module_imports_a_layer_above_its_own(path):
    mine = _module(path)
    above = {m for m in imports(path) if layer(m) > layer(mine)}
    assert not above, f"{mine} ({LAYERS[layer(mine)][0]}) imports {sorted(above)} from above"


def test_no_cycles_between_packages():
    edges: dict[str, set[str]] = {}
    for path in SOURCES:
        mine = _module(path)
        if mine.endswith(".cli"):
            continue  # commands sit above everything, whichever folder holds them
        for m in imports(path):
            if package(m) != package(mine) and not m.endswith(".cli"):
                edges.setdefault(package(mine), set()).add(package(m))

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        for nxt in edges.get(start, ()):
            if nxt == goal or (nxt not in seen and reaches(nxt, goal, seen | {nxt})):
                return True
        return False

    cycles = sorted(p for p in edges if reaches(p, p, set()))
    assert not cycles, f"packages in an import cycle: {cycles} ({edges})"


def test_the_rules_can_fail():
    # a guard against a test that cannot fail: the service once imported the console
    assert layer("gongji.console.pages") > layer("gongji.service.app")
    assert layer("gongji.ledger.cli") > layer("gongji.console.pages")
    assert "gongji.ledger.settlement" in imports(SRC / "service" / "writer.py")
