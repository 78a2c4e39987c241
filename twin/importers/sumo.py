"""SUMO ``.net.xml`` (optionally ``.net.xml.gz``) to a :class:`Network`.

What is read
------------
- ``<edge>``: edges of the functions ``normal`` and ``connector`` become
  links; ``internal`` (the paths through junctions), ``crossing`` and
  ``walkingarea`` (pedestrian areas) never do. Link ids are the SUMO edge
  ids, so a SUMO route ``edges="a b c"`` maps straight onto ``link_index``.
- Road motor vehicles only (``road_vehicles_only=True``, the default): the
  simulator moves motorcycles, cars, buses and trucks and has no per-class
  lane permissions, so an edge is kept only when at least one of its lanes
  admits a vClass of ``road_vehicle_classes`` (default
  :data:`ROAD_MOTOR_CLASSES`: every vClass that
  :func:`twin.demand.read_sumo_routes` imports as a vehicle, so a SUMO route
  of an imported vehicle only uses kept edges). Footways, paths, cycleways,
  rail and waterways are dropped. Of a kept edge only the lanes admitting
  such a vClass are lanes of the link (sidewalks and bike lanes are not): the
  link's lanes are those lanes in SUMO order, so a SUMO lane index maps to
  its rank among them, and connections from or to a dropped lane or edge are
  dropped. Junctions that no kept edge touches are dropped too. A file
  without any such edge raises :class:`NetworkError`.
  ``road_vehicles_only=False`` imports every edge with all its lanes (lane
  ``i`` of the link is SUMO lane ``i``) and every junction.
  Because ``delivery``, ``bus``, ``vip`` and so on are road vehicles, the
  default keeps delivery-only service roads (SUMO's OSM type map makes
  ``highway.service`` ``allow="delivery pedestrian bicycle"``), busways and
  raceways, which are then open to every simulated vehicle. To keep only what
  ordinary traffic may use, pass e.g.
  ``road_vehicle_classes={"passenger", "private", "motorcycle", "moped"}``.
- ``<lane>``: SUMO's lane 0 is the rightmost lane, i.e. the kerb side of a
  right-hand net. Speed limit = the fastest kept lane's ``speed``; length =
  mean kept lane ``length``. A lane without ``allow``/``disallow`` admits
  every vClass, ``allow="all"`` too, ``disallow="all"`` none.
  Capacity = ``capacity_per_lane_vph`` (default 1800 veh/h) x the number of
  lanes open to passenger cars (``allow``/``disallow`` of ``passenger`` or
  ``private``), at least one lane's worth, so sidewalks, bike lanes and bus
  lanes add no capacity.
- ``type`` (``"highway.primary"``) gives the road class with a leading
  ``"highway."`` dropped (``"primary"``), matching the GraphML classes;
  ``name`` gives the street name.
- Geometry: the edge ``shape`` when present (SUMO writes it for edges that
  are not straight); otherwise the interior points of the middle lane's shape
  when it has any (lane shapes are offset from the centre line and cut back
  at the junctions, so only interior points are taken), else a straight link.
- ``<connection>`` between two kept lanes of kept edges (not via internal
  edges) gives the lane connections; ``tl`` + ``linkIndex`` give
  ``conn_program`` and ``conn_signal_index`` (SUMO's indices into the phase
  state strings, which are kept whole, so the characters of dropped
  connections are simply unused).
- ``<tlLogic>``: one program per traffic-light id. When an id has several
  programs the last one in the file is used (SUMO activates the last program
  loaded). Actuated and delay-based programs are imported as fixed-time
  programs with their phases' ``duration``. The program's node is the
  junction with the tl's id (when kept), else the junction where its first
  controlled connection sits; a program that controls nothing in the kept network is
  dropped. A ``tl`` without a ``<tlLogic>`` is allowed only at
  ``rail_crossing``/``rail_signal`` junctions (SUMO builds those logics
  itself); such connections stay unsignalised. SUMO's ``offset`` delays the
  program (phase 0 starts at ``t = offset``), whereas :meth:`SignalPrograms.state_at` advances by
  ``offset_s``, so ``offset_s = (-offset) mod cycle``. Signal states map to
  ``G g y r``: ``u`` (red-amber) -> ``r``, ``o`` (off, blinking) and ``s``
  (stop sign) -> ``g``, ``O`` (off, no signal) -> ``G``, and the legacy
  ``Y`` (amber, found in older nets such as the wheel's Ingolstadt) -> ``y``.

Coordinates
-----------
Junction ``x``/``y`` are metres. With ``projParameter="!"`` (no
geo-reference, e.g. ``netgenerate`` output) they are placed as local metres
with the centre of ``convBoundary`` at ``origin_lonlat`` (default Jakarta,
106.8456 E, 6.2088 S) using the network's own equirectangular projection.
With a ``+proj=utm`` (or ``+proj=tmerc``) parameter, ``x - netOffset`` is the
projected easting/northing and is inverted with :mod:`twin.importers._utm`
(no pyproj needed). Other projections raise :class:`NetworkError`.
"""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path

