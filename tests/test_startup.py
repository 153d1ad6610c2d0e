"""What `gongji` loads and how `gongji calculate --json` writes (issue 22: speed where users
wait). Every command module is imported for `--help` and for any one command, so the heavy
libraries are imported by the commands that use them; and calculate's JSON is written a
visit at a time, compact unless --pretty asks for json.dumps' indented layout."""

import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from gongji import documents
from gongji.calculate import CHUNK, calculate, settle, write_json

EXAMPLES = Path(__file__).parents[1] / "examples"
# the service's, the store's, the analysis' and the console's libraries: none is needed to
# print the help or to run a trial calculation
HEAVY = (
    "polars",
    "pandas",
    "numba",
    "pyarrow",
    "numpy",
    "fastapi",
    "sqlalchemy",
    "alembic",
    "uvicorn",
    "jinja2",
    "matplotlib",
)


def loaded_by(*args: str, modules: tuple[str, ...] = HEAVY, env: dict | None = None) -> list[str]:
    """The `modules` (default HEAVY) loaded after running `gongji ARGS` in a fresh
    interpreter."""
    code = (
        "import sys\n"
        "from gongji.cli import app\n"
        f"sys.argv = ['gongji', *{list(args)!r}]\n"
        "try:\n"
        "    app(prog_name='gongji')\n"
        "except SystemExit as exc:\n"
        "    assert not exc.code, exc.code\n"
        f"print(' '.join(m for m in {modules!r} if m in sys.modules), file=sys.stderr)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stderr.split()


def test_help_loads_no_heavy_library():
    assert loaded_by("--help") == []


def test_help_loads_neither_the_engine_nor_the_terms_table():
    # the term table's patterns and the policy schema's models cost a tenth of a second
    modules = ("gongji.labels", "gongji.policy", "gongji.engine", "gongji.model", "pydantic")
    assert loaded_by("--help", modules=modules) == []


def test_help_loads_neither_markdown_nor_pygments():
    # Typer's help imports them at module level and never uses them here (gongji.richhelp)
    modules = ("rich.markdown", "markdown_it", "rich.traceback", "rich.syntax", "pygments")
    assert loaded_by("--help", modules=modules) == []
    assert loaded_by("calculate", "--help", modules=modules) == []


def test_the_help_without_markdown_still_has_it_when_asked():
    # the placeholders stand for the real classes: Markdown help and a pretty traceback work
    code = (
        "import sys\n"
        "from gongji import richhelp\n"
        "richhelp.install()\n"
        "from typer import rich_utils\n"
        "assert 'rich.markdown' not in sys.modules\n"
        "text = rich_utils._make_rich_text(text='**x**', markup_mode='markdown')\n"
        "import rich.markdown, rich.traceback\n"
        "assert type(text) is rich.markdown.Markdown, type(text)\n"
        "try:\n"
        "    1 / 0\n"
        "except ZeroDivisionError as exc:\n"
        "    tb = rich_utils.Traceback.from_exception(type(exc), exc, exc.__traceback__)\n"
        "assert type(tb) is rich.traceback.Traceback, type(tb)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_calculate_builds_no_pack_validator_once_the_pack_is_cached(tmp_path):
    # the first run reads the YAML and validates it; the next reads the cached pack
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path)}
    example = str(EXAMPLES / "kaifeng-same-day.yaml")
    check = ("gongji.policy.schema",)
    assert loaded_by("calculate", example, modules=check, env=env) == list(check)
    assert list((tmp_path / "gongji" / "packs").glob("*.pickle"))
    probe = "from gongji.policy.schema import Pack\nprint(Pack.__pydantic_complete__)\n"
    assert after_calculate(example, probe, env) == "False"  # its validators never built


def test_a_calculation_that_succeeds_compiles_no_reason_pattern():
    # the error reasons' patterns took most of gongji.labels' loading; they wait for an error
    probe = "from gongji.labels import _reading\nprint(_reading.cache_info().currsize)\n"
    assert after_calculate(str(EXAMPLES / "kaifeng-same-day.yaml"), probe) == "0"


