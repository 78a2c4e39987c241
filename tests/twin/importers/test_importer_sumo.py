"""SUMO .net.xml importer, on networks from the eclipse-sumo wheel and nets made by netgenerate."""

from __future__ import annotations

import gzip
import re
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from twin.importers import load_network
from twin.importers._xml import DEFAULT_ORIGIN_LONLAT
from twin.importers.sumo import ROAD_MOTOR_CLASSES, STATE_MAP
from twin.network import Network, NetworkError, project_lonlat

GAME = Path("tools") / "game"

# Written out here rather than imported, so the tests check the importer's choice.
ROAD_VCLASSES = frozenset({
    "passenger", "private", "taxi", "hov", "evehicle", "emergency", "authority", "army", "vip",
    "custom1", "custom2", "motorcycle", "moped", "bus", "coach", "delivery", "truck", "trailer"})
NOT_ROADS = {"footway", "cycleway", "path", "pedestrian", "steps", "bridleway"}


def _root(path: Path) -> ET.Element:
    data = path.read_bytes()
    return ET.fromstring(gzip.decompress(data) if path.name.endswith(".gz") else data)


def _non_internal_edges(path: Path) -> list[ET.Element]:
    root = ET.parse(path).getroot()
    return [e for e in root.iter("edge") if e.get("function", "normal") != "internal"]


def _lane_admits(lane: ET.Element, vclasses: frozenset[str]) -> bool:
    """SUMO lane permissions: allow wins, else everything not in disallow; "all" is a keyword."""
    if lane.get("allow") is not None:
        allowed = lane.get("allow", "").split()
        return "all" in allowed or any(v in allowed for v in vclasses)
    banned = lane.get("disallow", "").split()
    return "all" not in banned and any(v not in banned for v in vclasses)


def _road_lanes(root: ET.Element, vclasses: frozenset[str] = ROAD_VCLASSES
                ) -> dict[str, list[int]]:
    """Edge id -> SUMO indices of its lanes admitting a vClass, for the edges with any."""
    out: dict[str, list[int]] = {}
    for e in root.iter("edge"):
        if e.get("function", "normal") not in ("normal", "connector"):
            continue
        idx = sorted(int(ln.get("index")) for ln in e.iter("lane") if _lane_admits(ln, vclasses))
        if idx:
            out[e.get("id")] = idx
    return out


def _expected_connections(root: ET.Element, road: dict[str, list[int]]
                          ) -> list[tuple[str, int, str, int, int]]:
    """(from edge, from lane, to edge, to lane, signal index) of the SUMO connections
    between road lanes, lanes renumbered among their edge's road lanes."""
    out = []
    for c in root.iter("connection"):
        src, dst = c.get("from"), c.get("to")
        if src not in road or dst not in road:
            continue
        a, b = int(c.get("fromLane")), int(c.get("toLane"))
        if a in road[src] and b in road[dst]:
            out.append((src, road[src].index(a), dst, road[dst].index(b),
                        int(c.get("linkIndex", -1)) if c.get("tl") else -1))
    return out


def _connections(net: Network) -> list[tuple[str, int, str, int, int]]:
    return [(net.link_ids[f], int(a), net.link_ids[t], int(b), int(s)) for f, a, t, b, s in zip(
        net.conn_from_link, net.conn_from_lane, net.conn_to_link, net.conn_to_lane,
        net.conn_signal_index, strict=True)]


def _assert_connections_valid(net: Network) -> None:
    """Lanes exist, links meet at one node, signal indices fit their program."""
    assert (net.conn_from_lane < net.link_lanes[net.conn_from_link]).all()
    assert (net.conn_to_lane < net.link_lanes[net.conn_to_link]).all()
    assert (net.conn_from_lane >= 0).all() and (net.conn_to_lane >= 0).all()
    np.testing.assert_array_equal(net.link_to[net.conn_from_link], net.link_from[net.conn_to_link])
    for c in np.flatnonzero(net.conn_program >= 0):
        p = net.conn_program[c]
        state = net.signals.phase_state[net.signals.phase_offsets[p]]
        assert 0 <= net.conn_signal_index[c] < len(state)
    assert set("".join(net.signals.phase_state)) <= set("Ggyr")


@pytest.fixture(scope="module")
def corridor_path(sumo_home: Path) -> Path:
    return sumo_home / GAME / "corridor" / "corridor.net.xml"


