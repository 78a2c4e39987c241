"""ETLE on the traffic engine's virtual cameras: violations that arise from simulated traffic."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from twin.assemble import build_network
from twin.cli import main
from twin.modules.enforcement import Detector, PlateTokenizer, ViolationCode
from twin.modules.enforcement.enginefeed import engine_stream
from twin.modules.enforcement.scenario_run import enforcement_settings, run_enforcement
from twin.observations import ObservationKind
from twin.scenario import ScenarioError, load_scenario

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = ROOT / "scenarios" / "jakarta_jatinegara_etle_engine.toml"

GRID = """\
[scenario]
name = "etle-grid"
start = "2026-03-02T07:00:00+07:00"
duration_s = 1200
seed = 5

[network]
format = "grid"
grid = {{ rows = 3, cols = 4, block_m = 200.0, lanes = 2 }}

[demand]
kind = "od"
od = [["r1c0", "r1c3", 700]]
vehicle_mix = {{ car = 0.8, motorcycle = 0.2 }}

[sensors.plate_reads]
misread_share = 0.0
unreadable_share = 0.0
low_confidence_share = 0.0

[[cameras]]
id = "speed-a"
type = "speed"
link = "r1c0-r1c1"
pos_m = 100.0
section_exit = "speed-b"

[[cameras]]
id = "speed-b"
type = "speed"
link = "r1c2-r1c3"
pos_m = 100.0
speed_limit_kmh = 40.0

[[cameras]]
id = "red"
type = "red_light"
link = "r1c0-r1c1"

[modules.enforcement]
follow_up_days = 0.01  # a quarter hour: the last minute of stream is ingested
callback = "direct"

[modules.enforcement.feed]
source = "engine"

[modules.enforcement.detection.tolerances]
speed_tolerance_kmh = 5.0
red_light_grace_s = 0.3

[[modules.enforcement.detection.cameras]]
id = "speed-a"
kind = "speed"
speed_limit_kmh = 50.0

[[modules.enforcement.detection.cameras]]
id = "speed-b"
kind = "speed"
speed_limit_kmh = 40.0

[[modules.enforcement.detection.cameras]]
id = "red"
kind = "red_light"
signal_id = "r1c1"
signal_index = {index}

