"""The Operations map's marker layers: incidents, units with their routes, cameras, detectors.

Plain functions over a :class:`~twin.live.TwinView` (nothing here touches Dash). The figure's
traces are the speed bands (:data:`dashboard.figures.SPEED_BANDS`) followed by :data:`LAYERS`;
the sites never change during a run and are sent once, with the page. Every tick
:func:`live_update` sends the links' state (:func:`dashboard.link_state.link_state`, from which
the browser redraws the band traces: ``assets/ops_map.js``), and the data of a live layer only
when its digest (of the view's records) differs from the one the page last drew.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import plotly.graph_objects as go

from dashboard import figures, link_state
from twin.live import TwinView
from twin.map_marks import IncidentMark, SiteMark, UnitMark
from twin.network import Network

TraceData = dict[str, list[Any]]

UNIT_COLOURS: dict[str, str] = {
    "available": "#4fc3f7", "dispatched": "#ffd54f", "en_route": "#ff9800",
    "on_scene": "#e040fb", "transporting": "#ba68c8", "returning": "#90a4ae",
    "out_of_service": "#616161", "broken": "#616161",
}
"""Marker colour of a unit by status."""
HOVER = figures.MARKER_HOVER


@dataclass(frozen=True)
class Layer:
    """One marker layer of the Operations map and how it is drawn."""

    key: str
    label: str
    live: bool
    """Sent again when it changes (else drawn once, with the page)."""
    style: Mapping[str, Any]


LAYERS: tuple[Layer, ...] = (
    Layer("routes", "unit routes", True,
          {"mode": "lines", "line": {"color": "#ffd54f", "width": 2.5, "dash": "dot"}}),
    Layer("detectors", "loop detectors", False,
          {"mode": "markers", "marker": {"symbol": "diamond", "size": 7, "color": "#b0bec5",
                                         "line": {"color": "#0f141b", "width": 1}}}),
    Layer("cameras", "cameras", False,
          {"mode": "markers", "marker": {"symbol": "square", "size": 10, "color": "#00e5ff",
                                         "line": {"color": "#0f141b", "width": 1}}}),
    Layer("incidents", "incidents", True,
          {"mode": "markers", "marker": {"symbol": "x", "size": 15, "color": "#ff1744",
                                         "line": {"color": "#ffffff", "width": 1.5}}}),
    Layer("units", "units", True,
          {"mode": "markers", "marker": {"symbol": "circle", "size": 12,
                                         "line": {"color": "#ffffff", "width": 1.5}}}),
)
"""Drawn after the speed bands, in this order (later on top)."""
LIVE_KEYS = tuple(layer.key for layer in LAYERS if layer.live)


def trace_index(key: str) -> int:
    """The figure index of layer ``key``'s trace."""
    keys = [layer.key for layer in LAYERS]
    if key not in keys:
        raise ValueError(f"unknown layer {key!r}; expected one of {keys}")
    return len(figures.SPEED_BANDS) + keys.index(key)


def _points(xs: Sequence[float], ys: Sequence[float], text: Sequence[str]) -> TraceData:
    return figures.marker_points(xs, ys, text)


def incident_data(incidents: Sequence[IncidentMark]) -> TraceData:
    """Markers of the open incidents: type, lanes blocked, stage, who keeps it."""
    text = [f"<b>{i.type}</b> {i.incident_id}<br>{i.lanes_blocked} lane(s) blocked<br>"
            f"{i.status} · {i.source}" for i in incidents]
    return _points([i.lon for i in incidents], [i.lat for i in incidents], text)


def unit_data(units: Sequence[UnitMark]) -> TraceData:
    """Markers of the units, coloured by status (``marker.color``)."""
    text = [f"<b>{u.unit_id}</b> ({u.kind})<br>{u.status.replace('_', ' ')}"
            + (f" · {u.incident_id}" if u.incident_id else "") for u in units]
    data = _points([u.lon for u in units], [u.lat for u in units], text)
    data["marker.color"] = [UNIT_COLOURS.get(u.status, "#ffffff") for u in units] or ["#ffffff"]
    return data


