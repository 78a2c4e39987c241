"""Read SUMO demand files (``.rou.xml``, ``.trips.xml``, gzip too) into :class:`Trips`.

Supported: ``<vType>`` and ``<vTypeDistribution>``; ``<route>`` and
``<routeDistribution>``; ``<vehicle>``/``<trip>`` with a ``route`` reference,
an embedded ``<route>``, ``from``/``to`` (+ ``via``) edges or
``fromJunction``/``toJunction``; ``<flow>`` with ``number``, ``period``
(fixed or ``exp(rate)``), ``vehsPerHour`` or ``probability``, also inside
``<interval>``. Persons and containers are skipped with a warning, and so are
vehicles whose vClass is not simulated (bicycles, scooters, pedestrians,
rail, ships; see :data:`SUMO_VCLASS_MAP`); stops and other vehicle attributes
are ignored.

SUMO edge ids are link ids (the SUMO importer keeps them), so edges map
through ``network.link_index``. The importer drops edges no road motor vehicle
may use (footways, cycleways, rail), so a top-level ``<route>`` over such
edges (a tram line, a bike route) is an error only when a simulated vehicle
uses it; unused, it is skipped with a warning. Random choices (type and route
distributions, ``probability`` and ``exp()`` flows) draw from ``rng``.
"""

from __future__ import annotations

import gzip
import io
import math
import warnings
import xml.etree.ElementTree as ET
import zlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from twin.demand._graph import LinkGraph
from twin.demand._sumo_flows import flow_times, parse_depart, parse_number, parse_time
from twin.demand.trips import CLASS_CODE, DemandError, Trips, _gather_routes

if TYPE_CHECKING:
    from twin.network import Network

IntArray = NDArray[np.int64]
#: Route options: CSR offsets, links, probabilities.
_Options = tuple[NDArray[np.int64], IntArray, NDArray[np.float64]]

#: SUMO ``vClass`` -> Kota Twin vehicle class; ``None`` skips the vehicle
#: (counted in a warning). Unlisted classes become "car". The classes mapped to
#: a vehicle class are exactly the road motor vehicles
#: (:data:`twin.importers.sumo.ROAD_MOTOR_CLASSES`) whose edges the SUMO net
#: importer keeps by default. Bicycles and (kick) scooters are skipped like
#: pedestrians and rail: they ride on cycleways, paths and bike lanes, which
#: that importer drops, and would otherwise move as motorcycles on car lanes.
#: Pass ``{**SUMO_VCLASS_MAP, "bicycle": "motorcycle"}`` (with a net read with
#: ``road_vehicles_only=False``) to simulate them as motorcycles anyway.
SUMO_VCLASS_MAP: Mapping[str, str | None] = MappingProxyType({
    **dict.fromkeys(("passenger", "private", "taxi", "hov", "evehicle", "emergency",
                     "authority", "vip", "custom1", "custom2"), "car"),
    **dict.fromkeys(("motorcycle", "moped"), "motorcycle"),
    **dict.fromkeys(("bus", "coach"), "bus"),
    **dict.fromkeys(("truck", "trailer", "delivery", "army"), "truck"),
    **dict.fromkeys(("bicycle", "scooter", "pedestrian", "wheelchair", "tram", "rail_urban",
                     "rail", "rail_electric", "rail_fast", "subway", "cable_car", "ship",
                     "aircraft", "drone", "container"), None),
})

# SUMO's built-in vehicle types and their vClass.
_BUILTIN_TYPES = {"DEFAULT_VEHTYPE": "passenger", "DEFAULT_PEDTYPE": "pedestrian",
                  "DEFAULT_BIKETYPE": "bicycle", "DEFAULT_TAXITYPE": "taxi",
                  "DEFAULT_RAILTYPE": "rail", "DEFAULT_CONTAINERTYPE": "container"}
_SKIPPED = ("person", "personFlow", "container", "containerFlow")


