"""`gongji generate`'s data: the Parquet contract, determinism, order, plausibility, and that
the engine settles what it makes."""

from collections import Counter
from datetime import date
from itertools import groupby

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from gongji import engine, policy
from gongji.analysis import generate as gen
from gongji.analysis.schema import MEMBERS, PERIOD_COLUMNS, VISITS
from gongji.terms import MemberType

from .rows import to_member, to_visit

REGIONS = policy.known_regions()


def run(tmp_path, region="xishuangbanna", members=300, year=2023, seed=1, **kw):
    out = tmp_path / f"{region}-{members}-{year}-{seed}"
    counts = gen.generate(region, members, year, out, seed=seed, **kw)
    return counts, pq.read_table(out / "members.parquet"), pq.read_table(out / "visits.parquet")


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return run(tmp_path_factory.mktemp("gen"), members=1_000)


def test_files_follow_the_schema_exactly(data, tmp_path):
    (members, visits), m, v = data
    assert m.schema.equals(MEMBERS) and m.schema.names == MEMBERS.names
    # Parquet has no seconds unit: `time` is stored as milliseconds, whole seconds only, and
    # reads back as timestamp[s] when asked for the contract's schema.
    time = pa.field("time", pa.timestamp("ms"), nullable=False)
    stored = VISITS.set(VISITS.get_field_index("time"), time)
    assert v.schema.equals(stored) and v.schema.names == VISITS.names
    assert (v["time"].cast(pa.int64()).to_numpy() % 1000 == 0).all()
    run(tmp_path, members=20)
    exact = pq.read_table(tmp_path / "xishuangbanna-20-2023-1" / "visits.parquet", schema=VISITS)
    assert exact.schema.equals(VISITS)
    assert (m.num_rows, v.num_rows) == (members, visits) == (1_000, v.num_rows)
    assert v.num_rows > 10 * members  # a year of visits, not a handful


def test_ids_are_sequential_and_visits_sorted_by_member_and_time(data):
    _, m, v = data
    assert m["member_id"].to_pylist() == list(range(1, m.num_rows + 1))
    assert v["visit_id"].to_pylist() == list(range(1, v.num_rows + 1))
    keys = list(zip(v["member_id"].to_pylist(), v["time"].to_pylist(), strict=True))
    assert keys == sorted(keys)
    assert set(v["member_id"].to_pylist()) <= set(m["member_id"].to_pylist())


def test_amounts_are_fen_and_in_scope_within_total(data):
    _, m, v = data
    total, in_scope = v["total"].to_numpy(), v["in_scope"].to_numpy()
    assert (in_scope >= 0).all() and (in_scope <= total).all() and (total > 0).all()
    assert (m["account_balance"].to_numpy() >= 0).all()
    no_account = ~m["has_account"].to_numpy()
    assert (m["account_balance"].to_numpy()[no_account] == 0).all()


