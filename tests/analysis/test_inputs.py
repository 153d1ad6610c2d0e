"""Issue 21 (analysts): replay reads CSV visits, amounts in yuan or fen, member ids as text;
a weight makes a sample stand for its population; a reform's winners and losers are counted.

A tiny population whose figures are worked out by hand (Kaifeng 2023, KF-9: a primary-level
visit has no deductible, the fund pays 60% for an employee and 70% for a retiree, within a
monthly cap of 150 / 200 yuan; nobody has an account, so what the fund does not pay is cash),
all in March 2023:

    A employee   100.00 in scope   fund 60.00, cash 40.00
    B employee    10.00 in scope   fund  6.00, cash  4.00
    C retiree    100.00 in scope   fund 70.00, cash 30.00
    D employee   no visits

The reform: the employees' monthly cap 50 yuan, the retirees' primary ratio 80%.
    A: fund 50.00 (the cap), cash 50.00   pays 10.00 more
    B: fund  6.00, cash 4.00              the same
    C: fund 80.00, cash 20.00             pays 10.00 less
    D: nothing either way                 the same
"""

import copy
import json
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from gongji import policy
from gongji.analysis.replay import ReplayPolicy, replay
from gongji.analysis.schema import MEMBERS, VISITS
from gongji.errors import InputError
from gongji.policy import loader

REFORM = {"general.monthly_cap.employee": "50", "general.ratio.retiree.primary": "80%"}
# (member, type, in scope in fen) of each visit, one a day from 1 March
PEOPLE = {1: ("A", "employee"), 2: ("B", "employee"), 3: ("C", "retiree"), 4: ("D", "employee")}
VISITS_OF = [(1, 10_000), (2, 1_000), (3, 10_000)]


def members_table(text_ids: bool = False, weights: list[int] | None = None) -> pa.Table:
    rows = [
        {"member_id": PEOPLE[m][0] if text_ids else m, "type": PEOPLE[m][1], "age": 50,
         "sex": "F", "contribution_base": 500_000, "has_account": False, "retired_from": None,
         "contribution_raised": False, "account_balance": 0, "chronic_diseases": [],
         "benefit_periods": None, "inpatient_stays": [], "arrears": [], "remote_filings": []}
        for m in PEOPLE
    ]  # fmt: skip
    kind = MEMBERS
    if text_ids:
        kind = MEMBERS.set(0, pa.field("member_id", pa.string()))
    table = pa.Table.from_pylist(rows, schema=kind)
    if weights is not None:
        table = table.append_column("weight", pa.array(weights, pa.int64()))
    return table


def visit_rows() -> list[dict]:
    return [
        {"visit_id": i + 1, "member_id": m, "time": f"2023-03-{i + 1:02d} 09:00:00",
         "institution": "H1", "level": "primary", "category": "general", "disease": None,
         "drug": None, "total": fen, "in_scope": fen, "remote": False, "designated": True,
         "manual": False, "third_party": False, "internet": False, "use_account": False,
         "prescription_level": None}
        for i, (m, fen) in enumerate(VISITS_OF)
    ]  # fmt: skip


def write_parquet(folder: Path, text_ids: bool = False, weights=None) -> tuple[Path, Path]:
    from datetime import datetime

    rows = visit_rows()
    for r in rows:
        r["time"] = datetime.fromisoformat(r["time"])
        r["member_id"] = PEOPLE[r["member_id"]][0] if text_ids else r["member_id"]
    kind = VISITS.set(1, pa.field("member_id", pa.string())) if text_ids else VISITS
    folder.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows, schema=kind), folder / "visits.parquet")
    pq.write_table(members_table(text_ids, weights), folder / "members.parquet")
    return folder / "visits.parquet", folder / "members.parquet"


