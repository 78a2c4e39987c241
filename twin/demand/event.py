"""Trips of a large event letting out: many trips from one place within a time window."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from twin.demand._graph import Reachability
from twin.demand.generate import _check_rng, _numbered
from twin.demand.trips import JAKARTA_VEHICLE_MIX, VEHICLE_CLASSES, DemandError, Trips, mix_probabilities
from twin.network import Network

__all__ = ["event_trips"]


def event_trips(
    network: Network,
    origin: str | int,
    n_trips: int,
    *,
    start_s: float,
    end_s: float,
    rng: np.random.Generator,
    destinations: Sequence[str | int] | None = None,
    vehicle_mix: Mapping[str, float] = JAKARTA_VEHICLE_MIX,
    id_prefix: str = "event",
) -> Trips:
    """Exactly ``n_trips`` trips leaving ``origin`` at uniform times in ``[start_s, end_s)``.

    Parameters
    ----------
    network : Network
    origin : node id or index (the venue's car park)
    n_trips : int >= 0
    start_s, end_s : float, seconds since scenario start, ``end_s > start_s >= 0``
    rng : numpy.random.Generator
    destinations : node ids or indices to spread the trips over uniformly; default every
        node with an incoming link that ``origin`` reaches (the crowd goes home all over
        the area). Destinations ``origin`` cannot reach are dropped, with an error when
        none is left.
    vehicle_mix : class name -> share
    id_prefix : trip ids are ``{id_prefix}{k}``, numbered in departure order

    Raises
    ------
    DemandError
        An unknown node, a bad window or count, or no reachable destination.
    """
    _check_rng(rng)
    if not (np.isfinite(start_s) and np.isfinite(end_s) and 0 <= start_s < end_s):
        raise DemandError(f"event_trips: need 0 <= start_s < end_s, got {start_s}, {end_s}")
    if n_trips < 0:
        raise DemandError(f"event_trips: n_trips must be >= 0, got {n_trips}")
    o = _node(network, origin)
    reach = Reachability(network).reaches_from(o).copy()
    reach[o] = False
    if destinations is None:
        has_in = np.bincount(network.link_to, minlength=network.n_nodes) > 0
        cand = np.flatnonzero(reach & has_in)
    else:
        cand = np.array([_node(network, d) for d in destinations], dtype=np.int64)
        cand = cand[reach[cand]]
    if cand.size == 0:
        raise DemandError(f"event_trips: no destination reachable from node "
                          f"{network.node_ids[o]!r}")
    depart = start_s + rng.random(n_trips) * (end_s - start_s)
    depart = np.minimum(depart, np.nextafter(end_s, start_s))
    dest = cand[rng.integers(0, cand.size, n_trips)]
    classes = rng.choice(len(VEHICLE_CLASSES), size=n_trips, p=mix_probabilities(vehicle_mix))
    return _numbered(network, id_prefix, classes, np.full(n_trips, o, np.int64), dest, depart,
                     "event_trips")


def _node(network: Network, node: str | int) -> int:
    if isinstance(node, int | np.integer) and not isinstance(node, bool):
        if 0 <= int(node) < network.n_nodes:
            return int(node)
    else:
        idx = network.node_index.get(str(node))
        if idx is not None:
            return idx
    raise DemandError(f"event_trips: node {node!r} is not in network {network.name!r}")