def test_same_seed_same_bytes_other_seed_other_data(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    gen.generate("kaifeng", 200, 2023, a, seed=7)
    gen.generate("kaifeng", 200, 2023, b, seed=7)
    for name in ("members.parquet", "visits.parquet"):
        assert (a / name).read_bytes() == (b / name).read_bytes()
    _, m8, v8 = run(tmp_path, "kaifeng", 200, seed=8)
    assert not v8.equals(pq.read_table(a / "visits.parquet"))
    assert not m8.equals(pq.read_table(a / "members.parquet"))


def test_chunks_are_row_groups_with_ids_running_on(tmp_path, monkeypatch):
    monkeypatch.setattr(gen, "CHUNK", 100)
    done = []
    (_, visits), m, v = run(tmp_path, members=250, progress=done.append)
    assert done == [100, 200, 250]
    out = tmp_path / "xishuangbanna-250-2023-1"
    assert pq.ParquetFile(out / "visits.parquet").num_row_groups == 3
    assert m["member_id"].to_pylist() == list(range(1, 251))
    assert v["visit_id"].to_pylist() == list(range(1, visits + 1))
    keys = list(zip(v["member_id"].to_pylist(), v["time"].to_pylist(), strict=True))
    assert keys == sorted(keys)


@pytest.mark.parametrize(
    ("region", "year", "first"),
    [("kaifeng", 2022, date(2022, 7, 1)), ("xishuangbanna", 2023, date(2023, 1, 10))],
)
def test_visits_fall_in_the_year_on_days_in_force(tmp_path, region, year, first):
    _, _, v = run(tmp_path, region, 200, year)
    days = {t.date() for t in v["time"].to_pylist()}
    assert min(days) >= first and max(days) <= date(year, 12, 31)
    hours = Counter(t.hour for t in v["time"].to_pylist())
    assert sum(hours[h] for h in range(8, 18)) > 0.8 * v.num_rows  # opening hours mostly


def test_a_year_without_a_version_in_force_is_refused(tmp_path):
    with pytest.raises(ValueError, match=r"jiamusi.*2022.*2023-01-01"):
        gen.generate("jiamusi", 10, 2022, tmp_path / "x")
    assert not (tmp_path / "x" / "visits.parquet").exists()


def test_population_is_plausible(data):
    _, m, v = data
    rows = m.to_pylist()
    by_type = Counter(r["type"] for r in rows)
    assert by_type["employee"] > by_type["retiree"] > by_type["flexible"] > 0
    assert all(55 <= r["age"] <= 90 for r in rows if r["type"] == "retiree")
    assert all(18 <= r["age"] <= 60 for r in rows if r["type"] != "retiree")
    pack = policy.load_region("xishuangbanna")
    without = set(pack.versions[0].accounts.without_account)
    assert all(r["has_account"] == (MemberType(r["type"]) not in without) for r in rows)
    retirees = [r for r in rows if r["type"] == "retiree"]
    assert all(r["retired_from"] < date(2023, 1, 1) for r in retirees if r["retired_from"])
    assert sum(r["benefit_periods"] is not None for r in rows) < 0.05 * len(rows)
    assert all(r[c] is not None for r in rows for c in PERIOD_COLUMNS[1:])
    per_member = Counter(v["member_id"].to_pylist())
    employees = [per_member[r["member_id"]] for r in rows if r["type"] == "employee"]
    retired = [per_member[r["member_id"]] for r in retirees]
    assert 6 <= np.mean(employees) < np.mean(retired) <= 35
    level3 = pc.mean(v.filter(pc.equal(v["level"], "level3"))["total"]).as_py()
    primary = pc.mean(v.filter(pc.equal(v["level"], "primary"))["total"]).as_py()
    assert level3 > 3 * primary


def test_disease_and_drug_follow_the_category(data):
    _, m, v = data
    diseases = {r["member_id"]: set(r["chronic_diseases"]) for r in m.to_pylist()}
    claims = Counter()  # chronic and special visits: (for a recognised disease?)
    for r in v.to_pylist():
        if r["category"] == "negotiated_drug":
            assert r["disease"] in diseases[r["member_id"]]
        if r["category"] in ("chronic", "special"):
            claims[r["disease"] in diseases[r["member_id"]]] += 1
        if r["category"] == "two_diseases":
            assert r["disease"] in ("hypertension", "diabetes")
        assert (r["drug"] is not None) == (r["category"] == "negotiated_drug")
        if r["prescription_level"] is not None:
            assert r["level"] == "pharmacy"
    # a few are claimed for another disease (JMS-18, PZH-11: general outpatient pays them)
    assert 0 < claims[False] < gen.OTHER_DISEASE * sum(claims.values())


@pytest.mark.parametrize("region", REGIONS)
def test_the_engine_settles_the_generated_visits(tmp_path, region):
    pack = policy.load_region(region)
    _, m, v = run(tmp_path, region, 300, 2023)
    members = {r["member_id"]: r for r in m.to_pylist()}
    errors, settled, fund = Counter(), 0, 0
    for member_id, rows in groupby(v.slice(0, 2_000).to_pylist(), key=lambda r: r["member_id"]):
        row = members[member_id]
        member, state = to_member(row), engine.YearState.new(row["account_balance"])
        for visit in map(to_visit, rows):
            tables = engine.tables_on(pack, visit.time.date())
            assert tables is not None and visit.category in tables.entry
            try:
                result, state = engine.settle(tables, member, state, visit, trace=False)
            except engine.EngineError as e:
                errors[e.code] += 1
                continue
            settled += 1
            fund += result.fund_pay
            assert result.fund_pay + result.account_pay + result.cash_pay == visit.total
    assert sum(errors.values()) < 0.01 * 2_000, errors
    assert settled > 1_900 and fund > 0
