"""gongji 共济: employee outpatient mutual-aid settlement.

For notebooks (see api.py): `gongji.load_pack`, `gongji.settle`, `gongji.replay` and the
tables of a replay's aggregates, `gongji.table` and `gongji.reform_effect`. Importing the
package loads none of them (nor Polars, numba or Arrow): a name is looked up in api.py when
first used, so `gongji calculate` and `gongji --help` start as quickly as before.
"""

API = ("load_pack", "settle", "replay", "table", "reform_effect")
__all__ = list(API)


def __getattr__(name: str):
    if name in API:
        from gongji import api

        return getattr(api, name)
    raise AttributeError(f"module 'gongji' has no attribute {name!r}")
