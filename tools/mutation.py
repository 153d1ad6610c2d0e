"""Mutation testing of the engine, money and the ledger's settle/cancel/journal paths: one
command, then the score.

    python tools/mutation.py             # mutmut run (resumes a run left off), then the score
    python tools/mutation.py --fresh     # from nothing: every mutant tested again
    python tools/mutation.py --report    # the score of the last run, running nothing

What is mutated, and with which tests, is [tool.mutmut] in pyproject.toml; how to read the
result and the list of equivalent mutants are docs/mutation.md. The score is
killed / (total - documented equivalents), per module and overall; a mutant that times out
counts as killed, one that no test reaches as not killed. Exit status 1 when a survivor is
neither killed nor listed as equivalent, or the score is under --fail-under (90).
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "mutation.md"
KILLED = {"killed", "timeout"}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--fresh", action="store_true", help="forget the last run's results")
    ap.add_argument("--report", action="store_true", help="only report the last run")
    ap.add_argument("--max-children", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--fail-under", type=float, default=90.0, help="minimum score, percent")
    ap.add_argument("--show", action="store_true", help="print each unexplained survivor's diff")
    args = ap.parse_args()
    os.chdir(ROOT)
    if not args.report:
        if args.fresh:
            shutil.rmtree(ROOT / "mutants", ignore_errors=True)
        started = time.monotonic()
        run(args.max_children)
        print(f"mutmut ran {time.monotonic() - started:.0f} s")
    return report(args.fail_under, args.show)


def run(max_children: int) -> None:
    """Every mutant against the tests without the hypothesis property modules, then those
    that survive, but the documented equivalents, against all of them
    (tools/mutation_plugin.py)."""
    mutmut("run", "--max-children", str(max_children), phase="fast")
    listed = equivalents()  # no test can kill these: not run again
    left = []
    for module, name, status, path in results():
        if status not in ("survived", "no tests"):
            continue
        key = (module, *mutation_of(name, path))
        if listed[key] > 0:
            listed[key] -= 1
        else:
            left.append(name)
    if left:
        print(f"{len(left)} mutants survived without the property tests: with them now")
        mutmut("run", "--max-children", str(max_children), *left, phase="all")


def mutmut(*args: str, phase: str) -> None:
    # tools/ holds the pytest plugin the run loads; the tests import the mutated copy mutmut
    # makes under mutants/, not src/
    env = {**os.environ, "PYTHONPATH": str(ROOT / "tools"), "GONGJI_MUTATION_PHASE": phase}
    cli = [sys.executable, "-c", "from mutmut.__main__ import cli; cli()"]
    done = subprocess.run([*cli, *args], env=env)
    if done.returncode != 0:
        sys.exit(f"mutmut {args[0]} failed ({done.returncode})")


def results() -> list[tuple[str, str, str, Path]]:
    """(module, mutant name, status, source file) of every mutant of the last run."""
    from mutmut.mutation.data import SourceFileMutationData
    from mutmut.stats import status_by_exit_code
    from mutmut.utils.file_utils import walk_mutatable_files

    out = []
    for path in walk_mutatable_files():
        data = SourceFileMutationData(path=path)
        data.load()
        module = ".".join(path.with_suffix("").parts[1:])
        for name, code in data.exit_code_by_key.items():
            out.append((module, name, status_by_exit_code[code], path))
    return out


def mutation_of(name: str, path: Path) -> tuple[str, str, str]:
    """A mutant as (function, original lines, mutated lines): how docs/mutation.md names it,
    stable while the function's text is (mutmut's numbers are not)."""
    from mutmut.mutation.diff_apply import get_diff_for_mutant

    diff = get_diff_for_mutant(name, path=path).splitlines()[2:]
    old = " / ".join(line[1:].strip() for line in diff if line.startswith("-"))
    new = " / ".join(line[1:].strip() for line in diff if line.startswith("+"))
    mangled = name.rsplit(".", 1)[1].split("__mutmut_")[0]  # x_f, or xǁClassǁmethod
    function = mangled[2:].replace("ǁ", ".")
    return function, _squash(old), _squash(new)


def _squash(code: str) -> str:
    return re.sub(r"\s+", " ", code).strip()


def equivalents() -> Counter:
    """(module, function, line, mutated line) -> how many mutants the doc explains so."""
    listed: Counter = Counter()
    section = False
    for line in DOC.read_text(encoding="utf-8").splitlines():
        if line.startswith("## "):
            section = line.startswith("## Equivalent mutants")
            continue
        if not (section and line.startswith("| ")):
            continue
        cells = [c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", line)[1:-1]]
        if len(cells) < 5 or not cells[2].startswith("`"):
            continue  # the header
        module, function, old, new = cells[0].strip("`"), cells[1].strip("`"), cells[2], cells[3]
        listed[(module, function, _squash(old[1:-1]), _squash(new[1:-1]))] += 1
    return listed


def report(fail_under: float, show: bool) -> int:
    sys.path.insert(0, str(ROOT))
    everything = results()
    if not everything:
        print("no results: run `python tools/mutation.py` first")
        return 1
    listed = equivalents()
    by_module: dict[str, Counter] = defaultdict(Counter)
    unexplained = []
    for module, name, status, path in everything:
        count = by_module[module]
        count["total"] += 1
        if status in KILLED:
            count["killed"] += 1
            count["timeout"] += status == "timeout"
            continue
        key = (module, *mutation_of(name, path))
        if listed[key] > 0:
            listed[key] -= 1
            count["equivalent"] += 1
        else:
            count[status] += 1
            unexplained.append((name, status, key, path))
    print(f"{'module':32} {'total':>6} {'killed':>6} {'equiv':>6} {'left':>5} {'score':>7}")
    whole: Counter = Counter()
    for module in sorted(by_module):
        c = by_module[module]
        whole.update(c)
        _row(module, c)
    _row("all", whole)
    for key, n in listed.items():
        if n:
            print(f"listed in {DOC.name} but not a survivor now ({n}): {key}")
    for name, status, key, path in unexplained:
        print(f"{status}: {name}  {key[1]}: {key[2]!r} -> {key[3]!r}")
        if show:
            from mutmut.mutation.diff_apply import get_diff_for_mutant

            print(get_diff_for_mutant(name, path=path))
    score = _score(whole)
    print(f"score {score:.2f}% (killed / (total - equivalents)); {len(unexplained)} unexplained")
    return 0 if score >= fail_under and not unexplained else 1


def _score(c: Counter) -> float:
    scored = c["total"] - c["equivalent"]
    return 100.0 * c["killed"] / scored if scored else 100.0


def _row(module: str, c: Counter) -> None:
    left = c["total"] - c["killed"] - c["equivalent"]
    print(
        f"{module:32} {c['total']:6} {c['killed']:6} {c['equivalent']:6} {left:5} {_score(c):6.2f}%"
    )


if __name__ == "__main__":
    sys.exit(main())