def test_corridor_edges_lanes_and_geometry(corridor_path: Path) -> None:
    """Every non-internal edge is a link with the SUMO id, lane count, max speed, mean length."""
    net = load_network(corridor_path)
    edges = _non_internal_edges(corridor_path)
    assert net.n_links == len(edges) == 20
    assert net.n_nodes == 11
    for e in edges:
        i = net.link_index[e.get("id")]
        lanes = list(e.iter("lane"))
        assert net.link_lanes[i] == len(lanes)
        assert net.link_speed_limit_mps[i] == max(float(ln.get("speed")) for ln in lanes)
        mean_length = np.mean([float(ln.get("length")) for ln in lanes])
        assert net.link_length_m[i] == pytest.approx(mean_length)
        assert net.link_capacity_vph[i] == 1800.0 * len(lanes)
    # A SUMO route maps straight onto link indices.
    route = "gneE12 gneE10 gneE11 gneE26".split()
    idx = [net.link_index[e] for e in route]
    assert all(net.link_to[a] == net.link_from[b] for a, b in zip(idx, idx[1:], strict=False))


def test_corridor_tl_logic_and_connections(corridor_path: Path) -> None:
    """tlLogic phases come through unchanged; connections carry tl + linkIndex."""
    net = load_network(corridor_path)
    root = ET.parse(corridor_path).getroot()
    logics = list(root.iter("tlLogic"))
    assert net.signals.program_ids == tuple(t.get("id") for t in logics)
    for p, tl in enumerate(logics):
        a, b = net.signals.phase_offsets[p], net.signals.phase_offsets[p + 1]
        phases = list(tl.iter("phase"))
        np.testing.assert_array_equal(net.signals.phase_duration_s[a:b],
                                      [float(ph.get("duration")) for ph in phases])
        assert net.signals.phase_state[a:b] == tuple(
            "".join(STATE_MAP[ch] for ch in ph.get("state")) for ph in phases)
        assert net.node_ids[net.signals.program_node[p]] == tl.get("id")
    kept = [c for c in root.iter("connection")
            if c.get("from") in net.link_index and c.get("to") in net.link_index]
    assert net.n_connections == len(kept) == 36
    for k, c in enumerate(kept):
        assert net.link_ids[net.conn_from_link[k]] == c.get("from")
        assert net.conn_from_lane[k] == int(c.get("fromLane"))
        assert net.conn_to_lane[k] == int(c.get("toLane"))
        assert net.conn_signal_index[k] == int(c.get("linkIndex", -1))
    _assert_connections_valid(net)


def test_unreferenced_net_is_centred_on_the_origin(corridor_path: Path) -> None:
    """projParameter "!" -> x/y metres with the convBoundary centre at the origin."""
    net = load_network(corridor_path)
    assert (net.origin_lon, net.origin_lat) == DEFAULT_ORIGIN_LONLAT
    j = net.node_index["gneJ13"]  # x=-200, y=160 in a boundary centred on (0, 0)
    assert net.node_x_m[j] == pytest.approx(-200.0, abs=1e-6)
    assert net.node_y_m[j] == pytest.approx(160.0, abs=1e-6)
    moved = load_network(corridor_path, origin_lonlat=(110.0, -7.0))
    assert moved.node_lon.mean() == pytest.approx(110.0, abs=0.01)


def test_sumo_offset_delays_the_program(corridor_path: Path, tmp_path: Path) -> None:
    """SUMO starts phase 0 at t = offset; state_at must agree."""
    text = corridor_path.read_text().replace(
        '<tlLogic id="gneJ10" type="static" programID="0" offset="0">',
        '<tlLogic id="gneJ10" type="static" programID="0" offset="10">')
    path = tmp_path / "offset.net.xml"
    path.write_text(text)
    net = load_network(path)
    p = net.signals.program_ids.index("gneJ10")
    first = net.signals.phase_state[net.signals.phase_offsets[p]]
    last = net.signals.phase_state[net.signals.phase_offsets[p + 1] - 1]
    assert net.signals.state_at(p, 10.0) == first
    assert net.signals.state_at(p, 9.5) == last


def test_gzipped_net_loads_the_same(corridor_path: Path, tmp_path: Path) -> None:
    path = tmp_path / "corridor.net.xml.gz"
    path.write_bytes(gzip.compress(corridor_path.read_bytes()))
    a, b = load_network(corridor_path), load_network(path)
    assert a.link_ids == b.link_ids
    np.testing.assert_array_equal(a.geom_lon, b.geom_lon)


