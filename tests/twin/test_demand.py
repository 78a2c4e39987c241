"""Tests for twin.demand: Trips, time profiles, generators, TNTP and SUMO readers."""

from __future__ import annotations

import gzip
import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from core_ext._shortest_path_cy import dijkstra_csr
from twin.demand import (
    JAKARTA_VEHICLE_MIX,
    MORNING_PEAK,
    VEHICLE_CLASSES,
    DemandError,
    TimeProfile,
    TripRecord,
    Trips,
    od_trips,
    random_trips,
    read_sumo_routes,
    read_tntp_trips,
)
from twin.importers import load_network
from twin.importers.grid import grid_network
from twin.importers.sumo import read_sumo_net
from twin.network import Network

ROOT = Path(__file__).resolve().parents[2]
TNTP = ROOT / "data" / "tntp"
_SPEC = importlib.util.find_spec("sumo")
SUMO_HOME = Path(_SPEC.submodule_search_locations[0]) if _SPEC else None
GAME = SUMO_HOME / "tools" / "game" if SUMO_HOME else None
needs_sumo = pytest.mark.skipif(SUMO_HOME is None, reason="eclipse-sumo wheel not installed")


def chain() -> Network:
    """a -> b -> c -> d one-way, plus d -> a, plus an isolated pair e <-> f and a
    one-way spur c -> g (g is a sink)."""
    ids = list("abcdefg")
    links = [("ab", 0, 1), ("bc", 1, 2), ("cd", 2, 3), ("da", 3, 0), ("ef", 4, 5),
             ("fe", 5, 4), ("cg", 2, 6)]
    return Network.from_arrays(
        name="chain", node_ids=ids, node_lon=np.arange(7) * 1e-3, node_lat=np.zeros(7),
        link_ids=[x[0] for x in links], link_from=[x[1] for x in links],
        link_to=[x[2] for x in links], link_length_m=[100.0] * 7,
        link_lanes=[1, 1, 3, 1, 1, 1, 1], link_speed_limit_mps=[10.0] * 7,
        link_capacity_vph=[1800.0] * 7)


@pytest.fixture(scope="module")
def grid() -> Network:
    return grid_network(6, 6, signals=False)


@pytest.fixture(scope="module")
def net() -> Network:
    return chain()


def reaches(network: Network, o: int, d: int) -> bool:
    dist = dijkstra_csr(network.out_offsets, network.out_links, network.link_to,
                        network.free_flow_time_s, o, d)[0]
    return bool(np.isfinite(dist[d]))


def same(a: Trips, b: Trips) -> bool:
    return a.trip_ids == b.trip_ids and all(
        np.array_equal(getattr(a, c), getattr(b, c))
        for c in ("vehicle_class", "origin_node", "destination_node", "depart_s",
                  "route_offsets", "route_links"))


# ----------------------------------------------------------------- Trips
def test_from_records_sorts_by_departure_and_infers_ends(net: Network) -> None:
    """Records become arrays sorted by departure; ends come from the route."""
    t = Trips.from_records(net, [
        TripRecord("late", "car", 50.0, "a", "d"),
        TripRecord("early", "motorcycle", 5.0, route=["ab", "bc", "cd"]),
        {"trip_id": "mid", "vehicle_class": 3, "depart_s": 20, "route": [4]},
    ])
    assert t.trip_ids == ("early", "mid", "late")
    assert t.depart_s.tolist() == [5.0, 20.0, 50.0]
    assert t.vehicle_class.dtype == np.int8 and t.vehicle_class.tolist() == [0, 3, 1]
    assert t.origin_node.tolist() == [0, 4, 0] and t.destination_node.tolist() == [3, 5, 3]
    assert t.route_of(0).tolist() == [0, 1, 2] and t.route_of(1).tolist() == [4]
    assert t.route_of(2).size == 0 and t.has_route.tolist() == [True, True, False]
    assert len(t) == 3 and t.class_counts()["car"] == 1


def test_select_and_concat(net: Network) -> None:
    """select keeps order and routes; concat re-sorts and refuses shared ids."""
    a = Trips.from_records(net, [TripRecord("a1", "car", 10, route=["ab", "bc"]),
                                 TripRecord("a2", "bus", 30, "a", "c")])
    b = Trips.from_records(net, [TripRecord("b1", "truck", 20, route=["ef", "fe", "ef"])])
    s = a.select(np.array([False, True]))
    assert s.trip_ids == ("a2",) and s.route_offsets.tolist() == [0, 0]
    assert a.select([1, 0, 1]).trip_ids == ("a1", "a2")
    c = a.concat(b)
    assert c.trip_ids == ("a1", "b1", "a2")
    assert c.route_of(1).tolist() == [4, 5, 4] and c.route_of(0).tolist() == [0, 1]
    assert c.select(c.vehicle_class == 3).route_of(0).tolist() == [4, 5, 4]
    with pytest.raises(DemandError, match="'a1'.*in both"):
        c.concat(a)
    assert len(Trips.empty().concat(b)) == 1


