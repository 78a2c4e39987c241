"""The pure figure and tile builders of the dashboard (no browser)."""

from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go
import pytest

from dashboard import figures
from dashboard.figures import SPEED_BANDS
from twin.network import project_lonlat

BAND_KEYS = [b.key for b in SPEED_BANDS]


def band_of(key: str) -> int:
    return BAND_KEYS.index(key)


def split_polylines(xs: list, ys: list) -> list[list[tuple[float, float]]]:
    """Cut a trace's x/y at the ``None`` separators."""
    lines: list[list[tuple[float, float]]] = []
    current: list[tuple[float, float]] = []
    for x, y in zip(xs, ys, strict=True):
        assert (x is None) == (y is None), "x and y separators must line up"
        if x is None:
            if current:  # an empty band is a lone gap point: no polyline
                lines.append(current)
            current = []
        else:
            current.append((x, y))
    assert current == [], "every polyline must end with a None separator"
    return lines


def test_every_link_is_drawn_in_exactly_one_band(tiny_network):
    """Each link's polyline appears once over all traces, with its own geometry."""
    net = tiny_network
    speed = np.array([10.0, 3.0, 7.0, 1.0])
    count = np.array([3, 2, 1, 4])
    traces = figures.speed_band_traces(net, speed, count, side_offset_m=0.0)
    assert len(traces) == len(SPEED_BANDS)
    drawn = [line for t in traces for line in split_polylines(t["x"], t["y"])]
    expected = []
    for link in range(net.n_links):
        lon, lat = net.link_polyline_lonlat(link)
        expected.append(list(zip(lon.tolist(), lat.tolist(), strict=True)))
    assert len(drawn) == len(expected)
    for got, want in zip(sorted(drawn), sorted(expected), strict=True):
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-6)
    bands = figures.link_bands(net, speed, count)
    for i, trace in enumerate(traces):
        assert len(split_polylines(trace["x"], trace["y"])) == int((bands == i).sum())


def test_separators_line_up_in_x_y_and_hovertext(tiny_network):
    """Polylines are joined by None in x, y and hovertext at the same places."""
    traces = figures.speed_band_traces(tiny_network, np.full(4, 5.0), np.ones(4, int))
    for trace in traces:
        assert len(trace["x"]) == len(trace["y"]) == len(trace["hovertext"])
        none_x = [i for i, v in enumerate(trace["x"]) if v is None]
        assert none_x == [i for i, v in enumerate(trace["y"]) if v is None]
        assert none_x == [i for i, v in enumerate(trace["hovertext"]) if v is None]
        if trace["x"]:
            assert trace["x"][-1] is None
            assert all(isinstance(v, float) for v in trace["x"] if v is not None)


@pytest.mark.parametrize(
    ("ratio", "key"),
    [(1.5, "free"), (1.0, "free"), (0.8, "free"), (0.79, "slow"), (0.5, "slow"),
     (0.49, "heavy"), (0.25, "heavy"), (0.24, "jam"), (0.0, "jam")],
)
def test_speed_ratio_picks_the_band(tiny_network, ratio, key):
    """Band edges are inclusive at the bottom: 0.8 is free flow, 0.25 heavy."""
    speed = tiny_network.link_speed_limit_mps * ratio
    bands = figures.link_bands(tiny_network, speed, np.ones(4, int))
    assert [BAND_KEYS[b] for b in bands] == [key] * 4


def test_speed_at_the_limit_is_in_the_top_band(tiny_network):
    """Links flowing at their speed limit are green."""
    bands = figures.link_bands(tiny_network, tiny_network.link_speed_limit_mps.copy(),
                               np.array([1, 5, 2, 9]))
    assert (bands == band_of("free")).all()


def test_links_without_vehicles_are_grey(tiny_network):
    """Zero vehicles (whatever the speed) or an unknown speed: the grey band."""
    speed = np.array([10.0, 0.5, np.nan, 8.0])
    count = np.array([0, 0, 3, 2])
    bands = figures.link_bands(tiny_network, speed, count)
    assert [BAND_KEYS[b] for b in bands] == ["empty", "empty", "empty", "free"]
    fig = figures.network_figure(tiny_network, speed, count, side_offset_m=0.0)
    grey = fig.data[band_of("empty")]
    assert grey.line.color == SPEED_BANDS[0].colour
    assert grey.x.count(None) == 3
    # without counts only the unknown speed is grey
    assert BAND_KEYS[figures.link_bands(tiny_network, speed)[1]] == "jam"


def test_figure_has_one_coloured_line_trace_per_band(tiny_network):
    """Trace i is band i: its colour, its legend label, lines only, no map tiles."""
    fig = figures.network_figure(tiny_network, np.array([10.0, 6.0, 4.0, 0.5]),
                                 np.ones(4, int))
    assert len(fig.data) == len(SPEED_BANDS)
    for trace, band in zip(fig.data, SPEED_BANDS, strict=True):
        assert isinstance(trace, go.Scatter)
        assert trace.mode == "lines"
        assert trace.line.color == band.colour
        assert trace.name == band.label
        assert trace.showlegend is not False
    counts = [len(split_polylines(list(t.x), list(t.y))) for t in fig.data]
    assert counts == [0, 1, 1, 1, 1]
    # the empty band still has one gap point, so Plotly keeps its legend entry
    assert list(fig.data[0].x) == [None]
    assert len({b.colour for b in SPEED_BANDS}) == len(SPEED_BANDS)
    assert "map" not in fig.to_plotly_json()["layout"]


