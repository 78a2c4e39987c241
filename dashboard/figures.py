"""Pure figure and tile builders for the dashboard.

Nothing here touches Dash, Flask or a running twin: every function takes a
:class:`~twin.network.Network` and arrays (or a :class:`~twin.live.TwinView`)
and returns plain data, so it is unit-tested without a browser.

The network map is drawn without any tile server (the operation room is
offline): links are ``go.Scatter(mode="lines")`` polylines in longitude /
latitude, one trace per speed band, with links joined by ``None`` separators.
The y axis is anchored to the x axis with ``scaleratio = 1 / cos(latitude)`` so
a metre north is as long on screen as a metre east.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import numpy as np
import plotly.graph_objects as go
from numpy.typing import NDArray

from twin.network import Network, unproject_xy

if TYPE_CHECKING:
    from twin.live import TwinView

FloatArray = NDArray[np.float64]

MPS_TO_KMH = 3.6
#: Each direction of a two-way street is drawn this far to the side of the
#: centreline, so both directions stay visible when zoomed in. Positive is to
#: the left of the direction of travel: Indonesia drives on the left.
SIDE_OFFSET_M = 3.0
#: Decimal places kept for degrees in the figure data (1e-6 deg ~ 0.1 m).
COORD_DECIMALS = 6

MAP_BACKGROUND = "#0f141b"
MAP_FONT_COLOUR = "#d8dee9"
MARKER_HOVER = {"bgcolor": "#1b2330", "font": {"color": MAP_FONT_COLOUR, "size": 13}}
"""The hover label of the maps' marker layers."""


@dataclass(frozen=True)
class SpeedBand:
    """One colour class of the map.

    A link with vehicles is in the band whose ``[min_ratio, max_ratio)``
    contains its speed ratio (mean speed / speed limit); a link without
    vehicles (or with no speed) is in the band whose ``min_ratio`` is ``None``.
    """

    key: str
    label: str
    colour: str
    min_ratio: float | None
    max_ratio: float | None
    width_px: float


#: The bands in drawing order: later traces are drawn on top, so the worst
#: congestion is never hidden under a free-flowing opposite direction.
SPEED_BANDS: tuple[SpeedBand, ...] = (
    SpeedBand("empty", "no vehicles", "#5b6575", None, None, 1.2),
    SpeedBand("free", "≥ 80 % of limit", "#2ecc71", 0.8, math.inf, 2.2),
    SpeedBand("slow", "50–80 %", "#f1c40f", 0.5, 0.8, 2.6),
    SpeedBand("heavy", "25–50 %", "#ff8c1a", 0.25, 0.5, 3.0),
    SpeedBand("jam", "< 25 %", "#ff3b3b", -math.inf, 0.25, 3.4),
)
EMPTY_BAND = 0


# ---------------------------------------------------------------- link bands
def speed_ratio(network: Network, link_speed_mps: FloatArray) -> FloatArray:
    """Link speed over speed limit.

    Parameters
    ----------
    network : Network
    link_speed_mps : float64 array (n_links,), m/s; ``nan`` where unknown.

    Returns
    -------
    float64 array (n_links,), dimensionless; ``nan`` where the speed is unknown.
    """
    speed = _check_link_array(network, link_speed_mps, "link_speed_mps").astype(np.float64)
    return speed / network.link_speed_limit_mps


def link_bands(
    network: Network,
    link_speed_mps: FloatArray,
    link_vehicle_count: NDArray[np.integer] | None = None,
) -> NDArray[np.int8]:
    """The :data:`SPEED_BANDS` index of every link.

    Parameters
    ----------
    network : Network
    link_speed_mps : float64 array (n_links,), m/s; ``nan`` where unknown.
    link_vehicle_count : int array (n_links,), optional
        Links with no vehicle are in the "no vehicles" band. Without it only
        links whose speed is ``nan`` are.

    Returns
    -------
    int8 array (n_links,), indices into :data:`SPEED_BANDS`.
    """
    ratio = speed_ratio(network, link_speed_mps)
    bands = np.full(network.n_links, EMPTY_BAND, dtype=np.int8)
    known = np.isfinite(ratio)
    if link_vehicle_count is not None:
        count = _check_link_array(network, link_vehicle_count, "link_vehicle_count")
        known &= count > 0
    for i, band in enumerate(SPEED_BANDS):
        if band.min_ratio is None or band.max_ratio is None:  # the "no vehicles" band
            continue
        in_band = known & (ratio >= band.min_ratio) & (ratio < band.max_ratio)
        bands[in_band] = i
    return bands