def write_csv(folder: Path, rows: list[dict], yuan: bool = True) -> Path:
    """Visits as an office would export them: text ids, amounts in yuan ("100.00")."""
    names = list(rows[0])
    if not yuan:
        names = [f"{n}_fen" if n in ("total", "in_scope") else n for n in names]
    lines = [",".join(names)]
    for r in rows:
        cells = []
        for name, value in r.items():
            if name in ("total", "in_scope") and yuan and isinstance(value, int):
                value = f"{Decimal(value) / 100:.2f}"
            flag = value is True or value is False
            cells.append("" if value is None else str(value).lower() if flag else str(value))
        lines.append(",".join(cells))
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "visits.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def text_id_rows() -> list[dict]:
    rows = visit_rows()
    for r in rows:
        r["member_id"] = PEOPLE[r["member_id"]][0]
    return rows


def scenarios() -> list[ReplayPolicy]:
    return [
        ReplayPolicy("baseline", policy.load_region("kaifeng")),
        ReplayPolicy("reform", loader.load("kaifeng", REFORM), REFORM),
    ]


def run(visits: Path, members: Path, out: Path, **options) -> dict:
    return replay(visits, members, scenarios(), out, **options)


def without_file(aggregates: dict) -> dict:
    return {k: v for k, v in aggregates.items() if k != "visits_file"}


def test_the_reform_s_winners_and_losers_are_the_ones_worked_out_by_hand(tmp_path):
    aggregates = run(*write_parquet(tmp_path / "data"), tmp_path / "out")
    base, reform = (aggregates["scenarios"][s] for s in ("baseline", "reform"))
    assert base["totals"]["fund_pay"] == "136.00"  # 60 + 6 + 70
    assert reform["totals"]["fund_pay"] == "136.00"  # 50 + 6 + 80
    assert reform["by"]["member_type"]["employee"]["fund_pay"] == "56.00"
    assert reform["by"]["member_type"]["retiree"]["fund_pay"] == "80.00"
    assert "versus_baseline" not in base
    assert reform["versus_baseline"] == {
        "paying_more": 1,  # A
        "paying_less": 1,  # C
        "paying_same": 2,  # B, D
        "more_paid": "10.00",
        "less_paid": "10.00",
        "by_member_type": {
            "employee": {"paying_more": 1, "paying_less": 0, "paying_same": 2,
                         "more_paid": "10.00", "less_paid": "0.00"},
            "retiree": {"paying_more": 0, "paying_less": 1, "paying_same": 0,
                        "more_paid": "0.00", "less_paid": "10.00"},
        },
    }  # fmt: skip


def test_the_report_counts_the_winners_and_losers(tmp_path):
    from gongji.analysis.report import write_report

    out = tmp_path / "out"
    run(*write_parquet(tmp_path / "data"), out)
    page = write_report(out).read_text(encoding="utf-8")
    section = page[page.index('id="effect"') :]
    assert '<th>全部 All</th><td class="num">1</td><td class="num">1</td>' in section
    assert '<th>在职职工 Employee</th><td class="num">1</td><td class="num">0</td>' in section
    assert 'id="weight"' not in page  # not a weighted sample


def test_csv_in_yuan_with_text_ids_gives_the_parquet_figures(tmp_path):
    parquet = run(*write_parquet(tmp_path / "p"), tmp_path / "po")
    _, text_members = write_parquet(tmp_path / "t", text_ids=True)
    csv = write_csv(tmp_path / "c", text_id_rows())
    assert "A,2023-03-01 09:00:00,H1,primary,general,,,100.00,100.00" in csv.read_text()
    from_csv = run(csv, text_members, tmp_path / "co")
    assert without_file(from_csv) == without_file(parquet)
    results = pq.read_table(tmp_path / "co" / "reform" / "results.parquet").to_pylist()
    assert [(r["member_id"], r["fund_pay"]) for r in results] == [
        ("A", 5000),
        ("B", 600),
        ("C", 8000),
    ]


