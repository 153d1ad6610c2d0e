"""The `gongji` command: thin over the packages; bad input is one line on stderr, exit 2.

What a command needs it imports itself (see commands.py): `gongji --help` and `gongji
calculate` load neither the store nor the service nor the analysis libraries.
"""

import sys
from datetime import date
from pathlib import Path

import typer

from gongji import richhelp
from gongji.analysis import cli as analysis
from gongji.commands import bad_rows, fail
from gongji.commands import console as out
from gongji.console import cli as console
from gongji.csvfile import BadRows
from gongji.errors import InputError
from gongji.ledger import cli as ledger
from gongji.service import cli as service
from gongji.supervision import cli as supervision

richhelp.install()  # help pages and usage errors without Markdown and Pygments

app = typer.Typer(
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    help="共济 gongji — 职工医保门诊共济结算 (employee outpatient mutual-aid settlement).",
)
policy_app = typer.Typer(
    no_args_is_help=True, help="政策包：查看与对比 (policy packs: show and compare)."
)
app.add_typer(policy_app, name="policy")
catalogue_app = typer.Typer(no_args_is_help=True, help="医保目录 (the insurance catalogue).")
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
    lang: str = typer.Option("zh", "--lang", help="The trace's language: zh (default) or en."),
) -> None:
    """待遇测算：按统筹地区政策计算参保人的就诊结算。
    Trial calculation (待遇测算): settle a member's visits under a region's policy."""
    import gc

    # What the scenario makes (its visits validated, settled, their results) lives until the
    # output is written and makes next to no cycles: the collector would only walk it again
    # and again as it grows (a tenth of a large scenario's time).
    collecting = gc.isenabled()
    gc.disable()
    try:
        _calculate(scenario, as_json, pretty, catalogue_csv, lang)
    finally:
        if collecting:
            gc.enable()


def _calculate(
    scenario: str, as_json: bool, pretty: bool, catalogue_csv: Path | None, lang: str
) -> None:
    from gongji import calculate as trial_calculation
    from gongji import catalogue, documents
    from gongji.labels import LANGS  # its tables and patterns: not for --help

    try:
        if lang not in LANGS:
            raise InputError("--lang", f"one of {', '.join(LANGS)}, not {lang!r}")
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
        trial_calculation.write_json(trial, stdout.buffer.write, pretty, lang)
        stdout.buffer.flush()
    else:
        _print_result(trial, lang)


# the calculate table's words, a language: (the head, a visit, the trace's columns, configured,
# the totals)
WORDS = {
    "zh": ("参保人", "就诊", ("规则", "条款", "金额（元）", "说明"), "（配置值）", "合计"),
    "en": (
        "member",
        "visit",
        ("rule", "article", "amount", "explanation"),
        "(configured)",
        "totals",
    ),
}


def _print_result(trial, lang: str = "zh") -> None:
    from rich.table import Table

    from gongji.labels import label, version
    from gongji.money import to_yuan

    member, visit, columns, configured, totals = WORDS[lang]
    head = trial.head()
    region = label(head["region"], lang)
    named = version if lang == "zh" else str  # 开封市 2023-01-01 起施行, or kaifeng@2023-01-01
    out().print(f"[bold]{region}[/] · {member} {head['member']} · {named(head['policy_version'])}")
    for v in trial.visits(to_yuan, lang):
        klass = label(v["member_class"], lang)
        where = (
            f"（{klass}，{named(v['policy_version'])}）"
            if lang == "zh"
            else f" ({klass}, {v['policy_version']})"
        )
        table = Table(title=f"{visit} {v['id']}{where}", title_justify="left")
        for col in FIGURES:
            head = HEADS.get(col, label(col)) if lang == "zh" else col
            table.add_column(head, justify="right", overflow="fold")
        table.add_row(*(f"{v[c]}" for c in FIGURES))
        out().print(table)
        steps = Table(show_header=True, box=None, padding=(0, 1))
        steps.add_column(columns[0], style="cyan")
        steps.add_column(columns[1])
        steps.add_column(columns[2], justify="right")
        steps.add_column(columns[3])
        for s in v["trace"]:
            mark = f" [yellow]{configured}[/]" if s.get("configured") else ""
            steps.add_row(s["rule"], s["article"], f"{s['amount']}", s["text"] + mark)
        out().print(steps)
    t = trial.totals(to_yuan)
    names = [label(k, lang) if lang == "zh" else k.split("_")[0] for k in TOTALS]
    figures = " · ".join(f"{n} {t[k]}" for n, k in zip(names, TOTALS, strict=True))
    out().print(f"[bold]{totals}[/] {figures}")


