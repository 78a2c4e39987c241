"""The Map page's layers: problem mapping (hot spots), potential mapping (suggested sites)
and the dispatch areas, as plain data and plotly traces.

:func:`load_problem_map` asks the twin's quality module (:mod:`twin.modules.quality.hotspots`,
:mod:`twin.modules.quality.potential`) about a store; :func:`problem_figure` draws the
network in grey with one trace per layer of :data:`MAP_LAYERS` (trace ``1 + i`` is layer
``i``); :func:`visibility_patch` shows and hides them for the layer switcher.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

import numpy as np
import plotly.graph_objects as go
from dash import Patch

from dashboard import figures
from twin.map_marks import link_midpoint
from twin.modules.quality.extent import latest_data_time
from twin.modules.quality.hotspots import HOTSPOT_KINDS, Hotspot, hotspots
from twin.modules.quality.potential import (
    CameraSite,
    StationSite,
    area_hulls,
    link_evidence,
    slow_responses,
    suggest_camera_sites,
    suggest_station_sites,
)
from twin.network import Network
from twin.store import Store

MAP_LAYERS: tuple[tuple[str, str], ...] = (
    ("incident", "Incident hot spots"),
    ("violation", "Violation hot spots"),
    ("congestion", "Congestion hot spots"),
    ("camera_sites", "Suggested camera sites"),
    ("station_sites", "Suggested station sites"),
    ("areas", "Station areas"),
)
"""(key, label) of each layer, in drawing order."""
LAYER_KEYS = tuple(key for key, _ in MAP_LAYERS)
DEFAULT_SHOWN: tuple[str, ...] = ("incident", "violation", "congestion", "camera_sites")
"""The layers ticked when the page opens."""
WINDOW_DAYS = 7.0
LEVEL_COLOURS = {"high": "#ff1744", "elevated": "#ff9800", "normal": "#ffd54f"}
KIND_SYMBOLS = {"incident": "triangle-up", "violation": "circle", "congestion": "hexagon"}
BASE_COLOUR = "#5b6575"


@dataclass(frozen=True)
class ProblemMap:
    """What the Map page shows, for one window of one store."""

    start: datetime | None
    end: datetime | None
    hotspots: dict[str, list[Hotspot]] = field(default_factory=dict)
    camera_sites: list[CameraSite] = field(default_factory=list)
    station_sites: list[StationSite] = field(default_factory=list)
    areas: dict[str, list[tuple[float, float]]] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)
    """Layer key -> what the layer holds, or why it is empty."""


def load_problem_map(store: Store | None, network: Network, camera_links: Collection[str], *,
                     end: datetime | None = None, window_days: float = WINDOW_DAYS,
                     tz: tzinfo = UTC) -> ProblemMap:
    """The layers of ``store`` for the ``window_days`` up to ``end`` (default: just after
    the store's newest record); ``camera_links`` are the links that have a camera; hours of
    the day in ``tz``."""
    if store is None:
        return ProblemMap(None, None, notes={k: "no store" for k in LAYER_KEYS})
    end = end or latest_data_time(store)
    if end is None:
        return ProblemMap(None, None, notes={k: "the store holds no records" for k in LAYER_KEYS})
    start = end - timedelta(days=window_days)
    limits = {link: float(network.link_speed_limit_mps[i]) for link, i in network.link_index.items()}
    spots: dict[str, list[Hotspot]] = {kind: [h for h in hotspots(store, kind, start, end, limits, tz=tz)
                    if h.link_id in network.link_index] for kind in HOTSPOT_KINDS}
    evidence = {k: e for k, e in link_evidence(store, start, end, limits).items()
                if k in network.link_index}
    cameras = suggest_camera_sites(evidence, camera_links)
    responses = slow_responses(store)
    stations = suggest_station_sites(network, responses)
    areas = area_hulls(network, responses)
    notes: dict[str, str] = {kind: f"{len(s)} link(s) with {kind} records" if s else f"no {kind} records"
             for kind, s in spots.items()}
    notes["camera_sites"] = (f"{len(cameras)} link(s) with violations, speeding or incidents "
                             "and no camera") if cameras else "no link without a camera has evidence"
    notes["station_sites"] = (f"{len(stations)} site(s) covering slow dispatch responses"
                              if stations else "no slow dispatch response stored")
    notes["areas"] = (f"{len(areas)} area(s): hull of each station's stored incidents"
                      if areas else "no station areas stored")
    return ProblemMap(start, end, spots, cameras, stations, areas, notes)


def _marker_size(events: int) -> float:
    return min(30.0, 8.0 + 4.0 * math.sqrt(max(events, 0)))


def _name(network: Network, link_id: str) -> str:
    return network.link_name[network.link_index[link_id]] or link_id


def hotspot_data(network: Network, spots: Sequence[Hotspot]) -> dict[str, list[Any]]:
    """Markers at the middle of each hot-spot link, sized by events, coloured by level."""
    if not spots:
        return {"x": [None], "y": [None], "hovertext": [None], "size": [8], "color": [BASE_COLOUR]}
    pts = [link_midpoint(network, network.link_index[h.link_id]) for h in spots]
    return {
        "x": [round(p[0], 6) for p in pts], "y": [round(p[1], 6) for p in pts],
        "hovertext": [f"<b>{_name(network, h.link_id)}</b><br>{h.events} {h.kind} record(s)<br>"
                      f"worst hour {h.peak_hour:02d}:00, {h.peak_ratio:.1f}x ordinary ({h.level})"
                      for h in spots],
        "size": [_marker_size(h.events) for h in spots],
        "color": [LEVEL_COLOURS.get(h.level, BASE_COLOUR) for h in spots],
    }


def camera_site_data(network: Network, sites: Sequence[CameraSite]) -> dict[str, list[Any]]:
    """Stars at the suggested camera links, with the evidence."""
    pts = [link_midpoint(network, network.link_index[s.link_id]) for s in sites]
    return figures.marker_points(
        [p[0] for p in pts], [p[1] for p in pts],
        [f"<b>#{s.rank} {_name(network, s.link_id)}</b><br>{s.violations} violation(s), "
         f"{s.speeding} speeding interval(s), {s.incidents} incident(s); no camera" for s in sites])


def station_site_data(network: Network, sites: Sequence[StationSite]) -> dict[str, list[Any]]:
    """Markers at the suggested station sites."""
    return figures.marker_points(
        [s.lon for s in sites], [s.lat for s in sites],
        [f"<b>#{s.rank} {_name(network, s.link_id)}</b><br>covers {s.covered} slow response(s), "
         f"mean drive {s.mean_travel_s / 60:.1f} min" for s in sites])


def area_data(areas: dict[str, list[tuple[float, float]]]) -> dict[str, list[Any]]:
    """Every area outline, joined by ``None`` separators."""
    xs: list[Any] = []
    ys: list[Any] = []
    text: list[Any] = []
    for area, ring in areas.items():
        xs += [round(p[0], 6) for p in ring] + [None]
        ys += [round(p[1], 6) for p in ring] + [None]
        text += [f"area {area}"] * len(ring) + [None]
    return {"x": xs or [None], "y": ys or [None], "hovertext": text or [None]}


def layer_traces(network: Network, pm: ProblemMap, shown: Collection[str]) -> list[go.Scatter]:
    """One trace per layer of :data:`MAP_LAYERS`, visible when its key is in ``shown``."""
    traces = []
    hover = figures.MARKER_HOVER
    for key, label in MAP_LAYERS:
        common: dict[str, Any] = {"name": label, "legendgroup": key, "hoverinfo": "text",
                                  "hoverlabel": hover, "visible": key in shown}
        if key in HOTSPOT_KINDS:
            d = hotspot_data(network, pm.hotspots.get(key, []))
            traces.append(go.Scatter(x=d["x"], y=d["y"], hovertext=d["hovertext"], mode="markers",
                                     marker={"symbol": KIND_SYMBOLS[key], "size": d["size"],
                                             "color": d["color"], "opacity": 0.85,
                                             "line": {"color": "#ffffff", "width": 1}}, **common))
        elif key == "camera_sites":
            d = camera_site_data(network, pm.camera_sites)
            traces.append(go.Scatter(x=d["x"], y=d["y"], hovertext=d["hovertext"], mode="markers",
                                     marker={"symbol": "star", "size": 18, "color": "#00e5ff",
                                             "line": {"color": "#0f141b", "width": 1}}, **common))
        elif key == "station_sites":
            d = station_site_data(network, pm.station_sites)
            traces.append(go.Scatter(x=d["x"], y=d["y"], hovertext=d["hovertext"], mode="markers",
                                     marker={"symbol": "cross", "size": 18, "color": "#e040fb",
                                             "line": {"color": "#ffffff", "width": 1}}, **common))
        else:
            d = area_data(pm.areas)
            traces.append(go.Scatter(x=d["x"], y=d["y"], hovertext=d["hovertext"],
                                     mode="lines", fill="toself", connectgaps=False,
                                     fillcolor="rgba(126, 87, 194, 0.15)",
                                     line={"color": "#7e57c2", "width": 2}, **common))
    return traces


def problem_figure(network: Network, pm: ProblemMap, shown: Collection[str]) -> go.Figure:
    """The network in grey (trace 0), then the layers (:func:`layer_traces`)."""
    (base,) = figures.class_traces(network, np.zeros(network.n_links, np.int8), 1,
                                   [network.link_name[i] or network.link_ids[i]
                                    for i in range(network.n_links)])
    fig = go.Figure([go.Scatter(x=base["x"], y=base["y"], hovertext=base["hovertext"],
                                mode="lines", name="roads", hoverinfo="text", connectgaps=False,
                                line={"color": BASE_COLOUR, "width": 1.4}, showlegend=False)])
    fig.add_traces(layer_traces(network, pm, shown))
    fig.update_layout(**figures.map_layout(network, "Layers"))
    return fig


def visibility_patch(shown: Collection[str]) -> Patch:
    """A Patch setting each layer trace's ``visible`` to whether its key is in ``shown``."""
    patch = Patch()
    for i, key in enumerate(LAYER_KEYS):
        patch["data"][1 + i]["visible"] = key in shown
    return patch