def test_fen_columns_and_integer_ids_in_csv_give_the_same_figures(tmp_path):
    parquet = run(*write_parquet(tmp_path / "p"), tmp_path / "po")
    csv = write_csv(tmp_path / "c", visit_rows(), yuan=False)
    assert csv.read_text().splitlines()[0].count("_fen") == 2
    assert without_file(run(csv, tmp_path / "p" / "members.parquet", tmp_path / "co")) == (
        without_file(parquet)
    )


def test_text_ids_in_parquet_give_the_integer_ids_figures(tmp_path):
    ints = run(*write_parquet(tmp_path / "i"), tmp_path / "io")
    texts = run(*write_parquet(tmp_path / "t", text_ids=True), tmp_path / "to")
    assert without_file(texts) == without_file(ints)


def test_generated_visits_as_csv_in_yuan_replay_as_their_parquet(tmp_path):
    """Many members and visits, batches of a few rows: the same aggregates to the fen."""
    from gongji.analysis.generate import generate
    from gongji.money import fmt

    data = tmp_path / "data"
    generate("kaifeng", 200, 2023, data)
    table = pq.read_table(data / "visits.parquet")
    rows = table.to_pylist()
    for r in rows:
        r["time"] = r["time"].isoformat(sep=" ")
        r["total"], r["in_scope"] = fmt(r["total"]), fmt(r["in_scope"])
    csv = write_csv(tmp_path / "csv", rows)
    members = data / "members.parquet"
    parquet = replay(data / "visits.parquet", members, scenarios(), tmp_path / "po")
    from_csv = replay(csv, members, scenarios(), tmp_path / "co")
    assert parquet["visit_count"] == len(rows) > 1000
    assert without_file(from_csv) == without_file(parquet)


@pytest.mark.parametrize("how", ["factor", "column"])
def test_weights_of_two_double_every_count_and_amount(tmp_path, how):
    once = run(*write_parquet(tmp_path / "a"), tmp_path / "ao")
    if how == "factor":
        twice = run(*write_parquet(tmp_path / "b"), tmp_path / "bo", weight=2)
    else:
        visits, members = write_parquet(tmp_path / "b", weights=[2, 2, 2, 2])
        twice = run(visits, members, tmp_path / "bo", weight="weight")
    assert twice["weight"] == ("2" if how == "factor" else "members.weight")
    assert twice["visit_count"] == once["visit_count"] == 3  # the sample's visits
    expected = doubled(copy.deepcopy(once))
    for name in ("baseline", "reform"):
        assert twice["scenarios"][name] == expected["scenarios"][name]
    assert twice["scenarios"]["reform"]["versus_baseline"]["paying_more"] == 2
    assert twice["scenarios"]["reform"]["versus_baseline"]["more_paid"] == "20.00"


def doubled(aggregates: dict) -> dict:
    """Counts and sums doubled; a member's mean, percentiles and maximum as they were."""

    def double(figures: dict, keep=()) -> None:
        for key, value in figures.items():
            if key in keep or key in ("policy", "overrides", "pack_file", "histogram"):
                continue
            if isinstance(value, dict):
                double(value, keep)
            elif isinstance(value, int):
                figures[key] = 2 * value
            elif isinstance(value, str):
                figures[key] = f"{2 * Decimal(value):.2f}"

    for s in aggregates["scenarios"].values():
        double(s["totals"])
        double(s["by"])
        double(s.get("versus_baseline", {}))
        oop = s["out_of_pocket"]
        double(oop, keep=("mean", "p50", "p90", "p99", "max"))
        for b in oop["histogram"]:
            b["members"] *= 2
    return aggregates


