"""A pytest plugin for mutation runs only (tools/mutation.py loads it with `-p`).

Tests that run `gongji` in a subprocess are left out: the subprocess imports the package
as installed, not mutmut's mutated copy, so they cannot kill a mutant. With
GONGJI_MUTATION_PHASE=fast the hypothesis property modules are left out too: tools/mutation.py
runs every mutant without them first, then the survivors with them (same verdicts, and a
survivor does not cost the property tests' half minute twice).

The engine memoises what does not change within a process: a pack's compiled tables
(engine.tables._compiled) and the engine's member made from a stored record
(ledger.settlement._member_for). Under mutmut every mutant runs in a process forked from one
that has already run the tests, so a mutant in code behind such a memo would never run, and
mutmut's record of which tests reach a function would name only the first test that filled
the memo. Emptying the memos before each test makes every test run that code again.
"""

import json
import os
import sys
from pathlib import Path


def pytest_runtest_setup(item):
    tables = sys.modules.get("gongji.engine.tables")
    if tables is not None:
        tables._compiled.clear()
    settlement = sys.modules.get("gongji.ledger.settlement")
    if settlement is not None:
        settlement._member_for.cache_clear()


SUBPROCESS = (
    "tests/test_bad_input.py::test_cli_",
    "tests/test_bad_input.py::test_json_input_numbers_stay_exact",
    "tests/policy/test_packs.py::test_cli_shows_and_compares_packs",
)
# hypothesis modules: slow, and a failing one shrinks for minutes; run for the survivors only
PROPERTIES = (
    "tests/engine/test_properties.py",
    "tests/engine/test_use.py",
    "tests/ledger/test_ledger_properties.py",
    "tests/ledger/test_ledger_model.py",
)


def pytest_collection_modifyitems(config, items):
    """Leaves out what cannot or need not run (above); then the quickest tests first:
    mutmut stops a mutant's run at its first failing test, so a mutant a worked example
    kills is not kept waiting for slower tests (mutmut runs a mutant's tests in no
    particular order). The durations are mutmut's, from its stats run."""
    out = SUBPROCESS + (PROPERTIES if os.environ.get("GONGJI_MUTATION_PHASE") == "fast" else ())
    dropped = [item for item in items if item.nodeid.startswith(out)]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = [item for item in items if not item.nodeid.startswith(out)]
    try:
        durations = json.loads(Path("mutmut-stats.json").read_text())["duration_by_test"]
    except (OSError, ValueError, KeyError):
        return
    items.sort(key=lambda item: durations.get(item.nodeid, 0.0))
