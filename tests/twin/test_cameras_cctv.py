"""CCTV analytics on the engine: alerts where traffic is blocked, none where it flows."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np

from twin.bus import Bus
from twin.cameras import VirtualCameras
from twin.cameras.cctv import STOP_LINE_ZONE_M
from twin.demand import TripRecord, Trips
from twin.importers.grid import grid_network
from twin.observations import Observation, ObservationKind
from twin.scenario import CameraSpec
from twin.simulation import Simulation
from twin.vehicles import Fleet

START = datetime(2026, 3, 2, 7, 0, tzinfo=timezone(timedelta(hours=7)))
ROUTE = ["r1c0-r1c1", "r1c1-r1c2", "r1c2-r1c3"]
WATCHED = "r1c1-r1c2"  # 200 m, two lanes, ends at the signal at r1c2


def run(incident: tuple[float, float] | None, until_s: float = 900.0, headway_s: float = 6.0,
        stopped_after_s: float = 45.0) -> tuple[list[Observation], Simulation, float]:
    """Light traffic along ROUTE with a CCTV camera on WATCHED; ``incident`` = (start,
    end) blocks both its lanes at its middle. Also returns the longest standstill seen on
    WATCHED at a look, seconds."""
    net = grid_network(3, 4, lanes=2)
    rng = np.random.default_rng(7)
    departs = np.cumsum(rng.exponential(headway_s, size=int(until_s / headway_s)))
    trips = Trips.from_records(net, [TripRecord(f"t{i}", "car", float(t), route=ROUTE)
                                     for i, t in enumerate(departs[departs < until_s - 200])])
    sim = Simulation(net, trips, seed=7)
    bus = Bus()
    seen: list[Observation] = []
    bus.subscribe_callback("incident_report/#", seen.append)
    cams = VirtualCameras(sim, net, bus, START, [CameraSpec(
        id="cctv", type="cctv", link=WATCHED, stopped_after_s=stopped_after_s, congestion_speed_share=0.3,
        congestion_after_s=90.0)], fleet=Fleet(trips.vehicle_class, seed=7), cctv_period_s=5.0)
    assert cams.next_sample_s == 5.0
    handle = None
    longest = 0.0
    link = net.link_index[WATCHED]
    while sim.time_s < until_s:
        t = cams.next_sample_s
        if incident is not None and handle is None and t >= incident[0]:
            handle = sim.open_incident(WATCHED, 2)
        if handle is not None and t >= incident[1]:  # type: ignore[index]
            sim.clear_incident(handle)
            handle, incident = None, None
        sim.run(t)
        cams.sample()
        on = np.asarray(sim.vehicle_link) == link
        since = np.asarray(sim.vehicle_stopped_since_s)[on]
        if np.isfinite(since).any():
            longest = max(longest, t - float(since[np.isfinite(since)].min()))
    return seen, sim, longest


def test_a_blocked_link_raises_stopped_vehicle_and_congestion_alerts():
    seen, sim, _ = run(incident=(200.0, 500.0))
    stopped = [o for o in seen if o.payload["incident_type"] == "stopped_vehicle"]
    congestion = [o for o in seen if o.payload["incident_type"] == "congestion"]
    assert {o.kind for o in seen} == {ObservationKind.INCIDENT_REPORT}
    # the first car of each lane waits at the block (the link's middle), not in a queue
    assert len(stopped) == 2 and {o.location.lane for o in stopped} == {0, 1}
    for o in stopped:
        assert 85.0 < o.location.pos_m < 100.0 and o.location.link_id == WATCHED
        assert o.payload["stopped_s"] >= 45.0 and o.payload["vehicle_class"] == "car"
        assert 245.0 < (o.observed_at - START).total_seconds() < 320.0
    assert [o.payload["status"] for o in congestion] == ["raised", "cleared"]
    raised, cleared = ((o.observed_at - START).total_seconds() for o in congestion)
    assert 290.0 <= raised < 400.0 and raised - 90.0 >= 200.0
    assert congestion[0].payload["mean_speed_mps"] < 0.3 * 13.89
    assert 500.0 + 90.0 <= cleared < 800.0
    assert [o.event_id for o in seen] == [f"cctv:{n}" for n in range(1, len(seen) + 1)]
    assert sim.n_arrived == sim.n_vehicles


def test_free_flow_and_signal_queues_raise_nothing():
    """The same traffic without the block, and a camera that calls 20 s a long stop: the
    cars waiting at the red light (up to 36 s) stand at the stop line or queue behind
    it, so none is a stopped vehicle, and the queue clears on green, so no congestion."""
    seen, sim, longest = run(incident=None, stopped_after_s=20.0)
    assert longest > 20.0  # cars did stand still longer than the camera's threshold
    assert seen == []
    assert sim.n_arrived == sim.n_vehicles
    assert STOP_LINE_ZONE_M == 15.0


def test_vehicles_on_a_link_come_from_its_lane_queues():
    """``Simulation.vehicles_on`` (what the CCTV reads) agrees with the vehicle arrays."""
    net = grid_network(3, 4, lanes=2)
    rng = np.random.default_rng(3)
    trips = Trips.from_records(net, [TripRecord(f"t{i}", "car", float(t), route=ROUTE)
                                     for i, t in enumerate(np.sort(rng.uniform(0, 300, 150)))])
    sim = Simulation(net, trips, seed=3)
    sim.run(240.0)
    lanes_all = sim.vehicle_lane
    busy = 0
    for link in ROUTE:
        on, lanes = sim.vehicles_on(link)
        expected = np.flatnonzero(np.asarray(sim.vehicle_link) == net.link_index[link])
        assert sorted(on.tolist()) == expected.tolist()
        assert (lanes == lanes_all[on]).all()
        for k in (0, 1):  # front first within each lane
            assert (np.diff(np.asarray(sim.vehicle_pos_m)[on[lanes == k]]) <= 0).all()
        busy += on.size
    assert busy > 10