def test_weights_of_their_own_count_each_member_that_many_times(tmp_path):
    """A stands for 3, B for 1, C for 5, D for 1: 3 members pay 10.00 more each, 5 pay 10.00
    less each; the out-of-pocket a year of the 10 members: A's 40.00 three times, B's 4.00,
    C's 30.00 five times, D's 0: mean (120 + 4 + 150) / 10 = 27.40, median (the 5th) 30.00,
    the 9th and 10th 40.00."""
    visits, members = write_parquet(tmp_path / "w", weights=[3, 1, 5, 1])
    aggregates = run(visits, members, tmp_path / "o", weight="weight")
    base, reform = (aggregates["scenarios"][s] for s in ("baseline", "reform"))
    assert base["totals"]["visits"] == 3 + 1 + 5
    assert base["totals"]["fund_pay"] == "536.00"  # 60×3 + 6 + 70×5
    oop = base["out_of_pocket"]
    assert (oop["members"], oop["mean"], oop["p50"], oop["p90"], oop["max"]) == (
        10, "27.40", "30.00", "40.00", "40.00"
    )  # fmt: skip
    effect = reform["versus_baseline"]
    assert (effect["paying_more"], effect["paying_less"], effect["paying_same"]) == (3, 5, 2)
    assert (effect["more_paid"], effect["less_paid"]) == ("30.00", "50.00")


def test_the_report_says_the_sample_is_weighted(tmp_path):
    from gongji.analysis.report import write_report

    out = tmp_path / "out"
    run(*write_parquet(tmp_path / "data"), out, weight=20)
    page = write_report(out).read_text(encoding="utf-8")
    assert "每名样本参保人员代表 20 人" in page and "样本本身就诊 3 人次" in page
    assert json.loads((out / "aggregates.json").read_text())["weight"] == "20"


@pytest.mark.parametrize(
    ("change", "field", "reason"),
    [
        (lambda r: r[1].update(total="10.005"), "visits[1].total", "'10.005'"),
        (lambda r: r[2].update(in_scope="lots"), "visits[2].in_scope", "'lots'"),
        (lambda r: r[1].update(member_id="Z"), "visits[1].member_id", "member 'Z' not in members"),
        (lambda r: r[0].update(level="level9"), "visits[0].level", "unknown value 'level9'"),
        (lambda r: r[2].update(time="2023-13-01 09:00"), "visits[2].time", "'2023-13-01 09:00' is"),
        (lambda r: r[1].update(remote="maybe"), "visits[1].remote", "'maybe' is not a flag"),
        (lambda r: [x.pop("institution") for x in r], "visits", "missing column(s): institution"),
    ],
)
def test_a_bad_csv_value_is_named_by_row_and_column(tmp_path, change, field, reason):
    rows = text_id_rows()
    change(rows)
    _, members = write_parquet(tmp_path / "t", text_ids=True)
    with pytest.raises(InputError) as refused:
        run(write_csv(tmp_path / "c", rows), members, tmp_path / "o")
    assert refused.value.field == field
    assert reason in refused.value.reason
    assert not list((tmp_path / "o").rglob("*.parquet"))


def test_an_amount_under_both_names_is_refused(tmp_path):
    rows = visit_rows()
    for r in rows:
        r["total_fen"] = r["total"]
    with pytest.raises(InputError, match=r"visits\.total: give total \(yuan\) or total_fen"):
        run(write_csv(tmp_path / "c", rows), write_parquet(tmp_path / "p")[1], tmp_path / "o")


def test_an_integer_id_not_a_member_is_named(tmp_path):
    rows = visit_rows()
    rows[2]["member_id"] = "x7"
    with pytest.raises(InputError) as refused:
        run(write_csv(tmp_path / "c", rows), write_parquet(tmp_path / "p")[1], tmp_path / "o")
    assert str(refused.value) == "visits[2].member_id: member 'x7' not in members"


def test_weights_must_be_whole_members(tmp_path):
    visits, members = write_parquet(tmp_path / "w", weights=[1, -1, 1, 1])
    with pytest.raises(InputError, match=r"members\.weight: member 2's must not be negative"):
        run(visits, members, tmp_path / "o", weight="weight")
    with pytest.raises(InputError, match=r"members: 缺少的列：nope missing column\(s\): nope"):
        run(visits, members, tmp_path / "o", weight="nope")
    with pytest.raises(InputError, match="weight: must be a whole number"):
        run(visits, members, tmp_path / "o", weight=0)