def read_sumo_routes(
    path: str | Path | Sequence[str | Path],
    network: Network,
    rng: np.random.Generator | None = None,
    *,
    vehicle_class_map: Mapping[str, str | None] = SUMO_VCLASS_MAP,
    horizon_s: float | None = None,
    route_trips: bool = True,
) -> Trips:
    """Read SUMO vehicles, trips and flows.

    Parameters
    ----------
    path : path or sequence of paths
        Route files read in order with shared definitions (like SUMO's
        ``route-files`` plus ``additional-files``), so vTypes may sit in their own file.
    network : Network
        Imported from the matching ``.net.xml``; SUMO edge ids are its link ids.
    rng : numpy.random.Generator, optional
        For distributions and random flows; ``None`` uses ``default_rng(0)``, so
        reading a file twice gives the same trips.
    vehicle_class_map : mapping
        SUMO ``vClass`` -> class name (or ``None`` to skip); default
        :data:`SUMO_VCLASS_MAP`. A vType without ``vClass`` is classed by its
        ``guiShape`` prefix when the map knows it (``"bus"``, ``"truck/trailer"``),
        else as SUMO's default ``passenger``.
    horizon_s : float, optional
        Keep only departures before this time (seconds); flows stop there. Flows
        without ``end`` or ``number`` run 24 h as in SUMO.
    route_trips : bool
        Give trips and flows defined by ``from``/``to`` edges an explicit
        free-flow shortest route that starts and ends on those edges and follows
        the network's lane connections (cached per edge sequence). When false
        they keep an empty route from the from-edge's tail node to the to-edge's
        head node, and the edges themselves are not enforced (``via`` edges, and
        a trip that would start and end at one node, are routed anyway).

    Returns
    -------
    Trips
        Trip ids are vehicle ids, flow vehicles ``<flow id>.<k>``. ``depart``
        ``"now"`` and ``"begin"`` mean 0 s.

    Raises
    ------
    DemandError
        Naming the file and vehicle, flow or route: unknown edge, type, route or
        junction; a route with a gap; an unsupported or bad ``depart``; bad flow
        attributes; no path between ``from`` and ``to``; malformed XML.
    """
    paths = [Path(path)] if isinstance(path, str | Path) else [Path(p) for p in path]
    reader = _Reader(network, rng if rng is not None else np.random.default_rng(0),
                     vehicle_class_map, horizon_s, route_trips)
    for p in paths:
        reader.read(p)
    return reader.trips(", ".join(str(p) for p in paths))