@pytest.mark.parametrize(("rec", "match"), [
    (TripRecord("x", "bicycle", 0, "a", "b"), "trip 'x'.*unknown vehicle class 'bicycle'"),
    (TripRecord("x", "car", float("nan"), "a", "b"), "trip 'x'.*departure"),
    (TripRecord("x", "car", -1.0, "a", "b"), "trip 'x'.*departure"),
    (TripRecord("x", "car", 0, "a", "d", route=["ab", "cd"]), "trip 'x'.*gap.*'ab'.*'cd'"),
    (TripRecord("x", "car", 0, "b", "c", route=["ab", "bc"]), "trip 'x'.*starts at node 'a'"),
    (TripRecord("x", "car", 0, "a", "d", route=["ab", "bc"]), "trip 'x'.*ends at node 'c'"),
    (TripRecord("x", "car", 0, "a", "a"), "trip 'x'.*same node 'a'"),
    (TripRecord("x", "car", 0, "a", "zz"), "trip 'x'.*unknown node 'zz'"),
    (TripRecord("x", "car", 0, route=["ab", "nope"]), "trip 'x'.*unknown link 'nope'"),
    (TripRecord("x", "car", 0, "a"), "trip 'x'.*destination node or a route"),
])
def test_from_records_rejects_bad_trips(net: Network, rec: TripRecord, match: str) -> None:
    """Each broken record gives a DemandError naming the trip and the problem."""
    ok = TripRecord("fine", "car", 0, "a", "b")
    with pytest.raises(DemandError, match=match):
        Trips.from_records(net, [ok, rec], source="test")


def test_from_arrays_rejects_duplicates_and_bad_links(net: Network) -> None:
    """Duplicate ids and out-of-range link indices are named."""
    with pytest.raises(DemandError, match="duplicate trip id 'x'"):
        Trips.from_arrays(net, trip_ids=["x", "x"], vehicle_class=[1, 1], origin_node=[0, 0],
                          destination_node=[1, 1], depart_s=[0, 0])
    with pytest.raises(DemandError, match="trip 'y'.*link index 99"):
        Trips.from_arrays(net, trip_ids=["y"], vehicle_class=[1], origin_node=[0],
                          destination_node=[1], depart_s=[0], route_offsets=[0, 1],
                          route_links=[99])


# ----------------------------------------------------------------- profiles
def test_profile_validation_and_integral() -> None:
    """Pieces must start at 0, ascend and be >= 0; the integral is weight-seconds."""
    p = TimeProfile([(0, 0.6), (1800, 1.4), (3600, 1.0)])
    assert p.integral(3600) == pytest.approx(3600.0)
    assert p.integral(5400) == pytest.approx(5400.0)
    assert p.multiplier([0, 1799, 1800, 9999]).tolist() == [0.6, 0.6, 1.4, 1.0]
    assert MORNING_PEAK.mean_multiplier(4 * 3600) == pytest.approx(1.0)
    assert MORNING_PEAK.shifted(3600).multiplier([0, 1800]).tolist() == [1.4, 1.6]
    for bad in ([(10, 1.0)], [(0, 1.0), (0, 2.0)], [(0, -1.0)], []):
        with pytest.raises(DemandError):
            TimeProfile(bad)
    with pytest.raises(DemandError, match="0 over the whole"):
        TimeProfile([(0, 0.0), (100, 1.0)]).sample(5, 50.0, np.random.default_rng(0))


def test_departures_follow_the_profile() -> None:
    """20k departures from MORNING_PEAK: every half-hour bin's share is within
    4 binomial sigma of its weight share, the peak bin within 3."""
    n, horizon = 20_000, 4 * 3600.0
    t = MORNING_PEAK.sample(n, horizon, np.random.default_rng(11))
    assert t.min() >= 0 and t.max() < horizon
    counts = np.histogram(t, bins=8, range=(0, horizon))[0]
    w = np.array([p[1] for p in MORNING_PEAK.pieces])
    p = w / w.sum()
    sigma = np.sqrt(n * p * (1 - p))
    assert np.all(np.abs(counts - n * p) < 4 * sigma)
    peak = int(np.argmax(p))
    assert peak == 3 and abs(counts[peak] - n * p[peak]) < 3 * sigma[peak]
    # within a piece the density is flat: first vs second quarter-hour of the peak
    q = np.histogram(t, bins=16, range=(0, horizon))[0][6:8]
    assert abs(q[0] - q[1]) < 4 * np.sqrt(q.sum() / 2)