[[modules.enforcement.detection.sections]]
id = "row-1"
entry_camera = "speed-a"
exit_camera = "speed-b"
length_m = 400.0
speed_limit_kmh = 50.0
"""


@pytest.fixture(scope="module")
def grid_scenario(tmp_path_factory):
    path = tmp_path_factory.mktemp("etle") / "grid.toml"
    path.write_text(GRID.format(index=0))
    net = build_network(load_scenario(path))
    approach = net.conn_from_link == net.link_index["r1c0-r1c1"]
    path.write_text(GRID.format(index=int(net.conn_signal_index[approach][0])))
    return load_scenario(path)


def test_red_light_and_speeding_violations_arise_from_the_simulated_traffic(grid_scenario,
                                                                            tmp_path):
    """ETLE's rules, unchanged, on the engine's reads: a red-light violation for every
    crossing more than the grace after the engine's signal turned red, a point-speed
    violation for every vehicle faster than the 40 km/h zone allows, none where the
    limit is the road's own (the engine's drivers keep it)."""
    scenario = grid_scenario
    settings = enforcement_settings(scenario)
    feed = engine_stream(scenario, store_url=f"sqlite:///{tmp_path / 'a.db'}")
    detector = Detector(settings.detection, PlateTokenizer(b"k" * 16))
    found = [v for obs in feed.observations for v in detector.feed(obs)]
    reads = [o for o in feed.observations if o.kind is ObservationKind.PLATE_READ]
    net = build_network(scenario)
    program = net.signals.program_ids.index("r1c1")

    red_reads = [o for o in reads if o.source_id == "red"]
    late = [o for o in red_reads if o.payload["signal_aspect"] == "red"
            and o.payload["red_elapsed_s"] > 0.3]
    red = [v for v in found if v.code is ViolationCode.RED_LIGHT]
    assert len(red) == len(late) >= 1
    for v in red:
        p = v.observations[-1].payload
        onset = (v.observed_at - scenario.scenario.start).total_seconds() - p["red_elapsed_s"]
        assert net.signals.state_at(program, onset + 1e-3)[p["signal_index"]] == "r"
        assert net.signals.state_at(program, onset - 1e-3)[p["signal_index"]] != "r"
        assert v.measured["signal_state_source"] == "camera"

    speeding = [v for v in found if v.code is ViolationCode.SPEEDING]
    fast_b = [o for o in reads if o.source_id == "speed-b" and o.payload["speed_mps"] * 3.6 > 45]
    assert len(speeding) == len(fast_b) >= 10
    assert {v.rule for v in speeding} == {"speeding.point"}
    assert {v.camera_id for v in speeding} == {"speed-b"}
    assert max(o.payload["speed_mps"] for o in reads) <= 13.89  # the link limit, never more
    sections = [o for o in reads if "section_avg_speed_mps" in o.payload]
    assert len(sections) == sum(o.source_id == "speed-b" for o in reads) > 300  # all paired
    assert all(o.payload["section_length_m"] == 400.0 for o in sections)
    assert feed.summary["trips_completed"] > 300
    assert set(feed.registry.vehicles) == {o.payload["plate"] for o in reads}

    summary = run_enforcement(scenario, store_url=f"sqlite:///{tmp_path / 'b.db'}")
    assert summary["feed"] == "engine"
    assert summary["violations_by_code"] == {"RED_LIGHT": len(red), "SPEEDING": len(speeding)}
    assert summary["cases_created"] == len(red) + len(speeding)
    assert summary["engine"]["red_light_runs"] >= sum(
        o.payload["signal_aspect"] == "red" for o in red_reads)


def test_engine_feed_takes_no_synthetic_behaviour(grid_scenario, tmp_path):
    text = Path(grid_scenario.path).read_text().replace(
        'source = "engine"', 'source = "engine"\nred_runner_share = 0.2')
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ScenarioError, match="red_runner_share: the engine's cameras see the "
                                            "simulated traffic"):
        enforcement_settings(load_scenario(path))


def test_the_engine_example_runs_end_to_end(tmp_path, capsys):
    """``kota enforce`` on the Jatinegara example, shortened to half an hour: the stream
    comes from the engine, and its 40 km/h zone and its cameras' plate errors raise
    cases that the officers start working."""
    text = EXAMPLE.read_text().replace('"../data/', f'"{ROOT}/data/')
    for old, new in (("duration_s = 14400", "duration_s = 1800"),
                     ("start_s = 3600", "start_s = 900"),
                     ("follow_up_days = 25", "follow_up_days = 0"),
                     ('callback = "http"', 'callback = "direct"')):
        assert old in text
        text = text.replace(old, new)
    path = tmp_path / "engine.toml"
    path.write_text(text)
    assert main(["validate", str(EXAMPLE)]) == 0
    capsys.readouterr()
    assert main(["enforce", str(path), "--store", f"sqlite:///{tmp_path / 'e.db'}",
                 "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["feed"] == "engine" and summary["engine"]["trips_completed"] > 500
    codes = summary["violations_by_code"]
    assert codes.get("SPEEDING", 0) > 10 and codes.get("NO_PLATE_OR_INVALID_PLATE", 0) > 0
    assert set(codes) <= {"SPEEDING", "RED_LIGHT", "NO_PLATE_OR_INVALID_PLATE"}
    assert summary["observations"] < summary["engine"]["camera_observations"]  # + CCTV alerts
    assert summary["audit_chain_ok"] and summary["cases_created"] == sum(codes.values())
    assert np.isfinite(summary["engine"]["mean_travel_time_s"])