import numpy as np

from twin.importers._utm import parse_proj, tm_to_lonlat
from twin.importers._xml import (
    DEFAULT_ORIGIN_LONLAT,
    parse_float,
    parse_point_list,
    parse_xml,
)
from twin.network import Network, NetworkError, SignalPrograms, unproject_xy

DEFAULT_CAPACITY_PER_LANE_VPH = 1800.0
SKIPPED_EDGE_FUNCTIONS = frozenset({"internal", "crossing", "walkingarea"})
STATE_MAP = {"G": "G", "g": "g", "y": "y", "Y": "y", "r": "r", "u": "r", "o": "g", "s": "g",
             "O": "G"}
RAIL_JUNCTION_TYPES = frozenset({"rail_crossing", "rail_signal"})
#: vClasses whose lanes count for a link's capacity (``"all"`` as used in ``allow``).
CAR_CLASSES = frozenset({"passenger", "private", "all"})
#: SUMO vClasses of road motor vehicles: an edge is imported (with
#: ``road_vehicles_only``) when one of its lanes admits one of them. These are
#: the vClasses :data:`twin.demand.SUMO_VCLASS_MAP` turns into motorcycles,
#: cars, buses or trucks; bicycles, scooters, pedestrians, rail, ships,
#: aircraft, drones and containers are not road motor vehicles.
ROAD_MOTOR_CLASSES = frozenset({
    "passenger", "private", "taxi", "hov", "evehicle", "emergency", "authority", "army",
    "vip", "custom1", "custom2", "motorcycle", "moped", "bus", "coach", "delivery", "truck",
    "trailer"})