# ----------------------------------------------------------------- random trips
def test_random_trips_deterministic_per_seed(grid: Network) -> None:
    """Same seed, same trips; another seed, other trips."""
    kw = dict(n_trips=500, duration_s=3600.0, profile=MORNING_PEAK)
    a = random_trips(grid, rng=np.random.default_rng(42), **kw)
    b = random_trips(grid, rng=np.random.default_rng(42), **kw)
    c = random_trips(grid, rng=np.random.default_rng(43), **kw)
    assert same(a, b)
    assert not np.array_equal(a.depart_s, c.depart_s)
    assert not np.array_equal(a.origin_node, c.origin_node)
    assert len(a) == 500 and a.trip_ids[0] == "rand0" and np.all(np.diff(a.depart_s) >= 0)
    assert not a.has_route.any()


def test_random_trips_vehicle_mix(grid: Network) -> None:
    """On 20k trips each class share is within 4 sigma of the Jakarta mix."""
    n = 20_000
    t = random_trips(grid, n, duration_s=3600.0, rng=np.random.default_rng(5))
    p = np.array([JAKARTA_VEHICLE_MIX[c] for c in VEHICLE_CLASSES])
    counts = np.bincount(t.vehicle_class, minlength=4)
    assert np.all(np.abs(counts - n * p) < 4 * np.sqrt(n * p * (1 - p)))
    only_bus = random_trips(grid, 50, duration_s=60.0, rng=np.random.default_rng(5),
                            vehicle_mix={"bus": 1.0})
    assert set(only_bus.vehicle_class.tolist()) == {2}


def test_random_trips_only_reachable_pairs(net: Network) -> None:
    """On a network with a separate component and a sink, every pair is reachable,
    origins have outgoing links and destinations incoming ones."""
    t = random_trips(net, 2000, duration_s=600.0, rng=np.random.default_rng(1))
    pairs = set(zip(t.origin_node.tolist(), t.destination_node.tolist(), strict=True))
    assert all(o != d and reaches(net, o, d) for o, d in pairs)
    assert 6 not in t.origin_node and 6 in t.destination_node  # g is a sink
    assert {4, 5} <= set(t.origin_node.tolist())  # the e<->f island is used too
    lanes = random_trips(net, 4000, duration_s=600.0, rng=np.random.default_rng(1),
                         weight_by="lanes")
    # node c leaves by a 3-lane link (and a 1-lane one): 4 of 10 outgoing lanes
    assert np.mean(lanes.origin_node == 2) > 2 * np.mean(t.origin_node == 2)


def test_random_trips_rate_and_arguments(grid: Network) -> None:
    """trips_per_hour gives a Poisson count around rate x hours x mean multiplier."""
    t = random_trips(grid, trips_per_hour=3000, duration_s=7200.0, rng=np.random.default_rng(3))
    assert abs(len(t) - 6000) < 4 * np.sqrt(6000)
    with pytest.raises(DemandError, match="exactly one"):
        random_trips(grid, 5, trips_per_hour=5, duration_s=60.0, rng=np.random.default_rng(0))
    with pytest.raises(DemandError, match="numpy.random.Generator"):
        random_trips(grid, 5, duration_s=60.0, rng=42)  # type: ignore[arg-type]


def test_reachability_matches_plain_dijkstra() -> None:
    """The hub shortcut in Reachability agrees with one Dijkstra per origin on
    random directed graphs (several components, sinks and sources)."""
    from twin.demand._graph import Reachability

    rng = np.random.default_rng(0)
    for _ in range(20):
        n = int(rng.integers(5, 40))
        f, t = rng.integers(0, n, 2 * n), rng.integers(0, n, 2 * n)
        f, t = f[f != t], t[f != t]
        k = f.size
        g = Network.from_arrays(
            name="r", node_ids=[str(i) for i in range(n)], node_lon=rng.random(n) * 0.01,
            node_lat=rng.random(n) * 0.01, link_ids=[f"l{i}" for i in range(k)], link_from=f,
            link_to=t, link_length_m=np.full(k, 100.0), link_lanes=np.ones(k, int),
            link_speed_limit_mps=np.full(k, 10.0), link_capacity_vph=np.full(k, 1e3))
        o, d = (x.ravel() for x in np.meshgrid(np.arange(n), np.arange(n), indexing="ij"))
        ref = np.array([a != b and reaches(g, a, b) for a, b in zip(o, d, strict=True)])
        assert np.array_equal(Reachability(g).reachable(o, d), ref)


