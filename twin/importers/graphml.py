"""OSMnx GraphML (``.graphml``, ``.graphml.gz``) to a :class:`Network`.

What is read
------------
- ``<key>`` elements map the per-file ``d0, d1, ...`` ids to attribute names
  (``attr.name``); the ids differ between files, so nothing relies on them.
- Nodes: ``x`` (lon) and ``y`` (lat) in degrees when the graph ``crs`` is
  EPSG:4326 (OSMnx's default); a graph projected to UTM is converted back to
  degrees, whether its crs is a PROJ string (``+proj=utm +zone=48 +south``,
  OSMnx 1) or a WGS84 UTM EPSG code (``EPSG:32748``, OSMnx 2). The node ``highway`` tag ``traffic_signals``
  marks a signalised junction.
- Edges: one GraphML edge is one directed link with id ``"{u}-{v}-{key}"``
  (``key`` = the edge's ``id`` attribute, the MultiDiGraph key), so parallel
  edges between the same nodes stay distinct links. OSMnx already stores both
  directions of a two-way street as two edges: in ``jatinegara_drive`` every
  edge with ``oneway=False`` has its reverse edge, so ``oneway`` is never used
  to add links; it only tells how to read ``lanes`` (below).
- ``length`` in metres (> 0 when given; a missing one is measured along the
  geometry), ``geometry`` as a WKT ``LINESTRING (lon lat, ...)`` (kept as the
  link polyline), ``name``, ``highway``, ``lanes``, ``maxspeed``.

Lists and odd tags
------------------
OSMnx's simplification merges OSM ways, and when they disagree it stores a
list as a string, e.g. ``"['2', '1']"``. A simplified edge is only as good as
its weakest part, so a list takes its *least capable* member: the fewest
lanes, the lowest maxspeed, the lowest-ranked highway class (table order).
``lanes`` counts the lanes of *both* directions on a two-way OSM way (OSM
wiki, Key:lanes), so an edge whose ``oneway`` is not True (in every list
member) gets ``max(1, lanes // 2)`` lanes (an odd middle lane is usually a
turning lane). ``maxspeed`` may be
``"40"``, ``"40 mph"``, ``"50 km/h"`` or an implicit ``"ID:urban"``-style tag;
anything unreadable falls back to the class default.

Defaults per highway class
--------------------------
Used when ``lanes`` or ``maxspeed`` is missing. Speeds follow Indonesia's
speed-limit regulation (Permenhub PM 111/2015: 100 km/h on freeways, 80 on
inter-city roads, 50 in urban areas, 30 in residential areas); the lower
values for minor classes reflect Jakarta's narrow *jalan kampung* with
parked motorcycles and street vendors. Per-lane capacities are of the order of
the Indonesian Highway Capacity Manual (MKJI 1997 / PKJI 2014) base
capacities for urban roads (about 1650 pcu/h per lane on divided roads,
lower on undivided two-lane roads) reduced for side friction on minor roads,
and about 2000 pcu/h per lane on toll roads; passenger-car units are read as
vehicles. These are defensible placeholders, not measurements.

==============  =====  ============  ==============
class           lanes  speed (km/h)  capacity/lane
==============  =====  ============  ==============
motorway        3      80            2000
trunk           2      60            1800
primary         2      50            1800
secondary       2      50            1600
tertiary        1      40            1500
*_link          1      40/30         1600-1400
unclassified    1      30            1200
residential     1      30            1200
living_street   1      20            900
service         1      20            900
other/unknown   1      30            1200
==============  =====  ============  ==============

Lanes are per direction. Capacity = lanes x per-lane capacity of the class.
"""

from __future__ import annotations

import ast
import math
import re
from pathlib import Path
from typing import NamedTuple

import numpy as np

from twin.importers._utm import parse_proj, tm_to_lonlat
from twin.importers._xml import local_name, parse_float, parse_xml
from twin.importers.signals import build_connections, default_signal_programs
from twin.network import EARTH_RADIUS_M, IntArray, Network, NetworkError, SignalPrograms


class RoadDefaults(NamedTuple):
    """Defaults for one highway class: lanes per direction, speed (km/h), capacity (veh/h/lane)."""

    lanes: int
    speed_kmh: float
    capacity_per_lane_vph: float


