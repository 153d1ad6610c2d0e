"""Kernel functions compiled by numba, for batch replay: the same functions, not a second
rulebook.

A module opts in by listing its kernel functions in `KERNEL_FUNCTIONS` (written in the subset
of Python numba compiles). Each is rebuilt over a copy of its module's globals in which every
kernel function it can call — its own module's and those it imports — is the compiled
version, then compiled with `numba.njit`. Parameters and state are int64 arrays; the trace
is an int64 buffer (kernel.emit).
"""

import hashlib
import importlib
import os
import types
from functools import cache
from pathlib import Path

from gongji.engine import layout as L

# Compiled without reference counting (`_nrt=False`): numba counts references to every array
# passed to a call, with atomic operations, which cost more than the rules themselves (a
# visit makes some twenty calls: ~400 ns a visit against ~30 without). Only the replay's
# batch loop, which allocates its per-thread state, keeps it.
OPTIONS = {"replay_chunks": {"_nrt": True, "parallel": True}}
# Kernel functions are inlined into their callers by numba (LLVM does not inline across
# numba's functions; inlined, a visit costs about a third less), but for the entry points
# named here, which are called from Python or hold a loop of their own.
NOT_INLINED = (
    "settle_visit",
    "replay_chunks",
    "settle_chunk",
    "decode_rows",
)


# Modules whose source the compiled code depends on. numba's own cache only notices a change
# to a function's own file, so the cache folder is named by a hash of all of them.
SOURCES = (
    "gongji.money",
    "gongji.engine.layout",
    "gongji.engine.facts",
    "gongji.engine.state",
    "gongji.engine.kernel",
    "gongji.analysis.kernel",
    "gongji.engine.jit",  # the options things are compiled with
)


@cache
def _use_cache_folder() -> None:
    import numba

    digest = hashlib.sha256()
    for name in SOURCES:
        digest.update(Path(importlib.import_module(name).__file__).read_bytes())
    home = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    numba.config.CACHE_DIR = str(home / "gongji" / "numba" / digest.hexdigest()[:16])


@cache
def compiled(module_name: str) -> dict:
    """The module's globals with its kernel functions and the kernel functions it imports
    replaced by their compiled versions."""
    # The replay's parallel loop shares two cores with the threads that read and write
    # Parquet; OpenMP's workers spinning while they wait for work took the CPU those need
    # (a fifth of a replay's time). Read when OpenMP starts, so set before numba loads it.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    import numba  # optional dependency (extra "analysis"): only batch replay needs it

    _use_cache_folder()
    module = importlib.import_module(module_name)
    namespace = dict(vars(module))
    for key, value in vars(module).items():
        if _imported_kernel_function(value, module_name):
            namespace[key] = compiled(value.__module__)[value.__name__]
    for name in module.KERNEL_FUNCTIONS:
        fn = vars(module)[name]
        rebuilt = types.FunctionType(fn.__code__, namespace, name, fn.__defaults__)
        options = {"nogil": True, "cache": True, "_nrt": False, **OPTIONS.get(name, {})}
        if name not in NOT_INLINED:
            options["inline"] = "always"
        namespace[name] = numba.njit(**options)(rebuilt)
    return namespace


def _imported_kernel_function(value, module_name: str) -> bool:
    if not isinstance(value, types.FunctionType) or value.__module__ == module_name:
        return False
    owner = importlib.import_module(value.__module__)
    return value.__name__ in getattr(owner, "KERNEL_FUNCTIONS", ())


def compiled_settle_visit():
    return compiled("gongji.engine.kernel")["settle_visit"]


def empty_trace():
    """A trace buffer for the compiled kernel (see kernel.emit)."""
    import numpy as np

    return np.zeros(L.TRACE_CAPACITY, np.int64)
