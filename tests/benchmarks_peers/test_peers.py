"""The peer benchmark (``python -m benchmarks.peers``) on a tiny grid.

Checks behaviour, never speed: the same trips and routes reach every engine,
every engine completes them with plausible travel times, a lone car's trip
takes length / speed in each engine, and a missing peer is skipped with the
install hint.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pytest

from benchmarks.peers import sumo_run, uxsim_run
from benchmarks.peers.__main__ import engine_env, main, run_engine
from benchmarks.peers.common import INSTALL_HINT, EngineResult, sumo_tool
from benchmarks.peers.grid import (
    ROUTES_FILE,
    GridParams,
    build_scenario,
    free_flow_time_s,
    load_scenario,
    route_ids,
    write_trips,
)
from benchmarks.peers.report import format_table
from twin.demand import Trips, read_sumo_routes
from twin.network import Network

pytestmark = pytest.mark.skipif(sumo_tool("sumo") is None or sumo_tool("netgenerate") is None,
                                reason="SUMO (eclipse-sumo) is not installed")


def _engines() -> list[str]:
    """Kota and SUMO, plus UXsim when it is installed."""
    engines = ["kota", "sumo"]
    if importlib.util.find_spec("uxsim") is not None:
        engines.append("uxsim")
    return engines


def _per_trip(workdir: Path, engine: str) -> dict[str, tuple[float, float, str]]:
    """trip id -> (travel time, route length, route) as written by the engine."""
    with np.load(workdir / f"{engine}_trips.npz") as z:
        routes = z["routes"] if "routes" in z.files else [""] * len(z["trip_ids"])
        return {str(i): (float(t), float(length), str(r)) for i, t, length, r in
                zip(z["trip_ids"], z["travel_time_s"], z["route_length_m"], routes, strict=True)}


class SmallRun(NamedTuple):
    workdir: Path
    results: dict[str, EngineResult]
    network: Network
    trips: Trips
    params: GridParams


@pytest.fixture(scope="module")
def small_run(tmp_path_factory: pytest.TempPathFactory) -> SmallRun:
    """3 x 3 grid, 50 trips, routes recorded, every installed engine; the scenario as
    the engines read it back (:func:`load_scenario`)."""
    workdir = tmp_path_factory.mktemp("peers")
    params = GridParams(grid=3, trips=50, seed=7, horizon_s=3600.0, depart_window_s=600.0,
                        record_routes=True)
    build_scenario(params, workdir)
    env = engine_env()
    results = {e: run_engine(e, workdir, env) for e in _engines()}
    return SmallRun(workdir, results, *load_scenario(workdir))


def test_scenario_files_hold_the_same_trips(small_run: SmallRun) -> None:
    workdir, _, network, trips, params = small_run
    assert len(trips) == params.trips == 50
    assert network.n_nodes == 9 and network.n_links == 24
    assert network.signals.n_programs == 1  # the one interior junction of a 3 x 3 grid
    # 200 m blocks; SUMO's left-hand grid without internal links lengthens the
    # lanes of a few edges by the junction size, and every engine uses those lengths
    assert (network.link_length_m >= 200.0).all() and (network.link_length_m <= 221.0).all()
    assert np.median(network.link_length_m) == 200.0
    assert (trips.vehicle_class == 1).all()  # cars only
    assert trips.has_route.all()
    # the SUMO route file carries exactly these trips, departures and routes
    in_file = read_sumo_routes(workdir / ROUTES_FILE, network)
    assert in_file.trip_ids == trips.trip_ids
    np.testing.assert_allclose(in_file.depart_s, trips.depart_s, rtol=0.0, atol=1e-9)
    for i in range(len(trips)):
        assert route_ids(network, in_file, i) == route_ids(network, trips, i)
    vtype = ET.parse(workdir / ROUTES_FILE).getroot().find("vType")
    assert vtype is not None and vtype.get("carFollowModel") == "IDM"


def test_every_engine_drives_the_given_routes_and_completes_them(small_run: SmallRun) -> None:
    workdir, results, network, trips, _ = small_run
    free_flow = dict(zip(trips.trip_ids, free_flow_time_s(network, trips), strict=True))
    expected = {t: " ".join(route_ids(network, trips, i)) for i, t in enumerate(trips.trip_ids)}
    for engine, result in results.items():
        assert result.ok, f"{engine}: {result.message}"
        assert result.trips_total == 50 and result.trips_completed == 50, engine
        per_trip = _per_trip(workdir, engine)
        assert set(per_trip) == set(trips.trip_ids), engine
        for trip, (tt, _length, route) in per_trip.items():
            assert route == expected[trip], f"{engine} drove another route for {trip}"
            ff = free_flow[trip]
            # never (much) faster than free flow; light traffic, one 90 s signal cycle at most
            assert 0.95 * ff <= tt <= ff + 120.0, f"{engine} {trip}: {tt:.1f} s, free flow {ff:.1f} s"
        assert result.mean_travel_time_s == pytest.approx(
            np.mean([v[0] for v in per_trip.values()]))
        assert result.vehicle_steps > 0 and result.vehicle_updates_per_s > 0
        assert result.peak_rss_mb > 0 and result.sim_wall_s > 0
        # vehicle-steps = vehicle-seconds on the network: about the sum of travel times
        total_tt = sum(v[0] for v in per_trip.values())
        assert 0.8 * total_tt <= result.vehicle_steps <= 1.05 * total_tt, engine
    if "uxsim" in results:
        # the count without logs (cumulative curves) matches the logged run samples
        assert results["uxsim"].vehicle_steps == pytest.approx(
            results["uxsim"].extra["logged_run_samples"], rel=0.01)
    sumo = results["sumo"]
    assert sumo.extra["teleports"] == 0


def test_a_lone_car_takes_length_over_speed_in_every_engine(tmp_path: Path) -> None:
    """Corner to corner on a 3 x 3 grid without signals: four links at 13.89 m/s."""
    params = GridParams(grid=3, trips=1, seed=1, horizon_s=600.0, depart_window_s=10.0,
                        signals="none", record_routes=True)
    scenario = build_scenario(params, tmp_path)
    net = scenario.network
    a0, c2 = net.node_index["A0"], net.node_index["C2"]
    route = [net.link_index[x] for x in ("A0A1", "A1A2", "A2B2", "B2C2")]
    trips = Trips.from_arrays(net, trip_ids=["lone"], vehicle_class=[1], origin_node=[a0],
                              destination_node=[c2], depart_s=[5.0], route_offsets=[0, 4],
                              route_links=route)
    write_trips(tmp_path, net, trips)
    expected = float(free_flow_time_s(net, trips)[0])  # length / speed
    assert 800.0 / 13.89 <= expected <= 860.0 / 13.89
    env = engine_env()
    tt: dict[str, float] = {}
    for engine in _engines():
        result = run_engine(engine, tmp_path, env)
        assert result.ok, f"{engine}: {result.message}"
        assert result.trips_completed == 1
        assert result.mean_travel_time_s is not None
        tt[engine] = result.mean_travel_time_s
        assert tt[engine] == pytest.approx(expected, rel=0.15), engine
    assert tt["kota"] == pytest.approx(tt["sumo"], rel=0.15)


def test_uxsim_world_mirrors_the_kota_network(small_run: SmallRun) -> None:
    uxsim = pytest.importorskip("uxsim")
    network, trips = small_run.network, small_run.trips
    world, vehicles, notes = uxsim_run.build_world(uxsim, network, trips, seed=1, horizon_s=600.0,
                                                   cpp=True, record=False)
    assert notes == []
    assert [n.name for n in world.NODES] == list(network.node_ids)
    assert [link.name for link in world.LINKS] == list(network.link_ids)
    for k, link in enumerate(world.LINKS):
        assert link.length == pytest.approx(network.link_length_m[k])
        assert link.u == pytest.approx(network.link_speed_limit_mps[k])
        assert link.number_of_lanes == network.link_lanes[k]
    centre = world.get_node("B1")
    assert centre.signal == [42.0, 3.0, 42.0, 3.0]  # SUMO's default static program
    # north-south links go in phase 0, east-west ones in phase 2; yellow is red
    assert world.get_link("B2B1").signal_group == [0]
    assert world.get_link("A1B1").signal_group == [2]
    assert [v.name for v in vehicles] == list(trips.trip_ids)
    # UXsim departs at the start of the 1 s step holding the departure time
    assert [v.departure_time_in_second for v in vehicles] == list(np.floor(trips.depart_s))


def test_missing_peers_are_skipped_with_the_install_hint(
        small_run: SmallRun, monkeypatch: pytest.MonkeyPatch) -> None:
    workdir, results = small_run.workdir, small_run.results
    monkeypatch.setattr(uxsim_run, "load_uxsim",
                        lambda: (None, False, f"UXsim is not installed; install it with "
                                              f"{INSTALL_HINT}"))
    monkeypatch.setattr(sumo_run, "sumo_tool", lambda name: None)
    skipped = [uxsim_run.run(workdir), sumo_run.run(workdir)]
    for r in skipped:
        assert not r.ok and INSTALL_HINT in r.message
    table = format_table([results["kota"], *skipped], "tiny")
    assert "uxsim    skipped: UXsim is not installed" in table
    assert "sumo     skipped: SUMO is not installed" in table
    assert "[met] every trip completed (Kota)" in table


def test_command_prints_one_json_object(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--grid", "3", "--trips", "20", "--engines", "kota", "--json"]) == 0
    out = capsys.readouterr().out
    report = json.loads(out)
    assert report["scenario"]["grid"] == 3 and report["scenario"]["trips"] == 20
    kota = report["engines"]["kota"]
    assert kota["ok"] and kota["trips_completed"] == 20
    assert set(report["definitions"]) >= {"vehicle_updates_per_s", "peak_rss_mb"}
    assert sys.executable  # the engines ran under this interpreter