def test_utm_net_lies_in_its_orig_boundary(sumo_home: Path) -> None:
    """A10KW (OSM, UTM zone 33): junctions (all of them) fill the geographic origBoundary."""
    path = sumo_home / GAME / "A10KW" / "osm.net.xml"
    net = load_network(path, road_vehicles_only=False)
    edges = _non_internal_edges(path)
    assert net.n_links == len(edges)
    loc = ET.parse(path).getroot().find("location")
    lon0, lat0, lon1, lat1 = map(float, loc.get("origBoundary").split(","))
    tol = 2e-6  # degrees, ~0.2 m: origBoundary is written with 6 decimals
    assert net.node_lat.min() == pytest.approx(lat0, abs=tol)
    assert net.node_lat.max() == pytest.approx(lat1, abs=tol)
    assert lon0 - tol <= net.node_lon.min() and net.node_lon.max() <= lon1 + tol
    assert net.signals.n_programs == 2
    assert "primary" in net.link_road_class  # "highway.primary" -> "primary"
    _assert_connections_valid(net)


def test_netgenerate_grid(sumo_binary, tmp_path: Path) -> None:
    """A 4x4 traffic-light grid made by netgenerate during the test."""
    path = tmp_path / "grid.net.xml"
    subprocess.run([str(sumo_binary("netgenerate")), "--grid", "--grid.number", "4",
                    "--grid.length", "150", "--default-junction-type", "traffic_light",
                    "-o", str(path)], check=True, capture_output=True)
    net = load_network(path)
    assert net.n_nodes == 16
    assert net.n_links == len(_non_internal_edges(path)) == 2 * (4 * 3 + 4 * 3)
    assert net.signals.n_programs == 16
    # Lane lengths stop at the junction borders, so links are a little under 150 m.
    assert (net.link_length_m > 130).all() and (net.link_length_m <= 150).all()
    x = np.sort(np.unique(np.round(net.node_x_m, 6)))
    np.testing.assert_allclose(np.diff(x), 150.0, atol=1e-6)
    _assert_connections_valid(net)
    assert (net.conn_program >= 0).all()


def test_netconvert_utm_recovers_lonlat(sumo_binary, tmp_path: Path) -> None:
    """Nodes given in lon/lat, projected to UTM by netconvert (PROJ), come back to within 1 mm."""
    lonlat = {"a": (106.8456, -6.2088), "b": (106.8656, -6.2088), "c": (106.8656, -6.2288)}
    (tmp_path / "n.nod.xml").write_text("<nodes>" + "".join(
        f'<node id="{k}" x="{lon}" y="{lat}"/>' for k, (lon, lat) in lonlat.items()) + "</nodes>")
    (tmp_path / "n.edg.xml").write_text('<edges><edge id="ab" from="a" to="b" numLanes="2"/>'
                                        '<edge id="bc" from="b" to="c"/></edges>')
    out = tmp_path / "utm.net.xml"
    subprocess.run([str(sumo_binary("netconvert")), "--node-files", "n.nod.xml", "--edge-files",
                    "n.edg.xml", "--proj.utm", "--precision", "4", "-o", out.name],
                   cwd=tmp_path, check=True, capture_output=True)
    net = load_network(out)
    assert "+proj=utm +zone=48" in ET.parse(out).getroot().find("location").get("projParameter")
    for node, (lon, lat) in lonlat.items():
        i = net.node_index[node]
        dx, dy = project_lonlat(net.node_lon[i], net.node_lat[i], lon, lat)
        assert abs(dx) < 1e-3 and abs(dy) < 1e-3, (node, dx, dy)


def test_truncated_net(corridor_path: Path, tmp_path: Path) -> None:
    path = tmp_path / "cut.net.xml"
    path.write_text(corridor_path.read_text()[:20000])
    with pytest.raises(NetworkError, match=r"cut\.net\.xml: broken XML at line \d+, column \d+"):
        load_network(path)


def test_unsupported_projection(corridor_path: Path, tmp_path: Path) -> None:
    path = tmp_path / "merc.net.xml"
    path.write_text(corridor_path.read_text().replace('projParameter="!"',
                                                      'projParameter="+proj=merc +units=m"'))
    with pytest.raises(NetworkError, match=r"merc\.net\.xml: <location>: .*'merc' is not sup"):
        load_network(path)


