"""The `gongji` command: thin over the packages; bad input is one line on stderr, exit 2.

What a command needs it imports itself (see commands.py): `gongji --help` and `gongji
calculate` load neither the store nor the service nor the analysis libraries.
"""

import sys
from datetime import date
from pathlib import Path

import typer

from gongji.analysis import cli as analysis
from gongji.commands import bad_rows, fail
from gongji.commands import console as out
from gongji.console import cli as console
from gongji.csvfile import BadRows
from gongji.errors import InputError
from gongji.ledger import cli as ledger
from gongji.service import cli as service
from gongji.supervision import cli as supervision

app = typer.Typer(
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    help="gongji 共济 — employee outpatient mutual-aid settlement.",
)
policy_app = typer.Typer(no_args_is_help=True, help="Policy packs: show and compare.")
app.add_typer(policy_app, name="policy")
catalogue_app = typer.Typer(no_args_is_help=True, help="The insurance catalogue (目录).")
app.add_typer(catalogue_app, name="catalogue")
FIGURES = (
    "total",
    "in_scope",
    "deductible",
    "fund_pay",
    "account_pay",
    "cash_pay",
    "account_balance",
)


@app.command()
def calculate(
    scenario: str = typer.Argument(..., help="Scenario file (YAML or JSON), or - for stdin."),
    as_json: bool = typer.Option(False, "--json", help="Print the JSON of calculate.md."),
    pretty: bool = typer.Option(False, "--pretty", help="With --json: indented (default compact)."),
    catalogue_csv: Path = typer.Option(
        None, "--catalogue", help="Catalogue CSV for line-item visits (default: the sample)."
    ),
) -> None:
    """Trial calculation (待遇测算): settle a member's visits under a region's policy."""
    from gongji import calculate as trial_calculation
    from gongji import catalogue, documents

    try:
        items = catalogue.load_csv(catalogue_csv) if catalogue_csv else None
        if scenario == "-":
            document = documents.parse(sys.stdin.read(), "stdin")
        else:
            document = documents.read(Path(scenario))
        trial = trial_calculation.settle(document, items)
    except BadRows as exc:
        bad_rows(exc)
    except InputError as exc:
        fail(exc)
    if as_json:  # written a visit at a time, straight to stdout's bytes
        stdout = sys.stdout
        stdout.flush()
        trial_calculation.write_json(trial, stdout.buffer.write, pretty)
        stdout.buffer.flush()
    else:
        _print_result(trial)


def _print_result(trial) -> None:
    from rich.table import Table

    from gongji.money import to_yuan

    head = trial.head()
    out().print(f"[bold]{head['region']}[/] · member {head['member']} · {head['policy_version']}")
    for v in trial.visits(to_yuan):
        table = Table(
            title=f"visit {v['id']} ({v['member_class']}, {v['policy_version']})",
            title_justify="left",
        )
        for col in FIGURES:
            table.add_column(col, justify="right")
        table.add_row(*(f"{v[c]}" for c in FIGURES))
        out().print(table)
        steps = Table(show_header=True, box=None, padding=(0, 1))
        steps.add_column("rule", style="cyan")
        steps.add_column("article")
        steps.add_column("amount", justify="right")
        steps.add_column("explanation")
        for s in v["trace"]:
            mark = " [yellow](configured)[/]" if s.get("configured") else ""
            steps.add_row(s["rule"], s["article"], f"{s['amount']}", s["text"] + mark)
        out().print(steps)
    t = trial.totals(to_yuan)
    out().print(
        f"[bold]totals[/] total {t['total']} · fund {t['fund_pay']} · "
        f"account {t['account_pay']} · cash {t['cash_pay']}"
    )


@policy_app.command("show")
def policy_show(
    region: str = typer.Argument(..., help="Region id or pack file."),
) -> None:
    """Print a pack as a table: every value with its rule ID and article."""
    from rich.table import Table

    from gongji import policy
    from gongji.policy import present

    try:
        pack = policy.load(region)
    except InputError as exc:
        fail(exc)
    out().print(f"[bold]{pack.name}[/] ({pack.region}, {pack.province}) — {pack.document}")
    for version in pack.versions:
        until = f" to {version.valid_to}" if version.valid_to else ""
        table = Table(title=f"{pack.version_id(version)}{until}", title_justify="left")
        for col in ("topic", "value", "rule", "article", "source"):
            table.add_column(col)
        rows = present.rows(version)
        for r in rows:
            table.add_row(r.topic, r.value, r.rule, r.article, _source(r))
        out().print(table)
        if version.note:
            out().print(f"  {version.note}")
        # a configured value's reading, once per node: the project's words, not the article's
        readings = dict.fromkeys((r.rule, r.article, r.reading) for r in rows if r.reading)
        if readings:
            out().print("  [yellow]configured readings[/] (not the articles' words):")
        for rule, article, reading in readings:
            out().print(f"  {rule} {article}: {reading}", markup=False)


def _source(row) -> str:  # a present.Row (imported where used)
    return "configured" if row.configured else "text" if row.rule else ""


@policy_app.command("compare")
def policy_compare(
    first: str = typer.Argument(..., help="Region id or pack file."),
    second: str = typer.Argument(..., help="Region id or pack file."),
    on: str = typer.Option(None, help="Compare the versions in force on this date (YYYY-MM-DD)."),
) -> None:
    """Two packs side by side (the versions in force on a date; default the latest)."""
    from rich.table import Table

    from gongji import policy
    from gongji.policy import present

    try:
        packs = [policy.load(first), policy.load(second)]
        day = date.fromisoformat(on) if on else None
    except InputError as exc:
        fail(exc)
    except ValueError:
        fail(InputError("--on", f"not a date (YYYY-MM-DD): {on!r}"))
    versions = []
    for pack in packs:
        version = pack.version_on(day) if day else pack.versions[-1]
        if version is None:
            fail(InputError("--on", f"no {pack.region} policy in force on {day}"))
        versions.append(version)
    table = Table(title=f"{packs[0].version_id(versions[0])} vs {packs[1].version_id(versions[1])}")
    table.add_column("topic")
    for pack in packs:
        table.add_column(pack.name)
        table.add_column("rule", style="cyan")
    for topic, a, b in present.side_by_side(*versions):
        style = None if a and b and a.value == b.value else "bold"
        table.add_row(
            topic,
            a.value if a else "—",
            a.rule if a else "",
            b.value if b else "—",
            b.rule if b else "",
            style=style,
        )
    out().print(table)


@catalogue_app.command("check")
def catalogue_check(
    csv_file: Path = typer.Argument(
        ..., help="CSV: code,name,class,self_pay_share,payment_standard (UTF-8 or GBK)"
    ),
) -> None:
    """Load a catalogue CSV (all rows or none); every bad row is reported by number and
    field."""
    from gongji import catalogue

    try:
        items = catalogue.load_csv(csv_file)
    except BadRows as exc:
        bad_rows(exc)
    except InputError as exc:
        fail(exc)
    by_class = {c: sum(1 for i in items.values() if i.item_class == c) for c in "ABC"}
    with_standard = sum(1 for i in items.values() if i.payment_standard is not None)
    out().print(
        f"{csv_file.name}: {len(items)} items — class A {by_class['A']}, B {by_class['B']}, "
        f"C {by_class['C']}; {with_standard} with a payment standard"
    )


ledger.register(app)  # db, member, import, settle, cancel, account, year
service.register(app)  # serve, demo, credential
analysis.register(app)  # generate, replay, report
supervision.register(app)  # monitor, statements, fund statistics
console.register(app)  # staff