@pytest.mark.parametrize("encoding", ["utf-8-sig", "gb18030"], ids=["bom", "gbk"])
def test_csv_as_excel_writes_it_on_chinese_windows(tmp_path, encoding):
    """UTF-8 with a BOM, or GBK: the same figures as the Parquet file, the institution's
    Chinese name read as it was written."""
    parquet = run(*write_parquet(tmp_path / "p", text_ids=True), tmp_path / "po")
    rows = text_id_rows()
    for r in rows:
        r["institution"] = "开封市第一人民医院"
    path = write_csv(tmp_path / "c", rows)
    path.write_bytes(path.read_text(encoding="utf-8").encode(encoding))
    got = run(path, tmp_path / "p" / "members.parquet", tmp_path / "co")
    assert without_file(got) == without_file(parquet)


def test_the_cli_weights_by_a_number_or_a_column(tmp_path):
    from typer.testing import CliRunner

    from gongji.cli import app

    visits, members = write_parquet(tmp_path / "d", weights=[2, 2, 2, 2])
    by_hand = run(visits, members, tmp_path / "o", weight=2)
    for weight in ("2", "weight"):
        out = tmp_path / f"cli-{weight}"
        args = ["replay", str(visits), "--region", "kaifeng", "--out", str(out), "--weight"]
        args += [weight, *(f"--set={k}={v}" for k, v in REFORM.items())]
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 0, result.output
        written = json.loads((out / "aggregates.json").read_text())
        assert written["scenarios"] == by_hand["scenarios"]
    result = CliRunner().invoke(app, ["replay", str(visits), "--region", "kaifeng", "--out",
                                      str(tmp_path / "x"), "--weight", "nope"])  # fmt: skip
    assert result.exit_code == 2
    assert "members: 缺少的列：nope missing column(s): nope" in result.output


def test_a_csv_may_leave_out_the_columns_that_may_be_empty(tmp_path):
    parquet = run(*write_parquet(tmp_path / "p", text_ids=True), tmp_path / "po")
    rows = text_id_rows()
    for r in rows:
        del r["disease"], r["drug"], r["prescription_level"]
    got = run(write_csv(tmp_path / "c", rows), tmp_path / "p" / "members.parquet", tmp_path / "o")
    assert without_file(got) == without_file(parquet)


def test_spark_refuses_csv_and_text_ids_before_it_starts(tmp_path):
    from gongji.analysis.spark import replay_spark

    csv = write_csv(tmp_path / "c", visit_rows())
    _, members = write_parquet(tmp_path / "p")
    with pytest.raises(InputError, match="--spark reads Parquet"):
        replay_spark(no_spark, csv, members, scenarios(), tmp_path / "o")
    visits, text_members = write_parquet(tmp_path / "t", text_ids=True)
    with pytest.raises(InputError, match="--spark needs whole-number ids"):
        replay_spark(no_spark, visits, text_members, scenarios(), tmp_path / "o")
    with pytest.raises(InputError, match="no such file"):
        replay_spark(no_spark, tmp_path / "absent.parquet", members, scenarios(), tmp_path / "o")


def no_spark():
    pytest.fail("a Spark session was started before the inputs were checked")


def members_as_csv(members: Path, out: Path) -> Path:
    """A members Parquet file as an office would type it: lists separated by ";", periods
    as first..last, the balance in yuan."""
    from gongji.money import fmt

    def periods(spans) -> str:
        return ";".join(f"{p['start']}..{p['end']}" for p in spans or ())

    names = ["member_id", "type", "has_account", "retired_from", "contribution_raised"]
    names += ["account_balance", "chronic_diseases", "benefit_periods", "inpatient_stays"]
    names += ["arrears", "remote_filings"]
    lines = [",".join(names)]
    for m in pq.read_table(members).to_pylist():
        cells = [str(m["member_id"]), m["type"], str(m["has_account"]).lower()]
        cells += [str(m["retired_from"] or ""), str(m["contribution_raised"]).lower()]
        cells += [fmt(m["account_balance"]), ";".join(m["chronic_diseases"])]
        cells += [periods(m[name]) for name in names[7:]]
        lines.append(",".join(cells))
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return out