# ----------------------------------------------------------------- OD trips
def test_od_poisson_rounding_mean_matches_flow(grid: Network) -> None:
    """Fractional flows are honoured in expectation, with either rounding."""
    ids = grid.node_ids
    od = {(o, d): 0.37 for o in ids for d in ids if o != d}  # 1260 pairs
    expected = 0.37 * len(od)
    poi = od_trips(grid, od, duration_s=3600.0, rng=np.random.default_rng(8))
    assert abs(len(poi) - expected) < 4 * np.sqrt(expected)
    sto = od_trips(grid, od, duration_s=3600.0, rng=np.random.default_rng(8),
                   rounding="stochastic")
    assert abs(len(sto) - expected) < 4 * np.sqrt(len(od) * 0.37 * 0.63)
    per_pair = np.unique(np.stack([sto.origin_node, sto.destination_node]), axis=1,
                         return_counts=True)[1]
    assert per_pair.max() == 1
    big = od_trips(grid, {("r0c0", "r5c5"): 2.5}, duration_s=60.0, rounding="stochastic",
                   rng=np.random.default_rng(2))
    assert len(big) in (2, 3)
    scaled = od_trips(grid, {("r0c0", "r5c5"): 100.0}, duration_s=60.0, scale=0.0,
                      rng=np.random.default_rng(2))
    assert len(scaled) == 0
    again = od_trips(grid, od, duration_s=3600.0, rng=np.random.default_rng(8))
    assert same(poi, again)


def test_od_trips_errors(net: Network) -> None:
    """Unknown nodes, bad flows and unreachable pairs are named."""
    rng = np.random.default_rng(0)
    with pytest.raises(DemandError, match=r"\('a', 'zz'\).*'zz'"):
        od_trips(net, {("a", "zz"): 1.0}, duration_s=60.0, rng=rng)
    with pytest.raises(DemandError, match=r"\('a', 'b'\).*flow"):
        od_trips(net, {("a", "b"): -1.0}, duration_s=60.0, rng=rng)
    with pytest.raises(DemandError, match=r"\('a', 'e'\).*cannot be reached"):
        od_trips(net, {("a", "b"): 5.0, ("a", "e"): 50.0}, duration_s=60.0, rng=rng)
    with pytest.warns(UserWarning, match="dropped 1 unreachable"):
        t = od_trips(net, {("a", "b"): 50.0, ("a", "e"): 50.0}, duration_s=60.0, rng=rng,
                     drop_unreachable=True)
    assert set(t.destination_node.tolist()) == {1}
    with pytest.warns(UserWarning, match="intrazonal"):
        od_trips(net, {("a", "a"): 3.0}, duration_s=60.0, rng=rng)


# ----------------------------------------------------------------- TNTP
def test_tntp_sioux_falls_total() -> None:
    """The SiouxFalls table adds up to its header's 360,600 trips."""
    od = read_tntp_trips(TNTP / "SiouxFalls" / "SiouxFalls_trips.tntp")
    assert sum(od.values()) == pytest.approx(360_600.0)
    assert od[("1", "10")] == 1300.0 and ("1", "1") not in od
    assert len({o for o, _ in od}) == 24


def test_tntp_berlin_friedrichshain_parses() -> None:
    """The Berlin-Friedrichshain table parses and matches its fractional total."""
    od = read_tntp_trips(TNTP / "Berlin-Friedrichshain" / "friedrichshain-center_trips.tntp")
    assert sum(od.values()) == pytest.approx(11205.1, abs=1e-3)
    assert od[("1", "2")] == pytest.approx(12.6)
    assert all(v > 0 for v in od.values())


def test_od_trips_from_sioux_falls_table() -> None:
    """The SiouxFalls table on the SiouxFalls network: a tenth of the trips, over
    an hour of morning peak, every pair reachable."""
    net = load_network(TNTP / "SiouxFalls" / "SiouxFalls_net.tntp")
    od = read_tntp_trips(TNTP / "SiouxFalls" / "SiouxFalls_trips.tntp")
    t = od_trips(net, od, duration_s=3600.0, rng=np.random.default_rng(0), scale=0.1,
                 profile=MORNING_PEAK)
    assert abs(len(t) - 36_060) < 4 * np.sqrt(36_060)
    assert {net.node_ids[i] for i in t.origin_node} == {str(k) for k in range(1, 25)}
    assert np.all(t.depart_s < 3600.0)


