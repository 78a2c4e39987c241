"""Trips: the demand the simulator inserts, as a struct of arrays.

A trip is one vehicle: its class, origin and destination node, departure time
and, optionally, an explicit route (a list of link indices). Trips are kept
sorted by departure time so the simulator can insert them with one moving
cursor. An empty route means "the simulator picks the shortest path".
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray

if TYPE_CHECKING:
    from twin.network import Network

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int32]
ClassArray = NDArray[np.int8]
OffsetArray = NDArray[np.int64]

#: Vehicle classes; the index is the class code stored in ``Trips.vehicle_class``.
VEHICLE_CLASSES: tuple[str, ...] = ("motorcycle", "car", "bus", "truck")
CLASS_CODE: Mapping[str, int] = MappingProxyType({c: i for i, c in enumerate(VEHICLE_CLASSES)})

#: Default vehicle-class shares for Jakarta (they sum to 1).
#: An *estimate from registrations*, not from traffic counts: BPS figures for
#: DKI Jakarta 2022 (about 21.85 million registered motor vehicles; 79 %
#: motorcycles, 17 % cars, 3.4 % trucks, "about 1 %" buses), as reported by
#: koranindopos.com, "Jumlah Kendaraan Terus Bertambah, Polda Metro Jaya Lakukan
#: Pengaturan Jam Masuk Kerja" (2023). BPS DKI's 2019 release
#: (statistik.jakarta.go.id, "Peningkatan Jumlah Kendaraan Bermotor di DKI
#: Jakarta") gives 69 % motorcycles and 24 % cars. Registered fleets are not the
#: traffic mix: buses and trucks drive more kilometres per vehicle than
#: motorcycles, and many registered vehicles are idle. Replace with classified
#: counts for a calibrated scenario.
JAKARTA_VEHICLE_MIX: Mapping[str, float] = MappingProxyType(
    {"motorcycle": 0.786, "car": 0.170, "bus": 0.010, "truck": 0.034}
)


class DemandError(ValueError):
    """Demand input is broken.

    The message names the file (when there is one), the trip, vehicle, flow or
    line, and what is wrong with it.
    """


def class_code(vehicle_class: str | int, where: str = "") -> int:
    """The integer code of a vehicle class name (or check a code).

    Parameters
    ----------
    vehicle_class : str or int
        A name from :data:`VEHICLE_CLASSES` or its index.
    where : str
        Prefix for the error message, e.g. ``"trip 'a'"``.

    Raises
    ------
    DemandError
        When the class is unknown.
    """
    if isinstance(vehicle_class, str):
        code = CLASS_CODE.get(vehicle_class)
        if code is None:
            raise DemandError(f"{where}: unknown vehicle class {vehicle_class!r} "
                              f"(known: {', '.join(VEHICLE_CLASSES)})".lstrip(": "))
        return code
    code = int(vehicle_class)
    if not 0 <= code < len(VEHICLE_CLASSES):
        raise DemandError(f"{where}: unknown vehicle class code {code} "
                          f"(0..{len(VEHICLE_CLASSES) - 1})".lstrip(": "))
    return code


def mix_probabilities(vehicle_mix: Mapping[str, float]) -> FloatArray:
    """Normalise a ``{class name: share}`` mapping to probabilities per class code.

    Returns
    -------
    float64 array (len(VEHICLE_CLASSES),), summing to 1.

    Raises
    ------
    DemandError
        When a class is unknown, a share is negative or not finite, or all are 0.
    """
    p = np.zeros(len(VEHICLE_CLASSES), dtype=np.float64)
    for name, share in vehicle_mix.items():
        share = float(share)
        if not np.isfinite(share) or share < 0:
            raise DemandError(f"vehicle mix: share of {name!r} must be a number >= 0, got {share}")
        p[class_code(name, "vehicle mix")] += share
    total = p.sum()
    if total <= 0:
        raise DemandError("vehicle mix: shares sum to 0")
    return p / total


class TripRecord(NamedTuple):
    """One trip as plain values, for :meth:`Trips.from_records`.

    ``origin_node``/``destination_node`` are node indices or node ids; ``None``
    takes them from the route's first/last link. ``route`` holds link indices or
    link ids; empty means "the simulator picks the shortest path".
    """

    trip_id: str
    vehicle_class: str | int
    depart_s: float
    origin_node: int | str | None = None
    destination_node: int | str | None = None
    route: Sequence[int | str] = ()


@dataclass(frozen=True, eq=False)
class Trips:
    """Trips sorted by departure time, as a struct of arrays.

    Build them with :meth:`from_arrays` or :meth:`from_records` (which check
    them against a network), or with the generators and readers in
    :mod:`twin.demand`.

    Attributes
    ----------
    trip_ids : tuple of str (n,), unique.
    vehicle_class : int8 (n,), index into :data:`VEHICLE_CLASSES`.
    origin_node, destination_node : int32 (n,), node indices of the network.
    depart_s : float64 (n,), seconds since scenario start, ascending.
    route_offsets : int64 (n + 1,), CSR into ``route_links``.
    route_links : int32 (n_route_links,), link indices; trip ``i``'s route is
        ``route_links[route_offsets[i]:route_offsets[i + 1]]``, and an empty one
        means the simulator picks the shortest path (on free-flow time, when the run is built).
    """

    trip_ids: tuple[str, ...]
    vehicle_class: ClassArray
    origin_node: IntArray
    destination_node: IntArray
    depart_s: FloatArray
    route_offsets: OffsetArray
    route_links: IntArray

    def __post_init__(self) -> None:
        n = len(self.trip_ids)
        cols = {
            "vehicle_class": np.int8, "origin_node": np.int32, "destination_node": np.int32,
            "depart_s": np.float64, "route_offsets": np.int64, "route_links": np.int32,
        }
        for name, dtype in cols.items():
            object.__setattr__(self, name, np.ascontiguousarray(getattr(self, name), dtype=dtype))
        for name in ("vehicle_class", "origin_node", "destination_node", "depart_s"):
            if getattr(self, name).shape != (n,):
                raise DemandError(f"Trips: {name} has shape {getattr(self, name).shape}, "
                                  f"expected ({n},)")
        off = self.route_offsets
        if off.shape != (n + 1,) or off[0] != 0 or off[-1] != self.route_links.shape[0] \
                or np.any(np.diff(off) < 0):
            raise DemandError("Trips: route_offsets must be a non-decreasing (n + 1,) CSR "
                              "starting at 0 and ending at len(route_links)")
        if np.any(np.diff(self.depart_s) < 0):
            raise DemandError("Trips: depart_s must be sorted ascending")

    # ------------------------------------------------------------- access
    def __len__(self) -> int:
        return len(self.trip_ids)

    def __repr__(self) -> str:
        return f"<Trips {self.summary()}>"

    def route_of(self, i: int) -> IntArray:
        """The explicit route of trip ``i`` as link indices (empty: shortest path)."""
        return self.route_links[self.route_offsets[i]:self.route_offsets[i + 1]]

    @property
    def has_route(self) -> NDArray[np.bool_]:
        """Boolean (n,): which trips carry an explicit route."""
        return np.diff(self.route_offsets) > 0

    def class_counts(self) -> dict[str, int]:
        """Number of trips per vehicle class name."""
        counts = np.bincount(self.vehicle_class, minlength=len(VEHICLE_CLASSES))
        return {c: int(k) for c, k in zip(VEHICLE_CLASSES, counts, strict=True)}

    def summary(self) -> str:
        """A one-line description for logs and the CLI."""
        if not len(self):
            return "0 trips"
        mix = ", ".join(f"{c} {k}" for c, k in self.class_counts().items() if k)
        return (f"{len(self)} trips departing {self.depart_s[0]:.0f}-{self.depart_s[-1]:.0f} s "
                f"({mix}; {int(self.has_route.sum())} with explicit routes)")

    # ------------------------------------------------------------- verbs
    def select(self, mask: ArrayLike) -> Trips:
        """The trips where ``mask`` is true (bool (n,)) or at the given indices.

        Order by departure is kept; repeated indices are taken once.
        """
        m = np.asarray(mask)
        if m.dtype != np.bool_:
            idx = m.astype(np.int64).ravel()
            m = np.zeros(len(self), dtype=np.bool_)
            m[idx] = True
        elif m.shape != (len(self),):
            raise DemandError(f"Trips.select: mask has shape {m.shape}, expected ({len(self)},)")
        return _take(self.trip_ids, self.vehicle_class, self.origin_node, self.destination_node,
                     self.depart_s, self.route_offsets, self.route_links, np.flatnonzero(m))

    def concat(self, other: Trips) -> Trips:
        """These trips and ``other``'s, re-sorted by departure (stable: ties keep
        ``self`` first).

        Raises
        ------
        DemandError
            When a trip id occurs in both.
        """
        dup = set(self.trip_ids).intersection(other.trip_ids)
        if dup:
            raise DemandError(f"Trips.concat: trip id {sorted(dup)[0]!r} is in both sets "
                              f"({len(dup)} shared ids); give the generators different id_prefix")
        depart = np.concatenate((self.depart_s, other.depart_s))
        return _take(
            self.trip_ids + other.trip_ids,
            np.concatenate((self.vehicle_class, other.vehicle_class)),
            np.concatenate((self.origin_node, other.origin_node)),
            np.concatenate((self.destination_node, other.destination_node)),
            depart,
            np.concatenate((self.route_offsets, other.route_offsets[1:] + self.route_offsets[-1])),
            np.concatenate((self.route_links, other.route_links)),
            np.argsort(depart, kind="stable"),
        )

    # ------------------------------------------------------------- building
    @classmethod
    def empty(cls) -> Trips:
        """No trips."""
        return cls((), np.zeros(0, np.int8), np.zeros(0, np.int32), np.zeros(0, np.int32),
                   np.zeros(0), np.zeros(1, np.int64), np.zeros(0, np.int32))

    @classmethod
    def from_arrays(
        cls,
        network: Network,
        *,
        trip_ids: Sequence[str],
        vehicle_class: ArrayLike,
        origin_node: ArrayLike,
        destination_node: ArrayLike,
        depart_s: ArrayLike,
        route_offsets: ArrayLike | None = None,
        route_links: ArrayLike | None = None,
        source: str = "<arrays>",
    ) -> Trips:
        """Check columns against ``network`` and build :class:`Trips` sorted by departure.

        Parameters
        ----------
        network : Network
        trip_ids : sequence of str (n,), unique.
        vehicle_class : int array (n,) of class codes.
        origin_node, destination_node : int arrays (n,), node indices.
        depart_s : float array (n,), seconds since scenario start, >= 0, any order.
        route_offsets, route_links : CSR of explicit routes (link indices); ``None``
            means no trip has an explicit route.
        source : str
            Names the input in error messages.

        Raises
        ------
        DemandError
            Naming the first bad trip: duplicate id, unknown class, bad departure,
            node or link out of range, a route with a gap, a route that does not
            start at the origin or end at the destination, or an empty route
            from a node to itself.
        """
        ids = tuple(str(t) for t in trip_ids)
        n = len(ids)
        cls_a = np.asarray(vehicle_class, dtype=np.int64)
        o = np.asarray(origin_node, dtype=np.int64)
        d = np.asarray(destination_node, dtype=np.int64)
        t = np.asarray(depart_s, dtype=np.float64)
        if route_offsets is None:
            off = np.zeros(n + 1, np.int64)
            links = np.zeros(0, np.int64)
        else:
            off = np.asarray(route_offsets, dtype=np.int64)
            links = np.asarray(route_links if route_links is not None else [], dtype=np.int64)
        for name, col in (("vehicle_class", cls_a), ("origin_node", o),
                          ("destination_node", d), ("depart_s", t)):
            if col.shape != (n,):
                raise DemandError(f"{source}: {name} has {col.size} values, expected {n}")
        if off.shape != (n + 1,) or off[0] != 0 or off[-1] != links.shape[0] \
                or np.any(np.diff(off) < 0):
            raise DemandError(f"{source}: route_offsets is not a valid CSR over route_links")
        _check_trips(network, ids, cls_a, o, d, t, off, links, source)
        return _take(ids, cls_a, o, d, t, off, links, np.argsort(t, kind="stable"))

    @classmethod
    def from_records(
        cls,
        network: Network,
        records: Iterable[TripRecord | Mapping[str, Any]],
        source: str = "<records>",
    ) -> Trips:
        """Build :class:`Trips` from :class:`TripRecord` values (or mappings with the
        same keys), checked against ``network``.

        Raises
        ------
        DemandError
            Naming the trip: unknown class, departure not a number >= 0, unknown
            node or link, a route with a gap or not joining origin and destination.
        """
        ids: list[str] = []
        classes: list[int] = []
        origins: list[int] = []
        dests: list[int] = []
        departs: list[float] = []
        routes: list[list[int]] = []
        for rec in records:
            r = TripRecord(**rec) if isinstance(rec, Mapping) else rec
            where = f"{source}: trip {r.trip_id!r}"
            route = [_index(x, network.link_index, network.n_links, "link", where)
                     for x in r.route]
            o = _end_node(r.origin_node, route, network, where, first=True)
            d = _end_node(r.destination_node, route, network, where, first=False)
            depart = _as_float(r.depart_s, where)
            ids.append(str(r.trip_id))
            classes.append(class_code(r.vehicle_class, where))
            origins.append(o)
            dests.append(d)
            departs.append(depart)
            routes.append(route)
        off = np.zeros(len(ids) + 1, np.int64)
        np.cumsum([len(r) for r in routes], out=off[1:])
        links = np.fromiter((x for r in routes for x in r), dtype=np.int64, count=int(off[-1]))
        return cls.from_arrays(network, trip_ids=ids, vehicle_class=classes, origin_node=origins,
                               destination_node=dests, depart_s=departs, route_offsets=off,
                               route_links=links, source=source)


def _take(ids: tuple[str, ...], cls_a: NDArray[np.integer], o: NDArray[np.integer],
          d: NDArray[np.integer], t: FloatArray, off: OffsetArray, links: NDArray[np.integer],
          idx: NDArray[np.int64]) -> Trips:
    """Trips ``idx`` of the given columns, in that order (which must be by departure)."""
    g_off, g_links = _gather_routes(off, links, idx)
    return Trips(trip_ids=tuple(ids[i] for i in idx),
                 vehicle_class=np.asarray(cls_a[idx], dtype=np.int8),
                 origin_node=np.asarray(o[idx], dtype=np.int32),
                 destination_node=np.asarray(d[idx], dtype=np.int32), depart_s=t[idx],
                 route_offsets=g_off, route_links=np.asarray(g_links, dtype=np.int32))


def _gather_routes[I: np.integer](offsets: OffsetArray, links: NDArray[I], idx: NDArray[np.int64]
                                  ) -> tuple[OffsetArray, NDArray[I]]:
    """The CSR of the routes of trips ``idx``, in that order."""
    lengths = (offsets[1:] - offsets[:-1])[idx]
    new_off = np.zeros(idx.shape[0] + 1, np.int64)
    np.cumsum(lengths, out=new_off[1:])
    starts = np.repeat(offsets[:-1][idx] - new_off[:-1], lengths)
    return new_off, links[starts + np.arange(new_off[-1])]


def _check_trips(network: Network, ids: tuple[str, ...], cls_a: NDArray[np.int64],
                 o: NDArray[np.int64], d: NDArray[np.int64], t: FloatArray,
                 off: OffsetArray, links: NDArray[np.int64], source: str) -> None:
    """Raise :class:`DemandError` naming the first trip that is wrong."""
    n_nodes, n_links = network.n_nodes, network.n_links
    if len(set(ids)) != len(ids):
        seen: set[str] = set()
        for i in ids:
            if i in seen:
                raise DemandError(f"{source}: duplicate trip id {i!r}")
            seen.add(i)

    def fail(k: int, msg: str) -> None:
        raise DemandError(f"{source}: trip {ids[k]!r}: {msg}")

    if (bad := np.flatnonzero((cls_a < 0) | (cls_a >= len(VEHICLE_CLASSES)))).size:
        fail(bad[0], f"unknown vehicle class code {cls_a[bad[0]]}")
    if (bad := np.flatnonzero(~np.isfinite(t) | (t < 0))).size:
        fail(bad[0], f"departure time must be a number >= 0 s, got {t[bad[0]]}")
    for name, col in (("origin", o), ("destination", d)):
        if (bad := np.flatnonzero((col < 0) | (col >= n_nodes))).size:
            fail(bad[0], f"{name} node index {col[bad[0]]} is not a node (0..{n_nodes - 1})")
    lengths = np.diff(off)
    if (bad := np.flatnonzero((lengths == 0) & (o == d))).size:
        fail(bad[0], f"origin and destination are the same node "
                     f"{network.node_ids[o[bad[0]]]!r} and there is no route")
    if not links.size:
        return
    trip_of = np.repeat(np.arange(len(ids)), lengths)
    if (bad := np.flatnonzero((links < 0) | (links >= n_links))).size:
        fail(trip_of[bad[0]], f"route link index {links[bad[0]]} is not a link (0..{n_links - 1})")
    lf, lt, nid, lid = network.link_from, network.link_to, network.node_ids, network.link_ids
    has = np.flatnonzero(lengths > 0)
    first, last = links[off[has]], links[off[has + 1] - 1]
    starts = lf[first] != o[has]
    ends = lt[last] != d[has]
    gaps = (trip_of[1:] == trip_of[:-1]) & (lt[links[:-1]] != lf[links[1:]])
    bad_trips = [has[np.flatnonzero(starts)], has[np.flatnonzero(ends)], trip_of[1:][gaps]]
    k = min((int(b[0]) for b in bad_trips if b.size), default=-1)
    if k < 0:
        return
    route = links[off[k]:off[k + 1]]
    for a, b in zip(route[:-1], route[1:], strict=True):
        if lt[a] != lf[b]:
            fail(k, f"route has a gap: link {lid[a]!r} ends at node {nid[lt[a]]!r} but the next "
                    f"link {lid[b]!r} starts at node {nid[lf[b]]!r}")
    if lf[route[0]] != o[k]:
        fail(k, f"route starts at node {nid[lf[route[0]]]!r} (link {lid[route[0]]!r}) "
                f"but the origin is node {nid[o[k]]!r}")
    fail(k, f"route ends at node {nid[lt[route[-1]]]!r} (link {lid[route[-1]]!r}) "
            f"but the destination is node {nid[d[k]]!r}")


def _index(x: int | str, index: Mapping[str, int], n: int, what: str, where: str) -> int:
    if isinstance(x, str):
        i = index.get(x)
        if i is None:
            raise DemandError(f"{where}: unknown {what} {x!r}")
        return i
    i = int(x)
    if not 0 <= i < n:
        raise DemandError(f"{where}: {what} index {i} out of range (0..{n - 1})")
    return i


def _end_node(node: int | str | None, route: list[int], network: Network, where: str,
              *, first: bool) -> int:
    if node is not None:
        return _index(node, network.node_index, network.n_nodes, "node", where)
    if not route:
        raise DemandError(f"{where}: needs an {'origin' if first else 'destination'} node "
                          f"or a route")
    return int(network.link_from[route[0]] if first else network.link_to[route[-1]])


def _as_float(x: object, where: str) -> float:
    try:
        v = float(x)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise DemandError(f"{where}: departure time {x!r} is not a number") from None
    if not np.isfinite(v) or v < 0:
        raise DemandError(f"{where}: departure time must be a number >= 0 s, got {x!r}")
    return v