TOTALS = ("total", "fund_pay", "account_pay", "cash_pay")
# the figures' glossary names on two lines: seven columns whole in an 80-column terminal
HEADS = {
    "total": "医疗费\n总额",
    "in_scope": "政策范围\n内费用",
    "deductible": "起付线",
    "fund_pay": "统筹基金\n支付",
    "account_pay": "个人账户\n支付",
    "cash_pay": "个人现金\n支付",
    "account_balance": "个人账户\n余额",
}


@policy_app.command("show")
def policy_show(
    region: str = typer.Argument(..., help="Region id or pack file."),
) -> None:
    """查看政策包：每项取值及其规则编号和条款。
    Print a pack as a table: every value with its rule ID and article."""
    from rich.table import Table

    from gongji import policy
    from gongji.labels import phrase
    from gongji.policy import present

    try:
        pack = policy.load(region)
    except InputError as exc:
        fail(exc)
    out().print(f"[bold]{pack.name}[/] ({pack.region}, {pack.province}) — {pack.document}")
    for version in pack.versions:
        until = f" 至 {version.valid_to}" if version.valid_to else ""
        table = Table(title=f"{pack.version_id(version)}{until}", title_justify="left")
        for col in ("项目", "标准", "规则", "条款", "来源"):
            table.add_column(col)
        rows = present.rows(version)
        for r in rows:
            table.add_row(phrase(r.topic), phrase(r.value), r.rule, r.article, _source(r))
        out().print(table)
        if version.note:
            out().print(f"  {version.note}")
        # a configured value's reading, once per node: the project's words, not the article's
        readings = dict.fromkeys((r.rule, r.article, r.reading.say()) for r in rows if r.reading)
        if readings:
            out().print("  [yellow]配置值的解读[/]（非条款原文 configured readings）：")
        for rule, article, reading in readings:
            out().print(f"  {rule} {article}: {reading}", markup=False)


def _source(row) -> str:  # a present.Row (imported where used)
    return "配置 configured" if row.configured else "原文 text" if row.rule else ""


@policy_app.command("compare")
def policy_compare(
    first: str = typer.Argument(..., help="Region id or pack file."),
    second: str = typer.Argument(..., help="Region id or pack file."),
    on: str = typer.Option(None, help="Compare the versions in force on this date (YYYY-MM-DD)."),
) -> None:
    """对比两个政策包（某日有效的版本，默认最新）。
    Two packs side by side (the versions in force on a date; default the latest)."""
    from rich.table import Table

    from gongji import policy
    from gongji.labels import phrase
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
    table = Table(
        title=f"{packs[0].version_id(versions[0])} 对比 {packs[1].version_id(versions[1])}"
    )
    table.add_column("项目")
    for pack in packs:
        table.add_column(pack.name)
        table.add_column("规则", style="cyan")
    table.add_column("差异")
    differ = 0
    for topic, a, b in present.side_by_side(*versions):
        same = a is not None and b is not None and a.value == b.value
        differ += not same
        table.add_row(
            phrase(topic),
            phrase(a.value) if a else "—",
            a.rule if a else "",
            phrase(b.value) if b else "—",
            b.rule if b else "",
            "" if same else "≠",
            style=None if same else "bold yellow",  # the differences stand out
        )
    out().print(table)
    out().print(f"{differ} 项不同（≠，加粗标出）")


@catalogue_app.command("check")
def catalogue_check(
    csv_file: Path = typer.Argument(
        ..., help="CSV: code,name,class,self_pay_share,payment_standard (UTF-8 or GBK)"
    ),
) -> None:
    """检查目录 CSV：全部载入或全部不载入，逐行报告错误。
    Load a catalogue CSV (all rows or none); every bad row is reported by number and
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
        f"{csv_file.name}：共 {len(items)} 项，甲类 {by_class['A']}、乙类 {by_class['B']}、"
        f"丙类 {by_class['C']}，{with_standard} 项有支付标准 ({len(items)} items — class A "
        f"{by_class['A']}, B {by_class['B']}, C {by_class['C']}; {with_standard} with a payment"
        " standard)"
    )


ledger.register(app)  # db, member, import, settle, cancel, account, year
service.register(app)  # serve, demo, credential
analysis.register(app)  # generate, replay, report
supervision.register(app)  # monitor, statements, fund statistics
console.register(app)  # staff