# ------------------------------------------------------------------- traces
def speed_band_traces(
    network: Network,
    link_speed_mps: FloatArray,
    link_vehicle_count: NDArray[np.integer] | None = None,
    *,
    side_offset_m: float = SIDE_OFFSET_M,
) -> list[dict[str, list[Any]]]:
    """The data of the map's band traces, in :data:`SPEED_BANDS` order.

    The Operations page's browser rebuilds exactly these from the link geometry and
    each tick's link state (:mod:`dashboard.link_state`, ``assets/ops_map.js``).

    Parameters
    ----------
    network : Network
    link_speed_mps : float64 array (n_links,), m/s; ``nan`` where unknown.
    link_vehicle_count : int array (n_links,), optional
    side_offset_m : float, metres
        Draw each link this far to the left of its centreline.

    Returns
    -------
    list of dict, one per band, with lists ``x`` (longitude, degrees), ``y``
    (latitude, degrees) and ``hovertext`` of equal length: the band's link
    polylines one after another, each followed by a ``None`` separator.
    """
    bands = link_bands(network, link_speed_mps, link_vehicle_count)
    text = _link_hover_text(network, link_speed_mps, link_vehicle_count)
    return class_traces(network, bands, len(SPEED_BANDS), text, side_offset_m=side_offset_m)


def class_traces(network: Network, link_class: NDArray[np.integer], n_classes: int,
                 link_text: list[str], *, side_offset_m: float = SIDE_OFFSET_M,
                 ) -> list[dict[str, list[Any]]]:
    """One line trace's data per class ``0 .. n_classes - 1``: the polylines of the links
    of that class (``link_class``, (n_links,); other values are not drawn), each followed
    by a ``None`` separator, with ``link_text`` as their hover text."""
    lon, lat = map_geometry(network, float(side_offset_m))
    return [_polylines(network.geom_offsets, lon, lat, link_text, np.flatnonzero(link_class == i))
            for i in range(n_classes)]


def map_layout(network: Network, legend_title: str) -> dict[str, Any]:
    """The layout of a tile-free network map: dark, undistorted, pan by default."""
    return {
        "paper_bgcolor": MAP_BACKGROUND,
        "plot_bgcolor": MAP_BACKGROUND,
        "font": {"color": MAP_FONT_COLOUR, "size": 13},
        "margin": {"l": 8, "r": 8, "t": 8, "b": 8},
        "hovermode": "closest",
        "dragmode": "pan",
        "uirevision": network.name,  # keep the operator's zoom across updates
        "legend": {
            "title": {"text": legend_title},
            "orientation": "v", "x": 0.01, "xanchor": "left", "y": 0.99, "yanchor": "top",
            "bgcolor": "rgba(15, 20, 27, 0.85)", "bordercolor": "#3b4556", "borderwidth": 1,
            "font": {"size": 13}, "itemclick": "toggle", "itemdoubleclick": "toggleothers",
        },
        "xaxis": {"visible": False, "showgrid": False, "zeroline": False},
        "yaxis": {
            "visible": False, "showgrid": False, "zeroline": False,
            "scaleanchor": "x", "scaleratio": lat_scale_ratio(network.origin_lat),
        },
    }


def network_figure(
    network: Network,
    link_speed_mps: FloatArray,
    link_vehicle_count: NDArray[np.integer] | None = None,
    *,
    side_offset_m: float = SIDE_OFFSET_M,
) -> go.Figure:
    """The network map: every link coloured by its speed band.

    Parameters
    ----------
    network : Network
    link_speed_mps : float64 array (n_links,), m/s; ``nan`` where unknown.
    link_vehicle_count : int array (n_links,), optional
        Links with no vehicles are drawn grey.
    side_offset_m : float, metres, see :func:`speed_band_traces`.

    Returns
    -------
    plotly Figure with one ``Scatter`` line trace per band (in
    :data:`SPEED_BANDS` order) and an undistorted, tile-free map layout.
    """
    data = speed_band_traces(
        network, link_speed_mps, link_vehicle_count, side_offset_m=side_offset_m
    )
    return band_figure(network, data)


def band_figure(network: Network, data: Sequence[Mapping[str, list[Any]]]) -> go.Figure:
    """The map figure of band trace ``data`` (:func:`speed_band_traces`, one per band in
    :data:`SPEED_BANDS` order), styled, with the map layout."""
    traces = [
        go.Scatter(
            x=d["x"], y=d["y"], hovertext=d["hovertext"], mode="lines",
            name=band.label, legendgroup=band.key, connectgaps=False,
            line={"color": band.colour, "width": band.width_px},
            hoverinfo="text",
            hoverlabel={"bgcolor": "#1b2330", "bordercolor": band.colour,
                        "font": {"color": MAP_FONT_COLOUR, "size": 13}},
        )
        for band, d in zip(SPEED_BANDS, data, strict=True)
    ]
    fig = go.Figure(traces)
    fig.update_layout(**map_layout(network, "Speed / limit"))
    return fig


