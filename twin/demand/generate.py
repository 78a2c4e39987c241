"""Synthetic demand: random trips and trips from an origin-destination table.

Every generator takes a :class:`numpy.random.Generator` and draws from it in a
fixed order, so the same seed gives identical :class:`~twin.demand.Trips`.
Generated trips have no explicit route: the simulator routes them (shortest
path on free-flow time) when the run is built. Trip ids are ``<id_prefix><k>`` numbered in departure order.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import TYPE_CHECKING, Literal

import numpy as np
from numpy.typing import NDArray

from twin.demand._graph import Reachability
from twin.demand.profile import FLAT, TimeProfile
from twin.demand.trips import (
    JAKARTA_VEHICLE_MIX,
    VEHICLE_CLASSES,
    DemandError,
    Trips,
    mix_probabilities,
)

if TYPE_CHECKING:
    from twin.network import Network

WeightBy = Literal["uniform", "lanes", "capacity"]


def random_trips(
    network: Network,
    n_trips: int | None = None,
    *,
    trips_per_hour: float | None = None,
    duration_s: float,
    rng: np.random.Generator,
    vehicle_mix: Mapping[str, float] = JAKARTA_VEHICLE_MIX,
    profile: TimeProfile = FLAT,
    weight_by: WeightBy = "uniform",
    id_prefix: str = "rand",
    max_rounds: int = 100,
) -> Trips:
    """Random trips between mutually reachable nodes.

    Origins are drawn among nodes with an outgoing link, destinations among
    nodes with an incoming link. Pairs where the destination cannot be reached
    from the origin (or equals it) are dropped and redrawn.

    Parameters
    ----------
    network : Network
    n_trips : int, optional
        Exactly this many trips. Give this or ``trips_per_hour``.
    trips_per_hour : float, optional
        Base departure rate in trips per hour at profile multiplier 1.0; the
        number of trips is Poisson with mean ``trips_per_hour / 3600 *
        profile.integral(duration_s)``.
    duration_s : float
        Horizon in seconds; departures fall in ``[0, duration_s)``.
    rng : numpy.random.Generator
    vehicle_mix : mapping of class name to share
        Shares need not sum to 1. Default :data:`JAKARTA_VEHICLE_MIX`.
    profile : TimeProfile
        Departure-rate shape. Default flat.
    weight_by : {"uniform", "lanes", "capacity"}
        Node weights: equal, or the total lanes (or capacity in veh/h) of the
        node's outgoing links for origins and incoming links for destinations,
        which favours nodes on bigger roads.
    id_prefix : str
    max_rounds : int
        Redraw rounds before giving up on unreachable pairs.

    Returns
    -------
    Trips, sorted by departure, without explicit routes.

    Raises
    ------
    DemandError
        On bad arguments or when reachable pairs cannot be found.
    """
    _check_rng(rng)
    if (n_trips is None) == (trips_per_hour is None):
        raise DemandError("random_trips: give exactly one of n_trips and trips_per_hour")
    if trips_per_hour is not None:
        if not np.isfinite(trips_per_hour) or trips_per_hour < 0:
            raise DemandError(f"random_trips: trips_per_hour must be >= 0, got {trips_per_hour}")
        n = int(rng.poisson(trips_per_hour / 3600.0 * profile.integral(duration_s)))
    else:
        n = int(n_trips)  # type: ignore[arg-type]
        if n < 0:
            raise DemandError(f"random_trips: n_trips must be >= 0, got {n_trips}")
    depart = profile.sample(n, duration_s, rng)
    classes = rng.choice(len(VEHICLE_CLASSES), size=n, p=mix_probabilities(vehicle_mix))
    o_w, d_w = _node_weights(network, weight_by)
    if n and (o_w.sum() <= 0 or d_w.sum() <= 0):
        raise DemandError(f"random_trips: network {network.name!r} has no links to drive on")
    reach = Reachability(network)
    o = np.zeros(n, np.int64)
    d = np.zeros(n, np.int64)
    todo = np.arange(n)
    p_o, p_d = o_w / max(o_w.sum(), 1e-300), d_w / max(d_w.sum(), 1e-300)
    for _ in range(max_rounds):
        if not todo.size:
            break
        oo = rng.choice(network.n_nodes, size=todo.size, p=p_o)
        dd = rng.choice(network.n_nodes, size=todo.size, p=p_d)
        ok = reach.reachable(oo, dd)
        o[todo[ok]], d[todo[ok]] = oo[ok], dd[ok]
        todo = todo[~ok]
    if todo.size:
        raise DemandError(
            f"random_trips: after {max_rounds} rounds {todo.size} of {n} trips still have no "
            f"reachable origin-destination pair in network {network.name!r}; is it connected?")
    return _numbered(network, id_prefix, classes, o, d, depart, "random_trips")


def od_trips(
    network: Network,
    od: Mapping[tuple[str | int, str | int], float],
    *,
    duration_s: float,
    rng: np.random.Generator,
    profile: TimeProfile = FLAT,
    vehicle_mix: Mapping[str, float] = JAKARTA_VEHICLE_MIX,
    scale: float = 1.0,
    rounding: Literal["poisson", "stochastic"] = "poisson",
    drop_unreachable: bool = False,
    id_prefix: str = "od",
) -> Trips:
    """Trips from an origin-destination table.

    Parameters
    ----------
    network : Network
    od : mapping (origin node id, destination node id) -> trips over the horizon
        Node ids as in ``network.node_ids`` (ints are turned into str). Pairs are
        processed in the mapping's order. Pairs with origin == destination are
        skipped (intrazonal trips do not use the road network), with a warning
        when their flow is positive.
    duration_s : float
        Horizon in seconds; departures fall in ``[0, duration_s)`` and follow
        ``profile``.
    rng : numpy.random.Generator
    profile : TimeProfile
    vehicle_mix : mapping of class name to share
    scale : float
        Multiplies every flow (e.g. 0.25 for a quarter of a peak-hour table).
    rounding : {"poisson", "stochastic"}
        How a flow becomes an integer count: ``Poisson(flow * scale)``, or the
        floor plus one more with probability equal to the fraction. Both are
        right in expectation; "stochastic" has variance below 1/4.
    drop_unreachable : bool
        Drop (with a warning) pairs whose destination cannot be reached from the
        origin instead of raising.
    id_prefix : str

    Returns
    -------
    Trips, sorted by departure, without explicit routes.

    Raises
    ------
    DemandError
        Naming the pair: unknown node, flow not a number >= 0, or unreachable.
    """
    _check_rng(rng)
    if not np.isfinite(scale) or scale < 0:
        raise DemandError(f"od_trips: scale must be a number >= 0, got {scale}")
    if rounding not in ("poisson", "stochastic"):
        raise DemandError(f"od_trips: rounding must be 'poisson' or 'stochastic', got {rounding!r}")
    pairs = list(od.items())
    o = np.zeros(len(pairs), np.int64)
    d = np.zeros(len(pairs), np.int64)
    flow = np.zeros(len(pairs))
    for k, ((oid, did), f) in enumerate(pairs):
        for arr, node in ((o, oid), (d, did)):
            idx = network.node_index.get(str(node))
            if idx is None:
                raise DemandError(f"od_trips: pair ({oid!r}, {did!r}): node {str(node)!r} is not "
                                  f"in network {network.name!r}")
            arr[k] = idx
        flow[k] = float(f)
        if not np.isfinite(flow[k]) or flow[k] < 0:
            raise DemandError(f"od_trips: pair ({oid!r}, {did!r}): flow must be a number >= 0, "
                              f"got {f!r}")
    intra = o == d
    if flow[intra].sum() > 0:
        warnings.warn(f"od_trips: skipped {int(intra.sum())} intrazonal pairs (origin == "
                      f"destination) with {flow[intra].sum():g} trips in total", stacklevel=2)
    lam = np.where(intra, 0.0, flow * scale)
    if rounding == "poisson":
        counts = rng.poisson(lam)
    else:
        base = np.floor(lam)
        counts = (base + (rng.random(lam.size) < lam - base)).astype(np.int64)
    live = np.flatnonzero(counts > 0)
    ok = Reachability(network).reachable(o[live], d[live])
    if not ok.all():
        bad = live[~ok]
        (oid, did), _ = pairs[bad[0]]
        if not drop_unreachable:
            raise DemandError(f"od_trips: pair ({oid!r}, {did!r}): destination cannot be reached "
                              f"from the origin in network {network.name!r} ({bad.size} such "
                              f"pairs; pass drop_unreachable=True to drop them)")
        warnings.warn(f"od_trips: dropped {bad.size} unreachable pairs with "
                      f"{int(counts[bad].sum())} trips, e.g. ({oid!r}, {did!r})", stacklevel=2)
        counts[bad] = 0
    n = int(counts.sum())
    depart = profile.sample(n, duration_s, rng)
    classes = rng.choice(len(VEHICLE_CLASSES), size=n, p=mix_probabilities(vehicle_mix))
    return _numbered(network, id_prefix, classes, np.repeat(o, counts), np.repeat(d, counts),
                     depart, "od_trips")


def _numbered(network: Network, prefix: str, classes: NDArray[np.integer],
              o: NDArray[np.integer], d: NDArray[np.integer], depart: NDArray[np.float64],
              source: str) -> Trips:
    """Trips with ids numbered in departure order."""
    order = np.argsort(depart, kind="stable")
    return Trips.from_arrays(
        network, trip_ids=[f"{prefix}{k}" for k in range(order.size)],
        vehicle_class=classes[order], origin_node=o[order], destination_node=d[order],
        depart_s=depart[order], source=source)


def _node_weights(network: Network, weight_by: WeightBy
                  ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Origin and destination weights per node."""
    if weight_by == "uniform":
        w = np.ones(network.n_links)
    elif weight_by == "lanes":
        w = network.link_lanes.astype(np.float64)
    elif weight_by == "capacity":
        w = network.link_capacity_vph
    else:
        raise DemandError(f"weight_by must be 'uniform', 'lanes' or 'capacity', got {weight_by!r}")
    n = network.n_nodes
    o_w = np.bincount(network.link_from, weights=w, minlength=n)
    d_w = np.bincount(network.link_to, weights=w, minlength=n)
    if weight_by == "uniform":
        o_w, d_w = (o_w > 0).astype(np.float64), (d_w > 0).astype(np.float64)
    return o_w, d_w


def _check_rng(rng: object) -> None:
    if not isinstance(rng, np.random.Generator):
        raise DemandError(f"rng must be a numpy.random.Generator (numpy.random.default_rng(seed)), "
                          f"got {type(rng).__name__}")
