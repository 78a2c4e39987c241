"""OSMnx GraphML importer, on the real Jatinegara drive network and on small broken files."""

from __future__ import annotations

import gzip
from pathlib import Path

import networkx as nx
import numpy as np
import pytest

from twin.importers import load_network
from twin.importers._utm import lonlat_to_tm, parse_proj
from twin.importers.graphml import (
    HIGHWAY_DEFAULTS,
    _as_list,
    _parse_lanes,
    _parse_maxspeed,
    read_graphml,
)
from twin.network import Network, NetworkError

JATINEGARA = "jakarta/jatinegara_drive.graphml.gz"


@pytest.fixture(scope="module")
def jatinegara_path(data_dir: Path) -> Path:
    return data_dir / JATINEGARA


@pytest.fixture(scope="module")
def jatinegara(jatinegara_path: Path) -> Network:
    return load_network(jatinegara_path)


@pytest.fixture(scope="module")
def oracle(jatinegara_path: Path) -> nx.MultiDiGraph:
    """networkx's own GraphML reader, as an independent reference."""
    return nx.read_graphml(jatinegara_path)


def test_counts_match_the_file(jatinegara: Network, oracle: nx.MultiDiGraph) -> None:
    """722 nodes and 1680 directed links, one per GraphML edge."""
    assert (jatinegara.n_nodes, jatinegara.n_links) == (722, 1680)
    assert oracle.number_of_nodes() == 722 and oracle.number_of_edges() == 1680
    assert jatinegara.name == "jatinegara_drive"


def test_lengths_sum_to_the_files_sum(jatinegara: Network, oracle: nx.MultiDiGraph) -> None:
    """Link lengths are the edge ``length`` values in metres, unchanged."""
    file_sum = sum(float(d["length"]) for _, _, d in oracle.edges(data=True))
    assert jatinegara.link_length_m.sum() == pytest.approx(file_sum, rel=1e-12)
    for u, v, k, d in list(oracle.edges(keys=True, data=True))[:50]:
        i = jatinegara.link_index[f"{u}-{v}-{k}"]
        assert jatinegara.link_length_m[i] == float(d["length"])


def test_multi_edges_stay_distinct(jatinegara: Network, oracle: nx.MultiDiGraph) -> None:
    """Parallel edges (same u, v, different key) are separate links."""
    parallel = [(u, v, k) for u, v, k in oracle.edges(keys=True) if k == 1]
    assert len(parallel) == 11
    for u, v, _ in parallel:
        a, b = jatinegara.link_index[f"{u}-{v}-0"], jatinegara.link_index[f"{u}-{v}-1"]
        assert a != b
        assert jatinegara.link_from[a] == jatinegara.link_from[b]


def test_oneway_false_edges_already_have_their_reverse(oracle: nx.MultiDiGraph) -> None:
    """OSMnx stores both directions of two-way streets, so ``oneway`` adds no links."""
    two_way = [(u, v) for u, v, d in oracle.edges(data=True) if d["oneway"] == "False"]
    assert two_way
    assert all(oracle.has_edge(v, u) for u, v in two_way)


def test_geometry_is_kept(jatinegara: Network, oracle: nx.MultiDiGraph) -> None:
    """A link's polyline is the WKT LINESTRING of its edge, from node to node."""
    with_geometry = 0
    for u, v, k, d in oracle.edges(keys=True, data=True):
        if "geometry" not in d:
            continue
        with_geometry += 1
        pts = [tuple(map(float, p.split())) for p in d["geometry"][12:-1].split(",")]
        lon, lat = jatinegara.link_polyline_lonlat(jatinegara.link_index[f"{u}-{v}-{k}"])
        np.testing.assert_array_equal(lon, [p[0] for p in pts])
        np.testing.assert_array_equal(lat, [p[1] for p in pts])
    assert with_geometry == 1147
    # Every polyline starts at its from-node and ends at its to-node.
    starts = jatinegara.geom_offsets[:-1]
    ends = jatinegara.geom_offsets[1:] - 1
    net = jatinegara
    np.testing.assert_array_equal(net.geom_lon[starts], net.node_lon[net.link_from])
    np.testing.assert_array_equal(net.geom_lat[ends], net.node_lat[net.link_to])


