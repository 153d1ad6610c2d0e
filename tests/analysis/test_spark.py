"""The Spark replay (local[2]) gives the single-process run's results and aggregates exactly."""

import pyarrow.parquet as pq
import pytest

from gongji import policy
from gongji.analysis.generate import generate
from gongji.analysis.replay import ReplayPolicy, replay
from gongji.analysis.spark import replay_spark, session
from gongji.errors import InputError
from gongji.policy.loader import load


@pytest.fixture(scope="module")
def spark():
    s = session("local[2]", partitions=4)
    s.sparkContext.setLogLevel("ERROR")
    yield s
    s.stop()


def test_spark_and_single_process_agree_to_the_fen(spark, tmp_path):
    data = tmp_path / "data"
    generate("jiamusi", 2500, 2024, data)
    overrides = {"general.annual_cap.employee": "3000"}
    scenarios = [
        ReplayPolicy("baseline", policy.load_region("jiamusi")),
        ReplayPolicy("reform", load("jiamusi", overrides), overrides),
    ]
    visits, members = data / "visits.parquet", data / "members.parquet"
    single = replay(visits, members, scenarios, tmp_path / "single", batch_rows=5_003)
    # 5 slices cut inside a row group, of small batches: a member's visits cross batches
    on_spark = replay_spark(
        lambda: spark, visits, members, scenarios, tmp_path / "spark", partitions=5, batch_rows=1000
    )
    assert on_spark["scenarios"] == single["scenarios"]
    assert on_spark["visit_count"] == single["visit_count"] > 30_000
    for name in ("baseline", "reform"):
        one = pq.read_table(tmp_path / "single" / name / "results.parquet").sort_by("visit_id")
        many = pq.read_table(tmp_path / "spark" / name / "results").sort_by("visit_id")
        for column in one.column_names:
            want = one.column(column)
            if hasattr(want.type, "value_type"):  # dictionary-encoded in the single-process file
                want = want.cast(want.type.value_type)
            assert many.column(column).to_pylist() == want.to_pylist(), column


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """A few hundred generated members' files and the single process's aggregates."""
    data = tmp_path_factory.mktemp("small")
    generate("jiamusi", 300, 2024, data)
    scenarios = [ReplayPolicy("baseline", policy.load_region("jiamusi"))]
    single = replay(data / "visits.parquet", data / "members.parquet", scenarios, data / "one")
    return data, scenarios, single


def test_a_folder_of_parts_in_name_order_is_one_visits_file(spark, small, tmp_path):
    data, scenarios, single = small
    visits = pq.read_table(data / "visits.parquet")
    folder = tmp_path / "visits"
    folder.mkdir()
    third = visits.num_rows // 3
    for i, start in enumerate((0, third, 2 * third)):  # a member may span two files
        rows = visits.slice(start, third if i < 2 else visits.num_rows - start)
        pq.write_table(rows, folder / f"part-{i}.parquet", row_group_size=700)
    out = tmp_path / "out"
    on_spark = replay_spark(
        lambda: spark, folder, data / "members.parquet", scenarios, out, partitions=4
    )
    assert on_spark["scenarios"] == single["scenarios"]
    assert pq.read_table(out / "baseline" / "results").num_rows == visits.num_rows


@pytest.mark.parametrize("partitions", [1, 3])
def test_visits_out_of_member_order_are_refused_naming_a_row(spark, small, tmp_path, partitions):
    # within a task (1 slice) the decoder finds it; at a cut between slices (3), the driver
    data, scenarios, _ = small
    visits = pq.read_table(data / "visits.parquet")
    backwards = visits.sort_by([("member_id", "descending"), ("time", "ascending")])
    pq.write_table(backwards, tmp_path / "visits.parquet")
    with pytest.raises(InputError, match=r"visits\[\d+\]: visits must be sorted by member_id"):
        replay_spark(
            lambda: spark,
            tmp_path / "visits.parquet",
            data / "members.parquet",
            scenarios,
            tmp_path / "out",
            partitions=partitions,
        )