def read_sumo_net(
    path: str | Path,
    *,
    origin_lonlat: tuple[float, float] = DEFAULT_ORIGIN_LONLAT,
    capacity_per_lane_vph: float = DEFAULT_CAPACITY_PER_LANE_VPH,
    name: str | None = None,
    road_vehicles_only: bool = True,
    road_vehicle_classes: Collection[str] = ROAD_MOTOR_CLASSES,
) -> Network:
    """Read a SUMO network file into a Network.

    Parameters
    ----------
    path : the ``.net.xml`` or ``.net.xml.gz`` file.
    origin_lonlat : (lon, lat) in degrees where the centre of a net without
        geo-reference (``projParameter="!"``) is placed.
    capacity_per_lane_vph : float, vehicles per hour per car lane.
    name : network name; default the file name without its suffixes.
    road_vehicles_only : bool, default True. Keep only the edges, lanes and
        junctions usable by a vClass of ``road_vehicle_classes`` (see the
        module docstring); False imports every edge with all its lanes.
    road_vehicle_classes : SUMO vClass names (a set, not one string); default
        :data:`ROAD_MOTOR_CLASSES`. Used with ``road_vehicles_only``.

    Returns
    -------
    Network whose link ids are the SUMO edge ids.

    Raises
    ------
    NetworkError
        When the file is missing or broken, an element lacks a required
        attribute, the projection is not supported, or (with
        ``road_vehicles_only``) no edge allows road motor vehicles.
    ValueError
        When ``road_vehicle_classes`` is a string or empty.
    """
    path = Path(path)
    if isinstance(road_vehicle_classes, str) or not road_vehicle_classes:
        raise ValueError(f"road_vehicle_classes must be a non-empty collection of SUMO vClass "
                         f"names, got {road_vehicle_classes!r}")
    road_classes = frozenset(road_vehicle_classes)
    root = parse_xml(path)
    if root.tag != "net":
        raise NetworkError(f"{path}: root element is <{root.tag}>, expected SUMO <net>")
    to_lonlat, origin = _coordinate_transform(root, path, origin_lonlat)

    node_ids: list[str] = []
    xs: list[float] = []
    ys: list[float] = []
    rail_junctions: set[str] = set()
    for j in root.findall("junction"):
        if j.get("type") == "internal":
            continue
        where = f"<junction id={j.get('id')!r}>"
        node_ids.append(_required(j, "id", path, where))
        if j.get("type") in RAIL_JUNCTION_TYPES:
            rail_junctions.add(node_ids[-1])
        xs.append(parse_float(j.get("x"), path, where, "x"))
        ys.append(parse_float(j.get("y"), path, where, "y"))
    node_lon, node_lat = to_lonlat(np.array(xs), np.array(ys))
    node_index = {n: i for i, n in enumerate(node_ids)}

    links: dict[str, list] = {k: [] for k in (
        "id", "from", "to", "length", "lanes", "speed", "capacity", "name", "class", "geom")}
    # edge id -> SUMO lane index -> lane index of the link (-1: dropped lane)
    lane_map: dict[str, list[int]] = {}
    for e in root.findall("edge"):
        if e.get("function", "normal") in SKIPPED_EDGE_FUNCTIONS:
            continue
        eid = e.get("id")
        where = f"<edge id={eid!r}>"
        if eid is None:
            raise NetworkError(f"{path}: an <edge> has no id")
        ends = [_required(e, a, path, where) for a in ("from", "to")]
        for end in ends:
            if end not in node_index:
                raise NetworkError(f"{path}: {where}: junction {end!r} is not defined")
        lanes = e.findall("lane")
        if not lanes:
            raise NetworkError(f"{path}: {where}: the edge has no <lane>")
        indices = [ln.get("index", "") for ln in lanes]
        if sorted(indices, key=lambda s: (len(s), s)) != [str(i) for i in range(len(lanes))]:
            raise NetworkError(f"{path}: {where}: lane indices {indices} are not "
                               f"0..{len(lanes) - 1}")
        lanes.sort(key=lambda ln: int(ln.get("index", "")))
        if road_vehicles_only:
            road = [_allows(ln, road_classes) for ln in lanes]
            if not any(road):
                continue
            rank = np.cumsum(road) - 1  # SUMO index -> index among the road lanes
            lane_map[eid] = [int(k) if r else -1 for k, r in zip(rank, road, strict=True)]
            lanes = [ln for ln, r in zip(lanes, road, strict=True) if r]
        else:
            lane_map[eid] = list(range(len(lanes)))
        lengths, speeds = [], []
        for ln in lanes:
            lane_where = f"<lane id={ln.get('id')!r}>"
            lengths.append(parse_float(ln.get("length"), path, lane_where, "length"))
            speeds.append(parse_float(ln.get("speed"), path, lane_where, "speed"))
        car_lanes = sum(_allows_cars(ln) for ln in lanes)
        links["id"].append(eid)
        links["from"].append(node_index[ends[0]])
        links["to"].append(node_index[ends[1]])
        links["length"].append(max(float(np.mean(lengths)), 0.1))
        links["lanes"].append(len(lanes))
        links["speed"].append(max(speeds))
        links["capacity"].append(max(car_lanes, 1) * capacity_per_lane_vph)
        links["name"].append(e.get("name", ""))
        links["class"].append(e.get("type", "").removeprefix("highway."))
        links["geom"].append(_edge_geometry(e, lanes, path, where, to_lonlat))
    if road_vehicles_only:
        if not links["id"]:
            raise NetworkError(f"{path}: no edge allows road motor vehicles; pass "
                               f"road_vehicles_only=False to import every edge")
        # Drop the junctions no kept edge touches (footway or rail-only ends).
        used = np.zeros(len(node_ids), bool)
        used[links["from"]] = True
        used[links["to"]] = True
        new_index = np.cumsum(used) - 1
        links["from"] = new_index[links["from"]].tolist()
        links["to"] = new_index[links["to"]].tolist()
        node_ids = [n for n, u in zip(node_ids, used, strict=True) if u]
        node_lon, node_lat = node_lon[used], node_lat[used]
        node_index = {n: i for i, n in enumerate(node_ids)}
    link_index = {lid: i for i, lid in enumerate(links["id"])}

    programs = _read_programs(root, path)
    conn, conn_tl, conn_link_index = _read_connections(root, link_index, lane_map, path)
    signals, conn_program, conn_signal = _map_programs(
        programs, conn, conn_tl, conn_link_index, links["to"], node_index, rail_junctions, path)

    return Network.from_arrays(
        name=name if name is not None else path.name.removesuffix(".gz").removesuffix(".xml")
        .removesuffix(".net"),
        node_ids=node_ids,
        node_lon=node_lon,
        node_lat=node_lat,
        link_ids=links["id"],
        link_from=links["from"],
        link_to=links["to"],
        link_length_m=links["length"],
        link_lanes=links["lanes"],
        link_speed_limit_mps=links["speed"],
        link_capacity_vph=links["capacity"],
        link_name=links["name"],
        link_road_class=links["class"],
        link_geometry_lonlat=links["geom"],
        connections=conn,
        conn_program=conn_program,
        conn_signal_index=conn_signal,
        signals=signals,
        origin_lonlat=origin,
        source=str(path),
    )