def test_names_and_classes(jatinegara: Network) -> None:
    """Street names and highway classes come through; list classes take the weakest."""
    assert "Jalan Dokter KRT Radjiman Widyodiningrat" in jatinegara.link_name
    assert "Jalan Rawa Gelam I" in jatinegara.link_name
    assert set(jatinegara.link_road_class) <= set(HIGHWAY_DEFAULTS)
    # 26 edges carry highway "['living_street', 'residential']" -> living_street.
    assert jatinegara.link_road_class.count("living_street") == 300 + 26


def test_lanes_speeds_capacities_are_sane(jatinegara: Network) -> None:
    """Lanes 1..4, speeds 20..80 km/h, capacity = lanes x the class's per-lane capacity."""
    assert jatinegara.link_lanes.min() >= 1 and jatinegara.link_lanes.max() <= 4
    kmh = jatinegara.link_speed_limit_mps * 3.6
    assert kmh.min() >= 20 - 1e-9 and kmh.max() <= 80 + 1e-9
    per_lane = np.array([HIGHWAY_DEFAULTS[c].capacity_per_lane_vph
                         for c in jatinegara.link_road_class])
    np.testing.assert_allclose(jatinegara.link_capacity_vph, jatinegara.link_lanes * per_lane)
    primary = np.array([c == "primary" for c in jatinegara.link_road_class])
    assert jatinegara.link_speed_limit_mps[primary] == pytest.approx(50 / 3.6)


def test_csr_lists_every_link_once_and_reaches_like_networkx(
    jatinegara: Network, oracle: nx.MultiDiGraph
) -> None:
    """The CSR adjacency holds each link once under its from-node; BFS over it agrees with nx."""
    out = jatinegara.out_links
    assert sorted(out.tolist()) == list(range(jatinegara.n_links))
    for node in range(jatinegara.n_nodes):
        sl = out[jatinegara.out_offsets[node]:jatinegara.out_offsets[node + 1]]
        assert (jatinegara.link_from[sl] == node).all()
        assert len(sl) == oracle.out_degree(jatinegara.node_ids[node])
    start = 0
    seen = {start}
    frontier = [start]
    while frontier:
        node = frontier.pop()
        for link in out[jatinegara.out_offsets[node]:jatinegara.out_offsets[node + 1]]:
            nxt = int(jatinegara.link_to[link])
            if nxt not in seen:
                seen.add(nxt)
                frontier.append(nxt)
    expected = nx.descendants(oracle, jatinegara.node_ids[start]) | {jatinegara.node_ids[start]}
    assert {jatinegara.node_ids[i] for i in seen} == expected
    reachable_links = sum(int(jatinegara.link_from[i]) in seen for i in range(jatinegara.n_links))
    assert reachable_links == sum(1 for u, _ in oracle.edges() if u in expected)


def test_save_load_round_trip(jatinegara: Network, tmp_path: Path) -> None:
    """Network.save then load_network(.npz) gives identical arrays and ids."""
    path = jatinegara.save(tmp_path / "jatinegara")
    back = load_network(path)
    for field in ("node_lon", "node_lat", "node_x_m", "node_y_m", "link_from", "link_to",
                  "link_length_m", "link_lanes", "link_speed_limit_mps", "link_capacity_vph",
                  "geom_offsets", "geom_lon", "geom_lat", "conn_from_link", "conn_from_lane",
                  "conn_to_link", "conn_to_lane", "conn_program", "conn_signal_index",
                  "out_offsets", "out_links"):
        np.testing.assert_array_equal(getattr(back, field), getattr(jatinegara, field), field)
    for field in ("name", "node_ids", "link_ids", "link_name", "link_road_class", "origin_lon",
                  "origin_lat"):
        assert getattr(back, field) == getattr(jatinegara, field), field


# --------------------------------------------------------------- small files
_KEYS = """<key id="k0" for="node" attr.name="y" attr.type="string"/>
<key id="k1" for="node" attr.name="x" attr.type="string"/>
<key id="k2" for="node" attr.name="highway" attr.type="string"/>
<key id="k3" for="edge" attr.name="length" attr.type="string"/>
<key id="k4" for="edge" attr.name="highway" attr.type="string"/>
<key id="k5" for="edge" attr.name="oneway" attr.type="string"/>
<key id="k6" for="edge" attr.name="lanes" attr.type="string"/>
<key id="k7" for="edge" attr.name="maxspeed" attr.type="string"/>"""