def test_figure_keeps_the_map_undistorted(tiny_network):
    """y is anchored to x with 1 / cos(latitude), axes hidden, zoom kept across updates."""
    fig = figures.network_figure(tiny_network, tiny_network.link_speed_limit_mps.copy())
    assert fig.layout.yaxis.scaleanchor == "x"
    expected = 1.0 / math.cos(math.radians(tiny_network.origin_lat))
    assert fig.layout.yaxis.scaleratio == pytest.approx(expected)
    assert fig.layout.xaxis.visible is False
    assert fig.layout.uirevision == tiny_network.name


def test_band_traces_match_the_figure_data(tiny_network):
    """What the page patches each tick is exactly what the figure was built from."""
    speed, count = np.array([10.0, 6.0, 4.0, 0.5]), np.array([1, 2, 0, 1])
    fig = figures.network_figure(tiny_network, speed, count)
    traces = figures.speed_band_traces(tiny_network, speed, count)
    for trace, data in zip(fig.data, traces, strict=True):
        assert list(trace.x) == data["x"]
        assert list(trace.y) == data["y"]
        assert list(trace.hovertext) == data["hovertext"]


def test_hover_text_names_the_street_and_speed_in_kmh(tiny_network):
    """Hover shows street name, speed in km/h, vehicles and the limit."""
    speed = np.array([10.0, 5.0, 12.5, 2.0])
    traces = figures.speed_band_traces(tiny_network, speed, np.array([3, 1, 0, 2]))
    texts = {t for tr in traces for t in tr["hovertext"] if t is not None}
    assert "<b>Jl. Matraman Raya</b><br>36 km/h · 3 veh<br>limit 36 km/h" in texts
    assert "<b>Jl. Pisangan</b><br>no vehicles<br>limit 45 km/h" in texts
    assert "<b>unnamed service</b><br>7 km/h · 2 veh<br>limit 29 km/h" in texts


def test_each_direction_is_drawn_to_its_left(tiny_network):
    """With a side offset, a link is shifted that far to the left of travel."""
    net = tiny_network
    speed = net.link_speed_limit_mps.copy()
    count = np.ones(4, int)
    traces = figures.speed_band_traces(net, speed, count, side_offset_m=3.0)
    lines = split_polylines(traces[band_of("free")]["x"], traces[band_of("free")]["y"])
    # link "bc" runs due south from b; its left is east
    b_lon, b_lat = net.node_lon[1], net.node_lat[1]
    bc = next(line for line in lines if len(line) == 2 and line[0][1] == pytest.approx(b_lat))
    x, y = project_lonlat(np.array([bc[0][0]]), np.array([bc[0][1]]), b_lon, b_lat)
    assert x[0] == pytest.approx(3.0, abs=0.15)
    assert y[0] == pytest.approx(0.0, abs=0.15)


def test_wrong_array_length_is_refused(tiny_network):
    """A speed array from another network is an error naming the expected size."""
    with pytest.raises(ValueError, match=r"expected \(4,\)"):
        figures.link_bands(tiny_network, np.ones(3))


def test_kpi_values_format_the_tiles(tiny_network, view_factory):
    """Clock as HH:MM:SS, counts, vehicle-weighted mean speed and progress."""
    view = view_factory(
        tiny_network,
        speed_mps=np.array([10.0, 5.0, 20.0, np.nan]),
        count=np.array([3, 1, 0, 0]),
        time_s=3723.0, duration_s=7200.0,
        n_waiting=7, n_active=4, n_arrived=1234, n_total=2000,
    )
    kpis = figures.kpi_values(view)
    assert kpis == {
        "clock": "08:02:03",
        "vehicles": "4",
        "arrived": "1,234 / 2,000",
        "mean_speed": f"{(10 * 3 + 5 * 1) / 4 * 3.6:.1f} km/h",
        "progress": "52 %",
    }
    assert figures.mean_speed_kmh(view) == pytest.approx(31.5)


def test_kpi_values_without_vehicles_and_when_finished(tiny_network, view_factory):
    """No vehicles: no mean speed; a finished run is 100 % even if stopped early."""
    view = view_factory(tiny_network, time_s=600.0, duration_s=3600.0, finished=True)
    kpis = figures.kpi_values(view)
    assert kpis["mean_speed"] == "–"
    assert kpis["progress"] == "100 %"
    assert figures.mean_speed_kmh(view) is None
    assert "finished" in figures.status_text(view)


def test_larger_network_is_fully_drawn(grid_factory):
    """On a 3 x 4 grid every one of its links is in some band."""
    net = grid_factory()
    rng = np.random.default_rng(7)
    speed = net.link_speed_limit_mps * rng.uniform(0, 1.2, net.n_links)
    count = rng.integers(0, 4, net.n_links)
    traces = figures.speed_band_traces(net, speed, count)
    assert sum(t["x"].count(None) for t in traces) == net.n_links
    n_points = int(np.diff(net.geom_offsets).sum())
    assert sum(len(t["x"]) for t in traces) == n_points + net.n_links
