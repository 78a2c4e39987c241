"""Virtual loop detectors: placement, counts, and the Observations they publish."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import numpy.testing as npt
import pytest

from twin.bus import Bus
from twin.demand import random_trips
from twin.importers.grid import grid_network
from twin.network import Network
from twin.observations import Observation, ObservationKind
from twin.sensors import LoopDetectorSensors, auto_detector_sites, point_along_link
from twin.simulation import Simulation

WIB = timezone(timedelta(hours=7))
START = datetime(2024, 5, 1, 7, 0, tzinfo=WIB)
REPO = Path(__file__).resolve().parents[2]
JATINEGARA = REPO / "data" / "jakarta" / "jatinegara_drive.graphml.gz"


@pytest.fixture(scope="module")
def grid() -> Network:
    """A 3 x 4 grid of two-way 200 m streets."""
    return grid_network(3, 4)


def make(grid: Network, n_trips: int = 400, seed: int = 8, **kwargs):
    """A simulation, a bus with a detector feed, and sensors on ``grid``."""
    trips = random_trips(grid, n_trips=n_trips, duration_s=600.0, rng=np.random.default_rng(seed))
    sim = Simulation(grid, trips, seed=seed)
    bus = Bus()
    feed = bus.subscribe("detector_interval/#")
    sites = kwargs.pop("sites", [(f"d{i}", grid.link_ids[i], p)
                                 for i, p in [(0, 100.0), (3, 200.0), (7, 1.0), (12, 150.0)]])
    sensors = LoopDetectorSensors(sim, grid, bus, START, sites=sites, **kwargs)
    return sim, bus, feed, sensors


def test_counts_equal_vehicles_that_passed(grid):
    """Over the whole run each detector counts every vehicle whose route used its link."""
    sim, _bus, feed, sensors = make(grid)
    sensors.run_until(2400.0)
    assert sim.n_arrived == sim.n_vehicles
    records = feed.drain()
    assert len(records) == 4 * 40
    total = {d: 0 for d in sensors.detector_ids}
    for obs in records:
        total[obs.source_id] += obs.payload["count"]
    routes = [sim.route_of(i) for i in range(sim.n_vehicles)]
    for det_id, link in (("d0", 0), ("d3", 3), ("d7", 7), ("d12", 12)):
        expected = sum(int(np.count_nonzero(r == link)) for r in routes)
        assert total[det_id] == expected > 0


def test_interval_counts_follow_the_vehicles(grid):
    """Each interval's count equals the vehicles that crossed the point in that interval."""
    sim, _bus, _feed, sensors = make(grid, sites=[("mid", grid.link_ids[2], 100.0)])
    link = 2
    passed_before = 0
    for _ in range(20):
        prev_link = np.array(sim.vehicle_link)
        prev_pos = np.array(sim.vehicle_pos_m)
        crossed = 0
        while True:
            sim.step(1.0)
            on = (prev_link == link) & (prev_pos < 100.0)
            now_link = np.array(sim.vehicle_link)
            now_pos = np.array(sim.vehicle_pos_m)
            new_on = (prev_link != link) & (now_link == link) & (now_pos >= 100.0)
            left = on & ((now_link != link) | (now_pos >= 100.0))
            crossed += int(left.sum() + new_on.sum())
            prev_link, prev_pos = now_link, now_pos
            records = sensors.sample()
            if records:
                break
        assert records[0].payload["count"] == crossed
        passed_before += crossed
    assert passed_before > 0


def test_observations_are_valid_and_on_the_bus(grid):
    """Records have the right kind, times, payload, location and event id; the bus has them."""
    sim, bus, feed, sensors = make(grid, interval_s=120.0)
    published = sensors.run_until(600.0)
    received = feed.drain()
    assert [o.event_id for o in received] == [o.event_id for o in published]
    assert len(received) == 5 * 4 and bus.stats().published == 20
    for k, obs in enumerate(received):
        interval = k // 4
        assert isinstance(obs, Observation)
        assert obs.kind is ObservationKind.DETECTOR_INTERVAL
        assert obs.observed_at == START + timedelta(seconds=120.0 * (interval + 1))
        start_iso = (START + timedelta(seconds=120.0 * interval)).isoformat()
        assert obs.event_id == f"{obs.source_id}@{start_iso}"
        p = obs.payload
        assert p["interval_s"] == 120.0 and 0.0 <= p["occupancy"] <= 1.0
        assert (p["mean_speed_mps"] is None) == (p["count"] == 0)
        if p["count"]:
            assert 0 < p["mean_speed_mps"] <= 13.89 + 1e-9
        loc = obs.location
        assert loc is not None and loc.link_id in grid.link_index and loc.pos_m > 0
        assert Observation.from_dict(obs.to_dict()) == obs  # survives the wire format
    assert sum(o.payload["count"] for o in received) > 0