def _required(el, attr: str, path: Path, where: str) -> str:
    value = el.get(attr)
    if value is None:
        raise NetworkError(f"{path}: {where}: attribute {attr!r} is missing")
    return value


def _coordinate_transform(root, path: Path, origin_lonlat: tuple[float, float]):
    """A function (x, y) -> (lon, lat) for this net, and the origin to give the Network."""
    loc = root.find("location")
    if loc is None:
        raise NetworkError(f"{path}: no <location> element, cannot place the network")
    proj = loc.get("projParameter", "!").strip()
    where = "<location>"
    if proj == "!":
        bounds = loc.get("convBoundary", "")
        parts = bounds.split(",")
        if len(parts) != 4:
            raise NetworkError(f"{path}: {where}: convBoundary {bounds!r} is not 'x0,y0,x1,y1'")
        x0, y0, x1, y1 = (parse_float(p, path, where, "convBoundary") for p in parts)
        cx, cy = (x0 + x1) / 2.0, (y0 + y1) / 2.0
        lon0, lat0 = origin_lonlat

        def local(x, y):
            return unproject_xy(np.asarray(x) - cx, np.asarray(y) - cy, lon0, lat0)

        return local, (lon0, lat0)
    try:
        projection = parse_proj(proj)
    except ValueError as exc:
        raise NetworkError(f"{path}: {where}: projParameter {proj!r}: {exc}") from None
    offset = loc.get("netOffset", "0,0").split(",")
    if len(offset) != 2:
        raise NetworkError(f"{path}: {where}: netOffset {loc.get('netOffset')!r} is not 'x,y'")
    dx, dy = (parse_float(p, path, where, "netOffset") for p in offset)

    def utm(x, y):
        return tm_to_lonlat(np.asarray(x) - dx, np.asarray(y) - dy, projection)

    return utm, None


def _allows(lane, classes: frozenset[str]) -> bool:
    """Whether the lane admits at least one of the vClasses ``classes``."""
    allow, disallow = lane.get("allow"), lane.get("disallow")
    if allow is not None:
        allowed = set(allow.split())
        return "all" in allowed or bool(classes & allowed)
    if disallow is not None:
        banned = set(disallow.split())
        return "all" not in banned and not classes <= banned
    return True


def _allows_cars(lane) -> bool:
    allow, disallow = lane.get("allow"), lane.get("disallow")
    if allow is not None:
        return bool(CAR_CLASSES & set(allow.split()))
    if disallow is not None:
        return not (CAR_CLASSES & set(disallow.split()))
    return True


