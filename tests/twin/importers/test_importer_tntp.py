"""TNTP importer, on SiouxFalls and Berlin-Friedrichshain and on small broken files."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from twin.importers import load_network, read_tntp_bpr
from twin.importers._xml import DEFAULT_ORIGIN_LONLAT
from twin.network import NetworkError, project_lonlat

SIOUX = "tntp/SiouxFalls/SiouxFalls_net.tntp"
BERLIN = "tntp/Berlin-Friedrichshain/friedrichshain-center_net.tntp"
CHICAGO = "tntp/Chicago-Sketch/ChicagoSketch_net.tntp"


def _file_links(path: Path) -> list[list[str]]:
    """The link lines of a TNTP net file, split naively (the test's own reference)."""
    rows = []
    body = path.read_text().split("<END OF METADATA>", 1)[1]
    for line in body.splitlines():
        fields = line.replace(";", " ").split()
        if fields and not fields[0].startswith("~"):
            rows.append(fields)
    return rows


def test_sioux_falls_counts_capacities_and_units(data_dir: Path) -> None:
    """24 nodes, 76 links, capacities as in the file, fft in 0.01 h, 100 km/h everywhere."""
    path = data_dir / SIOUX
    net = load_network(path)
    rows = _file_links(path)
    assert (net.n_nodes, net.n_links) == (24, 76) and len(rows) == 76
    np.testing.assert_array_equal(net.link_capacity_vph, [float(r[2]) for r in rows])
    assert net.link_ids == tuple(f"{r[0]}-{r[1]}" for r in rows)
    assert net.node_ids == tuple(str(i) for i in range(1, 25))
    fft_s = np.array([float(r[4]) for r in rows]) * 36.0  # README: units of 0.01 h
    np.testing.assert_allclose(net.free_flow_time_s, fft_s)
    np.testing.assert_allclose(net.link_length_m, [float(r[3]) * 1000.0 for r in rows])
    np.testing.assert_allclose(net.link_speed_limit_mps * 3.6, 100.0)
    assert (net.link_lanes >= 1).all() and (net.link_lanes <= 6).all()


def test_sioux_falls_coordinates_are_lonlat(data_dir: Path) -> None:
    """The node file's X/Y are used as lon/lat (South Dakota)."""
    net = load_network(data_dir / SIOUX)
    assert net.node_lon[net.node_index["1"]] == pytest.approx(-96.77041974)
    assert net.node_lat[net.node_index["1"]] == pytest.approx(43.61282792)


def test_sioux_falls_bpr(data_dir: Path) -> None:
    """read_tntp_bpr keeps B, power and free-flow time, in the same link order."""
    bpr = read_tntp_bpr(data_dir / SIOUX)
    net = load_network(data_dir / SIOUX)
    assert bpr.link_ids == net.link_ids
    np.testing.assert_array_equal(bpr.b, 0.15)
    np.testing.assert_array_equal(bpr.power, 4.0)
    np.testing.assert_allclose(bpr.free_flow_time_s, net.free_flow_time_s)
    assert bpr.first_thru_node == 1
    assert read_tntp_bpr(data_dir / SIOUX, fft_unit_s=60.0).free_flow_time_s[0] == 6 * 60.0


def test_unit_options_override_the_preset(data_dir: Path) -> None:
    net = load_network(data_dir / SIOUX, length_unit_m=1609.344, fft_unit_s=60.0)
    assert net.link_length_m[0] == pytest.approx(6 * 1609.344)
    assert net.free_flow_time_s[0] == pytest.approx(360.0)


def test_berlin_friedrichshain(data_dir: Path) -> None:
    """224 nodes, 523 links; metres; planar coordinates in miles centred on the origin."""
    path = data_dir / BERLIN
    net = load_network(path)
    rows = _file_links(path)
    assert (net.n_nodes, net.n_links) == (224, 523)
    np.testing.assert_array_equal(net.link_capacity_vph, [float(r[2]) for r in rows])
    length = np.array([float(r[3]) for r in rows])
    roads = length > 0
    np.testing.assert_allclose(net.link_length_m[roads], length[roads])
    # Zone connectors (length 0, fft 0) get 1 m at 50 km/h.
    assert (~roads).sum() == 184
    np.testing.assert_allclose(net.link_length_m[~roads], 1.0)
    np.testing.assert_allclose(net.link_speed_limit_mps[~roads], 13.89)
    assert (net.origin_lon, net.origin_lat) == DEFAULT_ORIGIN_LONLAT
    # With coord_unit_m = 1 mile, straight node distances match the link lengths.
    dx = net.node_x_m[net.link_to] - net.node_x_m[net.link_from]
    dy = net.node_y_m[net.link_to] - net.node_y_m[net.link_from]
    ratio = np.hypot(dx, dy)[roads] / length[roads]
    assert np.median(ratio) == pytest.approx(1.0, abs=0.01)
    kmh = net.link_speed_limit_mps[roads] * 3.6
    assert 30 < np.median(kmh) < 50
    assert read_tntp_bpr(path).first_thru_node == 24


def test_chicago_sketch_miles_minutes_and_feet(data_dir: Path) -> None:
    """933 nodes, 2,950 links; miles and minutes; state-plane coordinates in feet."""
    path = data_dir / CHICAGO
    net = load_network(path)
    rows = _file_links(path)
    assert (net.n_nodes, net.n_links) == (933, 2950)
    length_mi = np.array([float(r[3]) for r in rows])
    fft_min = np.array([float(r[4]) for r in rows])
    roads = (length_mi > 0) & (fft_min > 0)
    np.testing.assert_allclose(net.link_length_m[roads], length_mi[roads] * 1609.344)
    np.testing.assert_allclose(net.link_speed_limit_mps[roads],
                               length_mi[roads] * 1609.344 / (fft_min[roads] * 60))
    kmh = net.link_speed_limit_mps[roads] * 3.6
    assert 40 < np.median(kmh) < 110  # urban streets to expressways
    # With coord_unit_m = 1 foot, straight node distances match the link lengths.
    dx = net.node_x_m[net.link_to] - net.node_x_m[net.link_from]
    dy = net.node_y_m[net.link_to] - net.node_y_m[net.link_from]
    ratio = np.hypot(dx, dy)[roads] / net.link_length_m[roads]
    assert np.median(ratio) == pytest.approx(1.0, abs=0.1)


def test_without_node_file_nodes_go_on_a_circle(data_dir: Path, tmp_path: Path) -> None:
    path = tmp_path / "SiouxFalls_net.tntp"
    shutil.copy(data_dir / SIOUX, path)
    net = load_network(path)
    x, y = project_lonlat(net.node_lon, net.node_lat, *DEFAULT_ORIGIN_LONLAT)
    np.testing.assert_allclose(np.hypot(x, y), 100.0 * np.sqrt(24), rtol=1e-6)


_HEADER = """<NUMBER OF ZONES> 2
<NUMBER OF NODES> 3
<FIRST THRU NODE> 1
<NUMBER OF LINKS> 2
<END OF METADATA>

~\tinit_node\tterm_node\tcapacity\tlength\tfree_flow_time\tb\tpower\tspeed\ttoll\tlink_type\t;
"""


def test_line_with_missing_fields(tmp_path: Path) -> None:
    """The message names the file, the line number and the field count."""
    path = tmp_path / "Tiny_net.tntp"
    path.write_text(_HEADER + "\t1\t2\t1800\t1\t1\t0.15\t4\t0\t0\t1\t;\n"
                    "\t2\t3\t1800\t1\t1\t0.15\t4\t;\n")
    with pytest.raises(NetworkError) as err:
        load_network(path)
    assert "Tiny_net.tntp line 9: expected 10 fields" in str(err.value)
    assert "got 7" in str(err.value)


def test_non_numeric_capacity(tmp_path: Path) -> None:
    path = tmp_path / "Tiny_net.tntp"
    path.write_text(_HEADER + "\t1\t2\tlots\t1\t1\t0.15\t4\t0\t0\t1\t;\n"
                    "\t2\t3\t1800\t1\t1\t0.15\t4\t0\t0\t1\t;\n")
    with pytest.raises(NetworkError, match=r"Tiny_net\.tntp line 8: capacity 'lots' is not a"):
        load_network(path)


def test_link_count_disagrees_with_metadata(tmp_path: Path) -> None:
    path = tmp_path / "Tiny_net.tntp"
    path.write_text(_HEADER + "\t1\t2\t1800\t1\t1\t0.15\t4\t0\t0\t1\t;\n")
    with pytest.raises(NetworkError, match=r"<NUMBER OF LINKS> says 2, the file has 1"):
        load_network(path)


def test_node_missing_from_node_file(tmp_path: Path) -> None:
    path = tmp_path / "Tiny_net.tntp"
    path.write_text(_HEADER + "\t1\t2\t1800\t1\t1\t0.15\t4\t0\t0\t1\t;\n"
                    "\t2\t3\t1800\t1\t1\t0.15\t4\t0\t0\t1\t;\n")
    (tmp_path / "Tiny_node.tntp").write_text("Node\tX\tY\t;\n1\t0\t0\t;\n2\t1\t0\t;\n")
    with pytest.raises(NetworkError, match=r"Tiny_node\.tntp: node 3 .* has no coordinates"):
        load_network(path)
    (tmp_path / "Tiny_node.tntp").write_text("Node\tX\tY\t;\n1\t0\t0\t;\n2\t1\t0\t;\n3\t1\t1\t;\n")
    net = load_network(path, coord_unit_m=100.0)
    assert net.node_x_m[2] - net.node_x_m[0] == pytest.approx(100.0)
    assert net.link_length_m[0] == pytest.approx(1609.344)  # generic unit: miles


def test_node_that_is_not_a_number(tmp_path: Path) -> None:
    """Node fields must be plain decimal numbers; '²' is a digit to Python but not to int()."""
    path = tmp_path / "Tiny_net.tntp"
    path.write_text(_HEADER + "\t1\t2\t1800\t1\t1\t0.15\t4\t0\t0\t1\t;\n"
                    "\t2\t\u00b2\t1800\t1\t1\t0.15\t4\t0\t0\t1\t;\n")
    with pytest.raises(NetworkError, match=r"Tiny_net\.tntp line 9: node '²' is not a node number"):
        load_network(path)