def test_tntp_broken_files(tmp_path: Path) -> None:
    """Malformed lines, orphan entries, duplicates and wrong totals name file and line."""
    head = "<NUMBER OF ZONES> 2\n<TOTAL OD FLOW> 30.0\n<END OF METADATA>\n\n"
    cases = {
        "bad.tntp": (head + "Origin 1\n  2 : 10.0; 3 ; 5\n", r"bad.tntp:6: .*cannot read"),
        "orphan.tntp": (head + "  2 : 10.0;\n", r"orphan.tntp:5: .*before the first"),
        "dup.tntp": (head + "Origin 1\n 2 : 10.0;\nOrigin 1\n 2 : 20.0;\n",
                     r"dup.tntp:8: pair 1 -> 2 is given twice"),
        "neg.tntp": (head + "Origin 1\n 2 : -30.0;\n", r"neg.tntp:6: .*>= 0"),
        "total.tntp": (head + "Origin 1\n 2 : 10.0; ~ comment\nOrigin 2\n 1 : 10.0;\n",
                       r"total.tntp: flows add up to 20"),
    }
    for name, (text, match) in cases.items():
        (tmp_path / name).write_text(text)
        with pytest.raises(DemandError, match=match):
            read_tntp_trips(tmp_path / name)
    with pytest.warns(UserWarning, match="TOTAL OD FLOW"):
        od = read_tntp_trips(tmp_path / "total.tntp", on_total_mismatch="warn")
    assert od == {("1", "2"): 10.0, ("2", "1"): 10.0}


# ----------------------------------------------------------------- SUMO
@needs_sumo
def test_sumo_game_cross_routes_and_flows() -> None:
    """The SUMO game's cross scenario: flows over named routes, vType distribution."""
    net = read_sumo_net(GAME / "cross" / "cross.net.xml")
    t = read_sumo_routes(GAME / "cross" / "cross.rou.xml", net, horizon_s=3600.0)
    assert t.has_route.all() and np.all(t.depart_s < 3600.0)
    right = [i for i in t.trip_ids if i.startswith("1_right.")]
    assert len(right) == 120  # period 30 s over an hour
    k = t.trip_ids.index("1_right.0")
    assert [net.link_ids[x] for x in t.route_of(k)] == ["1fi", "1si", "3o", "3fo"]
    shares = np.bincount(t.vehicle_class, minlength=4) / len(t)
    assert shares[1] == pytest.approx(20 / 23, abs=0.03)  # passenger 20 : bus 2 : truck 1
    assert shares[2] > 0.05 and shares[3] > 0.02 and shares[0] == 0
    again = read_sumo_routes(GAME / "cross" / "cross.rou.xml", net, horizon_s=3600.0)
    assert same(t, again)


@needs_sumo
@pytest.mark.parametrize(("scenario", "route_file"), [
    ("grid6", "grid6.rou.xml"),          # probability flows with from/to edges
    ("square", "square.rou.xml"),        # routeDistribution
    ("corridor", "corridor.rou.xml"),    # period="exp(rate)" flows without end
    ("ramp", "ramp.rou.xml"),            # vehsPerHour + probability, truck vTypes
])
def test_sumo_game_scenarios_connect(scenario: str, route_file: str) -> None:
    """Other game scenarios read with every route connected (checked by Trips)."""
    net = read_sumo_net(GAME / scenario / f"{scenario}.net.xml")
    t = read_sumo_routes(GAME / scenario / route_file, net, np.random.default_rng(4),
                         horizon_s=1800.0)
    assert len(t) > 100 and t.has_route.all()
    u = read_sumo_routes(GAME / scenario / route_file, net, np.random.default_rng(5),
                         horizon_s=1800.0)
    if scenario in ("grid6", "corridor"):  # random flows: another seed, other departures
        assert not np.array_equal(t.depart_s, u.depart_s) or len(t) != len(u)