def test_bad_lane_speed(corridor_path: Path, tmp_path: Path) -> None:
    path = tmp_path / "speed.net.xml"
    text = corridor_path.read_text()
    text = text.replace('<lane id="gneE10_0" index="0" speed="13.89"',
                        '<lane id="gneE10_0" index="0" speed="fast"', 1)
    path.write_text(text)
    with pytest.raises(NetworkError, match=r"speed\.net\.xml: <lane id='gneE10_0'>: speed 'fast'"):
        load_network(path)


def test_every_net_in_the_wheel_loads(sumo_home: Path) -> None:
    """All example nets shipped with eclipse-sumo import (UTM, tmerc, pedestrians, gz) with
    exactly their road edges, lanes and connections; rail-only nets raise a clear error and
    load with road_vehicles_only=False."""
    paths = sorted(sumo_home.glob("tools/**/*.net.xml")) + sorted(
        sumo_home.glob("tools/**/*.net.xml.gz"))
    assert len(paths) >= 20
    rail_only = []
    for path in paths:
        root = _root(path)
        road = _road_lanes(root)
        if road:
            net = load_network(path)
            assert sorted(net.link_ids) == sorted(road), path
            assert net.link_lanes.tolist() == [len(road[i]) for i in net.link_ids], path
            assert _connections(net) == _expected_connections(root, road), path
            _assert_connections_valid(net)
        else:
            rail_only.append(path.parent.name)
            message = (f"{path.name}: no edge allows road motor vehicles; pass "
                       f"road_vehicles_only=False to import every edge")
            with pytest.raises(NetworkError, match=re.escape(message)):
                load_network(path)
        everything = load_network(path, road_vehicles_only=False)
        assert everything.n_links == sum(
            e.get("function", "normal") in ("normal", "connector") for e in root.iter("edge"))
        _assert_connections_valid(everything)
    assert sorted(rail_only) == ["rail", "rail_demo"]


def test_road_classes_match_the_route_reader() -> None:
    """The kept edges are those of every vClass read_sumo_routes simulates."""
    from twin.demand import SUMO_VCLASS_MAP

    assert ROAD_MOTOR_CLASSES == ROAD_VCLASSES
    assert {c for c, v in SUMO_VCLASS_MAP.items() if v is not None} == ROAD_VCLASSES


@pytest.fixture(scope="module")
def a10kw_path(sumo_home: Path) -> Path:
    return sumo_home / GAME / "A10KW" / "osm.net.xml"


def test_osm_net_keeps_only_road_edges(a10kw_path: Path) -> None:
    """A10KW: footways and cycleways are gone; links, lanes, nodes and connections are
    exactly those of the road edges found in the XML here."""
    net = load_network(a10kw_path)
    root = _root(a10kw_path)
    road = _road_lanes(root)
    normal = [e for e in root.iter("edge") if e.get("function", "normal") == "normal"]
    dropped = {e.get("type") for e in normal if e.get("id") not in road}
    assert len(normal) == 509 and len(road) == 462
    assert {"highway.footway", "highway.cycleway"} <= dropped
    assert sorted(net.link_ids) == sorted(road)
    assert not NOT_ROADS & set(net.link_road_class)
    for i, eid in enumerate(net.link_ids):
        assert net.link_lanes[i] == len(road[eid])
    ends = {e.get(a) for e in normal if e.get("id") in road for a in ("from", "to")}
    assert set(net.node_ids) == ends  # junctions only footways reach are dropped
    expected = _expected_connections(root, road)
    assert _connections(net) == expected and len(expected) > 1000
    _assert_connections_valid(net)
    assert net.signals.n_programs == 2


def test_osm_net_with_general_traffic_classes(a10kw_path: Path) -> None:
    """road_vehicle_classes narrows the kept edges: without the delivery-only service roads
    every A10KW link has a lane for passenger cars or motorcycles."""
    classes = frozenset({"passenger", "motorcycle"})
    net = load_network(a10kw_path, road_vehicle_classes=classes)
    root = _root(a10kw_path)
    road = _road_lanes(root, classes)
    assert sorted(net.link_ids) == sorted(road) and net.n_links == 125
    assert "service" not in net.link_road_class
    lanes = {e.get("id"): list(e.iter("lane")) for e in root.iter("edge")}
    for eid in net.link_ids:
        assert any(_lane_admits(ln, classes) for ln in lanes[eid]), eid
    assert _connections(net) == _expected_connections(root, road)
    _assert_connections_valid(net)
    with pytest.raises(ValueError, match="road_vehicle_classes"):
        load_network(a10kw_path, road_vehicle_classes="passenger")
    with pytest.raises(ValueError, match="road_vehicle_classes"):
        load_network(a10kw_path, road_vehicle_classes=())


