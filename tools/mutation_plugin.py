"""A pytest plugin for mutation runs only (tools/mutation.py loads it with `-p`).

The engine memoises what does not change within a process: a pack's compiled tables
(engine.tables._compiled) and the engine's member made from a stored record
(ledger.settlement._member_for). Under mutmut every mutant runs in a process forked from one
that has already run the tests, so a mutant in code behind such a memo would never run, and
mutmut's record of which tests reach a function would name only the first test that filled
the memo. Emptying the memos before each test makes every test run that code again.
"""

import json
import sys
from pathlib import Path


def pytest_runtest_setup(item):
    tables = sys.modules.get("gongji.engine.tables")
    if tables is not None:
        tables._compiled.clear()
    settlement = sys.modules.get("gongji.ledger.settlement")
    if settlement is not None:
        settlement._member_for.cache_clear()


def pytest_collection_modifyitems(items):
    """Quickest tests first: mutmut stops a mutant's run at its first failing test, so a
    mutant a worked example kills is not kept waiting for the property tests (mutmut runs a
    mutant's tests in no particular order). The durations are mutmut's, from its stats run."""
    try:
        durations = json.loads(Path("mutmut-stats.json").read_text())["duration_by_test"]
    except (OSError, ValueError, KeyError):
        return
    items.sort(key=lambda item: durations.get(item.nodeid, 0.0))
