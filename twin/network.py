"""The road network as arrays.

A :class:`Network` is a struct of arrays: nodes, directed links, link geometry,
lane-level connections at junctions and fixed-time signal programs. Kernels in
``core_ext`` only ever see the numeric columns and the CSR adjacency
(``out_offsets``/``out_links``); the string ids and the id <-> index maps stay
here.

Conventions
-----------
- Coordinates: ``lon``/``lat`` in WGS84 degrees; ``x_m``/``y_m`` in metres in a
  local equirectangular projection centred on ``origin_lon``/``origin_lat``
  (see :func:`project_lonlat`). Over a district of a few kilometres the
  projection error is far below a lane width.
- Lanes are numbered from 0 at the kerb side (the slow lane). Indonesia drives
  on the left, so lane 0 is the leftmost lane there.
- Signal programs follow SUMO: a program controls some connections, each by a
  ``signal_index`` into every phase's ``state`` string; ``G``/``g`` mean go,
  ``y`` amber, ``r`` red.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int32]
OffsetArray = NDArray[np.int64]

EARTH_RADIUS_M = 6_371_008.8
NATIVE_FORMAT_VERSION = 1


class NetworkError(ValueError):
    """A network file or array set is broken.

    The message names the file (when there is one), the element or line, and
    what is wrong with it.
    """


def project_lonlat(
    lon: FloatArray, lat: FloatArray, origin_lon: float, origin_lat: float
) -> tuple[FloatArray, FloatArray]:
    """Project WGS84 degrees to local metres (equirectangular about the origin).

    Parameters
    ----------
    lon, lat : float64 arrays, degrees
    origin_lon, origin_lat : float, degrees
        The point that maps to ``(0, 0)``.

    Returns
    -------
    x_m, y_m : float64 arrays, metres east and north of the origin.
    """
    lon = np.asarray(lon, dtype=np.float64)
    lat = np.asarray(lat, dtype=np.float64)
    k = math.pi / 180.0 * EARTH_RADIUS_M
    x_m = (lon - origin_lon) * k * math.cos(math.radians(origin_lat))
    y_m = (lat - origin_lat) * k
    return x_m, y_m


def unproject_xy(
    x_m: FloatArray, y_m: FloatArray, origin_lon: float, origin_lat: float
) -> tuple[FloatArray, FloatArray]:
    """Inverse of :func:`project_lonlat`: local metres back to WGS84 degrees."""
    k = math.pi / 180.0 * EARTH_RADIUS_M
    lon = np.asarray(x_m, dtype=np.float64) / (k * math.cos(math.radians(origin_lat))) + origin_lon
    lat = np.asarray(y_m, dtype=np.float64) / k + origin_lat
    return lon, lat


@dataclass(frozen=True, eq=False)
class SignalPrograms:
    """Fixed-time signal programs (one per signalised junction).

    Attributes
    ----------
    program_ids : tuple of str, one per program.
    program_node : int32 array (n_programs,), the junction node index.
    offset_s : float64 array (n_programs,), cycle offset in seconds.
    phase_offsets : int64 array (n_programs + 1,), CSR into the phase columns.
    phase_duration_s : float64 array (n_phases,), seconds.
    phase_state : tuple of str (n_phases,), one character per controlled
        connection (``G``, ``g``, ``y``, ``r``); all phases of a program have the
        same length.

    Notes
    -----
    ``offset_s`` is *added* to the time: at time ``t`` a program is at
    ``(t + offset_s) mod cycle`` of its cycle. SUMO's ``offset`` delays a
    program instead, so the SUMO importer stores ``-offset mod cycle``.
    """

    program_ids: tuple[str, ...] = ()
    program_node: IntArray = field(default_factory=lambda: np.zeros(0, np.int32))
    offset_s: FloatArray = field(default_factory=lambda: np.zeros(0, np.float64))
    phase_offsets: OffsetArray = field(default_factory=lambda: np.zeros(1, np.int64))
    phase_duration_s: FloatArray = field(default_factory=lambda: np.zeros(0, np.float64))
    phase_state: tuple[str, ...] = ()

    @property
    def n_programs(self) -> int:
        """Number of programs."""
        return len(self.program_ids)

    def cycle_s(self, program: int) -> float:
        """Cycle length of ``program`` in seconds."""
        a, b = self.phase_offsets[program], self.phase_offsets[program + 1]
        return float(self.phase_duration_s[a:b].sum())

    def phase_at(self, program: int, time_s: float) -> tuple[int, float]:
        """``(phase index, start time in seconds)`` of the phase of ``program`` running at
        ``time_s`` (an index into :attr:`phase_state`; the start may lie before 0)."""
        a, b = int(self.phase_offsets[program]), int(self.phase_offsets[program + 1])
        into = (time_s + float(self.offset_s[program])) % self.cycle_s(program)
        before = 0.0
        for i in range(a, b):
            dur = float(self.phase_duration_s[i])
            if into < before + dur:
                return i, time_s - (into - before)
            before += dur
        return b - 1, time_s - (into - before + float(self.phase_duration_s[b - 1]))

    def state_at(self, program: int, time_s: float) -> str:
        """The phase state string of ``program`` at simulation time ``time_s``."""
        return self.phase_state[self.phase_at(program, time_s)[0]]


@dataclass(frozen=True, eq=False)
class Network:
    """A directed road network as a struct of arrays.

    Build one with :meth:`from_arrays` (validates and derives the CSR
    adjacency and the id maps) or load one with :func:`twin.importers.load_network`.

    Attributes
    ----------
    name : str
    origin_lon, origin_lat : float, degrees; the origin of ``x_m``/``y_m``.
    node_ids : tuple of str (n_nodes,)
    node_lon, node_lat : float64 (n_nodes,), degrees
    node_x_m, node_y_m : float64 (n_nodes,), metres
    link_ids : tuple of str (n_links,)
    link_from, link_to : int32 (n_links,), node indices
    link_length_m : float64 (n_links,), metres, > 0
    link_lanes : int32 (n_links,), >= 1
    link_speed_limit_mps : float64 (n_links,), metres per second, > 0
    link_capacity_vph : float64 (n_links,), vehicles per hour over all lanes, > 0
    link_name : tuple of str (n_links,), street name or ``""``
    link_road_class : tuple of str (n_links,), e.g. ``"primary"``
    geom_offsets : int64 (n_links + 1,), CSR into the geometry columns; each
        link's polyline starts at its from-node and ends at its to-node.
    geom_lon, geom_lat, geom_x_m, geom_y_m : float64 (n_points,)
    conn_from_link, conn_from_lane, conn_to_link, conn_to_lane : int32 (n_conn,)
        lane-level connections through junctions.
    conn_program : int32 (n_conn,), the signal program, or -1 when unsignalised.
    conn_signal_index : int32 (n_conn,), index into the program's state strings,
        or -1.
    signals : SignalPrograms
    out_offsets : int64 (n_nodes + 1,), CSR of outgoing links per node.
    out_links : int32 (n_links,), link indices grouped by from-node.
    node_index, link_index : dict, id -> index (never passed to kernels).
    """

    name: str
    origin_lon: float
    origin_lat: float
    node_ids: tuple[str, ...]
    node_lon: FloatArray
    node_lat: FloatArray
    node_x_m: FloatArray
    node_y_m: FloatArray
    link_ids: tuple[str, ...]
    link_from: IntArray
    link_to: IntArray
    link_length_m: FloatArray
    link_lanes: IntArray
    link_speed_limit_mps: FloatArray
    link_capacity_vph: FloatArray
    link_name: tuple[str, ...]
    link_road_class: tuple[str, ...]
    geom_offsets: OffsetArray
    geom_lon: FloatArray
    geom_lat: FloatArray
    geom_x_m: FloatArray
    geom_y_m: FloatArray
    conn_from_link: IntArray
    conn_from_lane: IntArray
    conn_to_link: IntArray
    conn_to_lane: IntArray
    conn_program: IntArray
    conn_signal_index: IntArray
    signals: SignalPrograms
    out_offsets: OffsetArray
    out_links: IntArray
    node_index: dict[str, int]
    link_index: dict[str, int]

    # ------------------------------------------------------------------ sizes
    @property
    def n_nodes(self) -> int:
        """Number of nodes."""
        return len(self.node_ids)

    @property
    def n_links(self) -> int:
        """Number of directed links."""
        return len(self.link_ids)

    @property
    def n_connections(self) -> int:
        """Number of lane-level connections."""
        return int(self.conn_from_link.shape[0])

    @property
    def free_flow_time_s(self) -> FloatArray:
        """Free-flow travel time per link in seconds (length / speed limit)."""
        return self.link_length_m / self.link_speed_limit_mps

    def link_polyline_lonlat(self, link: int) -> tuple[FloatArray, FloatArray]:
        """The geometry of ``link`` as lon and lat arrays in degrees."""
        a, b = self.geom_offsets[link], self.geom_offsets[link + 1]
        return self.geom_lon[a:b], self.geom_lat[a:b]

    def summary(self) -> str:
        """A one-line description for logs and the CLI."""
        km = self.link_length_m.sum() / 1000.0
        return (
            f"{self.name}: {self.n_nodes} nodes, {self.n_links} links "
            f"({km:.1f} km), {self.n_connections} lane connections, "
            f"{self.signals.n_programs} signalised junctions"
        )

    # --------------------------------------------------------------- building
    @classmethod
    def from_arrays(
        cls,
        *,
        name: str,
        node_ids: Sequence[str],
        node_lon: Sequence[float] | FloatArray,
        node_lat: Sequence[float] | FloatArray,
        link_ids: Sequence[str],
        link_from: Sequence[int] | IntArray,
        link_to: Sequence[int] | IntArray,
        link_length_m: Sequence[float] | FloatArray,
        link_lanes: Sequence[int] | IntArray,
        link_speed_limit_mps: Sequence[float] | FloatArray,
        link_capacity_vph: Sequence[float] | FloatArray,
        link_name: Sequence[str] | None = None,
        link_road_class: Sequence[str] | None = None,
        link_geometry_lonlat: Sequence[tuple[Sequence[float], Sequence[float]] | None]
        | None = None,
        connections: tuple[IntArray, IntArray, IntArray, IntArray] | None = None,
        conn_program: IntArray | None = None,
        conn_signal_index: IntArray | None = None,
        signals: SignalPrograms | None = None,
        origin_lonlat: tuple[float, float] | None = None,
        source: str = "<arrays>",
    ) -> Network:
        """Validate the columns and build a :class:`Network`.

        ``link_geometry_lonlat`` gives, per link, the interior-and-end points as
        ``(lons, lats)`` or ``None`` for a straight link; the from- and to-node
        are added when missing. ``connections`` is ``(from_link, from_lane,
        to_link, to_lane)``; when ``None``, :func:`default_connections` makes
        them. ``source`` names the file in error messages.

        Raises
        ------
        NetworkError
            When a column has the wrong length, a value is out of range, or a
            connection does not join its links at one node.
        """
        node_ids_t = tuple(str(n) for n in node_ids)
        link_ids_t = tuple(str(i) for i in link_ids)
        n_nodes, n_links = len(node_ids_t), len(link_ids_t)
        node_lon_a = np.ascontiguousarray(node_lon, dtype=np.float64)
        node_lat_a = np.ascontiguousarray(node_lat, dtype=np.float64)
        cols_i = {
            "link_from": np.ascontiguousarray(link_from, dtype=np.int32),
            "link_to": np.ascontiguousarray(link_to, dtype=np.int32),
            "link_lanes": np.ascontiguousarray(link_lanes, dtype=np.int32),
        }
        cols_f = {
            "link_length_m": np.ascontiguousarray(link_length_m, dtype=np.float64),
            "link_speed_limit_mps": np.ascontiguousarray(link_speed_limit_mps, dtype=np.float64),
            "link_capacity_vph": np.ascontiguousarray(link_capacity_vph, dtype=np.float64),
        }
        _check_unique(node_ids_t, "node", source)
        _check_unique(link_ids_t, "link", source)
        for col_name, node_col in (("node_lon", node_lon_a), ("node_lat", node_lat_a)):
            if node_col.shape != (n_nodes,):
                raise NetworkError(f"{source}: {col_name} has {node_col.shape[0]} values, expected {n_nodes}")
            _check_finite(node_col, col_name, node_ids_t, source)
        shaped: list[tuple[str, NDArray[np.generic]]] = [*cols_i.items(), *cols_f.items()]
        for col_name, any_col in shaped:
            if any_col.shape != (n_links,):
                raise NetworkError(f"{source}: {col_name} has {any_col.shape[0]} values, expected {n_links}")
        for col_name, f_col in cols_f.items():
            _check_finite(f_col, col_name, link_ids_t, source)
            bad = np.flatnonzero(f_col <= 0)
            if bad.size:
                raise NetworkError(
                    f"{source}: link {link_ids_t[bad[0]]!r}: {col_name} must be > 0, got {f_col[bad[0]]}"
                )
        for col_name in ("link_from", "link_to"):
            col = cols_i[col_name]
            bad = np.flatnonzero((col < 0) | (col >= n_nodes))
            if bad.size:
                raise NetworkError(
                    f"{source}: link {link_ids_t[bad[0]]!r}: {col_name} index {col[bad[0]]} "
                    f"is not a node (0..{n_nodes - 1})"
                )
        bad = np.flatnonzero(cols_i["link_lanes"] < 1)
        if bad.size:
            raise NetworkError(f"{source}: link {link_ids_t[bad[0]]!r}: lanes must be >= 1")

        if origin_lonlat is None:
            origin_lonlat = (
                float(node_lon_a.mean()) if n_nodes else 0.0,
                float(node_lat_a.mean()) if n_nodes else 0.0,
            )
        origin_lon, origin_lat = origin_lonlat
        node_x, node_y = project_lonlat(node_lon_a, node_lat_a, origin_lon, origin_lat)

        geom_offsets, geom_lon, geom_lat = _build_geometry(
            link_geometry_lonlat, cols_i["link_from"], cols_i["link_to"], node_lon_a, node_lat_a,
            link_ids_t, source,
        )
        geom_x, geom_y = project_lonlat(geom_lon, geom_lat, origin_lon, origin_lat)

        out_order = np.argsort(cols_i["link_from"], kind="stable").astype(np.int32)
        counts = np.bincount(cols_i["link_from"], minlength=n_nodes)
        out_offsets = np.zeros(n_nodes + 1, dtype=np.int64)
        np.cumsum(counts, out=out_offsets[1:])

        signals = signals if signals is not None else SignalPrograms()
        if connections is None:
            connections = default_connections(
                cols_i["link_from"], cols_i["link_to"], cols_i["link_lanes"], out_offsets, out_order
            )
        conn = tuple(np.ascontiguousarray(c, dtype=np.int32) for c in connections)
        n_conn = conn[0].shape[0]
        conn_program_a = (
            np.full(n_conn, -1, np.int32) if conn_program is None
            else np.ascontiguousarray(conn_program, dtype=np.int32)
        )
        conn_signal_a = (
            np.full(n_conn, -1, np.int32) if conn_signal_index is None
            else np.ascontiguousarray(conn_signal_index, dtype=np.int32)
        )
        for col_name, labels in (("link_name", link_name), ("link_road_class", link_road_class)):
            if labels is not None and len(labels) != n_links:
                raise NetworkError(f"{source}: {col_name} has {len(labels)} values, expected {n_links}")
        _check_signal_programs(signals, n_nodes, source)
        _check_connections(conn, conn_program_a, conn_signal_a, cols_i, signals, link_ids_t, source)

        return cls(
            name=name,
            origin_lon=float(origin_lon),
            origin_lat=float(origin_lat),
            node_ids=node_ids_t,
            node_lon=node_lon_a,
            node_lat=node_lat_a,
            node_x_m=node_x,
            node_y_m=node_y,
            link_ids=link_ids_t,
            link_from=cols_i["link_from"],
            link_to=cols_i["link_to"],
            link_length_m=cols_f["link_length_m"],
            link_lanes=cols_i["link_lanes"],
            link_speed_limit_mps=cols_f["link_speed_limit_mps"],
            link_capacity_vph=cols_f["link_capacity_vph"],
            link_name=tuple(link_name) if link_name is not None else ("",) * n_links,
            link_road_class=tuple(link_road_class) if link_road_class is not None
            else ("",) * n_links,
            geom_offsets=geom_offsets,
            geom_lon=geom_lon,
            geom_lat=geom_lat,
            geom_x_m=geom_x,
            geom_y_m=geom_y,
            conn_from_link=conn[0],
            conn_from_lane=conn[1],
            conn_to_link=conn[2],
            conn_to_lane=conn[3],
            conn_program=conn_program_a,
            conn_signal_index=conn_signal_a,
            signals=signals,
            out_offsets=out_offsets,
            out_links=out_order,
            node_index={n: i for i, n in enumerate(node_ids_t)},
            link_index={n: i for i, n in enumerate(link_ids_t)},
        )

    # --------------------------------------------------------- native format
    def save(self, path: str | Path) -> Path:
        """Write the network in the native format (``.npz``), the fastest to load.

        Returns the path written (``.npz`` is appended when missing).
        """
        path = Path(path)
        if path.suffix != ".npz":
            path = path.with_suffix(path.suffix + ".npz") if path.suffix else path.with_suffix(".npz")
        meta = {
            "format": "kota-twin-network",
            "version": NATIVE_FORMAT_VERSION,
            "name": self.name,
            "origin_lon": self.origin_lon,
            "origin_lat": self.origin_lat,
            "node_ids": list(self.node_ids),
            "link_ids": list(self.link_ids),
            "link_name": list(self.link_name),
            "link_road_class": list(self.link_road_class),
            "program_ids": list(self.signals.program_ids),
            "phase_state": list(self.signals.phase_state),
        }
        np.savez_compressed(
            path,
            meta=np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8),
            node_lon=self.node_lon,
            node_lat=self.node_lat,
            link_from=self.link_from,
            link_to=self.link_to,
            link_length_m=self.link_length_m,
            link_lanes=self.link_lanes,
            link_speed_limit_mps=self.link_speed_limit_mps,
            link_capacity_vph=self.link_capacity_vph,
            geom_offsets=self.geom_offsets,
            geom_lon=self.geom_lon,
            geom_lat=self.geom_lat,
            conn_from_link=self.conn_from_link,
            conn_from_lane=self.conn_from_lane,
            conn_to_link=self.conn_to_link,
            conn_to_lane=self.conn_to_lane,
            conn_program=self.conn_program,
            conn_signal_index=self.conn_signal_index,
            program_node=self.signals.program_node,
            program_offset_s=self.signals.offset_s,
            phase_offsets=self.signals.phase_offsets,
            phase_duration_s=self.signals.phase_duration_s,
        )
        return path

    @classmethod
    def load(cls, path: str | Path) -> Network:
        """Read a network written by :meth:`save`.

        Raises
        ------
        NetworkError
            When the file is not a Kota Twin network or is of a newer version.
        """
        path = Path(path)
        try:
            with np.load(path, allow_pickle=False) as z:
                arrays = {k: z[k] for k in z.files}
        except (OSError, ValueError) as exc:
            raise NetworkError(f"{path}: not a readable .npz network file ({exc})") from exc
        try:
            meta = json.loads(arrays.pop("meta").tobytes().decode("utf-8"))
        except (KeyError, ValueError) as exc:
            raise NetworkError(f"{path}: missing or broken 'meta' record") from exc
        if meta.get("format") != "kota-twin-network":
            raise NetworkError(f"{path}: not a Kota Twin network (format={meta.get('format')!r})")
        if meta.get("version", 0) > NATIVE_FORMAT_VERSION:
            raise NetworkError(
                f"{path}: network format version {meta['version']} is newer than this "
                f"Kota Twin reads ({NATIVE_FORMAT_VERSION}); upgrade kota-twin"
            )
        try:
            offsets = arrays["geom_offsets"]
            geometry = [
                (arrays["geom_lon"][offsets[i]:offsets[i + 1]],
                 arrays["geom_lat"][offsets[i]:offsets[i + 1]])
                for i in range(len(meta["link_ids"]))
            ]
            signals = SignalPrograms(
                program_ids=tuple(meta["program_ids"]),
                program_node=arrays["program_node"].astype(np.int32),
                offset_s=arrays["program_offset_s"].astype(np.float64),
                phase_offsets=arrays["phase_offsets"].astype(np.int64),
                phase_duration_s=arrays["phase_duration_s"].astype(np.float64),
                phase_state=tuple(meta["phase_state"]),
            )
            return cls.from_arrays(
                name=meta["name"],
                node_ids=meta["node_ids"],
                node_lon=arrays["node_lon"],
                node_lat=arrays["node_lat"],
                link_ids=meta["link_ids"],
                link_from=arrays["link_from"],
                link_to=arrays["link_to"],
                link_length_m=arrays["link_length_m"],
                link_lanes=arrays["link_lanes"],
                link_speed_limit_mps=arrays["link_speed_limit_mps"],
                link_capacity_vph=arrays["link_capacity_vph"],
                link_name=meta["link_name"],
                link_road_class=meta["link_road_class"],
                link_geometry_lonlat=geometry,
                connections=(arrays["conn_from_link"], arrays["conn_from_lane"],
                             arrays["conn_to_link"], arrays["conn_to_lane"]),
                conn_program=arrays["conn_program"],
                conn_signal_index=arrays["conn_signal_index"],
                signals=signals,
                origin_lonlat=(meta["origin_lon"], meta["origin_lat"]),
                source=str(path),
            )
        except KeyError as exc:
            raise NetworkError(f"{path}: missing array {exc.args[0]!r}") from exc


def default_connections(
    link_from: IntArray,
    link_to: IntArray,
    link_lanes: IntArray,
    out_offsets: OffsetArray,
    out_links: IntArray,
) -> tuple[IntArray, IntArray, IntArray, IntArray]:
    """Lane connections for a network file that has none.

    Every link connects to every link leaving its downstream node except the
    U-turn back to where it came from (kept when it is the only way on, so dead
    ends do not trap vehicles). Lane ``i`` of the incoming link feeds lane
    ``min(i, lanes_out - 1)`` of the outgoing link, and every lane of the
    outgoing link is reached from some incoming lane.

    Returns
    -------
    (from_link, from_lane, to_link, to_lane) : int32 arrays
    """
    fl: list[int] = []
    fa: list[int] = []
    tl: list[int] = []
    ta: list[int] = []
    for link in range(link_from.shape[0]):
        node = int(link_to[link])
        outs = [int(o) for o in out_links[out_offsets[node]:out_offsets[node + 1]]]
        onward = [o for o in outs if int(link_to[o]) != int(link_from[link])]
        for out in onward or outs:
            n_in, n_out = int(link_lanes[link]), int(link_lanes[out])
            pairs = {(i, min(i, n_out - 1)) for i in range(n_in)}
            pairs |= {(min(j, n_in - 1), j) for j in range(n_out)}
            for a, b in sorted(pairs):
                fl.append(link)
                fa.append(a)
                tl.append(out)
                ta.append(b)
    return (np.array(fl, np.int32), np.array(fa, np.int32),
            np.array(tl, np.int32), np.array(ta, np.int32))


def _check_unique(ids: tuple[str, ...], what: str, source: str) -> None:
    if len(set(ids)) != len(ids):
        seen: set[str] = set()
        for i in ids:
            if i in seen:
                raise NetworkError(f"{source}: duplicate {what} id {i!r}")
            seen.add(i)


def _check_finite(col: FloatArray, col_name: str, ids: tuple[str, ...], source: str) -> None:
    bad = np.flatnonzero(~np.isfinite(col))
    if bad.size:
        raise NetworkError(f"{source}: {ids[bad[0]]!r}: {col_name} is not a finite number")


def _build_geometry(
    geometry: Sequence[tuple[Sequence[float], Sequence[float]] | None] | None,
    link_from: IntArray,
    link_to: IntArray,
    node_lon: FloatArray,
    node_lat: FloatArray,
    link_ids: tuple[str, ...],
    source: str,
) -> tuple[OffsetArray, FloatArray, FloatArray]:
    n_links = link_from.shape[0]
    if geometry is not None and len(geometry) != n_links:
        raise NetworkError(f"{source}: geometry given for {len(geometry)} links, expected {n_links}")
    lons: list[FloatArray] = []
    lats: list[FloatArray] = []
    offsets = np.zeros(n_links + 1, dtype=np.int64)
    for i in range(n_links):
        a, b = int(link_from[i]), int(link_to[i])
        g = geometry[i] if geometry is not None else None
        if g is None or len(g[0]) == 0:
            lon = np.array([node_lon[a], node_lon[b]])
            lat = np.array([node_lat[a], node_lat[b]])
        else:
            lon = np.asarray(g[0], dtype=np.float64)
            lat = np.asarray(g[1], dtype=np.float64)
            if lon.shape != lat.shape:
                raise NetworkError(f"{source}: link {link_ids[i]!r}: geometry lon/lat lengths differ")
            if not (np.isfinite(lon).all() and np.isfinite(lat).all()):
                raise NetworkError(f"{source}: link {link_ids[i]!r}: geometry has a non-finite point")
            if lon[0] != node_lon[a] or lat[0] != node_lat[a]:
                lon = np.concatenate(([node_lon[a]], lon))
                lat = np.concatenate(([node_lat[a]], lat))
            if lon[-1] != node_lon[b] or lat[-1] != node_lat[b]:
                lon = np.concatenate((lon, [node_lon[b]]))
                lat = np.concatenate((lat, [node_lat[b]]))
        lons.append(lon)
        lats.append(lat)
        offsets[i + 1] = offsets[i] + lon.shape[0]
    if n_links == 0:
        return offsets, np.zeros(0), np.zeros(0)
    return offsets, np.concatenate(lons), np.concatenate(lats)


def _check_signal_programs(signals: SignalPrograms, n_nodes: int, source: str) -> None:
    n_prog = signals.n_programs
    if signals.program_node.shape != (n_prog,) or signals.offset_s.shape != (n_prog,):
        raise NetworkError(f"{source}: signal programs: program_node and offset_s need one value "
                           f"per program ({n_prog})")
    if signals.phase_offsets.shape != (n_prog + 1,) or signals.phase_offsets[0] != 0:
        raise NetworkError(f"{source}: signal programs: phase_offsets must have n_programs + 1 "
                           f"values starting at 0")
    if np.any(np.diff(signals.phase_offsets) < 0):
        raise NetworkError(f"{source}: signal programs: phase_offsets must not decrease")
    n_phases = int(signals.phase_offsets[-1])
    if signals.phase_duration_s.shape != (n_phases,) or len(signals.phase_state) != n_phases:
        raise NetworkError(f"{source}: signal programs: {n_phases} phases expected in "
                           f"phase_duration_s and phase_state")
    bad = np.flatnonzero((signals.program_node < 0) | (signals.program_node >= n_nodes))
    if bad.size:
        raise NetworkError(f"{source}: signal program {signals.program_ids[bad[0]]!r} sits at node "
                           f"index {signals.program_node[bad[0]]}, which does not exist")
    if not np.all(np.isfinite(signals.offset_s)) or not np.all(np.isfinite(signals.phase_duration_s)):
        raise NetworkError(f"{source}: signal programs: offsets and durations must be finite")


def _check_connections(
    conn: tuple[IntArray, ...],
    conn_program: IntArray,
    conn_signal: IntArray,
    cols: dict[str, IntArray],
    signals: SignalPrograms,
    link_ids: tuple[str, ...],
    source: str,
) -> None:
    from_link, from_lane, to_link, to_lane = conn
    n_links = cols["link_from"].shape[0]
    n_conn = from_link.shape[0]
    for arr in (from_lane, to_link, to_lane, conn_program, conn_signal):
        if arr.shape != (n_conn,):
            raise NetworkError(f"{source}: connection columns have different lengths")
    for col in (from_link, to_link):
        bad = np.flatnonzero((col < 0) | (col >= n_links))
        if bad.size:
            raise NetworkError(f"{source}: connection {bad[0]} refers to link index {col[bad[0]]}, "
                               f"which does not exist")
    lanes = cols["link_lanes"]
    for link_col, lane_col, end in ((from_link, from_lane, "from"), (to_link, to_lane, "to")):
        bad = np.flatnonzero((lane_col < 0) | (lane_col >= lanes[link_col]))
        if bad.size:
            c = bad[0]
            raise NetworkError(
                f"{source}: connection {link_ids[from_link[c]]!r} -> {link_ids[to_link[c]]!r}: "
                f"{end} lane {lane_col[c]} does not exist (link {link_ids[link_col[c]]!r} has "
                f"{lanes[link_col[c]]} lanes)"
            )
    bad = np.flatnonzero(cols["link_to"][from_link] != cols["link_from"][to_link])
    if bad.size:
        c = bad[0]
        raise NetworkError(
            f"{source}: connection {link_ids[from_link[c]]!r} -> {link_ids[to_link[c]]!r} does not "
            f"join the two links at one node"
        )
    n_prog = signals.n_programs
    bad = np.flatnonzero((conn_program < -1) | (conn_program >= n_prog))
    if bad.size:
        raise NetworkError(f"{source}: connection {bad[0]} refers to signal program "
                           f"{conn_program[bad[0]]}, which does not exist")
    for c in np.flatnonzero(conn_program >= 0):
        p = int(conn_program[c])
        width = len(signals.phase_state[int(signals.phase_offsets[p])])
        if not 0 <= conn_signal[c] < width:
            raise NetworkError(
                f"{source}: connection {link_ids[from_link[c]]!r} -> {link_ids[to_link[c]]!r}: "
                f"signal index {conn_signal[c]} is outside program {signals.program_ids[p]!r} "
                f"(its states have {width} characters)"
            )
    for p in range(n_prog):
        a, b = int(signals.phase_offsets[p]), int(signals.phase_offsets[p + 1])
        if b <= a:
            raise NetworkError(f"{source}: signal program {signals.program_ids[p]!r} has no phases")
        widths = {len(s) for s in signals.phase_state[a:b]}
        if len(widths) != 1:
            raise NetworkError(f"{source}: signal program {signals.program_ids[p]!r}: phase states "
                               f"have different lengths {sorted(widths)}")
        if not (signals.phase_duration_s[a:b] > 0).all():
            raise NetworkError(f"{source}: signal program {signals.program_ids[p]!r}: every phase "
                               f"duration must be > 0 s")
