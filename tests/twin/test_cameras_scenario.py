"""Cameras placed from a scenario file: validation naming the camera, and a whole run."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from twin.assemble import build_network
from twin.observations import ObservationKind
from twin.runner import TwinRun
from twin.scenario import ScenarioError, check_against_network, load_scenario

SCENARIO = """\
[scenario]
name = "cams"
start = "2026-03-02T07:00:00+07:00"
duration_s = 600
seed = 3

[network]
format = "grid"
grid = { rows = 3, cols = 4, block_m = 200.0, lanes = 2 }

[demand]
kind = "random"
trips_per_hour = 3000

[vehicles]
regions = { B = 0.5, D = 0.5 }

[sensors]
interval_s = 60

[[sensors.loop_detectors]]
id = "loop"
link = "r1c1-r1c2"
per_lane = true

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

[[cameras]]
id = "red"
type = "red_light"
link = "r1c0-r1c1"

[[cameras]]
id = "cctv"
type = "cctv"
link = "r1c1-r1c2"
"""


def write(tmp_path: Path, text: str = SCENARIO, **replace: str) -> Path:
    for old, new in replace.items():
        assert old in text, old
        text = text.replace(old, new, 1)
    path = tmp_path / "s.toml"
    path.write_text(textwrap.dedent(text))
    return path


@pytest.mark.parametrize(("old", "new", "fragment"), [
    ('section_exit = "speed-b"', 'section_exit = "nope"',
     "camera 'speed-a': section_exit 'nope' is not a camera"),
    ('section_exit = "speed-b"', 'section_exit = "red"',
     "camera 'speed-a': section_exit 'red' is a red_light camera, not a speed camera"),
    ('type = "red_light"\n', 'type = "red_light"\nsection_exit = "speed-b"\n',
     "camera 'red' (red_light): section_exit belongs to a speed camera"),
    ('id = "speed-b"\ntype = "speed"\n', 'id = "speed-b"\ntype = "speed"\nstopped_after_s = 5\n',
     "camera 'speed-b' (speed): stopped_after_s belong to a cctv camera"),
    ('link = "r1c2-r1c3"\n', 'link = "r1c2-r1c3"\nlanes = [1, 1]\n',
     "camera 'speed-b' (speed): lanes must be distinct"),
    ('link = "r1c2-r1c3"\n', 'link = "r1c2-r1c3"\nsection_length_m = 10\n',
     "camera 'speed-b' (speed): section_length_m needs section_exit"),
    ('type = "cctv"\nlink = "r1c1-r1c2"\n',
     'type = "cctv"\nlink = "r1c1-r1c2"\ncongestion_speed_share = 1.5\n',
     "cameras.3.congestion_speed_share: Input should be less than 1"),
    ('interval_s = 60', 'interval_s = 60\nplate_reads = { misread_share = 0.6, '
     'unreadable_share = 0.6 }', "add up to more than 1"),
    ('regions = { B = 0.5, D = 0.5 }', 'regions = { b = 1.0 }', "region prefix 'b'"),
])
def test_bad_camera_keys_name_the_camera(tmp_path, old, new, fragment):
    with pytest.raises(ScenarioError) as err:
        load_scenario(write(tmp_path, **{old: new}))
    assert fragment in str(err.value)


@pytest.mark.parametrize(("old", "new", "fragment"), [
    ('link = "r1c0-r1c1"\npos_m = 100.0', 'link = "zz"\npos_m = 100.0',
     "cameras.0: camera 'speed-a' (speed): no link 'zz' in the network"),
    ('link = "r1c2-r1c3"\npos_m = 100.0', 'link = "r1c2-r1c3"\npos_m = 250.0',
     "cameras.1: camera 'speed-b' (speed): pos_m 250.0 m is beyond the end"),
    ('link = "r1c2-r1c3"\n', 'link = "r1c2-r1c3"\nlanes = [2]\n',
     "cameras.1: camera 'speed-b' (speed): lane(s) [2] do not exist on link 'r1c2-r1c3'"),
    ('id = "red"\ntype = "red_light"\nlink = "r1c0-r1c1"',
     'id = "red"\ntype = "red_light"\nlink = "r0c0-r0c1"',
     "cameras.2: camera 'red' (red_light): link 'r0c0-r0c1' does not end at a signalised "
     "junction (node 'r0c1'); signalise it with a [[network.signals]] entry node = 'r0c1'"),
    ('per_lane = true', 'lane = 2', "sensors.loop_detectors.0.lane: link 'r1c1-r1c2' has only 2"),
])
def test_cameras_that_do_not_fit_the_network_are_named(tmp_path, old, new, fragment):
    scenario = load_scenario(write(tmp_path, **{old: new}))
    with pytest.raises(ScenarioError) as err:
        check_against_network(scenario, build_network(scenario))
    assert fragment in str(err.value)


def test_network_signals_make_a_junction_a_red_light_site(tmp_path):
    moved = {'id = "red"\ntype = "red_light"\nlink = "r1c0-r1c1"':
             'id = "red"\ntype = "red_light"\nlink = "r0c0-r0c1"',
             'grid = { rows = 3, cols = 4, block_m = 200.0, lanes = 2 }':
             'grid = { rows = 3, cols = 4, block_m = 200.0, lanes = 2 }\n\n'
             '[[network.signals]]\nnode = "r0c1"\nid = "tl-north"'}
    scenario = load_scenario(write(tmp_path, **moved))
    network = build_network(scenario)
    check_against_network(scenario, network)
    assert "tl-north" in network.signals.program_ids and network.signals.n_programs == 3
    bad = dict(moved)
    bad['grid = { rows = 3, cols = 4, block_m = 200.0, lanes = 2 }'] = \
        'grid = { rows = 3, cols = 4, block_m = 200.0, lanes = 2 }\n\n' \
        '[[network.signals]]\nnode = "r1c1"'
    with pytest.raises(ScenarioError, match="network.signals.0: signal at node 'r1c1': the "
                                            "junction has a signal already"):
        build_network(load_scenario(write(tmp_path, **bad)))


def test_a_run_publishes_and_stores_what_its_cameras_and_lane_loops_saw(tmp_path):
    url = f"sqlite:///{tmp_path / 'run.db'}"
    scenario = load_scenario(write(tmp_path))
    plates = []
    for _ in range(2):
        run = TwinRun(scenario, store_url=url)
        try:
            result = run.run()
            reads = run.store.observations(ObservationKind.PLATE_READ, "speed-a",
                                           run_id=run.run_id)
            loops = run.store.observations(ObservationKind.DETECTOR_INTERVAL, run_id=run.run_id)
            signals = run.store.observations(ObservationKind.SIGNAL_STATE, "r1c1",
                                             run_id=run.run_id)
        finally:
            run.close()
        assert result.summary["camera_observations"] == run.cameras.published > 0
        assert reads and reads[0].event_id == f"{run.run_id}/speed-a:1"
        assert {p[0] for p in (o.payload["plate"].split() for o in reads
                               if o.payload["plate"])} == {"B", "D"}
        changes = [k * 66 + d for k in range(10) for d in (0, 30, 33, 63) if k * 66 + d <= 600]
        assert [(o.observed_at - scenario.scenario.start).total_seconds()
                for o in signals] == changes  # green 30 s, amber 3 s, for each axis
        assert signals[0].payload["program"] == "fixed"
        by_lane = {o.source_id: o.location.lane for o in loops}
        assert by_lane == {"loop-lane0": 0, "loop-lane1": 1} and len(loops) == 2 * 10
        plates.append([o.payload["plate"] for o in reads])
    assert plates[0] == plates[1]  # the same scenario seed: the same vehicles, read the same