class _Reader:
    """Parser state shared across the files of one :func:`read_sumo_routes` call."""

    def __init__(self, network: Network, rng: np.random.Generator,
                 class_map: Mapping[str, str | None], horizon_s: float | None,
                 route_trips: bool) -> None:
        if horizon_s is not None and not horizon_s > 0:
            raise DemandError(f"read_sumo_routes: horizon_s must be > 0, got {horizon_s}")
        self.net, self.rng, self.class_map = network, rng, class_map
        self.horizon = math.inf if horizon_s is None else float(horizon_s)
        self.route_trips = route_trips
        self.graph: LinkGraph | None = None
        self.types: dict[str, tuple[NDArray[np.int64], NDArray[np.float64]]] = {}
        # route id -> (CSR offsets, links, probabilities) of its options
        self.routes: dict[str, _Options] = {}
        # route id -> the error of a top-level route over edges the network lacks;
        # raised when a simulated vehicle uses the route, else only warned about
        self.bad_routes: dict[str, DemandError] = {}
        self.routed: dict[tuple[int, ...], IntArray | None] = {}
        self.ids: list[str] = []
        self.chunks: list[tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64],
                                NDArray[np.float64], NDArray[np.int64], IntArray]] = []
        self.skipped: dict[str, int] = {}
        self.path = Path()

    # ------------------------------------------------------------ file loop
    def read(self, path: Path) -> None:
        self.path = path
        try:
            with _open(path) as f:
                depth = 0
                root: ET.Element | None = None
                for event, elem in ET.iterparse(f, events=("start", "end")):
                    if event == "start":
                        depth += 1
                        if depth == 1:
                            root = elem
                            if _tag(elem) not in ("routes", "additional"):
                                raise DemandError(f"{path}: root element is <{_tag(elem)}>, "
                                                  f"not <routes> or <additional>")
                        continue
                    depth -= 1
                    if depth == 1 and root is not None:
                        self.element(elem)
                        root.clear()
        except ET.ParseError as exc:
            line, col = exc.position
            raise DemandError(f"{path}: broken XML at line {line}, column {col}: "
                              f"{str(exc).split(':')[0]}") from exc
        except (OSError, EOFError, zlib.error) as exc:  # zlib: a corrupt gzip stream
            raise DemandError(f"{path}: cannot read the file ({exc})") from exc

    def element(self, e: ET.Element, begin: float = 0.0, end: float | None = None) -> None:
        tag = _tag(e)
        if tag == "vType":
            self.vtype(e)
        elif tag == "vTypeDistribution":
            self.vtype_distribution(e)
        elif tag == "route":
            rid = self.need(e, "id", "route")
            self.bad_routes.pop(rid, None)
            try:
                self.routes[rid] = _single(self.edges(e, f"route {rid!r}"))
            except _UnknownEdge as exc:
                self.routes.pop(rid, None)
                self.bad_routes[rid] = exc
        elif tag == "routeDistribution":
            rid = self.need(e, "id", "routeDistribution")
            self.routes[rid] = self.route_distribution(e, f"routeDistribution {rid!r}")
        elif tag in ("vehicle", "trip"):
            self.vehicle(e, tag)
        elif tag == "flow":
            self.flow(e, begin, end)
        elif tag == "interval":
            where = f"{self.path}: interval"
            b = parse_time(e.get("begin", "0"), where, "begin")
            en = parse_time(e.get("end"), where, "end") if e.get("end") is not None else None
            for child in e:
                self.element(child, b, en)
        elif tag == "include":
            raise DemandError(f"{self.path}: <include href={e.get('href')!r}> is not supported; "
                              f"pass the included file to read_sumo_routes as well")
        elif tag in _SKIPPED:
            self.skipped[tag] = self.skipped.get(tag, 0) + 1

    def weighted_refs(self, e: ET.Element, attr: str, where: str) -> list[tuple[str, float]]:
        """The ids listed in ``e``'s ``attr`` (``vTypes``, ``routes``) with their
        ``probabilities`` (1 each when that attribute is absent)."""
        refs = e.get(attr, "").split()
        probs = e.get("probabilities", "").split() or ["1"] * len(refs)
        if len(probs) != len(refs):
            raise DemandError(f"{self.path}: {where}: {len(refs)} {attr} but "
                              f"{len(probs)} probabilities")
        return [(ref, parse_number(p, f"{self.path}: {where}"))
                for ref, p in zip(refs, probs, strict=True)]

    def need(self, e: ET.Element, attr: str, what: str) -> str:
        v = e.get(attr)
        if v is None or not v.strip():
            raise DemandError(f"{self.path}: a <{what}> has no {attr!r} attribute")
        return v

    # ------------------------------------------------------------ types
    def vtype(self, e: ET.Element) -> int:
        tid = self.need(e, "id", "vType")
        vclass = e.get("vClass")
        if vclass is None:
            shape = e.get("guiShape", "").split("/")[0]
            vclass = shape if shape in self.class_map else "passenger"
        name = self.class_map.get(vclass, "car")
        code = -1 if name is None else CLASS_CODE.get(name, -2)
        if code == -2:
            raise DemandError(f"{self.path}: vType {tid!r}: vehicle_class_map maps vClass "
                              f"{vclass!r} to unknown class {name!r}")
        self.types[tid] = (np.array([code]), np.array([1.0]))
        return code

    def vtype_distribution(self, e: ET.Element) -> None:
        did = self.need(e, "id", "vTypeDistribution")
        where = f"vTypeDistribution {did!r}"
        codes: list[int] = []
        probs: list[float] = []
        for child in e:
            if _tag(child) == "vType":
                codes.append(self.vtype(child))
                probs.append(parse_number(child.get("probability", "1"), f"{self.path}: {where}"))
        for ref, p in self.weighted_refs(e, "vTypes", where):
            c, q = self.type_options(ref, where)
            codes.extend(c.tolist())
            probs.extend((q * p).tolist())
        total = sum(probs)
        if not codes or total <= 0:
            raise DemandError(f"{self.path}: {where} has no vTypes with probability > 0")
        self.types[did] = (np.array(codes), np.array(probs) / total)

    def type_options(self, tid: str, where: str) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
        t = self.types.get(tid)
        if t is None:
            if tid not in _BUILTIN_TYPES:
                raise DemandError(f"{self.path}: {where}: unknown vType {tid!r} (define it "
                                  f"before use, or pass its file to read_sumo_routes first)")
            name = self.class_map.get(_BUILTIN_TYPES[tid], "car")
            t = (np.array([-1 if name is None else CLASS_CODE[name]]), np.array([1.0]))
        return t

    # ------------------------------------------------------------ routes
    def edges(self, e: ET.Element, where: str) -> IntArray:
        """Link indices of a ``<route edges=...>``, checked head to tail."""
        if e.get("repeat", "0") not in ("0", ""):
            raise DemandError(f"{self.path}: {where}: route 'repeat' is not supported")
        names = (e.get("edges") or "").split()
        if not names:
            raise DemandError(f"{self.path}: {where}: route has no edges")
        links = np.array([self.link(n, where) for n in names], dtype=np.int64)
        lf, lt = self.net.link_from, self.net.link_to
        gap = np.flatnonzero(lt[links[:-1]] != lf[links[1:]])
        if gap.size:
            a, b = names[gap[0]], names[gap[0] + 1]
            raise DemandError(f"{self.path}: {where}: route has a gap: edge {a!r} ends at node "
                              f"{self.net.node_ids[lt[links[gap[0]]]]!r} but the next edge "
                              f"{b!r} starts at node {self.net.node_ids[lf[links[gap[0] + 1]]]!r}")
        return links

    def link(self, edge: str, where: str) -> int:
        i = self.net.link_index.get(edge)
        if i is None:
            raise _UnknownEdge(f"{self.path}: {where}: unknown edge {edge!r} (not a link of "
                               f"network {self.net.name!r}; the SUMO importer drops edges "
                               f"that no road motor vehicle may use)")
        return i

    def route_distribution(self, e: ET.Element, where: str
                           ) -> _Options:
        options: list[IntArray] = []
        probs: list[float] = []
        for child in e:
            if _tag(child) != "route":
                continue
            p = parse_number(child.get("probability", "1"), f"{self.path}: {where}")
            ref = child.get("refId")
            if ref is not None:
                off, links, q = self.route_options(ref, where)
                options += [links[off[i]:off[i + 1]] for i in range(len(q))]
                probs += (q * p).tolist()
            else:
                links = self.edges(child, where)
                if child.get("id"):
                    self.routes[child.get("id", "")] = _single(links)
                options.append(links)
                probs.append(p)
        for ref, p in self.weighted_refs(e, "routes", where):
            off, links, q = self.route_options(ref, where)
            options += [links[off[i]:off[i + 1]] for i in range(len(q))]
            probs += (q * p).tolist()
        if not options or sum(probs) <= 0:
            raise DemandError(f"{self.path}: {where} has no routes with probability > 0")
        off = np.zeros(len(options) + 1, np.int64)
        np.cumsum([len(o) for o in options], out=off[1:])
        return off, np.concatenate(options), np.array(probs) / sum(probs)

    def route_options(self, rid: str, where: str
                      ) -> _Options:
        if rid in self.bad_routes:
            raise DemandError(f"{self.bad_routes[rid]}; used by {where}")
        r = self.routes.get(rid)
        if r is None:
            raise DemandError(f"{self.path}: {where}: unknown route {rid!r} (routes must be "
                              f"defined before the vehicles that use them)")
        return r

    def od_route(self, e: ET.Element, where: str
                 ) -> _Options | tuple[int, int]:
        """A vehicle's route options, or ``(origin, destination)`` nodes with no route."""
        for attr in ("fromTaz", "toTaz", "fromXY", "toXY", "fromLonLat", "toLonLat"):
            if e.get(attr) is not None:
                raise DemandError(f"{self.path}: {where}: {attr!r} is not supported; "
                                  f"give from/to edges or fromJunction/toJunction")
        f, t = e.get("from"), e.get("to")
        via = e.get("via", "").split()
        loop = f is not None and t is not None and \
            self.net.link_from[self.link(f, where)] == self.net.link_to[self.link(t, where)]
        if f is not None and t is not None and (self.route_trips or via or loop):
            key = tuple(self.link(x, where) for x in (f, *via, t))
            if key not in self.routed:
                if self.graph is None:
                    self.graph = LinkGraph(self.net, self.net.free_flow_time_s)
                r = self.graph.route(list(key))
                self.routed[key] = None if r is None else r.astype(np.int64)
            route = self.routed[key]
            if route is None:
                raise DemandError(f"{self.path}: {where}: no path from edge {f!r} to edge {t!r}"
                                  + (f" via {' '.join(via)}" if via else ""))
            return _single(route)
        o = self.end_node(f, e.get("fromJunction"), where, "from")
        d = self.end_node(t, e.get("toJunction"), where, "to")
        return o, d

    def end_node(self, edge: str | None, junction: str | None, where: str, side: str) -> int:
        if edge is not None:
            link = self.link(edge, where)
            return int(self.net.link_from[link] if side == "from" else self.net.link_to[link])
        if junction is not None:
            node = self.net.node_index.get(junction)
            if node is None:
                raise DemandError(f"{self.path}: {where}: unknown junction {junction!r}")
            return node
        raise DemandError(f"{self.path}: {where}: no route, route id, '{side}' edge or "
                          f"'{side}Junction'")

    def vehicle_routes(self, e: ET.Element, where: str
                       ) -> _Options | tuple[int, int]:
        """Route options from ``route=``, an embedded route or distribution, or from/to."""
        rid = e.get("route")
        if rid is not None:
            return self.route_options(rid, where)
        for child in e:
            if _tag(child) == "route":
                return _single(self.edges(child, where))
            if _tag(child) == "routeDistribution":
                return self.route_distribution(child, where)
        return self.od_route(e, where)

    # ------------------------------------------------------------ vehicles
    def vehicle(self, e: ET.Element, tag: str) -> None:
        vid = self.need(e, "id", tag)
        where = f"{tag} {vid!r}"
        depart = parse_depart(e.get("depart"), f"{self.path}: {where}")
        if depart >= self.horizon:
            return
        self.emit([vid], np.array([depart]), e, where)

    def flow(self, e: ET.Element, begin_default: float, end_default: float | None) -> None:
        fid = self.need(e, "id", "flow")
        where = f"{self.path}: flow {fid!r}"
        times = flow_times(e, where, begin_default, end_default, self.horizon, self.rng)
        if times.size:
            self.emit([f"{fid}.{k}" for k in range(times.size)], times, e, f"flow {fid!r}")

    def emit(self, ids: list[str], depart: NDArray[np.float64], e: ET.Element, where: str) -> None:
        k = len(ids)
        codes, p = self.type_options(e.get("type", "DEFAULT_VEHTYPE"), where)
        cls = np.full(k, codes[0]) if codes.size == 1 else self.rng.choice(codes, size=k, p=p)
        keep = cls >= 0
        if not keep.all():
            self.skipped["vehicle of a skipped vClass"] = \
                self.skipped.get("vehicle of a skipped vClass", 0) + int((~keep).sum())
            if not keep.any():
                return
        spec = self.vehicle_routes(e, where)
        if len(spec) == 2:
            o, d = np.full(k, spec[0]), np.full(k, spec[1])
            off, links = np.zeros(k + 1, np.int64), np.zeros(0, np.int64)
        else:
            opt_off, opts, q = spec
            pick = np.zeros(k, np.int64) if q.size == 1 else self.rng.choice(q.size, size=k, p=q)
            off, links = _gather_routes(opt_off, opts, pick)
            o = self.net.link_from[links[off[:-1]]].astype(np.int64)
            d = self.net.link_to[links[off[1:] - 1]].astype(np.int64)
        if not keep.all():
            off, links = _gather_routes(off, links, np.flatnonzero(keep))
            ids = [i for i, kp in zip(ids, keep, strict=True) if kp]
            cls, o, d, depart = cls[keep], o[keep], d[keep], depart[keep]
        self.ids.extend(ids)
        self.chunks.append((cls, o, d, depart, np.diff(off), links))

    def trips(self, source: str) -> Trips:
        for what, n in self.skipped.items():
            what = what if what.startswith("vehicle") else f"<{what}> element"
            warnings.warn(f"{source}: skipped {n} {what}(s) (not simulated)", stacklevel=3)
        if self.bad_routes:
            ids = sorted(self.bad_routes)
            warnings.warn(f"{source}: skipped {len(ids)} <route>(s) over edges that are not "
                          f"links of network {self.net.name!r} and that no simulated vehicle "
                          f"uses: {', '.join(map(repr, ids[:5]))}"
                          f"{', ...' if len(ids) > 5 else ''}", stacklevel=3)
        if not self.chunks:
            return Trips.empty()
        cols = [np.concatenate([c[j] for c in self.chunks]) for j in range(6)]
        off = np.zeros(len(self.ids) + 1, np.int64)
        np.cumsum(cols[4], out=off[1:])
        return Trips.from_arrays(self.net, trip_ids=self.ids, vehicle_class=cols[0],
                                 origin_node=cols[1], destination_node=cols[2],
                                 depart_s=cols[3], route_offsets=off, route_links=cols[5],
                                 source=source)


class _UnknownEdge(DemandError):
    """An edge id that is not a link of the network."""


def _single(links: IntArray) -> _Options:
    return np.array([0, len(links)], np.int64), links, np.array([1.0])


def _tag(e: ET.Element) -> str:
    return e.tag.rsplit("}", 1)[-1]


def _open(path: Path) -> io.BufferedIOBase:
    f = path.open("rb")
    if f.read(2) == b"\x1f\x8b":
        f.close()
        return gzip.open(path, "rb")
    f.seek(0)
    return f