def route_data(units: Sequence[UnitMark]) -> TraceData:
    """The routes of the units driving to an incident, joined by ``None`` separators."""
    xs: list[Any] = []
    ys: list[Any] = []
    text: list[Any] = []
    for u in units:
        if not u.route_lon:
            continue
        xs += [*u.route_lon, None]
        ys += [*u.route_lat, None]
        text += [f"{u.unit_id} → {u.incident_id}"] * len(u.route_lon) + [None]
    return {"x": xs or [None], "y": ys or [None], "hovertext": text or [None]}


def site_data(sites: Sequence[SiteMark], kind: str) -> TraceData:
    """Markers of the sites of ``kind`` (``camera`` or ``detector``)."""
    chosen = [s for s in sites if s.kind == kind]
    text = [f"<b>{s.site_id}</b><br>{s.detail} on {s.link_id}" for s in chosen]
    return _points([s.lon for s in chosen], [s.lat for s in chosen], text)


def layer_data(view: TwinView, key: str) -> TraceData:
    """The data of layer ``key`` in ``view``."""
    if key == "incidents":
        return incident_data(view.incidents)
    if key == "units":
        return unit_data(view.units)
    if key == "routes":
        return route_data(view.units)
    if key == "cameras":
        return site_data(view.sites, "camera")
    if key == "detectors":
        return site_data(view.sites, "detector")
    raise ValueError(f"unknown layer {key!r}")


def layer_digests(view: TwinView) -> dict[str, str]:
    """A digest of each live layer's records in ``view`` (equal digests: nothing to send)."""
    incidents, units = (hashlib.blake2b(repr(records).encode(), digest_size=8).hexdigest()
                        for records in (view.incidents, view.units))
    digests = {"incidents": incidents, "units": units, "routes": units}  # routes: the units'
    return {key: digests[key] for key in LIVE_KEYS}


def _trace(layer: Layer, data: TraceData) -> go.Scatter:
    style = {k: dict(v) if isinstance(v, Mapping) else v for k, v in layer.style.items()}
    if "marker.color" in data:
        style["marker"]["color"] = data["marker.color"]
    return go.Scatter(x=data["x"], y=data["y"], hovertext=data["hovertext"], name=layer.label,
                      legendgroup=layer.key, hoverinfo="text", connectgaps=False,
                      hoverlabel=HOVER, **style)


def operations_figure(network: Network, view: TwinView, *, links: bool = True) -> go.Figure:
    """The live map: the speed bands, then every layer of :data:`LAYERS` for ``view``.

    With ``links=False`` the band traces are styled but empty (one gap point each), for the
    browser to draw from the link geometry and a :func:`live_update` (``assets/ops_map.js``);
    the page is then about a quarter of the size.
    """
    if links:
        fig = figures.network_figure(network, view.link_speed_mps, view.link_vehicle_count)
    else:
        empty = {"x": [None], "y": [None], "hovertext": [None]}
        fig = figures.band_figure(network, [empty] * len(figures.SPEED_BANDS))
    fig.add_traces([_trace(layer, layer_data(view, layer.key)) for layer in LAYERS])
    return fig


def trace_update(data: TraceData) -> dict[str, Any]:
    """Layer data as the trace properties it sets: ``marker.color`` becomes
    ``{"marker": {"color": ...}}`` (merged into the trace's marker by ``assets/ops_map.js``)."""
    update: dict[str, Any] = {key: values for key, values in data.items() if key != "marker.color"}
    if "marker.color" in data:
        update["marker"] = {"color": data["marker.color"]}
    return update


def live_update(network: Network, view: TwinView, drawn: Mapping[str, str] | None
                ) -> tuple[dict[str, Any], dict[str, str]]:
    """The map's update of one tick, with the new layer digests.

    Parameters
    ----------
    network : Network
    view : TwinView
    drawn : dict, optional
        The layer digests (:func:`layer_digests`) of the view the page last drew.

    Returns
    -------
    update : dict
        ``links``: :func:`dashboard.link_state.link_state` of ``view``; ``layers``: a list
        of ``[trace index, trace_update(layer data)]`` for each live layer whose digest
        differs from ``drawn``. ``assets/ops_map.js`` applies it to the figure.
    digests : dict
        :func:`layer_digests` of ``view``.
    """
    digests = layer_digests(view)
    layers = [[trace_index(key), trace_update(layer_data(view, key))]
              for key in LIVE_KEYS if (drawn or {}).get(key) != digests[key]]
    links = link_state.link_state(network, view.link_speed_mps, view.link_vehicle_count)
    return {"links": links, "layers": layers}, digests