def lat_scale_ratio(origin_lat: float) -> float:
    """Screen length of one degree of latitude over one degree of longitude.

    A degree of longitude spans ``cos(latitude)`` times the ground distance of a
    degree of latitude, so ``yaxis.scaleratio = 1 / cos(latitude)`` keeps the
    map undistorted near ``origin_lat`` (degrees).
    """
    return 1.0 / math.cos(math.radians(origin_lat))


# ---------------------------------------------------------------------- KPIs
def mean_speed_kmh(view: TwinView) -> float | None:
    """Mean network speed weighted by vehicles, km/h; ``None`` without vehicles."""
    count = np.asarray(view.link_vehicle_count, dtype=np.float64)
    speed = np.asarray(view.link_speed_mps, dtype=np.float64)
    ok = (count > 0) & np.isfinite(speed)
    total = count[ok].sum()
    if total <= 0:
        return None
    return float((speed[ok] * count[ok]).sum() / total * MPS_TO_KMH)


def kpi_values(view: TwinView) -> dict[str, str]:
    """Display strings of the Operations KPI tiles.

    Returns
    -------
    dict with keys ``clock`` (``HH:MM:SS`` in the scenario's time zone),
    ``vehicles`` (active), ``arrived``, ``mean_speed`` (km/h, weighted by
    vehicles, ``"–"`` when none) and ``progress`` (% of the scenario duration).
    """
    speed = mean_speed_kmh(view)
    if view.finished:
        progress = 100.0
    elif view.duration_s > 0:
        progress = min(100.0, max(0.0, 100.0 * view.time_s / view.duration_s))
    else:
        progress = 0.0
    return {
        "clock": view.clock_time.strftime("%H:%M:%S"),
        "vehicles": f"{view.n_active:,}",
        "arrived": f"{view.n_arrived:,} / {view.n_total:,}",
        "mean_speed": "–" if speed is None else f"{speed:.1f} km/h",
        "progress": f"{progress:.0f} %",
    }


def status_text(view: TwinView) -> str:
    """One line under the header: scenario, date and run state."""
    state = "finished" if view.finished else "running"
    return (
        f"{view.scenario_name} · {view.clock_time:%a %d %b %Y} · {state} · "
        f"{view.n_waiting:,} trips waiting to depart"
    )


# ------------------------------------------------------------------ geometry
@lru_cache(maxsize=8)
def map_geometry(network: Network, side_offset_m: float) -> tuple[FloatArray, FloatArray]:
    """Link polylines shifted ``side_offset_m`` (metres) to the left, in rounded degrees.

    Returns
    -------
    lon, lat : float64 arrays, degrees, indexed like ``network.geom_x_m`` (link ``i`` is
        ``network.geom_offsets[i]:network.geom_offsets[i + 1]``).

    Notes
    -----
    Cached per network (networks hash by identity), since the geometry never
    changes during a run.
    """
    x, y = network.geom_x_m, network.geom_y_m
    if side_offset_m != 0.0 and x.size:
        counts = np.diff(network.geom_offsets)
        owner = np.repeat(np.arange(network.n_links), counts)
        idx = np.arange(x.size)
        prev = np.maximum(idx - 1, network.geom_offsets[owner])
        nxt = np.minimum(idx + 1, network.geom_offsets[owner + 1] - 1)
        dx, dy = x[nxt] - x[prev], y[nxt] - y[prev]
        norm = np.hypot(dx, dy)
        norm[norm == 0] = np.inf  # degenerate: no offset
        x = x - side_offset_m * dy / norm
        y = y + side_offset_m * dx / norm
    lon, lat = unproject_xy(x, y, network.origin_lon, network.origin_lat)
    return np.round(lon, COORD_DECIMALS), np.round(lat, COORD_DECIMALS)


# ---------------------------------------------------------------- link hover
def link_text_ends(network: Network) -> tuple[list[str], list[str]]:
    """The fixed parts of each link's hover text: its name, and its speed limit.

    A link's hover text is ``head + speed_text(...) + tail``.

    Returns
    -------
    heads, tails : list of str, (n_links,)
        ``"<b>name</b><br>"`` (``"unnamed <road class>"`` without a name) and
        ``"<br>limit 50 km/h"``.
    """
    limit_kmh = network.link_speed_limit_mps * MPS_TO_KMH
    names = [network.link_name[i] or f"unnamed {network.link_road_class[i] or 'road'}"
             for i in range(network.n_links)]
    heads = [f"<b>{name}</b><br>" for name in names]
    tails = [f"<br>limit {limit_kmh[i]:.0f} km/h" for i in range(network.n_links)]
    return heads, tails