def test_road_vehicles_only_false_keeps_every_edge(a10kw_path: Path) -> None:
    """road_vehicles_only=False: every normal edge with all its lanes, every junction."""
    net = load_network(a10kw_path, road_vehicles_only=False)
    root = _root(a10kw_path)
    edges = [e for e in root.iter("edge") if e.get("function", "normal") == "normal"]
    assert net.link_ids == tuple(e.get("id") for e in edges)
    assert net.link_lanes.tolist() == [len(list(e.iter("lane"))) for e in edges]
    assert net.n_nodes == sum(j.get("type") != "internal" for j in root.iter("junction"))
    every = {e.get("id"): list(range(len(list(e.iter("lane"))))) for e in edges}
    assert _connections(net) == _expected_connections(root, every)
    footway = next(i for i, c in enumerate(net.link_road_class) if c == "footway")
    assert net.link_capacity_vph[footway] == 1800.0  # a car lane's worth, as before


def test_rail_only_net(sumo_home: Path) -> None:
    path = sumo_home / GAME / "rail" / "net.net.xml"
    with pytest.raises(NetworkError, match=r"rail/net\.net\.xml: no edge allows road motor "
                       r"vehicles; pass road_vehicles_only=False"):
        load_network(path)
    net = load_network(path, road_vehicles_only=False)
    assert net.n_links == len(_non_internal_edges(path)) == 56


def test_bike_lane_between_car_lanes_is_renumbered(sumo_binary, tmp_path: Path) -> None:
    """A bike lane at SUMO index 1 of three: the link has two lanes (SUMO 0 -> 0, 2 -> 1),
    the bike-lane connection is dropped, signal indices keep SUMO's linkIndex into the
    unchanged state strings; a footway and its end junction are dropped."""
    (tmp_path / "n.nod.xml").write_text(
        '<nodes><node id="a" x="0" y="0"/><node id="b" x="200" y="0" type="traffic_light"/>'
        '<node id="c" x="400" y="0"/><node id="d" x="200" y="200"/></nodes>')
    (tmp_path / "n.edg.xml").write_text(
        '<edges><edge id="ab" from="a" to="b" numLanes="3"><lane index="1" allow="bicycle"/>'
        '</edge><edge id="bc" from="b" to="c" numLanes="3"><lane index="1" allow="bicycle"/>'
        '</edge><edge id="bd" from="b" to="d" numLanes="1" allow="pedestrian"/></edges>')
    path = tmp_path / "bike.net.xml"
    subprocess.run([str(sumo_binary("netconvert")), "--node-files", "n.nod.xml",
                    "--edge-files", "n.edg.xml", "--no-turnarounds", "-o", path.name],
                   cwd=tmp_path, check=True, capture_output=True)
    sumo_conns = [(c.get("from"), c.get("fromLane"), c.get("toLane"), c.get("linkIndex"))
                  for c in _root(path).iter("connection") if c.get("from") == "ab"]
    assert sumo_conns == [("ab", "0", "0", "0"), ("ab", "1", "1", "1"), ("ab", "2", "2", "2")]
    net = load_network(path)
    assert net.link_ids == ("ab", "bc") and net.link_lanes.tolist() == [2, 2]
    assert net.node_ids == ("a", "b", "c")
    assert _connections(net) == [("ab", 0, "bc", 0, 0), ("ab", 1, "bc", 1, 2)]
    assert {len(s) for s in net.signals.phase_state} == {3}
    _assert_connections_valid(net)
    assert net.link_capacity_vph.tolist() == [3600.0, 3600.0]
    full = load_network(path, road_vehicles_only=False)
    assert full.link_ids == ("ab", "bc", "bd") and full.link_lanes.tolist() == [3, 3, 1]
    assert _connections(full) == [("ab", 0, "bc", 0, 0), ("ab", 1, "bc", 1, 1),
                                  ("ab", 2, "bc", 2, 2)]


def test_connection_lane_out_of_range(corridor_path: Path, tmp_path: Path) -> None:
    path = tmp_path / "lane.net.xml"
    path.write_text(corridor_path.read_text().replace(
        '<connection from="gneE10" to="gneE22" fromLane="0"',
        '<connection from="gneE10" to="gneE22" fromLane="7"', 1))
    with pytest.raises(NetworkError, match=r"lane\.net\.xml: <connection from='gneE10' "
                       r"to='gneE22'>: fromLane 7 does not exist \(edge 'gneE10' has 1 lanes"):
        load_network(path)
