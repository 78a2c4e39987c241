"""The Operations map's links as geometry (sent once) plus a small state per tick: rebuilding
the band traces from the two gives exactly the server's band traces, for a fraction of the
bytes. ``rebuild`` below is ``bandTraces`` of ``assets/ops_map.js`` written in Python; the
browser test checks the JavaScript itself against :func:`figures.speed_band_traces`."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
from plotly.io.json import to_json_plotly

from dashboard import figures, link_state


def rebuild(geometry: dict[str, Any], links: dict[str, list[Any]]) -> list[dict[str, list]]:
    """The band traces from the JSON the browser receives, the way ``ops_map.js`` builds them."""
    geometry, links = json.loads(to_json_plotly(geometry)), json.loads(to_json_plotly(links))
    traces: list[dict[str, list]] = [{"x": [], "y": [], "hovertext": []}
                                     for _ in range(geometry["n_bands"])]
    n_links = len(geometry["head"])
    band_of = [geometry["empty_band"]] * n_links
    speed_of: list[int | None] = [None] * n_links
    vehicles_of: list[int | None] = [None] * n_links
    for k, i in enumerate(links["link"]):
        band_of[i] = links["band"][k]
        speed_of[i], vehicles_of[i] = links["speed_kmh"][k], links["vehicles"][k]
    offsets = geometry["offsets"]
    for i, band in enumerate(band_of):
        text = (geometry["head"][i] + figures.speed_text(speed_of[i], vehicles_of[i])
                + geometry["tail"][i])
        points = range(offsets[i], offsets[i + 1])
        traces[band]["x"] += [geometry["lon"][k] for k in points] + [None]
        traces[band]["y"] += [geometry["lat"][k] for k in points] + [None]
        traces[band]["hovertext"] += [text] * len(points) + [None]
    for trace in traces:
        if not trace["x"]:
            trace.update(x=[None], y=[None], hovertext=[None])
    return traces


def _random_state(net, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    speed = net.link_speed_limit_mps * rng.uniform(0.0, 1.2, net.n_links)
    speed[rng.random(net.n_links) < 0.1] = np.nan
    return speed, rng.integers(0, 4, net.n_links)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_geometry_and_state_rebuild_the_band_traces_exactly(grid_factory, seed):
    """Every link is drawn in exactly its band, with its own points and hover text."""
    net = grid_factory()
    speed, count = _random_state(net, seed)
    geometry = link_state.link_geometry(net)
    rebuilt = rebuild(geometry, link_state.link_state(net, speed, count))
    assert rebuilt == figures.speed_band_traces(net, speed, count)
    bands = figures.link_bands(net, speed, count)
    for i, trace in enumerate(rebuilt):
        assert trace["x"].count(None) == max(1, int((bands == i).sum()))


def test_a_bent_link_and_an_unnamed_link_rebuild_too(tiny_network):
    """Links of several points and the fallback name come through the fixed text parts."""
    speed, count = np.array([10.0, 5.0, 12.5, 2.0]), np.array([3, 1, 0, 2])
    geometry = link_state.link_geometry(tiny_network)
    state = link_state.link_state(tiny_network, speed, count)
    assert rebuild(geometry, state) == figures.speed_band_traces(tiny_network, speed, count)
    assert np.diff(geometry["offsets"]).tolist() == [3, 2, 2, 2]
    bands = figures.link_bands(tiny_network, speed, count)
    assert bands[2] == figures.EMPTY_BAND  # no vehicles: not listed
    assert state == {"link": [0, 1, 3], "band": bands[[0, 1, 3]].tolist(),
                     "speed_kmh": [36, 18, 7], "vehicles": [3, 1, 2]}
    assert geometry["head"][3] == "<b>unnamed service</b><br>"
    assert geometry["tail"][2] == "<br>limit 45 km/h"


def test_shown_speed_is_whole_km_h_as_formatted_and_none_without_vehicles():
    """The rounding agrees with ``f"{kmh:.0f}"`` (half to even), also on exact halves."""
    rng = np.random.default_rng(5)
    halves_kmh = np.array([0.5, 2.5, 3.5])
    speed_mps = np.concatenate([rng.uniform(0.0, 30.0, 500), halves_kmh / figures.MPS_TO_KMH])
    shown = figures.shown_speed_kmh(speed_mps, np.ones(speed_mps.size, int))
    assert shown == [int(f"{v * figures.MPS_TO_KMH:.0f}") for v in speed_mps]
    assert figures.shown_speed_kmh(np.array([10.0, np.nan, 4.0]), np.array([1, 2, 0])) == [
        36, None, None]
    assert figures.shown_speed_kmh(np.array([4.0, np.nan]), None) == [14, None]
    assert figures.speed_text(None, 3) == "no vehicles"
    assert figures.speed_text(36, 3) == "36 km/h · 3 veh"
    assert figures.speed_text(36, None) == "36 km/h"


def test_the_tick_state_is_a_small_fraction_of_the_band_traces(grid_factory):
    """Per tick the page gets a band, a speed and a count per link, not the polylines and
    a hover text per point; the geometry goes once."""
    net = grid_factory(rows=6, cols=6)
    speed, count = _random_state(net, 4)
    old = len(to_json_plotly(figures.speed_band_traces(net, speed, count)))
    tick = len(to_json_plotly(link_state.link_state(net, speed, count)))
    once = len(to_json_plotly(link_state.link_geometry(net)))
    assert tick * 10 < old
    assert once < old