def test_a_calculation_loads_no_emoji_table():
    # Rich's 3,600 emoji codes, and its search of every printed cell for them: we print none
    modules = ("rich._emoji_codes",)
    example = str(EXAMPLES / "kaifeng-same-day.yaml")
    assert loaded_by("calculate", example, modules=modules) == []


def test_compiling_a_pack_asks_no_node_for_a_field_it_lacks(monkeypatch):
    # pydantic answers a missing attribute by __getattr__ and two exceptions: asked of every
    # cited node, they were 3% of one example's calculation
    from pydantic import BaseModel

    from gongji import engine
    from gongji.policy import load_file
    from gongji.policy.loader import PACKS_DIR

    pack = load_file(PACKS_DIR / "xishuangbanna.yaml")  # every kind of node, a pack not compiled
    asked: list[str] = []
    missing = BaseModel.__getattr__
    monkeypatch.setattr(
        BaseModel, "__getattr__", lambda m, name: asked.append(name) or missing(m, name)
    )
    engine.compile_pack(pack)
    assert asked == []


def after_calculate(example: str, probe: str, env: dict | None = None) -> str:
    """What `probe` prints (stripped) in a process that has just run `gongji calculate
    example` successfully (calculate's own output goes to /dev/null)."""
    code = (
        "import contextlib, os, sys\n"
        "from gongji.cli import app\n"
        f"sys.argv = ['gongji', 'calculate', {example!r}]\n"
        "with open(os.devnull, 'w') as out, contextlib.redirect_stdout(out):\n"
        "    try:\n"
        "        app(prog_name='gongji')\n"
        "    except SystemExit as exc:\n"
        "        assert not exc.code, exc.code\n"
        f"{probe}"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


@pytest.mark.parametrize("output", [["--json"], []], ids=["json", "table"])
def test_calculate_loads_no_heavy_library(output):
    assert loaded_by("calculate", str(EXAMPLES / "nanyang-line-items.yaml"), *output) == []


def run_cli(*args: str) -> str:
    proc = subprocess.run(
        [sys.executable, "-m", "gongji", *args], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_pretty_is_json_dumps_indented_and_compact_the_same_document():
    # a line-item visit (its split) and a configured step: every optional field appears
    path = str(EXAMPLES / "nanyang-line-items.yaml")
    compact = run_cli("calculate", path, "--json")
    pretty = run_cli("calculate", path, "--json", "--pretty")
    document = json.loads(compact)
    assert "\n" not in compact.rstrip("\n")
    assert pretty == json.dumps(document, ensure_ascii=False, indent=2) + "\n"
    assert any("out_of_scope" in v for v in document["visits"])


def many_visits(n: int) -> dict:
    scenario = documents.read(EXAMPLES / "kaifeng-same-day.yaml")
    visit = scenario["visits"][0]
    scenario["visits"] = [  # ten a day, an hour apart, from 1 March
        {**visit, "id": f"V{i}", "time": f"2023-03-{1 + i // 10:02d}T{8 + i % 10:02d}:00:00"}
        for i in range(n)
    ]
    return scenario


@pytest.mark.parametrize("pretty", [False, True], ids=["compact", "pretty"])
def test_json_is_written_a_piece_at_a_time_as_the_contract_has_it(pretty):
    scenario = many_visits(300)
    pieces: list[bytes] = []
    write_json(settle(scenario), pieces.append, pretty)
    assert len(pieces) > 2  # not built whole: handed over as the visits are rendered
    assert all(len(p) < 2 * CHUNK for p in pieces)
    written = json.loads(b"".join(pieces), parse_float=Decimal)
    assert written == calculate(scenario)  # the contract's document, amounts Decimal yuan
    assert len(written["visits"]) == 300
