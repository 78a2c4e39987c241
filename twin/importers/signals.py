"""Default fixed-time signal programs for junctions whose file has none.

OSM (and so OSMnx GraphML) only says *that* a junction is signalised
(``highway=traffic_signals``), never *how*. This module writes a plain
two-group program so such a junction behaves like a signal, until a real
timing plan replaces it.

The default program
-------------------
Incoming links are split by their approach bearing (the direction of travel
on the link's last segment) into two *opposing-pair* groups: the two
perpendicular axes that fit the approaches best are searched in 0.5 degree
steps (least squares on the axis angle modulo 180 degrees), and each approach
joins the axis it is closer to. Group A is the axis nearer north-south. So a
plain crossroads splits N-S against E-W, a T junction splits the through road
against the stem, and a skewed junction splits along its own streets.

Phases, in order (the numbers are ``DEFAULT_*`` constants and arguments):

====  ============================  ========
 #    state                          seconds
====  ============================  ========
 1    group A green, group B red     30
 2    group A amber, group B red      3
 3    group B green, group A red     30
 4    group B amber, group A red      3
====  ============================  ========

The numbers are a placeholder, not a timing plan: 3 s is the common
minimum amber (the US MUTCD range is 3-6 s) and suits 40-50 km/h urban
approaches, and a 66 s cycle sits at the short end of the 60-90 s usual for
two-phase fixed-time junctions, which keeps queues short at low demand.
When every approach lies on one axis (a mid-block signal, which in OSM is
usually a pedestrian crossing), group B is empty and phase 3 is an all-red
phase for the crossing pedestrians.

Each controlled connection gets its own signal index (its rank among the
junction's connections, in connection order), as in SUMO. A green turn that
crosses the opposing flow (a right turn where traffic drives on the left, as
in Indonesia; a left turn otherwise) and a U-turn get ``g`` (go, yield);
every other green is ``G``. A junction with fewer than two incoming links
gets no program.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

import numpy as np

from twin.network import (
    FloatArray,
    IntArray,
    Network,
    NetworkError,
    SignalPrograms,
    default_connections,
)

DEFAULT_GREEN_S = 30.0
DEFAULT_AMBER_S = 3.0
#: A turn of more than this many degrees towards the opposing flow yields (``g``).
CROSSING_TURN_MIN_DEG = 30.0
#: A turn of more than this many degrees (either way) is a U-turn and yields.
U_TURN_MIN_DEG = 150.0

Connections = tuple[IntArray, IntArray, IntArray, IntArray]
Geometry = Sequence[tuple[Sequence[float], Sequence[float]] | None]


def build_connections(
    link_from: Sequence[int] | IntArray,
    link_to: Sequence[int] | IntArray,
    link_lanes: Sequence[int] | IntArray,
    n_nodes: int,
) -> Connections:
    """The default lane connections, exactly as :meth:`Network.from_arrays` makes them.

    Parameters
    ----------
    link_from, link_to : int arrays (n_links,), node indices.
    link_lanes : int array (n_links,), lanes per link.
    n_nodes : int

    Returns
    -------
    (from_link, from_lane, to_link, to_lane) : int32 arrays (n_conn,)
    """
    lf = np.ascontiguousarray(link_from, dtype=np.int32)
    lt = np.ascontiguousarray(link_to, dtype=np.int32)
    lanes = np.ascontiguousarray(link_lanes, dtype=np.int32)
    out_links = np.argsort(lf, kind="stable").astype(np.int32)
    out_offsets = np.zeros(n_nodes + 1, dtype=np.int64)
    np.cumsum(np.bincount(lf, minlength=n_nodes), out=out_offsets[1:])
    return default_connections(lf, lt, lanes, out_offsets, out_links)


def end_bearings_deg(
    link_from: IntArray,
    link_to: IntArray,
    node_lon: FloatArray,
    node_lat: FloatArray,
    link_geometry_lonlat: Geometry | None = None,
) -> tuple[FloatArray, FloatArray]:
    """Bearing of travel at both ends of each link.

    Parameters
    ----------
    link_from, link_to : int arrays (n_links,), node indices.
    node_lon, node_lat : float64 arrays (n_nodes,), degrees.
    link_geometry_lonlat : per link ``(lons, lats)`` or None, as for
        :meth:`Network.from_arrays`; None means a straight link.

    Returns
    -------
    departure_deg, approach_deg : float64 arrays (n_links,), degrees clockwise
        from north: the direction of the first segment (leaving the from-node)
        and of the last segment (entering the to-node).
    """
    n_links = len(link_from)
    departure = np.zeros(n_links)
    approach = np.zeros(n_links)
    for i in range(n_links):
        a, b = int(link_from[i]), int(link_to[i])
        g = link_geometry_lonlat[i] if link_geometry_lonlat is not None else None
        lons = [float(node_lon[a])]
        lats = [float(node_lat[a])]
        if g is not None:
            lons += [float(v) for v in g[0]]
            lats += [float(v) for v in g[1]]
        lons.append(float(node_lon[b]))
        lats.append(float(node_lat[b]))
        pts = _dedupe(list(zip(lons, lats, strict=True)))
        if len(pts) < 2:
            pts = [pts[0], pts[0]]
        departure[i] = _bearing_deg(pts[0], pts[1])
        approach[i] = _bearing_deg(pts[-2], pts[-1])
    return departure, approach


def default_signal_programs(
    signal_nodes: Sequence[int],
    link_from: Sequence[int] | IntArray,
    link_to: Sequence[int] | IntArray,
    node_lon: Sequence[float] | FloatArray,
    node_lat: Sequence[float] | FloatArray,
    connections: Connections,
    *,
    node_ids: Sequence[str] | None = None,
    link_geometry_lonlat: Geometry | None = None,
    green_s: float = DEFAULT_GREEN_S,
    amber_s: float = DEFAULT_AMBER_S,
    drive_on_left: bool = True,
) -> tuple[SignalPrograms, IntArray, IntArray]:
    """Make the default two-group fixed-time program (see module docstring).

    Parameters
    ----------
    signal_nodes : node indices to signalise; duplicates are ignored, and
        nodes with fewer than two incoming links get no program.
    link_from, link_to : int arrays (n_links,), node indices.
    node_lon, node_lat : float64 arrays (n_nodes,), degrees.
    connections : (from_link, from_lane, to_link, to_lane) int arrays (n_conn,),
        e.g. from :func:`build_connections`.
    node_ids : the node id strings, used as program ids (else ``"node{i}"``).
    link_geometry_lonlat : per-link geometry for the approach bearings; None
        means straight links between the nodes.
    green_s, amber_s : float, seconds per green and amber phase (> 0).
    drive_on_left : bool, True where traffic keeps left (Indonesia): right
        turns then cross the opposing flow and yield (``g``).

    Returns
    -------
    signals : SignalPrograms, one program per signalised node, in the order of
        ``signal_nodes``.
    conn_program : int32 array (n_conn,), program index or -1.
    conn_signal_index : int32 array (n_conn,), index into the state strings or -1.

    Raises
    ------
    NetworkError
        When a duration is not positive or a node index is out of range.
    """
    if not (green_s > 0 and amber_s > 0):
        raise NetworkError(f"signal timing: green_s={green_s} and amber_s={amber_s} must be > 0 s")
    lf = np.asarray(link_from, dtype=np.int32)
    lt = np.asarray(link_to, dtype=np.int32)
    lon = np.asarray(node_lon, dtype=np.float64)
    lat = np.asarray(node_lat, dtype=np.float64)
    from_link = np.asarray(connections[0], dtype=np.int32)
    to_link = np.asarray(connections[2], dtype=np.int32)
    n_conn = from_link.shape[0]
    conn_program = np.full(n_conn, -1, np.int32)
    conn_signal = np.full(n_conn, -1, np.int32)
    departure, approach = end_bearings_deg(lf, lt, lon, lat, link_geometry_lonlat)
    conn_node = lt[from_link] if n_conn else np.zeros(0, np.int32)

    program_ids: list[str] = []
    program_node: list[int] = []
    durations: list[float] = []
    states: list[str] = []
    for node in dict.fromkeys(int(n) for n in signal_nodes):
        if not 0 <= node < lon.shape[0]:
            raise NetworkError(f"signal node index {node} is not a node (0..{lon.shape[0] - 1})")
        incoming = np.flatnonzero(lt == node)
        if incoming.shape[0] < 2:
            continue
        in_group_a = _split_two_axes(approach[incoming])
        group_a = {int(link) for link, a in zip(incoming, in_group_a, strict=True) if a}
        controlled = np.flatnonzero(conn_node == node)
        if controlled.shape[0] == 0:
            continue
        p = len(program_ids)
        conn_program[controlled] = p
        conn_signal[controlled] = np.arange(controlled.shape[0], dtype=np.int32)
        green_a, green_b = [], []
        for c in controlled:
            turn = _turn_deg(approach[from_link[c]], departure[to_link[c]])
            towards_oncoming = turn if drive_on_left else -turn
            crossing = towards_oncoming > CROSSING_TURN_MIN_DEG
            go = "g" if crossing or abs(turn) > U_TURN_MIN_DEG else "G"
            is_a = int(from_link[c]) in group_a
            green_a.append(go if is_a else "r")
            green_b.append("r" if is_a else go)
        amber_a = ["y" if s != "r" else "r" for s in green_a]
        amber_b = ["y" if s != "r" else "r" for s in green_b]
        program_ids.append(str(node_ids[node]) if node_ids is not None else f"node{node}")
        program_node.append(node)
        durations += [green_s, amber_s, green_s, amber_s]
        states += ["".join(s) for s in (green_a, amber_a, green_b, amber_b)]
    signals = SignalPrograms(
        program_ids=tuple(program_ids),
        program_node=np.array(program_node, np.int32),
        offset_s=np.zeros(len(program_ids), np.float64),
        phase_offsets=np.arange(0, 4 * len(program_ids) + 1, 4, dtype=np.int64),
        phase_duration_s=np.array(durations, np.float64),
        phase_state=tuple(states),
    )
    return signals, conn_program, conn_signal


def _split_two_axes(bearings_deg: FloatArray) -> np.ndarray:
    """True for approaches on group A's axis (the best-fit axis nearer north-south)."""
    axes = np.mod(bearings_deg, 180.0)
    candidates = np.arange(0.0, 90.0, 0.5)
    d = np.abs(np.mod(axes[None, :] - candidates[:, None] + 90.0, 180.0) - 90.0)  # 0..90
    cost = (np.minimum(d, 90.0 - d) ** 2).sum(axis=1)
    best = candidates[int(np.argmin(cost))]  # axis 1 = best, axis 2 = best + 90
    d_best = np.abs(np.mod(axes - best + 90.0, 180.0) - 90.0)
    on_first = d_best <= 45.0
    # Group A is the axis nearer north-south: ``best`` in [0, 90) is that axis when < 45.
    return on_first if best < 45.0 else ~on_first