def _graphml(nodes: str, edges: str) -> str:
    return (f'<?xml version="1.0"?>\n<graphml xmlns="http://graphml.graphdrawing.org/xmlns">\n'
            f'{_KEYS}\n<graph edgedefault="directed">\n{nodes}\n{edges}\n</graph>\n</graphml>\n')


def _node(nid: str, lon: float, lat: float, highway: str = "") -> str:
    tag = f'<data key="k2">{highway}</data>' if highway else ""
    return f'<node id="{nid}"><data key="k0">{lat}</data><data key="k1">{lon}</data>{tag}</node>'


def _edge(u: str, v: str, length: str = "100", extra: str = "") -> str:
    return (f'<edge source="{u}" target="{v}" id="0"><data key="k3">{length}</data>'
            f'<data key="k4">residential</data><data key="k5">False</data>{extra}</edge>')


def _crossroads(tmp_path: Path) -> Path:
    """A signalised four-arm junction C with two-way arms N, E, S, W."""
    d = 0.001
    nodes = "\n".join([_node("C", 106.0, -6.0, "traffic_signals"), _node("N", 106.0, -6.0 + d),
                       _node("E", 106.0 + d, -6.0), _node("S", 106.0, -6.0 - d),
                       _node("W", 106.0 - d, -6.0)])
    edges = "\n".join(_edge(a, b) for arm in "NESW" for a, b in ((arm, "C"), ("C", arm)))
    path = tmp_path / "cross.graphml"
    path.write_text(_graphml(nodes, edges))
    return path


def test_traffic_signal_node_gets_default_program(tmp_path: Path) -> None:
    """A ``highway=traffic_signals`` node gets the 30/3/30/3 s two-group program."""
    net = read_graphml(_crossroads(tmp_path))
    assert net.signals.n_programs == 1
    assert net.signals.program_ids == ("C",)
    assert net.node_ids[net.signals.program_node[0]] == "C"
    np.testing.assert_array_equal(net.signals.phase_duration_s, [30, 3, 30, 3])
    controlled = np.flatnonzero(net.conn_program == 0)
    assert sorted(net.conn_signal_index[controlled]) == list(range(len(controlled)))
    assert len(controlled) == 4 * 3  # each arm to the three others, no U-turns
    assert not read_graphml(_crossroads(tmp_path), signals=False).signals.n_programs


def test_lanes_and_maxspeed_parsing() -> None:
    """List-strings take the least capable value; two-way lanes are halved; units convert."""
    assert _parse_lanes("['2', '3']", oneway=True, default=1) == 2
    assert _parse_lanes("4", oneway=False, default=1) == 2
    assert _parse_lanes("1", oneway=False, default=2) == 1
    assert _parse_lanes(None, oneway=False, default=2) == 2
    assert _parse_lanes("two", oneway=True, default=3) == 3
    assert _parse_maxspeed("40 mph", 30) == pytest.approx(40 * 1609.344 / 3600)
    assert _parse_maxspeed("['60', '40']", 30) == pytest.approx(40 / 3.6)
    assert _parse_maxspeed("ID:urban", 30) == pytest.approx(50 / 3.6)
    assert _parse_maxspeed("signals", 30) == pytest.approx(30 / 3.6)


def test_edge_with_non_numeric_length(tmp_path: Path) -> None:
    """The message names the file, the edge and the bad value."""
    path = tmp_path / "bad_length.graphml"
    path.write_text(_graphml(_node("1", 106, -6) + _node("2", 106.001, -6),
                             _edge("1", "2", length="abc")))
    with pytest.raises(NetworkError) as err:
        load_network(path)
    msg = str(err.value)
    assert "bad_length.graphml" in msg
    assert "<edge source='1' target='2'>" in msg
    assert "length 'abc' is not a number" in msg


def test_edge_to_undefined_node(tmp_path: Path) -> None:
    path = tmp_path / "dangling.graphml"
    path.write_text(_graphml(_node("1", 106, -6), _edge("1", "9")))
    with pytest.raises(NetworkError, match=r"dangling\.graphml.*node '9' is not defined"):
        load_network(path)


