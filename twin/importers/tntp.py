"""TNTP networks (``<name>_net.tntp`` + optional ``<name>_node.tntp``) to a :class:`Network`.

The format (TransportationNetworks README): metadata lines ``<KEY> value``
up to ``<END OF METADATA>``, comment lines starting with ``~``, then one
directed link per line, tab separated and ending with ``;``, in the order
init node, term node, capacity, length, free-flow time, B, power, speed,
toll, link type. Link travel time is ``fft * (1 + B * (flow/capacity)^power)``.

Units
-----
TNTP has no unit fields, and the README warns that the ``speed`` column has no
reliable meaning (it is ignored). Units are therefore options, with presets
for the networks we ship (:data:`TNTP_PRESETS`, keyed by the file-name
prefix) and otherwise the common TNTP convention of miles and minutes:

- ``SiouxFalls``: the README gives free-flow times in units of 0.01 h
  (``fft_unit_s = 36``) and says the lengths "are set arbitrarily equal to
  free flow travel times", so they have no unit of their own. We read them as
  kilometres, which gives every link 1 km per 0.01 h = 100 km/h, a plausible
  free-flow speed; the free-flow *time*, which assignment uses, does not depend
  on this choice. Node coordinates are lon/lat-like (about 96.7 W, 43.5 N;
  the README says they were generated to reproduce the paper's diagram).
- ``friedrichshain-center`` (Berlin-Friedrichshain): lengths are metres (7 m
  to 675 m in a city district, and they match the node coordinates' straight
  distances at 1 coordinate unit = 1602 m, i.e. the coordinates are in miles,
  ``coord_unit_m = 1609.344``). The free-flow time unit is undocumented: the
  values are whole multiples of 1/3, and with 1 unit = 3 s the median
  free-flow speed is 40 km/h (the 90th percentile 54 km/h) against
  Berlin's 50 km/h urban limit, while minutes would give 2 km/h and seconds
  120 km/h. ``fft_unit_s = 3`` is that inference, not a documented fact.
- ``ChicagoSketch``: miles and minutes (the common convention); its README
  gives the node coordinates in the Illinois state plane system in feet
  (``coord_unit_m = 0.3048``), so drawn link lengths match the file's.

``speed_limit_mps = length_m / (fft * fft_unit_s)``. Zone connectors in
some files have length 0 and free-flow time 0; a Network needs both positive,
so a zero length becomes ``min_length_m`` (1 m) and a zero free-flow time
gives the link ``connector_speed_mps`` (50 km/h). :func:`read_tntp_bpr`
keeps the file's values for assignment.

Lanes = ``round(capacity / lane_capacity_vph)`` clipped to ``1..max_lanes``
(1800 veh/h per lane, at most 6 lanes), since TNTP has no lane counts.

Coordinates
-----------
With ``coords="auto"`` (the default, unless a preset says otherwise) node
coordinates are lon/lat when every x is within +-180 and y within +-90, the
network spans at most 5 degrees, and its centre is more than 3 degrees from
(0, 0) (that patch of the Gulf of Guinea has no road network, but small planar
coordinates land there). Otherwise they are planar: multiplied by
``coord_unit_m`` and centred on ``origin_lonlat`` (default Jakarta). Without a
node file the nodes are placed on a circle of radius ``100 m * sqrt(n_nodes)``
around the origin, a placeholder layout. Node ids are the TNTP node numbers
as strings; link ids are ``"{init}-{term}"`` (``"{init}-{term}-{k}"`` for the
k-th repeat of a parallel link, k = 2, 3, ...).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from twin.importers._xml import DEFAULT_ORIGIN_LONLAT, read_bytes
from twin.network import FloatArray, Network, NetworkError, unproject_xy

MILE_M = 1609.344
DEFAULT_LANE_CAPACITY_VPH = 1800.0
DEFAULT_MAX_LANES = 6
N_FIELDS = 10

#: Per-network unit presets, keyed by the file-name prefix before ``_net.tntp``.
TNTP_PRESETS: dict[str, dict[str, float | str]] = {
    "SiouxFalls": {"length_unit_m": 1000.0, "fft_unit_s": 36.0, "coords": "lonlat"},
    "friedrichshain-center": {"length_unit_m": 1.0, "fft_unit_s": 3.0, "coords": "planar",
                              "coord_unit_m": MILE_M},
    # README: "Node coordinates in Illinois state plane coordinate system, feet"
    "ChicagoSketch": {"length_unit_m": MILE_M, "fft_unit_s": 60.0, "coords": "planar",
                      "coord_unit_m": 0.3048},
}
#: Units for a network without a preset: miles and minutes, coordinates auto.
GENERIC_UNITS: dict[str, float | str] = {"length_unit_m": MILE_M, "fft_unit_s": 60.0,
                                         "coords": "auto", "coord_unit_m": 1.0}


@dataclass(frozen=True, eq=False)
class TntpLinks:
    """The link columns of a TNTP network file, in file order and file units.

    Attributes
    ----------
    link_ids : tuple of str, ``"{init}-{term}"`` as in :func:`read_tntp`.
    init_node, term_node : tuple of str, TNTP node numbers.
    capacity_vph : float64 (n_links,), vehicles per hour.
    length : float64 (n_links,), file length unit.
    free_flow_time : float64 (n_links,), file time unit.
    free_flow_time_s : float64 (n_links,), seconds (``free_flow_time * fft_unit_s``).
    b, power : float64 (n_links,), BPR parameters.
    toll : float64 (n_links,)
    link_type : int32 (n_links,)
    first_thru_node : int, from the metadata (1 when absent): zones below it
        may not be passed through.
    """

    link_ids: tuple[str, ...]
    init_node: tuple[str, ...]
    term_node: tuple[str, ...]
    capacity_vph: FloatArray
    length: FloatArray
    free_flow_time: FloatArray
    free_flow_time_s: FloatArray
    b: FloatArray
    power: FloatArray
    toll: FloatArray
    link_type: np.ndarray
    first_thru_node: int


def read_tntp_bpr(path: str | Path, *, fft_unit_s: float | None = None) -> TntpLinks:
    """Read the link table of a ``*_net.tntp`` file with its BPR parameters.

    Parameters
    ----------
    path : the ``*_net.tntp`` file.
    fft_unit_s : seconds per free-flow-time unit; default from
        :data:`TNTP_PRESETS`, else 60 (minutes).

    Returns
    -------
    TntpLinks, in the same link order as :func:`read_tntp`.

    Raises
    ------
    NetworkError
        When a line has the wrong number of fields, a value is not a finite
        number, or the link count disagrees with ``<NUMBER OF LINKS>``.
    """
    path = Path(path)
    units = _units(path, {"fft_unit_s": fft_unit_s})
    meta, rows = _read_rows(path, N_FIELDS)
    ids, inits, terms = [], [], []
    seen: dict[str, int] = {}
    values = np.zeros((len(rows), 8))
    for r, (line_no, fields) in enumerate(rows):
        for c in range(2, N_FIELDS):
            values[r, c - 2] = _number(fields[c], path, line_no, _FIELD_NAMES[c])
        init, term = _node_number(fields[0], path, line_no), _node_number(fields[1], path, line_no)
        base = f"{init}-{term}"
        seen[base] = seen.get(base, 0) + 1
        ids.append(base if seen[base] == 1 else f"{base}-{seen[base]}")
        inits.append(init)
        terms.append(term)
        if values[r, 0] <= 0:
            raise NetworkError(f"{path} line {line_no}: capacity {fields[2]} must be > 0 veh/h")
        if (values[r, 1:3] < 0).any():
            raise NetworkError(f"{path} line {line_no}: length and free-flow time must be >= 0")
    declared = meta.get("NUMBER OF LINKS")
    if declared is not None and declared.isdecimal() and int(declared) != len(rows):
        raise NetworkError(f"{path}: <NUMBER OF LINKS> says {declared}, the file has "
                           f"{len(rows)} link lines")
    first_thru = meta.get("FIRST THRU NODE", "1")
    return TntpLinks(
        link_ids=tuple(ids),
        init_node=tuple(inits),
        term_node=tuple(terms),
        capacity_vph=values[:, 0].copy(),
        length=values[:, 1].copy(),
        free_flow_time=values[:, 2].copy(),
        free_flow_time_s=values[:, 2] * float(units["fft_unit_s"]),
        b=values[:, 3].copy(),
        power=values[:, 4].copy(),
        toll=values[:, 6].copy(),
        link_type=values[:, 7].astype(np.int32),
        first_thru_node=int(first_thru) if first_thru.isdecimal() else 1,
    )


def read_tntp(
    path: str | Path,
    *,
    node_path: str | Path | None = None,
    length_unit_m: float | None = None,
    fft_unit_s: float | None = None,
    coords: str | None = None,
    coord_unit_m: float | None = None,
    origin_lonlat: tuple[float, float] = DEFAULT_ORIGIN_LONLAT,
    lane_capacity_vph: float = DEFAULT_LANE_CAPACITY_VPH,
    max_lanes: int = DEFAULT_MAX_LANES,
    min_length_m: float = 1.0,
    connector_speed_mps: float = 13.89,
    name: str | None = None,
) -> Network:
    """Read a TNTP network (and its node file, when found) into a Network.

    Parameters
    ----------
    path : the ``<name>_net.tntp`` file.
    node_path : the node coordinate file; default ``<name>_node.tntp`` beside
        ``path`` when it exists.
    length_unit_m : metres per file length unit; default from the preset, else
        1609.344 (miles).
    fft_unit_s : seconds per free-flow-time unit; default from the preset, else 60.
    coords : ``"auto"``, ``"lonlat"`` or ``"planar"`` (see module docstring).
    coord_unit_m : metres per planar coordinate unit (default preset, else 1).
    origin_lonlat : (lon, lat) in degrees where planar coordinates are centred.
    lane_capacity_vph : float, veh/h per lane, for the lane count rule.
    max_lanes : int, upper bound of the lane count rule.
    min_length_m : float, length in metres given to links of length 0.
    connector_speed_mps : float, speed in m/s of links with free-flow time 0.
    name : network name; default the file-name prefix before ``_net.tntp``.

    Returns
    -------
    Network with capacities as in the file, straight links, default connections.

    Raises
    ------
    NetworkError
        When a file is missing or a line is malformed (the message gives the
        file and line number), or a link refers to a node absent from the
        node file.
    """
    path = Path(path)
    units = _units(path, {"length_unit_m": length_unit_m, "fft_unit_s": fft_unit_s,
                          "coords": coords, "coord_unit_m": coord_unit_m})
    if units["coords"] not in ("auto", "lonlat", "planar"):
        raise NetworkError(f"{path}: coords={units['coords']!r}: expected 'auto', 'lonlat' "
                           f"or 'planar'")
    links = read_tntp_bpr(path, fft_unit_s=float(units["fft_unit_s"]))
    if node_path is None:
        beside = path.with_name(path.name.removesuffix("_net.tntp") + "_node.tntp")
        node_path = beside if beside.name != path.name and beside.exists() else None
    coords_by_node = _read_nodes(Path(node_path)) if node_path is not None else {}

    numbers = {int(n) for n in links.init_node + links.term_node} | {int(n) for n in coords_by_node}
    node_ids = [str(n) for n in sorted(numbers)]
    if coords_by_node:
        missing = [n for n in node_ids if n not in coords_by_node]
        if missing:
            raise NetworkError(f"{node_path}: node {missing[0]} (used by {path}) has no "
                               f"coordinates")
        xy = np.array([coords_by_node[n] for n in node_ids])
        node_lon, node_lat = _place(xy, units, origin_lonlat)
    else:
        angle = 2 * math.pi * np.arange(len(node_ids)) / max(len(node_ids), 1)
        radius_m = 100.0 * math.sqrt(len(node_ids))
        node_lon, node_lat = unproject_xy(radius_m * np.cos(angle), radius_m * np.sin(angle),
                                          *origin_lonlat)
    index = {n: i for i, n in enumerate(node_ids)}

    length_m = links.length * float(units["length_unit_m"])
    length_m = np.where(length_m > 0, length_m, min_length_m)
    fft_s = links.free_flow_time_s
    with np.errstate(divide="ignore", invalid="ignore"):
        speed_mps = np.where(fft_s > 0, length_m / fft_s, connector_speed_mps)
    lanes = np.clip(np.rint(links.capacity_vph / lane_capacity_vph), 1, max_lanes).astype(np.int32)
    return Network.from_arrays(
        name=name if name is not None else path.name.removesuffix("_net.tntp"),
        node_ids=node_ids,
        node_lon=node_lon,
        node_lat=node_lat,
        link_ids=links.link_ids,
        link_from=[index[n] for n in links.init_node],
        link_to=[index[n] for n in links.term_node],
        link_length_m=length_m,
        link_lanes=lanes,
        link_speed_limit_mps=speed_mps,
        link_capacity_vph=links.capacity_vph,
        link_name=[""] * len(links.link_ids),
        link_road_class=[f"tntp_type_{t}" for t in links.link_type],
        origin_lonlat=origin_lonlat if units["coords"] != "lonlat" else None,
        source=str(path),
    )


_FIELD_NAMES = ("init node", "term node", "capacity", "length", "free-flow time", "B", "power",
                "speed", "toll", "link type")


def _units(path: Path, given: dict[str, float | str | None]) -> dict[str, float | str]:
    """Merge: explicit options > the preset for this file > the generic TNTP units."""
    prefix = path.name.removesuffix("_net.tntp")
    units = {**GENERIC_UNITS, **TNTP_PRESETS.get(prefix, {})}
    units.update({k: v for k, v in given.items() if v is not None})
    for key in ("length_unit_m", "fft_unit_s", "coord_unit_m"):
        if key in units and not float(units[key]) > 0:
            raise NetworkError(f"{path}: {key}={units[key]} must be > 0")
    return units


def _lines(path: Path) -> list[str]:
    return read_bytes(path).decode("utf-8-sig", errors="replace").splitlines()


def _read_rows(path: Path, n_fields: int) -> tuple[dict[str, str], list[tuple[int, list[str]]]]:
    """Metadata and the data rows (line number, fields) of a TNTP table."""
    meta: dict[str, str] = {}
    rows: list[tuple[int, list[str]]] = []
    in_meta = True
    for line_no, raw in enumerate(_lines(path), start=1):
        line = raw.strip()
        if not line or line.startswith("~"):
            continue
        if in_meta and line.startswith("<"):
            key, _, value = line[1:].partition(">")
            if key.strip().upper() == "END OF METADATA":
                in_meta = False
            else:
                meta[key.strip().upper()] = value.strip()
            continue
        in_meta = False
        fields = line.removesuffix(";").split()
        if fields and fields[-1] == ";":
            fields.pop()
        if len(fields) != n_fields:
            raise NetworkError(f"{path} line {line_no}: expected {n_fields} fields "
                               f"({', '.join(_FIELD_NAMES)}), got {len(fields)}")
        rows.append((line_no, fields))
    if not rows:
        raise NetworkError(f"{path}: no link lines found (is this a *_net.tntp file?)")
    return meta, rows


def _number(text: str, path: Path, line_no: int, what: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise NetworkError(f"{path} line {line_no}: {what} {text!r} is not a number") from None
    if not math.isfinite(value):
        raise NetworkError(f"{path} line {line_no}: {what} {text!r} is not a finite number")
    return value


def _node_number(text: str, path: Path, line_no: int) -> str:
    if not text.isdecimal():
        raise NetworkError(f"{path} line {line_no}: node {text!r} is not a node number")
    return str(int(text))


def _read_nodes(path: Path) -> dict[str, tuple[float, float]]:
    """Node number -> (x, y) from a ``*_node.tntp`` file (header line skipped)."""
    nodes: dict[str, tuple[float, float]] = {}
    for line_no, raw in enumerate(_lines(path), start=1):
        fields = raw.strip().removesuffix(";").split()
        if fields and fields[-1] == ";":
            fields.pop()
        if not fields or raw.lstrip().startswith("~") or not fields[0].isdecimal():
            continue  # blank, comment or header ("Node X Y ;")
        if len(fields) < 3:
            raise NetworkError(f"{path} line {line_no}: expected 3 fields (node, x, y), "
                               f"got {len(fields)}")
        nodes[str(int(fields[0]))] = (_number(fields[1], path, line_no, "x"),
                                      _number(fields[2], path, line_no, "y"))
    if not nodes:
        raise NetworkError(f"{path}: no node lines found")
    return nodes


def _place(xy: np.ndarray, units: dict, origin_lonlat: tuple[float, float]):
    x, y = xy[:, 0], xy[:, 1]
    mode = units["coords"]
    if mode == "auto":
        in_range = bool((np.abs(x) <= 180).all() and (np.abs(y) <= 90).all())
        span = max(np.ptp(x), np.ptp(y))
        cx, cy = (x.min() + x.max()) / 2, (y.min() + y.max()) / 2
        mode = "lonlat" if in_range and span <= 5.0 and math.hypot(cx, cy) > 3.0 else "planar"
        units["coords"] = mode
    if mode == "lonlat":
        return x.astype(np.float64), y.astype(np.float64)
    k = float(units["coord_unit_m"])
    x_m = (x - (x.min() + x.max()) / 2) * k
    y_m = (y - (y.min() + y.max()) / 2) * k
    return unproject_xy(x_m, y_m, *origin_lonlat)