def test_members_as_csv_replay_as_their_parquet(tmp_path):
    """Generated members (diseases, benefit periods, stays, arrears, retirements) written as
    CSV: the same figures to the fen as from their Parquet file."""
    from gongji.analysis.generate import generate

    data = tmp_path / "data"
    generate("nanyang", 300, 2024, data)
    members = pq.read_table(data / "members.parquet").to_pylist()
    assert any(m["chronic_diseases"] for m in members)
    assert any(m["benefit_periods"] is not None for m in members)
    csv = members_as_csv(data / "members.parquet", tmp_path / "members.csv")
    pack = policy.load_region("nanyang")
    parquet = replay(data / "visits.parquet", data / "members.parquet",
                     [ReplayPolicy("b", pack)], tmp_path / "po")  # fmt: skip
    from_csv = replay(data / "visits.parquet", csv, [ReplayPolicy("b", pack)], tmp_path / "co")
    assert from_csv == parquet


@pytest.mark.parametrize(
    ("cell", "value", "field", "reason"),
    [
        (
            "benefit_periods",
            "2023-01-01-2023-06-30",
            "members[1].benefit_periods",
            "first and last day",
        ),
        ("inpatient_stays", "2023-01-01..2023-02-30", "members[1].inpatient_stays", "2023-02-30"),
        ("retired_from", "2023-02-30", "members[1].retired_from", "'2023-02-30' is not a date"),
        ("has_account", "yes", "members[1].has_account", "'yes' is not a flag"),
        ("account_balance", "1.234", "members[1].account_balance", "'1.234'"),
    ],
)
def test_a_bad_members_csv_value_is_named_by_row_and_column(tmp_path, cell, value, field, reason):
    _, members = write_parquet(tmp_path / "p")
    path = members_as_csv(members, tmp_path / "members.csv")
    lines = path.read_text().splitlines()
    header = lines[0].split(",")
    row = lines[2].split(",")
    row[header.index(cell)] = value
    lines[2] = ",".join(row)
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError) as refused:
        run(tmp_path / "p" / "visits.parquet", path, tmp_path / "o")
    assert refused.value.field == field
    assert reason in refused.value.reason


def test_amounts_as_floating_point_are_refused_not_rounded(tmp_path):
    """Parquet written from a data frame often holds yuan as float64: 1.005 is stored as
    1.00499999..., which no cast turns into the fen meant."""
    visits, members = write_parquet(tmp_path / "p")
    table = pq.read_table(visits)
    i = table.schema.get_field_index("total")
    yuan = pa.array([v / 100 for v in table.column("total").to_pylist()], pa.float64())
    pq.write_table(table.set_column(i, "total", yuan), visits)
    with pytest.raises(InputError, match=r"visits\.total: double is not exact"):
        run(visits, members, tmp_path / "o")


def test_yuan_as_decimal_in_parquet_gives_the_fen_figures(tmp_path):
    fen = run(*write_parquet(tmp_path / "f"), tmp_path / "fo")
    visits, members = write_parquet(tmp_path / "p")
    table = pq.read_table(visits)
    for name in ("total", "in_scope"):
        i = table.schema.get_field_index(name)
        yuan = [Decimal(v) / 100 for v in table.column(name).to_pylist()]
        table = table.set_column(i, name, pa.array(yuan, pa.decimal128(12, 2)))
    pq.write_table(table, visits)
    assert without_file(run(visits, members, tmp_path / "po")) == without_file(fen)


