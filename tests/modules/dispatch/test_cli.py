"""``kota dispatch`` on a small scenario file, and its refusal of a bad section."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from twin.cli import main

SCENARIO = """
[scenario]
name = "grid-dispatch"
start = "2026-03-02T07:00:00+07:00"
duration_s = 1800
step_s = 1.0
seed = 5

[network]
format = "grid"
grid = {{ rows = 3, cols = 3, block_m = 200.0, lanes = 2 }}

[demand]
kind = "random"
trips_per_hour = 300
profile = "flat"

[store]
url = "sqlite:///{db}"

[modules.dispatch]
seed = 5
{extra}
rates = [{{ type = "crash", per_hour = 8.0 }}, {{ type = "medical", per_hour = 8.0 }}]
hospitals = ["r1c1"]

[[modules.dispatch.stations]]
id = "east"
node = "r2c2"
units = {{ police = 1, ambulance = 2, tow = 1 }}
"""


def write(tmp_path: Path, extra: str = "") -> Path:
    path = tmp_path / "s.toml"
    path.write_text(SCENARIO.format(db=tmp_path / "k.db", extra=extra))
    return path


def test_kota_dispatch_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["dispatch", str(write(tmp_path)), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["incidents"] > 0 and summary["calls"] >= 0
    assert summary["stored"]["incidents"] == summary["incidents"]
    assert summary["simulated_s"] == 1800
    assert set(summary["kpis"]["services"]) <= {"police", "ambulance", "tow"}
    assert main(["dispatch", str(write(tmp_path))]) == 0
    assert "answered within 10/15/20 s" in capsys.readouterr().out


def test_kota_dispatch_names_the_bad_key(tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["dispatch", str(write(tmp_path, 'policy = "fastest"'))]) == 1
    assert "modules.dispatch.policy" in capsys.readouterr().err


LAYOUT = """
[[modules.dispatch.layouts.more]]
id = "east"
node = "r2c2"
units = { police = 1, ambulance = 2, tow = 1 }

[[modules.dispatch.layouts.more]]
id = "west"
node = "r0c0"
units = { ambulance = 2 }
"""


def test_layouts_face_the_same_day_and_more_ambulances_help(tmp_path: Path) -> None:
    from twin.modules.dispatch.scenario_run import compare_layouts, run_scenario
    from twin.scenario import load_scenario

    path = write(tmp_path)
    path.write_text(path.read_text() + LAYOUT)
    scenario = load_scenario(path)
    base, _ = run_scenario(scenario, duration_s=3600)
    more, _ = run_scenario(scenario, duration_s=3600, layout="more")
    same_day = [(i.id, i.type, i.link, i.t_occurred, i.t_ring, i.t_classified)
                for i in base.incidents.values()]
    assert same_day == [(i.id, i.type, i.link, i.t_occurred, i.t_ring, i.t_classified)
                        for i in more.incidents.values()]
    assert len(more.units) == len(base.units) + 2
    result = compare_layouts(scenario, duration_s=3600)
    amb = result["layouts"]["more"]["services"]["ambulance"]
    assert amb["p90_change_s"] is not None and amb["p90_change_s"] < 0
    assert result["layouts"]["stations"]["services"]["ambulance"]["p90_change_s"] == 0


def test_kota_validate_checks_the_dispatch_section_against_the_network(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(write(tmp_path))]) == 0
    capsys.readouterr()
    bad = write(tmp_path).read_text().replace('hospitals = ["r1c1"]', 'hospitals = ["r9c9"]')
    path = tmp_path / "bad.toml"
    path.write_text(bad)
    assert main(["validate", str(path)]) == 1
    assert "modules.dispatch.hospitals: unknown node 'r9c9'" in capsys.readouterr().err
    assert main(["validate", str(write(tmp_path, 'policy = "fastest"'))]) == 1
    assert "modules.dispatch.policy" in capsys.readouterr().err