def test_replay_after_restore_gives_the_same_event_ids(grid):
    """Re-running an interval from a snapshot republishes identical records (dedupable)."""
    sim, _bus, feed, sensors = make(grid)
    sensors.run_until(120.0)
    snap = sim.snapshot()
    first = sensors.run_until(300.0)
    sim.restore(snap)
    assert sensors.next_sample_s == 180.0  # the sampler follows the simulation back
    second = sensors.run_until(300.0)
    assert [(o.event_id, dict(o.payload)) for o in first] == \
        [(o.event_id, dict(o.payload)) for o in second]


def test_sample_waits_for_the_interval_end_and_covers_late_calls(grid):
    """Between interval ends ``sample`` publishes nothing; a late call covers the whole span."""
    sim, _bus, feed, sensors = make(grid, interval_s=60.0)
    sim.run(59.0)
    assert sensors.sample() == []
    sim.run(200.0)
    late = sensors.sample()
    assert len(late) == 4
    # the counts cover 0 .. 200 s, so the record says 200 s and ends at 200 s (labelling
    # them 0 .. 180 would overstate flow and disagree with the occupancy's denominator)
    assert late[0].payload["interval_s"] == 200.0
    assert late[0].observed_at == START + timedelta(seconds=200.0)
    assert late[0].event_id == f"d0@{START.isoformat()}"
    assert sensors.next_sample_s == 240.0
    sim.run(240.0)
    on_time = sensors.sample()
    assert on_time[0].payload["interval_s"] == 40.0  # 200 .. 240, back on the grid
    assert on_time[0].event_id == f"d0@{(START + timedelta(seconds=200.0)).isoformat()}"


def test_like_the_runner_sample_after_every_step(grid):
    """Calling ``sample(now)`` after each step publishes exactly at the interval ends."""
    sim, _bus, feed, sensors = make(grid, interval_s=30.0)
    published_at = []
    for _ in range(120):
        sim.step(0.5)
        if sensors.sample(sim.time_s):
            published_at.append(sim.time_s)
    assert published_at == [30.0, 60.0]


def test_records_tile_the_timeline_when_steps_do_not_divide_the_interval(grid):
    """With 0.7 s steps each record spans exactly what was counted: no gap, no overlap."""
    sim, _bus, _feed, sensors = make(grid, interval_s=60.0)
    published = []
    for _ in range(400):
        sim.step(0.7)
        published += [(sim.time_s, o) for o in sensors.sample() if o.source_id == "d0"]
    assert len(published) == 4
    prev_end = START
    for k, (now, obs) in enumerate(published, start=1):
        assert 60.0 * k <= now + 1e-9 < 60.0 * k + 0.7  # the first step at or after the end
        assert obs.observed_at == START + timedelta(seconds=now)
        assert obs.event_id == f"d0@{prev_end.isoformat()}"
        npt.assert_allclose(obs.payload["interval_s"],
                            (obs.observed_at - prev_end).total_seconds(), atol=1e-6)
        prev_end = obs.observed_at


def test_run_until_after_the_simulation_ran_past_an_interval_end(grid):
    """A simulation advanced without sampling is caught up: the late interval comes first."""
    sim, _bus, _feed, sensors = make(grid, interval_s=60.0)
    sim.run(130.0)
    out = sensors.run_until(240.0)
    d0 = [o for o in out if o.source_id == "d0"]
    assert [o.payload["interval_s"] for o in d0] == [130.0, 50.0, 60.0]
    assert [o.observed_at for o in d0] == [START + timedelta(seconds=t)
                                          for t in (130.0, 180.0, 240.0)]


