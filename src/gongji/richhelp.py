"""Typer's Rich help without the parts of Rich that `gongji` never shows.

`typer.rich_utils`, which draws every help page and usage error, imports `rich.markdown` (and
through it markdown-it: a third of the time `gongji --help` took) and `rich.traceback` (and
through it Pygments) at module level. It uses them only for help written in Markdown (our
markup mode is Rich's) and for pretty tracebacks (disabled), so while it loads, those two
modules are placeholders: each names a class that imports the real one on first use, and the
real modules stay importable by anyone else.
"""

import sys
from importlib import import_module
from importlib.machinery import PathFinder

RICH_UTILS = "typer.rich_utils"
DEFERRED = {"rich.markdown": "Markdown", "rich.traceback": "Traceback"}  # module: its name used


def install() -> None:
    """From now on, `typer.rich_utils` loads without `DEFERRED` (once; a no-op if loaded)."""
    if RICH_UTILS not in sys.modules and not any(isinstance(f, _Finder) for f in sys.meta_path):
        sys.meta_path.insert(0, _Finder())


class _Finder:
    """Finds `typer.rich_utils` where Python would and loads it with the placeholders."""

    def find_spec(self, name, path=None, target=None):
        if name != RICH_UTILS:
            return None
        spec = PathFinder.find_spec(name, path, target)
        if spec is not None and spec.loader is not None:
            spec.loader = _Loader(spec.loader)
        return spec


class _Loader:
    def __init__(self, loader) -> None:
        self.loader = loader

    def __getattr__(self, name: str):  # get_source, get_code, ...: the real loader's
        return getattr(self.loader, name)

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module) -> None:
        placed = [m for m in DEFERRED if m not in sys.modules]
        for m in placed:
            sys.modules[m] = _placeholder(m, DEFERRED[m])
        try:
            self.loader.exec_module(module)
        finally:
            for m in placed:
                del sys.modules[m]


class _Deferred(type):
    """A class standing for `module.name`: called or asked for an attribute, it imports the
    real class and hands over to it."""

    def __call__(cls, *args, **kwargs):
        return cls.real()(*args, **kwargs)

    def __getattr__(cls, attr: str):
        return getattr(cls.real(), attr)

    def real(cls) -> type:
        return getattr(import_module(cls.__module__), cls.__name__)


def _placeholder(module: str, name: str):
    placeholder = type(sys)(module)
    setattr(placeholder, name, _Deferred(name, (), {"__module__": module}))
    return placeholder