#: Highway class -> defaults, from most to least capable (the order ranks list values).
HIGHWAY_DEFAULTS: dict[str, RoadDefaults] = {
    "motorway": RoadDefaults(3, 80.0, 2000.0),
    "trunk": RoadDefaults(2, 60.0, 1800.0),
    "primary": RoadDefaults(2, 50.0, 1800.0),
    "secondary": RoadDefaults(2, 50.0, 1600.0),
    "motorway_link": RoadDefaults(1, 40.0, 1600.0),
    "trunk_link": RoadDefaults(1, 40.0, 1600.0),
    "primary_link": RoadDefaults(1, 40.0, 1600.0),
    "tertiary": RoadDefaults(1, 40.0, 1500.0),
    "secondary_link": RoadDefaults(1, 30.0, 1500.0),
    "tertiary_link": RoadDefaults(1, 30.0, 1400.0),
    "unclassified": RoadDefaults(1, 30.0, 1200.0),
    "residential": RoadDefaults(1, 30.0, 1200.0),
    "road": RoadDefaults(1, 30.0, 1200.0),
    "living_street": RoadDefaults(1, 20.0, 900.0),
    "service": RoadDefaults(1, 20.0, 900.0),
}
#: Defaults for a class not in the table (or no ``highway`` tag).
UNKNOWN_ROAD_DEFAULTS = RoadDefaults(1, 30.0, 1200.0)
#: Implicit ``maxspeed`` values (``"ID:urban"`` etc.) in km/h, by the part after the colon.
IMPLICIT_MAXSPEED_KMH = {"urban": 50.0, "rural": 80.0, "motorway": 100.0, "trunk": 80.0,
                         "living_street": 20.0, "walk": 5.0}
KMH_TO_MPS = 1000.0 / 3600.0
MPH_TO_MPS = 1609.344 / 3600.0
KNOT_TO_MPS = 1852.0 / 3600.0

_WKT_RE = re.compile(r"^\s*LINESTRING\s*\((.*)\)\s*$", re.IGNORECASE | re.DOTALL)
_SPEED_RE = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*(km/h|kmh|kph|mph|knots)?\s*$")