def test_every_missing_column_is_named_in_one_error(tmp_path):
    """A file lacking several columns is refused once, naming them all (Chinese first)."""
    rows = text_id_rows()
    for r in rows:
        del r["institution"], r["in_scope"], r["use_account"]
    _, members = write_parquet(tmp_path / "p", text_ids=True)
    with pytest.raises(InputError) as refused:
        run(write_csv(tmp_path / "c", rows), members, tmp_path / "o")
    assert refused.value.field == "visits"
    assert refused.value.reason == (
        "缺少的列：institution、in_scope、use_account missing column(s): institution,"
        " in_scope (in_scope_fen in fen), use_account"
    )
    parquet = tmp_path / "v.parquet"
    pq.write_table(pq.read_table(tmp_path / "p" / "visits.parquet").drop_columns(
        ["institution", "in_scope", "use_account"]), parquet)  # fmt: skip
    with pytest.raises(InputError) as refused:
        run(parquet, members, tmp_path / "o")
    assert str(refused.value).startswith("visits: 缺少的列：institution、in_scope、use_account")
    (tmp_path / "m.csv").write_text("id,kind\nA,employee\n", encoding="utf-8")
    with pytest.raises(InputError) as refused:
        run(tmp_path / "p" / "visits.parquet", tmp_path / "m.csv", tmp_path / "o", weight="w")
    assert str(refused.value) == (
        "members: 缺少的列：member_id、type、w missing column(s): member_id, type, w"
    )
    from gongji.labels import reason_zh

    assert reason_zh(refused.value.reason) == "缺少的列：member_id、type、w"


def test_members_without_has_account_have_the_account_their_type_gives(tmp_path):
    """Left out (CSV or Parquet) or empty: by type, as the ledger decides (Kaifeng: a
    single-pool member has no account, KF-16; the others have one)."""
    visits, _ = write_parquet(tmp_path / "p")
    paying = pq.read_table(visits)  # the visits ask the account to pay
    at = paying.schema.get_field_index("use_account")
    pq.write_table(paying.set_column(at, "use_account", pa.array([True] * 3)), visits)
    table = members_table().drop_columns(["has_account"])
    table = table.set_column(1, "type", pa.array(["employee", "single_pool", "retiree",
                                                  "employee"]))  # fmt: skip
    at = table.schema.get_field_index("account_balance")
    table = table.set_column(at, "account_balance", pa.array([5_000] * 4, pa.int64()))
    members = tmp_path / "m.parquet"
    pq.write_table(table, members)
    results = pq.read_table(run(visits, members, tmp_path / "o") and
                            tmp_path / "o" / "baseline" / "results.parquet")  # fmt: skip
    # A: the 40.00 the fund leaves, from the account (50.00 in it); B: single pool, no
    # account: the 4.00 the fund leaves in cash; C: 30.00 from the account
    assert results.column("account_pay").to_pylist() == [4_000, 0, 3_000]
    assert results.column("cash_pay").to_pylist() == [0, 400, 0]
    csv = tmp_path / "m.csv"
    csv.write_text("member_id,type,has_account,account_balance\n1,employee,,50\n"
                   "2,single_pool,,\n3,retiree,false,50\n4,employee,1,50\n")  # fmt: skip
    run(visits, csv, tmp_path / "c")
    from_csv = pq.read_table(tmp_path / "c" / "baseline" / "results.parquet")
    assert from_csv.column("account_pay").to_pylist() == [4_000, 0, 0]  # C: false, as given


def test_a_tiered_type_s_account_must_be_given(tmp_path):
    """Panzhihua credits flexible workers at tier 1 only (PZH-4a): the type alone does not
    say whether one has an account, and the replay does not guess."""
    visits, _ = write_parquet(tmp_path / "p")
    csv = tmp_path / "m.csv"
    csv.write_text("member_id,type\n1,employee\n2,flexible\n3,retiree\n4,employee\n")
    pack = policy.load_region("panzhihua")
    with pytest.raises(InputError) as refused:
        replay(visits, csv, [ReplayPolicy("b", pack)], tmp_path / "o")
    assert refused.value.field == "members.has_account"
    assert "member 2" in refused.value.reason and "panzhihua" in refused.value.reason
