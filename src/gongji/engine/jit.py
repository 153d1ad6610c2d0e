"""Kernel functions compiled by numba, for batch replay: the same functions, not a second
rulebook.

A module opts in by declaring what it compiles, in the subset of Python numba compiles:
- `KERNEL_FUNCTIONS`: the names of its kernel functions;
- `KERNEL_NOT_INLINED` (optional): those of them compiled as functions of their own (called
  from Python, or holding a loop of their own). The others are inlined into their callers:
  LLVM does not inline across numba's functions, and inlined, a visit costs about a third
  less;
- `KERNEL_OPTIONS` (optional): numba options of some of them, over `DEFAULTS`;
- `GROWN` (optional): a global its functions test before a grown state's branches
  (engine/state.py). `compiled(name, grown=False)` compiles them with it False: for states
  of S_SIZE only, those branches compiled away.

Each is rebuilt over a copy of its module's globals in which every kernel function it can
call — its own module's and those it imports — is the compiled version, then compiled with
`numba.njit`. Parameters and state are int64 arrays; the trace is an int64 buffer
(kernel.emit). This module names no module that uses it: `compiled(name)` compiles the one
named, and what it imports kernel functions from.
"""

import hashlib
import importlib
import os
import threading
import types
from contextlib import contextmanager
from functools import cache
from pathlib import Path

from gongji.engine import kernel
from gongji.engine import layout as L

# Compiled without reference counting (`_nrt=False`) unless a module's KERNEL_OPTIONS says
# otherwise: numba counts references to every array passed to a call, with atomic
# operations, which cost more than the rules themselves (a visit makes some twenty calls:
# ~400 ns a visit against ~30 without).
DEFAULTS = {"nogil": True, "cache": True, "_nrt": False}

_lock = threading.RLock()  # one compilation at a time (numba's cache folder is global)


def compiled(module_name: str, grown: bool = True) -> dict:
    """The module's globals with its kernel functions and the kernel functions it imports
    replaced by their compiled versions (compiled on first use; the same dict after); not
    `grown`: for states of S_SIZE only."""
    with _lock:
        return _compiled(module_name, grown)


@cache
def _compiled(module_name: str, grown: bool) -> dict:
    # The replay's parallel loop shares two cores with the threads that read and write
    # Parquet; OpenMP's workers spinning while they wait for work took the CPU those need
    # (a fifth of a replay's time). Read when OpenMP starts, so set before numba loads it.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    import numba  # optional dependency (extra "analysis"): only batch replay needs it

    module = importlib.import_module(module_name)
    namespace = dict(vars(module))
    if "GROWN" in namespace:
        namespace["GROWN"] = grown
    for key, value in vars(module).items():
        if _imported_kernel_function(value, module_name):
            namespace[key] = _compiled(value.__module__, grown)[value.__name__]
    names = module.KERNEL_FUNCTIONS
    not_inlined = getattr(module, "KERNEL_NOT_INLINED", ())
    options_of = getattr(module, "KERNEL_OPTIONS", {})
    unknown = sorted({*not_inlined, *options_of} - set(names))
    if unknown:
        raise ValueError(f"{module_name}: {', '.join(unknown)} not in KERNEL_FUNCTIONS")
    with _cache_folder(module_name, grown):
        for name in names:
            fn = vars(module)[name]
            rebuilt = types.FunctionType(fn.__code__, namespace, name, fn.__defaults__)
            options = {**DEFAULTS, **options_of.get(name, {})}
            if name not in not_inlined:
                options["inline"] = "always"
            namespace[name] = numba.njit(**options)(rebuilt)
    return namespace


def _imported_kernel_function(value, module_name: str) -> bool:
    if not isinstance(value, types.FunctionType) or value.__module__ == module_name:
        return False
    owner = importlib.import_module(value.__module__)
    return value.__name__ in getattr(owner, "KERNEL_FUNCTIONS", ())


@contextmanager
def _cache_folder(module_name: str, grown: bool):
    """numba's cache for the functions compiled meanwhile, in a folder named by a hash of
    the source their compiled code depends on. numba's own cache notices a change to a
    function's own file only, not to the kernel functions it calls (their code is compiled
    into the caller's) nor to the constants it reads (compile-time constants to numba)."""
    import numba

    before = numba.config.CACHE_DIR
    numba.config.CACHE_DIR = str(cache_folder(module_name, grown))
    try:
        yield  # numba reads the folder when a function is decorated
    finally:
        numba.config.CACHE_DIR = before


def cache_folder(module_name: str, grown: bool = True) -> Path:
    """Where numba keeps the module's compiled kernel functions (see _cache_folder)."""
    digest = hashlib.sha256(b"grown" if grown else b"S_SIZE")
    for name in sorted(_sources(module_name)):
        digest.update(name.encode() + b"\0")
        digest.update(Path(importlib.import_module(name).__file__).read_bytes())
    home = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return home / "gongji" / "numba" / digest.hexdigest()[:16]


def cached(module_name: str, grown: bool = True) -> bool:
    """Whether the module's kernel functions were compiled and kept before, by this source
    (numba writes an index, name.function-line.pyXY.nbi, beside each function's code): if
    not, their first use compiles them, which takes a while."""
    stem = module_name.rsplit(".", 1)[-1]
    return any(cache_folder(module_name, grown).glob(f"*/{stem}.*.nbi"))


def _sources(module_name: str) -> set[str]:
    """The modules a module's compiled code depends on: itself, this module (the options
    things are compiled with), and, transitively, this package's modules its globals name —
    those it imports kernel functions from, and those whose constants it reads (layout, and
    the enums layout's indices are derived from)."""
    package = __name__.split(".")[0]
    found = {__name__}
    todo = [module_name]
    while todo:
        name = todo.pop()
        if name in found:
            continue
        found.add(name)
        for value in vars(importlib.import_module(name)).values():
            owner = value.__name__ if isinstance(value, types.ModuleType) else None
            owner = owner or getattr(value, "__module__", None)
            if isinstance(owner, str) and owner.split(".")[0] == package and owner not in found:
                todo.append(owner)
    return found


def compiled_settle_visit():
    return compiled(kernel.__name__)["settle_visit"]


def empty_trace():
    """A trace buffer for the compiled kernel (see kernel.emit)."""
    import numpy as np

    return np.zeros(L.TRACE_CAPACITY, np.int64)