def read_graphml(path: str | Path, *, signals: bool = True, name: str | None = None) -> Network:
    """Read an OSMnx GraphML file (optionally gzip-compressed) into a Network.

    Parameters
    ----------
    path : the ``.graphml`` or ``.graphml.gz`` file.
    signals : bool, give nodes tagged ``highway=traffic_signals`` the default
        fixed-time program of :func:`~twin.importers.signals.default_signal_programs`.
    name : network name; default the file name without its suffixes.

    Returns
    -------
    Network, one link per GraphML edge, connections from
    :func:`~twin.network.default_connections`.

    Raises
    ------
    NetworkError
        When the file is missing, the XML is broken, or a node or edge has an
        unreadable value; the message names the file and the element.
    """
    path = Path(path)
    root = parse_xml(path)
    if local_name(root.tag) != "graphml":
        raise NetworkError(f"{path}: root element is <{local_name(root.tag)}>, expected <graphml>")
    keys = {k.get("id"): k.get("attr.name") for k in root if local_name(k.tag) == "key"}
    graph = next((g for g in root if local_name(g.tag) == "graph"), None)
    if graph is None:
        raise NetworkError(f"{path}: no <graph> element")
    if graph.get("edgedefault", "directed") != "directed":
        raise NetworkError(f"{path}: <graph edgedefault={graph.get('edgedefault')!r}>: only "
                           f"directed graphs (OSMnx MultiDiGraph) are supported")
    graph_data = _data(graph, keys)

    node_ids: list[str] = []
    xs: list[float] = []
    ys: list[float] = []
    signal_nodes: list[int] = []
    edge_elems = []
    for el in graph:
        tag = local_name(el.tag)
        if tag == "node":
            nid = el.get("id")
            where = f"<node id={nid!r}>"
            if nid is None:
                raise NetworkError(f"{path}: a <node> has no id")
            d = _data(el, keys)
            xs.append(parse_float(d.get("x"), path, where, "x"))
            ys.append(parse_float(d.get("y"), path, where, "y"))
            if "traffic_signals" in _as_list(d.get("highway")):
                signal_nodes.append(len(node_ids))
            node_ids.append(nid)
        elif tag == "edge":
            edge_elems.append(el)
    node_lon, node_lat = _to_lonlat(np.array(xs), np.array(ys), graph_data.get("crs"), path)
    node_index = {n: i for i, n in enumerate(node_ids)}
    if len(node_index) != len(node_ids):
        dup = next(n for n in node_ids if node_ids.count(n) > 1)
        raise NetworkError(f"{path}: duplicate <node id={dup!r}>")

    cols: dict[str, list] = {k: [] for k in (
        "id", "from", "to", "length", "lanes", "speed", "capacity", "name", "class", "geom")}
    key_count: dict[tuple[str, str], int] = {}
    for el in edge_elems:
        u, v = el.get("source"), el.get("target")
        where = f"<edge source={u!r} target={v!r}>"
        if u not in node_index or v not in node_index:
            missing = u if u not in node_index else v
            raise NetworkError(f"{path}: {where}: node {missing!r} is not defined")
        d = _data(el, keys)
        key = el.get("id") or d.get("key")
        if key is None:
            key = str(key_count.get((u, v), 0))
        key_count[(u, v)] = key_count.get((u, v), 0) + 1
        geom = None
        if d.get("geometry"):
            geom = _parse_wkt(d["geometry"], path, where)
            if graph_data.get("crs") and not _is_wgs84(graph_data["crs"]):
                geom = _to_lonlat(np.array(geom[0]), np.array(geom[1]), graph_data["crs"], path)
        if d.get("length") is not None:
            length_m = parse_float(d["length"], path, where, "length")
            if length_m <= 0:
                raise NetworkError(f"{path}: {where}: length {d['length']!r} must be > 0 m")
        else:
            length_m = _polyline_length_m(geom, node_lon[[node_index[u], node_index[v]]],
                                          node_lat[[node_index[u], node_index[v]]])
        road_class = _weakest_class(_as_list(d.get("highway")))
        defaults = HIGHWAY_DEFAULTS.get(road_class, UNKNOWN_ROAD_DEFAULTS)
        lanes = _parse_lanes(d.get("lanes"), _as_bool(d.get("oneway")), defaults.lanes)
        speed_mps = _parse_maxspeed(d.get("maxspeed"), defaults.speed_kmh)
        cols["id"].append(f"{u}-{v}-{key}")
        cols["from"].append(node_index[u])
        cols["to"].append(node_index[v])
        cols["length"].append(length_m)
        cols["lanes"].append(lanes)
        cols["speed"].append(speed_mps)
        cols["capacity"].append(lanes * defaults.capacity_per_lane_vph)
        cols["name"].append(", ".join(_as_list(d.get("name"))))
        cols["class"].append(road_class)
        cols["geom"].append(geom)

    n_nodes = len(node_ids)
    connections = build_connections(cols["from"], cols["to"], cols["lanes"], n_nodes)
    sig: SignalPrograms | None = None
    conn_program: IntArray | None = None
    conn_signal: IntArray | None = None
    if signals and signal_nodes:
        sig, conn_program, conn_signal = default_signal_programs(
            signal_nodes, cols["from"], cols["to"], node_lon, node_lat, connections,
            node_ids=node_ids, link_geometry_lonlat=cols["geom"],
        )
    return Network.from_arrays(
        name=name if name is not None else _stem(path),
        node_ids=node_ids,
        node_lon=node_lon,
        node_lat=node_lat,
        link_ids=cols["id"],
        link_from=cols["from"],
        link_to=cols["to"],
        link_length_m=cols["length"],
        link_lanes=cols["lanes"],
        link_speed_limit_mps=cols["speed"],
        link_capacity_vph=cols["capacity"],
        link_name=cols["name"],
        link_road_class=cols["class"],
        link_geometry_lonlat=cols["geom"],
        connections=connections,
        source=str(path),
        conn_program=conn_program,
        conn_signal_index=conn_signal,
        signals=sig,
    )


def _stem(path: Path) -> str:
    name = path.name
    for suffix in (".gz", ".graphml"):
        name = name.removesuffix(suffix)
    return name


def _data(el, keys: dict) -> dict[str, str]:
    """The ``<data>`` children of ``el`` as attr.name -> text."""
    out = {}
    for child in el:
        if local_name(child.tag) == "data":
            out[keys.get(child.get("key"), child.get("key"))] = (child.text or "").strip()
    return out