def _edge_geometry(edge, lanes, path: Path, where: str, to_lonlat):
    shape = edge.get("shape")
    if shape:
        xs, ys = parse_point_list(shape, path, where)
    else:
        mid = lanes[len(lanes) // 2]
        xs, ys = parse_point_list(mid.get("shape", ""), path, f"<lane id={mid.get('id')!r}>")
        xs, ys = xs[1:-1], ys[1:-1]
        if not xs:
            return None
    lon, lat = to_lonlat(np.array(xs), np.array(ys))
    return lon, lat


def _read_programs(root, path: Path) -> dict[str, tuple[float, list[float], list[str]]]:
    """tl id -> (SUMO offset in s, phase durations in s, phase states); last program wins."""
    programs: dict[str, tuple[float, list[float], list[str]]] = {}
    for tl in root.findall("tlLogic"):
        tid = tl.get("id")
        where = f"<tlLogic id={tid!r} programID={tl.get('programID')!r}>"
        if tid is None:
            raise NetworkError(f"{path}: a <tlLogic> has no id")
        offset = parse_float(tl.get("offset", "0"), path, where, "offset")
        durations: list[float] = []
        states: list[str] = []
        for i, ph in enumerate(tl.findall("phase")):
            pw = f"{where} <phase #{i}>"
            duration = parse_float(ph.get("duration"), path, pw, "duration")
            if duration <= 0:
                raise NetworkError(f"{path}: {pw}: duration {duration} must be > 0 s")
            state = _required(ph, "state", path, pw)
            bad = set(state) - set(STATE_MAP)
            if bad:
                raise NetworkError(f"{path}: {pw}: state {state!r} has unknown signal "
                                   f"characters {sorted(bad)}")
            durations.append(duration)
            states.append("".join(STATE_MAP[c] for c in state))
        if not durations:
            raise NetworkError(f"{path}: {where}: the program has no <phase>")
        if len({len(s) for s in states}) != 1:
            raise NetworkError(f"{path}: {where}: phase states have different lengths")
        programs[tid] = (offset, durations, states)
    return programs


def _read_connections(root, link_index: dict[str, int], lane_map: dict[str, list[int]],
                      path: Path):
    fl: list[int] = []
    fa: list[int] = []
    tl_: list[int] = []
    ta: list[int] = []
    conn_tl: list[str | None] = []
    conn_link_index: list[int] = []
    for c in root.findall("connection"):
        src, dst = c.get("from"), c.get("to")
        if src not in link_index or dst not in link_index:
            continue  # internal, pedestrian or unknown edges
        where = f"<connection from={src!r} to={dst!r}>"
        try:
            lanes = [int(_required(c, a, path, where)) for a in ("fromLane", "toLane")]
            tl = c.get("tl")
            signal_index = int(_required(c, "linkIndex", path, where)) if tl else -1
        except ValueError:
            raise NetworkError(f"{path}: {where}: fromLane, toLane and linkIndex must be "
                               f"integers") from None
        mapped = []
        for edge, lane, attr in ((src, lanes[0], "fromLane"), (dst, lanes[1], "toLane")):
            edge_lanes = lane_map[edge]
            if not 0 <= lane < len(edge_lanes):
                raise NetworkError(f"{path}: {where}: {attr} {lane} does not exist (edge "
                                   f"{edge!r} has {len(edge_lanes)} lanes)")
            mapped.append(edge_lanes[lane])
        if min(mapped) < 0:
            continue  # from or to a sidewalk or bike lane dropped with road_vehicles_only
        fl.append(link_index[src])
        fa.append(mapped[0])
        tl_.append(link_index[dst])
        ta.append(mapped[1])
        conn_tl.append(tl)
        conn_link_index.append(signal_index)
    conn = (np.array(fl, np.int32), np.array(fa, np.int32),
            np.array(tl_, np.int32), np.array(ta, np.int32))
    return conn, conn_tl, conn_link_index


def _map_programs(programs, conn, conn_tl, conn_link_index, link_to, node_index,
                  rail_junctions: set[str], path: Path):
    n_conn = conn[0].shape[0]
    conn_program = np.full(n_conn, -1, np.int32)
    conn_signal = np.full(n_conn, -1, np.int32)
    first_node: dict[str, int] = {}
    for c, tl in enumerate(conn_tl):
        if tl is not None and tl not in programs and tl in rail_junctions:
            conn_tl[c] = None  # SUMO's own rail-crossing logic: leave unsignalised
        elif tl is not None:
            if tl not in programs:
                raise NetworkError(f"{path}: <connection> with tl={tl!r}: no <tlLogic> "
                                   f"with that id")
            first_node.setdefault(tl, int(link_to[conn[0][c]]))
    ids: list[str] = []
    nodes: list[int] = []
    offsets: list[float] = []
    durations: list[float] = []
    states: list[str] = []
    phase_offsets = [0]
    index_of: dict[str, int] = {}
    for tid, (offset, durs, sts) in programs.items():
        node = node_index.get(tid, first_node.get(tid))
        if node is None:
            continue
        index_of[tid] = len(ids)
        ids.append(tid)
        nodes.append(node)
        cycle = sum(durs)
        offsets.append((-offset) % cycle)
        durations += durs
        states += sts
        phase_offsets.append(len(durations))
    for c, tl in enumerate(conn_tl):
        if tl is not None:
            conn_program[c] = index_of[tl]
            conn_signal[c] = conn_link_index[c]
    signals = SignalPrograms(
        program_ids=tuple(ids),
        program_node=np.array(nodes, np.int32),
        offset_s=np.array(offsets, np.float64),
        phase_offsets=np.array(phase_offsets, np.int64),
        phase_duration_s=np.array(durations, np.float64),
        phase_state=tuple(states),
    )
    return signals, conn_program, conn_signal