def _turn_deg(approach_deg: float, departure_deg: float) -> float:
    """Signed turn angle in degrees, in (-180, 180]: positive = clockwise = right."""
    t = (departure_deg - approach_deg + 180.0) % 360.0 - 180.0
    return 180.0 if t == -180.0 else t


def _bearing_deg(p: tuple[float, float], q: tuple[float, float]) -> float:
    """Initial bearing from p to q (lon, lat degrees), clockwise from north."""
    lon1, lat1, lon2, lat2 = map(math.radians, (p[0], p[1], q[0], q[1]))
    dlon = lon2 - lon1
    x = math.sin(dlon) * math.cos(lat2)
    y = math.cos(lat1) * math.sin(lat2) - math.sin(lat1) * math.cos(lat2) * math.cos(dlon)
    return math.degrees(math.atan2(x, y)) % 360.0


def _dedupe(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    out = [points[0]]
    for pt in points[1:]:
        if pt != out[-1]:
            out.append(pt)
    return out


def add_default_signals(
    network: Network,
    nodes: Sequence[str],
    program_ids: Sequence[str] | None = None,
    *,
    green_s: float = DEFAULT_GREEN_S,
    amber_s: float = DEFAULT_AMBER_S,
) -> Network:
    """``network`` with the default program (module docstring) at more junctions.

    For junctions a network file does not mark as signalised (OpenStreetMap often
    lacks the ``highway=traffic_signals`` tag). The network's own programs are kept.

    Parameters
    ----------
    network : Network
    nodes : node ids to signalise
    program_ids : one id per node for its program; default the node ids
    green_s, amber_s : float, seconds

    Returns
    -------
    Network, a copy with the programs added (the columns it shares are not copied).

    Raises
    ------
    NetworkError
        Naming the node when it is unknown, already signalised, or has fewer than
        two incoming links (nothing to give way to each other).
    """
    ids = list(program_ids) if program_ids is not None else [str(n) for n in nodes]
    if len(ids) != len(nodes):
        raise NetworkError(f"{len(nodes)} nodes but {len(ids)} program ids")
    sig0 = network.signals
    taken = set(sig0.program_ids)
    index: list[int] = []
    for node, pid in zip(nodes, ids, strict=True):
        if node not in network.node_index:
            raise NetworkError(f"signal at node {node!r}: no such node in the network")
        i = network.node_index[node]
        if i in set(sig0.program_node.tolist()) or i in index:
            raise NetworkError(f"signal at node {node!r}: the junction has a signal already")
        if pid in taken:
            raise NetworkError(f"signal at node {node!r}: program id {pid!r} is taken")
        if int(np.count_nonzero(network.link_to == i)) < 2:
            raise NetworkError(f"signal at node {node!r}: fewer than two links enter it, "
                               f"so there is nothing to signal")
        taken.add(pid)
        index.append(i)
    if not index:
        return network
    names = list(network.node_ids)
    for i, pid in zip(index, ids, strict=True):
        names[i] = pid  # default_signal_programs names each program after its node
    geometry: Geometry = [tuple(a.tolist() for a in network.link_polyline_lonlat(k))
                          for k in range(network.n_links)]
    connections = (network.conn_from_link, network.conn_from_lane, network.conn_to_link,
                   network.conn_to_lane)
    sig1, prog1, index1 = default_signal_programs(
        index, network.link_from, network.link_to, network.node_lon, network.node_lat,
        connections, node_ids=names, link_geometry_lonlat=geometry, green_s=green_s,
        amber_s=amber_s)
    n0 = sig0.n_programs
    merged = SignalPrograms(
        program_ids=sig0.program_ids + sig1.program_ids,
        program_node=np.concatenate([sig0.program_node, sig1.program_node]).astype(np.int32),
        offset_s=np.concatenate([sig0.offset_s, sig1.offset_s]),
        phase_offsets=np.concatenate([sig0.phase_offsets,
                                      sig1.phase_offsets[1:] + sig0.phase_offsets[-1]]),
        phase_duration_s=np.concatenate([sig0.phase_duration_s, sig1.phase_duration_s]),
        phase_state=sig0.phase_state + sig1.phase_state,
    )
    new = prog1 >= 0
    return dataclasses.replace(
        network,
        conn_program=np.where(new, prog1 + n0, network.conn_program).astype(np.int32),
        conn_signal_index=np.where(new, index1, network.conn_signal_index).astype(np.int32),
        signals=merged,
    )