@pytest.fixture(scope="module")
def random_trips_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """A netgenerate grid plus randomTrips.py trips and duarouter routes for it."""
    if SUMO_HOME is None:
        pytest.skip("eclipse-sumo wheel not installed")
    d = tmp_path_factory.mktemp("sumo_random")
    bin_dir = Path(sys.executable).parent
    netgenerate = shutil.which("netgenerate", path=str(bin_dir)) or shutil.which("netgenerate")
    if netgenerate is None:
        pytest.skip("netgenerate not found")
    env = {**os.environ, "SUMO_HOME": str(SUMO_HOME),
           "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}
    subprocess.run([netgenerate, "--grid", "--grid.number", "5", "--grid.length", "200",
                    "-o", str(d / "grid.net.xml"), "--seed", "1"],
                   check=True, env=env, capture_output=True)
    subprocess.run([sys.executable, str(SUMO_HOME / "tools" / "randomTrips.py"),
                    "-n", str(d / "grid.net.xml"), "-o", str(d / "grid.trips.xml"),
                    "-r", str(d / "grid.rou.xml"), "-e", "600", "-p", "2", "--seed", "7",
                    "--validate"], check=True, env=env, capture_output=True, cwd=d)
    return d / "grid.net.xml", d / "grid.trips.xml", d / "grid.rou.xml"


def test_sumo_random_trips_routes_and_trips(random_trips_files: tuple[Path, Path, Path]
                                             ) -> None:
    """randomTrips.py output on a netgenerate grid: duarouter routes and raw trips
    read with connected routes over the same edges as SUMO's."""
    net_file, trips_file, routes_file = random_trips_files
    net = read_sumo_net(net_file)
    routes = read_sumo_routes(routes_file, net)
    trips = read_sumo_routes(trips_file, net)
    assert len(routes) == len(trips) == 300 and routes.has_route.all() and trips.has_route.all()
    assert routes.trip_ids == trips.trip_ids
    assert np.array_equal(routes.origin_node, trips.origin_node)
    assert np.array_equal(routes.destination_node, trips.destination_node)
    for i in range(0, len(routes), 17):  # our routes start and end on SUMO's edges
        assert routes.route_of(i)[0] == trips.route_of(i)[0]
        assert routes.route_of(i)[-1] == trips.route_of(i)[-1]
    conn = set(zip(net.conn_from_link.tolist(), net.conn_to_link.tolist(), strict=True))
    links = trips.route_links
    cut = trips.route_offsets[1:-1] - 1
    steps = set(zip(links[:-1].tolist(), links[1:].tolist(), strict=True)) - \
        set(zip(links[cut].tolist(), links[cut + 1].tolist(), strict=True))
    assert steps <= conn  # routed trips only take turns the lane connections allow
    loose = read_sumo_routes(trips_file, net, route_trips=False)
    assert np.mean(loose.has_route) < 0.2


ROUTE_HEAD = '<routes>\n  <vType id="moto" vClass="motorcycle"/>\n'


@pytest.fixture(scope="module")
def gridnet(random_trips_files: tuple[Path, Path, Path]) -> Network:
    return read_sumo_net(random_trips_files[0])


@pytest.mark.parametrize(("body", "match"), [
    ('<vehicle id="v1" depart="0"><route edges="A0A1 B2B3"/></vehicle>',
     r"vehicle 'v1'.*gap.*'A0A1'.*'B2B3'"),
    ('<vehicle id="v2" depart="0"><route edges="A0A1 nowhere"/></vehicle>',
     r"vehicle 'v2'.*unknown edge 'nowhere'"),
    ('<vehicle id="v3" depart="triggered"><route edges="A0A1"/></vehicle>',
     r"vehicle 'v3'.*depart='triggered' is not supported"),
    ('<vehicle id="v4" depart="soon"><route edges="A0A1"/></vehicle>',
     r"vehicle 'v4'.*depart='soon' is not a time"),
    ('<vehicle id="v5" depart="-3"><route edges="A0A1"/></vehicle>',
     r"vehicle 'v5'.*depart='-3' must be a time >= 0"),
    ('<vehicle id="v6" depart="0" route="r9"/>', r"vehicle 'v6'.*unknown route 'r9'"),
    ('<trip id="v7" depart="0" from="A0A1" to="B9B8"/>', r"trip 'v7'.*unknown edge 'B9B8'"),
    ('<trip id="v8" depart="0" type="lorry" from="A0A1" to="A1A2"/>',
     r"trip 'v8'.*unknown vType 'lorry'"),
    ('<flow id="f1" begin="0" end="60" period="5" vehsPerHour="9" from="A0A1" to="A1A2"/>',
     r"flow 'f1'.*at most one of period, vehsPerHour"),
    ('<flow id="f2" begin="0" end="60" from="A0A1" to="A1A2"/>', r"flow 'f2'.*needs one of"),
    ('<trip id="v9" depart="0" fromTaz="z1" toTaz="z2"/>', r"trip 'v9'.*'fromTaz'"),
    ('<route id="r1" edges="A0A1 C3C4"/>', r"route 'r1'.*gap"),
    ('<vehicle id="v10" depart="0"', r"broken XML at line"),
    ('<vTypeDistribution id="d1" vTypes="moto" probabilities="1 2"/>',
     r"vTypeDistribution 'd1'.*1 vTypes but 2 probabilities"),
    ('<route id="r2" edges="A0A1"/><routeDistribution id="d2" routes="r2" probabilities="x"/>',
     r"routeDistribution 'd2'.*'x' is not a number"),
])
def test_sumo_broken_inputs(gridnet: Network, tmp_path: Path, body: str, match: str) -> None:
    """Broken route files give a DemandError naming the file and the item."""
    f = tmp_path / "bad.rou.xml"
    f.write_text(ROUTE_HEAD + body + "\n</routes>\n")
    with pytest.raises(DemandError, match=match) as err:
        read_sumo_routes(f, gridnet)
    assert "bad.rou.xml" in str(err.value)


def test_sumo_vtypes_flows_and_gzip(gridnet: Network, tmp_path: Path) -> None:
    """vClass mapping, guiShape fallback, flow expansion rules, h:m:s times, gzip."""
    text = """<routes>
  <vType id="moto" vClass="motorcycle"/>
  <vType id="van" vClass="delivery"/>
  <vType id="coach" guiShape="bus/coach"/>
  <vType id="train" vClass="rail"/>
  <route id="r" edges="A0A1 A1A2"/>
  <vehicle id="m" type="moto" depart="0:01:00" route="r"/>
  <vehicle id="t" type="train" depart="5" route="r"/>
  <vehicle id="now" depart="now" route="r"/>
  <flow id="n" type="van" begin="0" end="100" number="4" route="r"/>
  <flow id="vph" type="coach" begin="10" vehsPerHour="720" number="3" route="r"/>
  <flow id="p" begin="0" end="50" period="10" from="A0A1" to="B1B2"/>
</routes>"""
    f = tmp_path / "mix.rou.xml.gz"
    f.write_bytes(gzip.compress(text.encode()))
    with pytest.warns(UserWarning, match="skipped 1 vehicle"):
        t = read_sumo_routes(f, gridnet)
    by_id = dict(zip(t.trip_ids, range(len(t)), strict=True))
    cls = {i: VEHICLE_CLASSES[t.vehicle_class[k]] for i, k in by_id.items()}
    assert cls["m"] == "motorcycle" and cls["n.0"] == "truck" and cls["vph.0"] == "bus"
    assert cls["now"] == "car" and "t" not in by_id
    dep = {i: t.depart_s[k] for i, k in by_id.items()}
    assert dep["m"] == 60.0 and dep["now"] == 0.0
    assert [dep[f"n.{k}"] for k in range(4)] == [0.0, 25.0, 50.0, 75.0]
    assert [dep[f"vph.{k}"] for k in range(3)] == [10.0, 15.0, 20.0]
    assert [dep[f"p.{k}"] for k in range(5)] == [0.0, 10.0, 20.0, 30.0, 40.0]
    route = [gridnet.link_ids[x] for x in t.route_of(by_id["p.0"])]
    assert route[0] == "A0A1" and route[-1] == "B1B2"


def test_sumo_corrupt_gzip(gridnet: Network, tmp_path: Path) -> None:
    """A damaged gzip stream is a DemandError naming the file, not a raw zlib.error."""
    data = gzip.compress(b'<routes>' + b'<vehicle id="a" depart="0"/>' * 2000 + b'</routes>')
    f = tmp_path / "bad.rou.xml.gz"
    f.write_bytes(data[:40] + bytes(200) + data[240:])
    with pytest.raises(DemandError, match=r"bad\.rou\.xml\.gz: cannot read the file"):
        read_sumo_routes(f, gridnet)


def test_sumo_distributions_intervals_and_junctions(gridnet: Network, tmp_path: Path) -> None:
    """vType/route distributions (nested and by reference), <interval> flows,
    fromJunction/toJunction trips and via edges."""
    text = """<routes>
  <vType id="a" vClass="motorcycle"/><vType id="b" vClass="bus"/>
  <vTypeDistribution id="mix" vTypes="a b" probabilities="3 1"/>
  <vTypeDistribution id="DEFAULT_VEHTYPE">
    <vType id="c" vClass="truck" probability="1"/><vType id="d" probability="1"/>
  </vTypeDistribution>
  <route id="r1" edges="A0A1 A1A2"/>
  <routeDistribution id="rd">
    <route refId="r1" probability="1"/><route id="r2" edges="A0B0 B0B1" probability="1"/>
  </routeDistribution>
  <routeDistribution id="only_r1" routes="r1 r2" probabilities="1 0"/>
  <interval begin="100" end="200"><flow id="i" number="400" route="rd" type="mix"/></interval>
  <flow id="x" begin="0" end="100" period="1" route="only_r1" type="a"/>
  <trip id="j" depart="1" fromJunction="A0" toJunction="C3"/>
  <trip id="v" depart="2" from="A0A1" to="C3C4" via="E1E2"/>
  <person id="p" depart="0"><walk edges="A0A1"/></person>
</routes>"""
    f = tmp_path / "dist.rou.xml"
    f.write_text(text)
    with pytest.warns(UserWarning, match="skipped 1 <person>"):
        t = read_sumo_routes(f, gridnet, np.random.default_rng(9))
    ids = {i: k for k, i in enumerate(t.trip_ids)}
    flow_i = np.array([ids[f"i.{k}"] for k in range(400)])
    assert t.depart_s[flow_i].min() == 100.0 and t.depart_s[flow_i].max() < 200.0
    moto = np.mean(t.vehicle_class[flow_i] == 0)
    assert abs(moto - 0.75) < 4 * np.sqrt(0.75 * 0.25 / 400)
    first = np.array([t.route_of(k)[0] for k in flow_i])
    assert abs(np.mean(first == gridnet.link_index["A0A1"]) - 0.5) < 0.1
    assert all(t.route_of(ids[f"x.{k}"]).tolist() == [gridnet.link_index["A0A1"],
               gridnet.link_index["A1A2"]] for k in range(100))
    j = ids["j"]
    assert t.route_of(j).size == 0 and t.vehicle_class[j] in (1, 3)
    assert gridnet.node_ids[t.origin_node[j]] == "A0"
    assert gridnet.node_ids[t.destination_node[j]] == "C3"
    via = [gridnet.link_ids[x] for x in t.route_of(ids["v"])]
    assert via[0] == "A0A1" and "E1E2" in via and via[-1] == "C3C4"


def test_sumo_bicycles_and_scooters_are_skipped(gridnet: Network, tmp_path: Path) -> None:
    """Bicycles and scooters ride on cycleways the SUMO importer drops: they are skipped
    like pedestrians and rail, also when their routes use edges the network lacks. A
    top-level route over such edges fails only when a simulated vehicle uses it."""
    text = """<routes>
  <vType id="bike" vClass="bicycle"/><vType id="kick" vClass="scooter"/>
  <vType id="moto" vClass="motorcycle"/>
  <route id="bikeway" edges="cycleway1 cycleway2"/>
  <vehicle id="b1" type="bike" depart="0"><route edges="cycleway1 A0A1"/></vehicle>
  <vehicle id="s1" type="kick" depart="1" route="bikeway"/>
  <flow id="bf" type="DEFAULT_BIKETYPE" begin="0" end="10" number="5" from="cycleway1"
        to="cycleway2"/>
  <vehicle id="m1" type="moto" depart="2"><route edges="A0A1 A1A2"/></vehicle>
</routes>"""
    f = tmp_path / "bikes.rou.xml"
    f.write_text(text)
    with pytest.warns(UserWarning) as caught:
        t = read_sumo_routes(f, gridnet)
    messages = [str(w.message) for w in caught]
    assert any("skipped 7 vehicle" in m for m in messages), messages
    assert any("skipped 1 <route>(s) over edges" in m and "'bikeway'" in m for m in messages)
    assert t.trip_ids == ("m1",) and VEHICLE_CLASSES[t.vehicle_class[0]] == "motorcycle"
    f.write_text(text.replace('<vehicle id="m1" type="moto" depart="2">',
                              '<vehicle id="c1" depart="3" route="bikeway"/>\n<vehicle id="m1" '
                              'type="moto" depart="2">'))
    with pytest.raises(DemandError, match=r"route 'bikeway': unknown edge 'cycleway1'.*"
                       r"used by vehicle 'c1'"):
        read_sumo_routes(f, gridnet)


@needs_sumo
def test_sumo_ingolstadt_bicycles_skipped() -> None:
    """fkk_in (Ingolstadt, with bike lanes and cycleways): the 89 bicycles are skipped, the
    cars, buses and trucks all keep routes over the imported road links."""
    net = read_sumo_net(GAME / "fkk_in" / "ingolstadt.net.xml.gz")
    with pytest.warns(UserWarning, match="skipped 89 vehicle"):
        t = read_sumo_routes(GAME / "fkk_in" / "fkk_in.rou.xml", net, horizon_s=600.0)
    assert len(t) > 300 and t.has_route.all()
    counts = np.bincount(t.vehicle_class, minlength=4)
    assert counts[0] == 0 and counts[1] > 0 and counts[2] > 0 and counts[3] > 0