def shown_speed_kmh(link_speed_mps: FloatArray, link_vehicle_count: NDArray[np.integer] | None,
                    ) -> list[int | None]:
    """Each link's speed as the map shows it: whole km/h (rounded half to even), ``None``
    where the link has no vehicles or no known speed.

    Parameters
    ----------
    link_speed_mps : float64 array (n_links,), m/s; ``nan`` where unknown.
    link_vehicle_count : int array (n_links,), optional
    """
    speed_kmh = np.asarray(link_speed_mps, dtype=np.float64) * MPS_TO_KMH
    shown = np.isfinite(speed_kmh)
    if link_vehicle_count is not None:
        shown &= np.asarray(link_vehicle_count) != 0
    rounded = np.rint(np.where(shown, speed_kmh, 0.0)).astype(np.int64).tolist()
    return [kmh if ok else None for kmh, ok in zip(rounded, shown.tolist(), strict=True)]


def speed_text(speed_kmh: int | None, vehicles: int | None) -> str:
    """The middle line of a link's hover text (``assets/ops_map.js`` builds the same).

    Parameters
    ----------
    speed_kmh : int or None
        From :func:`shown_speed_kmh`; ``None``: "no vehicles".
    vehicles : int or None
        Vehicles on the link, shown after the speed when given.
    """
    if speed_kmh is None:
        return "no vehicles"
    return f"{speed_kmh} km/h" + ("" if vehicles is None else f" · {vehicles} veh")


# ----------------------------------------------------------------- internals
def _check_link_array(network: Network, values: NDArray[Any], name: str) -> NDArray[Any]:
    arr = np.asarray(values)
    if arr.shape != (network.n_links,):
        raise ValueError(
            f"{name} has shape {arr.shape}, expected ({network.n_links},) — one value per "
            f"link of network {network.name!r}"
        )
    return arr


def _link_hover_text(
    network: Network,
    link_speed_mps: FloatArray,
    link_vehicle_count: NDArray[np.integer] | None,
) -> list[str]:
    heads, tails = link_text_ends(network)
    shown = shown_speed_kmh(link_speed_mps, link_vehicle_count)
    counts = None if link_vehicle_count is None else np.asarray(link_vehicle_count)
    return [head + speed_text(kmh, None if counts is None else int(counts[i])) + tail
            for i, (head, kmh, tail) in enumerate(zip(heads, shown, tails, strict=True))]


def _polylines(
    offsets: NDArray[np.int64],
    lon: FloatArray,
    lat: FloatArray,
    link_text: list[str],
    links: NDArray[np.intp],
) -> dict[str, list[Any]]:
    """The polylines of ``links`` joined by ``None`` separators."""
    if links.size == 0:
        # one gap point rather than no data, so the band keeps its legend entry
        return {"x": [None], "y": [None], "hovertext": [None]}
    starts, ends = offsets[links], offsets[links + 1]
    lengths = ends - starts + 1  # + 1 for the separator
    total = int(lengths.sum())
    # position within each link's block, then the source point index
    block_start = np.repeat(np.cumsum(lengths) - lengths, lengths)
    within = np.arange(total) - block_start
    src = np.repeat(starts, lengths) + within
    sep = within == np.repeat(lengths - 1, lengths)
    src[sep] = 0
    x = lon[src].astype(object)
    y = lat[src].astype(object)
    x[sep] = None
    y[sep] = None
    text = np.empty(links.size, dtype=object)
    text[:] = [link_text[i] for i in links]
    hover = np.repeat(text, lengths)
    hover[sep] = None
    return {"x": x.tolist(), "y": y.tolist(), "hovertext": hover.tolist()}


def marker_points(xs: Sequence[float], ys: Sequence[float], text: Sequence[str | None],
                  ) -> dict[str, list[Any]]:
    """A marker layer's ``x``/``y`` (rounded degrees) and ``hovertext``; with no points, one
    gap point, so the layer keeps its legend entry."""
    if not xs:
        return {"x": [None], "y": [None], "hovertext": [None]}
    return {"x": [round(x, COORD_DECIMALS) for x in xs], "y": [round(y, COORD_DECIMALS) for y in ys],
            "hovertext": list(text)}