def test_bad_geometry(tmp_path: Path) -> None:
    path = tmp_path / "bad_geom.graphml"
    text = _graphml(_node("1", 106, -6) + _node("2", 106.001, -6), _edge("1", "2", extra=(
        '<data key="g">POINT (1 2)</data>')))
    geometry_key = '<key id="g" for="edge" attr.name="geometry"/>\n'
    text = text.replace('<key id="k7"', geometry_key + '<key id="k7"')
    path.write_text(text)
    with pytest.raises(NetworkError, match=r"bad_geom\.graphml.*not a WKT LINESTRING"):
        load_network(path)


def test_truncated_graphml(jatinegara_path: Path, tmp_path: Path) -> None:
    """A cut-off file gives the parse position, not a raw ParseError."""
    text = gzip.decompress(jatinegara_path.read_bytes())
    path = tmp_path / "truncated.graphml"
    path.write_bytes(text[: len(text) // 2])
    with pytest.raises(NetworkError) as err:
        load_network(path)
    assert "truncated.graphml" in str(err.value)
    assert "broken XML at line" in str(err.value)


def test_truncated_gzip(jatinegara_path: Path, tmp_path: Path) -> None:
    path = tmp_path / "cut.graphml.gz"
    path.write_bytes(jatinegara_path.read_bytes()[:5000])
    with pytest.raises(NetworkError, match=r"cut\.graphml\.gz.*gzip stream is truncated"):
        load_network(path)


def test_list_values_keep_commas_and_quotes() -> None:
    """OSMnx lists are Python literals: a name with a comma or an apostrophe is one item."""
    assert _as_list("['Jalan A, Gg. B', \"Jl. H'Ali\"]") == ["Jalan A, Gg. B", "Jl. H'Ali"]
    assert _as_list("['2', '1']") == ["2", "1"]
    assert _as_list("[False, True]") == ["False", "True"]
    assert _as_list("[not a literal, x]") == ["not a literal", "x"]  # falls back to commas
    assert _as_list("Jalan [Baru]") == ["Jalan [Baru]"]
    assert _as_list("") == [] and _as_list(None) == []


@pytest.mark.parametrize("crs", [
    "EPSG:32748",                                                  # OSMnx 2 (pyproj CRS)
    "+proj=utm +zone=48 +south +ellps=WGS84 +datum=WGS84 +units=m +no_defs",  # OSMnx 1
])
def test_projected_graph_comes_back_to_lonlat(tmp_path: Path, crs: str) -> None:
    """A graph projected to UTM zone 48 S (Jakarta) is read back in degrees, geometry too."""
    lonlat = {"1": (106.8456, -6.2088), "2": (106.8556, -6.2088)}
    zone = parse_proj("+proj=utm +zone=48 +south")
    xy = {n: [float(v[0]) for v in lonlat_to_tm(np.array([lon]), np.array([lat]), zone)]
          for n, (lon, lat) in lonlat.items()}
    mid = [float(v[0]) for v in lonlat_to_tm(np.array([106.8506]), np.array([-6.2078]), zone)]
    nodes = "".join(f'<node id="{n}"><data key="k0">{y!r}</data><data key="k1">{x!r}'
                    f"</data></node>" for n, (x, y) in xy.items())
    wkt = "LINESTRING (" + ", ".join(f"{x!r} {y!r}" for x, y in (xy["1"], mid, xy["2"])) + ")"
    edge = _edge("1", "2", extra=f'<data key="g">{wkt}</data>')
    text = _graphml(nodes, edge).replace(
        '<graph edgedefault="directed">',
        f'<graph edgedefault="directed"><data key="crs">{crs}</data>').replace(
        '<key id="k7"', '<key id="crs" for="graph" attr.name="crs"/>\n'
        '<key id="g" for="edge" attr.name="geometry"/>\n<key id="k7"')
    path = tmp_path / "projected.graphml"
    path.write_text(text)
    net = read_graphml(path)
    for n, (lon, lat) in lonlat.items():
        i = net.node_index[n]
        assert (net.node_lon[i], net.node_lat[i]) == pytest.approx((lon, lat), abs=1e-9)
    lon, lat = net.link_polyline_lonlat(0)
    assert (lon[1], lat[1]) == pytest.approx((106.8506, -6.2078), abs=1e-9)
