"""load_network dispatch and errors, and the UTM/transverse Mercator projection."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from twin.importers import SUPPORTED_FORMATS, detect_format, grid_network, load_network
from twin.importers._utm import (
    TransverseMercator,
    lonlat_to_tm,
    parse_proj,
    tm_to_lonlat,
    utm_zone,
)
from twin.network import NetworkError


@pytest.mark.parametrize(("name", "fmt"), [
    ("a.graphml", "graphml"), ("a.graphml.gz", "graphml"), ("a.net.xml", "sumo"),
    ("A.NET.XML.GZ", "sumo"), ("x_net.tntp", "tntp"), ("n.npz", "npz"),
])
def test_detect_format(name: str, fmt: str) -> None:
    assert detect_format(name) == fmt
    assert name.lower().endswith(SUPPORTED_FORMATS[fmt])


def test_unknown_suffix_names_file_and_formats(tmp_path: Path) -> None:
    path = tmp_path / "roads.shp"
    path.write_text("")
    with pytest.raises(NetworkError) as err:
        load_network(path)
    msg = str(err.value)
    assert "roads.shp" in msg and "unknown network file type" in msg
    for suffixes in SUPPORTED_FORMATS.values():
        for suffix in suffixes:
            assert suffix in msg


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(NetworkError, match=r"nowhere\.graphml: no such file"):
        load_network(tmp_path / "nowhere.graphml")
    with pytest.raises(NetworkError, match="no such file"):
        load_network(tmp_path / "nowhere.npz")


def test_unknown_format_and_option(data_dir: Path) -> None:
    path = data_dir / "tntp" / "SiouxFalls" / "SiouxFalls_net.tntp"
    with pytest.raises(NetworkError, match="unknown format 'shapefile'"):
        load_network(path, format="shapefile")
    with pytest.raises(NetworkError, match="option.s. colour not accepted by the tntp reader"):
        load_network(path, colour="red")


def test_explicit_format_overrides_the_suffix(data_dir: Path, tmp_path: Path) -> None:
    path = tmp_path / "sioux.txt"
    path.write_bytes((data_dir / "tntp" / "SiouxFalls" / "SiouxFalls_net.tntp").read_bytes())
    assert load_network(path, format="tntp").n_links == 76


def test_npz_round_trip_of_a_signalised_grid(tmp_path: Path) -> None:
    net = grid_network(3, 3)
    back = load_network(net.save(tmp_path / "grid.npz"))
    assert back.signals.phase_state == net.signals.phase_state
    np.testing.assert_array_equal(back.conn_signal_index, net.conn_signal_index)


def test_broken_npz(tmp_path: Path) -> None:
    path = tmp_path / "junk.npz"
    path.write_bytes(b"not a zip file")
    with pytest.raises(NetworkError, match=r"junk\.npz"):
        load_network(path)


# ----------------------------------------------------------------- projection
def test_utm_inverse_snyder_example() -> None:
    """Snyder (1987) worked example, Clarke 1866: 40.5 N, 73.5 W in zone 18 is
    x = 127,106.5 m from the central meridian, y = 4,484,124.4 m."""
    zone = utm_zone(18, ellipsoid="clrk66")
    lon, lat = tm_to_lonlat(np.array([500_000.0 + 127_106.5]), np.array([4_484_124.4]), zone)
    assert lon[0] == pytest.approx(-73.5, abs=2e-6)
    assert lat[0] == pytest.approx(40.5, abs=2e-6)


def test_utm_inverse_matches_netconvert() -> None:
    """Jakarta (106.8456 E, 6.2088 S) as placed by SUMO netconvert/PROJ in zone 48 north."""
    zone = parse_proj("+proj=utm +zone=48 +ellps=WGS84 +datum=WGS84 +units=m +no_defs")
    lon, lat = tm_to_lonlat(np.array([704_207.1689]), np.array([-686_641.6607]), zone)
    assert lon[0] == pytest.approx(106.8456, abs=1e-8)
    assert lat[0] == pytest.approx(-6.2088, abs=1e-8)
    south = parse_proj("+proj=utm +zone=48 +south +datum=WGS84")
    lon, lat = tm_to_lonlat(np.array([704_207.1689]), np.array([10_000_000 - 686_641.6607]), south)
    assert (lon[0], lat[0]) == pytest.approx((106.8456, -6.2088), abs=1e-8)


def test_forward_inverse_round_trip() -> None:
    """Across a zone (+-3 degrees) and latitudes 60 S..60 N, the round trip is sub-millimetre."""
    zone = utm_zone(33)
    lon = np.linspace(12.0, 18.0, 13)[:, None] + np.zeros((1, 13))
    lat = np.zeros((13, 1)) + np.linspace(-60.0, 60.0, 13)[None, :]
    e, n = lonlat_to_tm(lon.ravel(), lat.ravel(), zone)
    lon2, lat2 = tm_to_lonlat(e, n, zone)
    assert np.abs(lon2 - lon.ravel()).max() < 1e-8
    assert np.abs(lat2 - lat.ravel()).max() < 1e-8


def test_parse_tmerc_and_rejects() -> None:
    tm = parse_proj("+proj=tmerc +lat_0=52.27 +lon_0=10.53 +k=1 +x_0=0 +y_0=0 +datum=WGS84 "
                    "+units=m +no_defs")
    assert tm == TransverseMercator(lon0_deg=10.53, lat0_deg=52.27, k0=1.0, false_easting_m=0.0)
    lon, lat = tm_to_lonlat(np.array([0.0]), np.array([0.0]), tm)
    assert (lon[0], lat[0]) == pytest.approx((10.53, 52.27), abs=1e-8)  # 1 mm
    for bad, why in (("+proj=merc", "not supported"), ("+proj=utm +zone=61", "outside"),
                     ("+proj=utm +zone=3 +units=ft", "units"),
                     ("+proj=utm +zone=3 +ellps=bessel", "ellipsoid")):
        with pytest.raises(ValueError, match=why):
            parse_proj(bad)


def test_parse_epsg_utm_codes() -> None:
    """pyproj's WGS84 UTM codes (as OSMnx 2 writes a projected graph's crs) are zones too."""
    assert parse_proj("EPSG:32748") == utm_zone(48, south=True)
    assert parse_proj("epsg:32633") == utm_zone(33)
    with pytest.raises(ValueError, match="outside"):
        parse_proj("EPSG:32761")
    with pytest.raises(ValueError, match="not supported"):
        parse_proj("EPSG:3857")
