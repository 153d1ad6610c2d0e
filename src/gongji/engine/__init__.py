"""The settlement engine: pure functions from policy, state and visit to result and trace."""

from gongji.engine.facts import Member, Period, Visit, retirement_effective
from gongji.engine.invariants import InvariantError
from gongji.engine.settle import EngineError, Result, settle, settle_all
from gongji.engine.state import YearState
from gongji.engine.tables import Tables, compile_pack, tables_on
from gongji.engine.trace import Step, explain, explain_records
from gongji.engine.trace import rows as trace_rows

__all__ = [
    "EngineError",
    "InvariantError",
    "Member",
    "Period",
    "Result",
    "Step",
    "Tables",
    "Visit",
    "YearState",
    "compile_pack",
    "explain",
    "explain_records",
    "retirement_effective",
    "settle",
    "settle_all",
    "tables_on",
    "trace_rows",
]
