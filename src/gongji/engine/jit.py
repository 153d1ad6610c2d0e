"""The kernel compiled by numba, for batch replay: the same functions, not a second rulebook.

Each kernel function is rebuilt over a shared globals dict in which its callees are already
their compiled versions, then compiled with `numba.njit`. Parameters and state are int64
arrays; the trace is a `numba.typed.List` of int64.
"""

import types
from functools import cache

from gongji.engine import kernel


@cache
def compiled_settle_visit():
    import numba  # optional dependency (extra "fast"): only batch replay needs it

    namespace = dict(vars(kernel))
    for name in kernel.KERNEL_FUNCTIONS:
        fn = namespace[name]
        if fn.__module__ != kernel.__name__:
            namespace[name] = numba.njit(fn)  # a leaf from another module, e.g. money.apply_ratio
            continue
        rebuilt = types.FunctionType(fn.__code__, namespace, name, fn.__defaults__)
        namespace[name] = numba.njit(rebuilt)
    return namespace["settle_visit"]


def empty_trace():
    import numba

    return numba.typed.List.empty_list(numba.int64)