def test_sample_refuses_a_simulation_restored_to_before_the_detectors(grid):
    """Counts are never attributed to the wrong detector after a restore removed them."""
    trips = random_trips(grid, n_trips=50, duration_s=60.0, rng=np.random.default_rng(1))
    sim = Simulation(grid, trips, seed=1)
    bare = sim.snapshot()
    sensors = LoopDetectorSensors(sim, grid, Bus(), START, sites=[("d", grid.link_ids[0], 50.0)])
    sim.run(60.0)
    assert len(sensors.sample()) == 1
    sim.restore(bare)
    sim.run(60.0)
    with pytest.raises(RuntimeError, match="no longer has the loop detectors"):
        sensors.sample()


def test_bad_arguments(grid):
    """A naive clock start, a bad interval and a malformed site are refused."""
    sim = Simulation(grid, random_trips(grid, n_trips=5, duration_s=10.0,
                                        rng=np.random.default_rng(0)), seed=0)
    with pytest.raises(ValueError, match="timezone-aware"):
        LoopDetectorSensors(sim, grid, Bus(), datetime(2024, 1, 1))
    with pytest.raises(ValueError, match="interval_s"):
        LoopDetectorSensors(sim, grid, Bus(), START, interval_s=0)
    with pytest.raises(ValueError, match="detector site"):
        LoopDetectorSensors(sim, grid, Bus(), START, sites=[("x", grid.link_ids[0])])


def test_auto_sites_prefer_main_roads():
    """Automatic placement ranks classes, then length, and respects ``max_count``."""
    if not JATINEGARA.exists():
        pytest.skip("Jatinegara network not in this checkout")
    from twin.importers import load_network

    net = load_network(JATINEGARA)
    sites = auto_detector_sites(net, max_count=10)
    assert len(sites) == 10
    assert len({s[0] for s in sites}) == 10
    lengths = []
    for det_id, link_id, pos in sites:
        i = net.link_index[link_id]
        assert net.link_road_class[i] == "primary" and det_id == f"loop-{link_id}"
        npt.assert_allclose(pos, net.link_length_m[i] / 2)
        lengths.append(net.link_length_m[i])
    assert lengths == sorted(lengths, reverse=True)
    more = auto_detector_sites(net, road_classes=("primary", "tertiary"), max_count=100,
                               fill=False)
    assert len(more) == 39 + 3
    assert auto_detector_sites(net, road_classes=("motorway",), fill=False) == []
    filled = auto_detector_sites(net, max_count=45)  # 39 primary, then the highest capacity
    assert len(filled) == 45
    classes = [net.link_road_class[net.link_index[s[1]]] for s in filled]
    assert classes[:39] == ["primary"] * 39 and "primary" not in classes[39:]
    with pytest.raises(ValueError, match="max_count"):
        auto_detector_sites(net, max_count=-1)


def test_default_sensors_on_jatinegara_publish():
    """With no sites given, the sensors place themselves on main roads and publish."""
    if not JATINEGARA.exists():
        pytest.skip("Jatinegara network not in this checkout")
    from twin.importers import load_network

    net = load_network(JATINEGARA)
    trips = random_trips(net, n_trips=500, duration_s=300.0, rng=np.random.default_rng(2))
    sim, bus = Simulation(net, trips, seed=2), Bus()
    sensors = LoopDetectorSensors(sim, net, bus, START.astimezone(UTC), max_auto=20)
    assert len(sensors.detector_ids) == 20
    out = sensors.run_until(120.0)
    assert len(out) == 40 and bus.stats().published == 40


def test_auto_sites_on_a_grid_fill_up(grid):
    """A grid has no main-road classes; the sites are still placed, distinct and on links."""
    sites = auto_detector_sites(grid, max_count=4)
    assert len({s[1] for s in sites}) == 4
    assert all(0 < s[2] <= grid.link_length_m[grid.link_index[s[1]]] for s in sites)


def test_point_along_link_follows_the_geometry(grid):
    """Ends of a straight link are its nodes; the middle is halfway between them."""
    a, b = int(grid.link_from[0]), int(grid.link_to[0])
    L = float(grid.link_length_m[0])
    npt.assert_allclose(point_along_link(grid, 0, 0.0), (grid.node_lon[a], grid.node_lat[a]))
    npt.assert_allclose(point_along_link(grid, 0, L), (grid.node_lon[b], grid.node_lat[b]))
    mid = point_along_link(grid, 0, L / 2)
    npt.assert_allclose(mid, ((grid.node_lon[a] + grid.node_lon[b]) / 2,
                              (grid.node_lat[a] + grid.node_lat[b]) / 2), atol=1e-9)
