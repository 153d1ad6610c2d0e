"""`gongji replay --pack FILE`: a reform pack is read whatever the file is named (issue 21):
its region is the one it says, and the baseline is that region's pack unless --region
names it."""

import json

from typer.testing import CliRunner

from gongji.cli import app
from gongji.policy.loader import PACKS_DIR

runner = CliRunner()


def test_a_reform_file_of_any_name_replays_beside_its_regions_pack(tmp_path):
    data = tmp_path / "data"
    made = runner.invoke(
        app, ["generate", str(data), "--region", "panzhihua", "--members", "200", "--year", "2024"]
    )
    assert made.exit_code == 0, made.output
    pack = (PACKS_DIR / "panzhihua.yaml").read_text(encoding="utf-8")
    assert pack.count("        employee: 1000\n") == 1
    reform = tmp_path / "reform.yaml"  # not panzhihua.yaml
    reform.write_text(pack.replace("        employee: 1000\n", "        employee: 0\n"), "utf-8")
    out = tmp_path / "out"
    replayed = runner.invoke(
        app, ["replay", str(data / "visits.parquet"), "--pack", str(reform), "--out", str(out)]
    )
    assert replayed.exit_code == 0, replayed.output
    aggregates = json.loads((out / "aggregates.json").read_text())
    assert aggregates["region"] == "panzhihua"  # read from the file
    base, changed = aggregates["scenarios"]["baseline"], aggregates["scenarios"]["reform"]
    assert changed["pack_file"] == str(reform)
    employee = "employee"
    assert float(changed["by"]["member_type"][employee]["fund_pay"]) < float(
        base["by"]["member_type"][employee]["fund_pay"]
    )


def test_replay_without_a_region_or_a_pack_asks_for_one(tmp_path):
    result = runner.invoke(app, ["replay", str(tmp_path / "visits.parquet")])
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        "--region：必填（或给出 --pack 方案文件，读其统筹地区） "
        "(--region: required (or a --pack file, whose region it reads))"
    )