def _as_list(text: str | None) -> list[str]:
    """``"['a', 'b']"`` -> ``['a', 'b']``; ``"a"`` -> ``['a']``; None or ``""`` -> ``[]``.

    OSMnx writes lists as Python literals, so a name with a comma or a quote
    (``"['Jalan A, Gg. B', \"Jl. H'Ali\"]"``) is read as one item.
    """
    if not text:
        return []
    text = text.strip()
    if text.startswith("[") and text.endswith("]"):
        try:
            value = ast.literal_eval(text)
        except (ValueError, SyntaxError):  # not a literal: split on commas
            value = [t.strip().strip("'\"") for t in text[1:-1].split(",")]
        if isinstance(value, list):
            return [s for s in (str(t).strip() for t in value) if s]
    return [text]


def _as_bool(text: str | None) -> bool:
    """True only when every listed value is true (a mixed list counts as two-way)."""
    values = _as_list(text)
    return bool(values) and all(t.lower() in ("true", "yes", "1", "-1") for t in values)


def _weakest_class(classes: list[str]) -> str:
    if not classes:
        return ""
    order = list(HIGHWAY_DEFAULTS)
    known = [c for c in classes if c in HIGHWAY_DEFAULTS]
    return max(known, key=order.index) if known else classes[0]


def _parse_lanes(text: str | None, oneway: bool, default: int) -> int:
    values = []
    for item in _as_list(text):
        for part in item.split(";"):
            try:
                values.append(int(float(part)))
            except ValueError:
                continue
    values = [v for v in values if v >= 1]
    if not values:
        return default
    lanes = min(values)
    return lanes if oneway else max(1, lanes // 2)


def _parse_maxspeed(text: str | None, default_kmh: float) -> float:
    speeds = []
    for item in _as_list(text):
        for part in item.split(";"):
            part = part.strip().lower()
            m = _SPEED_RE.match(part)
            if m:
                unit = m.group(2) or "km/h"
                factor = {"mph": MPH_TO_MPS, "knots": KNOT_TO_MPS}.get(unit, KMH_TO_MPS)
                value = float(m.group(1)) * factor
            elif part.partition(":")[2] in IMPLICIT_MAXSPEED_KMH:
                value = IMPLICIT_MAXSPEED_KMH[part.partition(":")[2]] * KMH_TO_MPS
            elif part == "walk":
                value = IMPLICIT_MAXSPEED_KMH["walk"] * KMH_TO_MPS
            else:
                continue
            if value > 0:
                speeds.append(value)
    return min(speeds) if speeds else default_kmh * KMH_TO_MPS


def _parse_wkt(text: str, path: Path, where: str) -> tuple[list[float], list[float]]:
    m = _WKT_RE.match(text)
    if not m:
        raise NetworkError(f"{path}: {where}: geometry {text[:40]!r} is not a WKT LINESTRING")
    xs: list[float] = []
    ys: list[float] = []
    for pair in m.group(1).split(","):
        parts = pair.split()
        if len(parts) < 2:
            raise NetworkError(f"{path}: {where}: geometry point {pair.strip()!r} is not 'x y'")
        xs.append(parse_float(parts[0], path, where, "geometry x"))
        ys.append(parse_float(parts[1], path, where, "geometry y"))
    return xs, ys


def _is_wgs84(crs: str) -> bool:
    c = crs.lower().replace(" ", "")
    return c in ("epsg:4326", "wgs84", "+proj=longlat+datum=wgs84+no_defs", "ogc:crs84") or (
        "longlat" in c or "latlong" in c)


def _to_lonlat(x, y, crs: str | None, path: Path):
    if not crs or _is_wgs84(crs):
        return np.asarray(x, np.float64), np.asarray(y, np.float64)
    try:
        zone = parse_proj(crs)
    except ValueError as exc:
        raise NetworkError(f"{path}: graph crs {crs!r}: {exc}; only EPSG:4326 and UTM "
                           f"are supported") from None
    return tm_to_lonlat(x, y, zone)


def _polyline_length_m(geom, end_lon, end_lat) -> float:
    lon = [end_lon[0]] + (list(geom[0]) if geom else []) + [end_lon[1]]
    lat = [end_lat[0]] + (list(geom[1]) if geom else []) + [end_lat[1]]
    total = 0.0
    for i in range(len(lon) - 1):
        p1, p2 = math.radians(lat[i]), math.radians(lat[i + 1])
        dp, dl = p2 - p1, math.radians(lon[i + 1] - lon[i])
        h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
        total += 2 * EARTH_RADIUS_M * math.asin(math.sqrt(h))
    return max(total, 0.1)
