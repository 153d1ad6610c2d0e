"""The Spark replay (local[2]) gives the single-process run's results and aggregates exactly."""

import pyarrow.parquet as pq
import pytest

from gongji import policy
from gongji.analysis.generate import generate
from gongji.analysis.replay import ReplayPolicy, replay
from gongji.analysis.spark import replay_spark, session
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
    # 5 partitions of small Arrow batches: members are cut across batches inside a partition
    spark.conf.set("spark.sql.execution.arrow.maxRecordsPerBatch", "1000")
    on_spark = replay_spark(spark, visits, members, scenarios, tmp_path / "spark", partitions=5)
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
