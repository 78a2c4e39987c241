"""The live mirror: the sensor-graph network, nudging, the bus path, and the METR-LA score."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from hardware_bridge.ingest import Ingest
from hardware_bridge.mirror import SpeedMirror
from hardware_bridge.mirror_eval import score_metr_la
from hardware_bridge.replay import Replayer
from hardware_bridge.replay_sources import I94, MPH_TO_MPS, MetrLa
from hardware_bridge.sensor_network import (
    FREEWAY_SPEED_LIMIT_MPS,
    haversine_m,
    metr_la_network,
    prune_detours,
    sensor_graph_network,
)
from twin.bus import Bus
from twin.demand import TripRecord, Trips
from twin.observations import Observation, ObservationKind
from twin.simulation import Simulation


@pytest.fixture(scope="module")
def metr_la() -> MetrLa:
    return MetrLa()


@pytest.fixture(scope="module")
def la_network():
    return metr_la_network()


# ----------------------------------------------------------------------- the network


def test_pruning_keeps_the_next_sensor_and_drops_the_one_beyond() -> None:
    """a -> b -> c on a line: a -> c is explained by b and dropped; a -> b, b -> c stay."""
    d = np.array([[0, 1.0, 2.0], [np.inf, 0, 1.0], [np.inf, np.inf, 0]])
    w = np.where(np.isfinite(d), np.exp(-(d / 2.0) ** 2), 0.0)
    keep = prune_detours(w)
    assert keep.tolist() == [[False, True, False], [False, False, True], [False, False, False]]


def test_metr_la_network_every_sensor_measures_links_each_link_one_sensor(la_network) -> None:
    net, links = la_network.network, la_network.sensor_links
    assert len(links) == 207 and all(links.values())
    measured = [li for ls in links.values() for li in ls]
    assert sorted(measured) == sorted(net.link_ids)  # every link, once
    assert net.n_links == 472 and (net.link_length_m >= 30.0).all()
    assert np.allclose(net.link_speed_limit_mps, 65 * MPH_TO_MPS)
    a, b = net.link_from[0], net.link_to[0]
    assert net.link_length_m[0] == pytest.approx(max(30.0, haversine_m(
        net.node_lon[a], net.node_lat[a], net.node_lon[b], net.node_lat[b])))


def test_sensor_graph_network_gives_a_sink_an_exit() -> None:
    w = np.array([[1.0, 0.5], [0.0, 1.0]])
    sn = sensor_graph_network(["a", "b"], [-118.30, -118.29], [34.0, 34.0], w)
    assert sn.sensor_links == {"a": ("a>b",), "b": ("b>b-exit",)}
    exit_node = sn.network.node_index["b-exit"]
    assert sn.network.node_lon[exit_node] > -118.29  # onwards, eastwards like a -> b


# ----------------------------------------------------------------------- nudging


def _corridor() -> tuple[Simulation, dict[str, tuple[str, ...]]]:
    w = np.array([[1.0, 0.5, 0.0], [0.0, 1.0, 0.5], [0.0, 0.0, 1.0]])
    sn = sensor_graph_network(["a", "b", "c"], [-118.30, -118.28, -118.26], [34.0] * 3, w)
    trips = Trips.from_records(sn.network, [TripRecord(f"t{i}", "car", 20.0 * i, route=["a>b", "b>c"])
                                            for i in range(20)])
    return Simulation(sn.network, trips, seed=0), dict(sn.sensor_links)


def _reading(source: str, speed_mps: float | None, minute: int = 0) -> Observation:
    start = datetime(2012, 3, 1, 8, tzinfo=UTC) + timedelta(minutes=5 * minute)
    payload = {"interval_s": 300.0, "count": None if speed_mps is not None else 40,
               "occupancy": None, "mean_speed_mps": speed_mps}
    return Observation(ObservationKind.DETECTOR_INTERVAL, source, start + timedelta(minutes=5),
                       payload, event_id=f"{source}@{start.isoformat()}")


def test_first_reading_sets_the_factor_then_readings_nudge_by_the_gain() -> None:
    sim, links = _corridor()
    mirror = SpeedMirror(sim, links, gain=0.5)
    limit = FREEWAY_SPEED_LIMIT_MPS
    assert mirror.observe(_reading("a", 0.5 * limit)) is None
    assert mirror.factor("a") == pytest.approx(0.5)
    assert sim.link_speed_factor[sim.resolve_link("a>b")] == pytest.approx(0.5)
    mirror.sample()
    sim.run(300.0)
    mirror.sample()
    twin = mirror.twin_speed_mps("a")
    assert twin is not None and twin < 0.5 * limit + 0.1  # nobody drives faster than wanted
    innovation = mirror.observe(_reading("a", 0.8 * limit, minute=1))
    assert innovation == pytest.approx(0.8 * limit - twin)
    assert mirror.factor("a") == pytest.approx(0.5 + 0.5 * innovation / limit)
    assert mirror.twin_speed_mps("a") is None  # the average restarts after a reading
    mirror.observe(_reading("a", 500.0, minute=2))  # clamped (the gate would refuse this)
    assert mirror.factor("a") == pytest.approx(1.3)


def test_readings_without_a_speed_or_a_link_are_left_alone() -> None:
    sim, links = _corridor()
    mirror = SpeedMirror(sim, links)
    mirror.observe(_reading("a", None))
    mirror.observe(_reading("b", None))
    mirror.observe(_reading("elsewhere", 10.0))
    assert mirror.stats.no_speed == 2 and mirror.stats.unknown_source == 1
    assert mirror.stats.assimilated == 0
    assert np.all(sim.link_speed_factor == 1.0)
    i94 = I94()
    mirror.observe(i94.observation(0))
    assert mirror.stats.unknown_source == 2


def test_replay_through_the_gate_drives_the_mirror_over_the_bus(metr_la, la_network) -> None:
    """The live path: replay -> ingest -> bus -> mirror.update() between simulation steps."""
    net = la_network.network
    sim = Simulation(net, Trips.empty(), seed=0)
    bus = Bus()
    mirror = SpeedMirror(sim, la_network.sensor_links)
    mirror.attach(bus)
    Replayer(Ingest(bus, require_freshness=False), metr_la, start=timedelta(hours=8),
             limit=207).run()
    assert mirror.update() == 207
    assert mirror.stats.assimilated == 207
    row = metr_la.row_of(metr_la.first_time + timedelta(hours=8))
    for col in (0, 50, 206):
        source = metr_la.source_ids[col]
        expected = metr_la.speed_mph[row, col] * MPH_TO_MPS / FREEWAY_SPEED_LIMIT_MPS
        assert mirror.factor(source) == pytest.approx(min(1.3, expected))
        link = la_network.sensor_links[source][0]
        assert sim.link_speed_mps[sim.resolve_link(link)] == pytest.approx(
            min(1.3, expected) * FREEWAY_SPEED_LIMIT_MPS)  # empty link: its free speed


# ----------------------------------------------------------------------- the score


def test_mirroring_brings_the_twin_much_closer_to_metr_la(metr_la, la_network) -> None:
    """07:00-08:00 on 1 March 2012: the one-step-ahead error with mirroring is less than half
    the error without (the twin's drivers then keep the 65 mph limit)."""
    kw = {"first_row": 84, "intervals": 12, "recording": metr_la, "sensor_network": la_network}
    baseline = score_metr_la(mirror=False, **kw)
    mirrored = score_metr_la(mirror=True, **kw)
    assert baseline.comparisons == mirrored.comparisons == 12 * 207
    assert baseline.mae_mps > 4.0  # the morning peak: a free-flow twin is far off
    assert mirrored.mae_mps < 0.5 * baseline.mae_mps
    # it cannot beat reading the previous interval by much: the twin follows one step behind
    assert mirrored.mae_mps > 0.8 * mirrored.persistence_mae_mps
