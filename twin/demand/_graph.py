"""Reachability and free-flow routes for demand generation (compiled Dijkstra).

Private helpers: :class:`Reachability` answers "can a vehicle drive from node
``o`` to node ``d``?" for many pairs on the node graph (links head to tail;
turn bans are not looked at), and :class:`LinkGraph` builds explicit routes
pinned to a first and last link over the lane connections (turn bans kept).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from core_ext._shortest_path_cy import dijkstra_csr

if TYPE_CHECKING:
    from twin.network import Network

IntArray = NDArray[np.int32]
BoolArray = NDArray[np.bool_]

_MAX_HUBS = 4


class Reachability:
    """Answers reachability queries between nodes of one network.

    A few *hub* nodes are chosen (high degree, each outside the strongly
    connected parts the earlier hubs found). One forward and one backward
    Dijkstra per hub give ``to_hub[o]`` and ``from_hub[d]``; when both hold for
    some hub, ``o`` reaches ``d`` through it. Pairs that no hub vouches for
    (rare on road networks) get an exact one-to-all Dijkstra from ``o``, cached
    per origin.
    """

    def __init__(self, network: Network) -> None:
        self._net = network
        self._cost = np.ascontiguousarray(network.free_flow_time_s, dtype=np.float64)
        n = network.n_nodes
        in_order = np.argsort(network.link_to, kind="stable").astype(np.int32)
        in_offsets = np.zeros(n + 1, np.int64)
        np.cumsum(np.bincount(network.link_to, minlength=n), out=in_offsets[1:])
        self._in = (in_offsets, in_order)
        degree = np.diff(network.out_offsets) + np.diff(in_offsets)
        covered = degree == 0
        to_hub: list[BoolArray] = []
        from_hub: list[BoolArray] = []
        while len(to_hub) < _MAX_HUBS and not covered.all():
            hub = int(np.argmax(np.where(covered, -1, degree)))
            fwd = np.isfinite(dijkstra_csr(network.out_offsets, network.out_links,
                                           network.link_to, self._cost, hub, -1)[0])
            bwd = np.isfinite(dijkstra_csr(in_offsets, in_order, network.link_from,
                                           self._cost, hub, -1)[0])
            to_hub.append(bwd)
            from_hub.append(fwd)
            covered |= fwd & bwd
            if (fwd & bwd).sum() * 2 >= (degree > 0).sum():
                break  # the hub's strongly connected part is most of the network
        self._to_hub = np.array(to_hub).reshape(len(to_hub), n)
        self._from_hub = np.array(from_hub).reshape(len(from_hub), n)
        self._exact: dict[int, BoolArray] = {}

    def reaches_from(self, origin: int) -> BoolArray:
        """Boolean (n_nodes,): the nodes reachable from ``origin`` (itself included)."""
        row = self._exact.get(origin)
        if row is None:
            net = self._net
            dist = dijkstra_csr(net.out_offsets, net.out_links, net.link_to, self._cost,
                                int(origin), -1)[0]
            row = np.isfinite(dist)
            if len(self._exact) < 4096:
                self._exact[origin] = row
        return row

    def reachable(self, origin: NDArray[np.integer], destination: NDArray[np.integer]) -> BoolArray:
        """Boolean per pair: can ``origin[i]`` reach ``destination[i]`` (and they differ)?"""
        o = np.asarray(origin, dtype=np.int64)
        d = np.asarray(destination, dtype=np.int64)
        ok = (self._to_hub[:, o] & self._from_hub[:, d]).any(axis=0) if o.size else \
            np.zeros(0, np.bool_)
        for i in np.flatnonzero(~ok):
            ok[i] = self.reaches_from(int(o[i]))[d[i]]
        return ok & (o != d)


class LinkGraph:
    """The link-to-link graph of a network's lane connections, for routing.

    Vertices are links and arcs are the turns the connections allow (several
    lane connections between two links make one arc), so routes respect turn
    bans and missing U-turns. An arc costs its target link's ``cost``.

    Parameters
    ----------
    network : Network
    cost : float64 (n_links,), link cost, e.g. free-flow time in seconds.
    """

    def __init__(self, network: Network, cost: NDArray[np.float64]) -> None:
        n_links = network.n_links
        pairs = np.unique(network.conn_from_link.astype(np.int64) * n_links
                          + network.conn_to_link)
        self._arc_from = (pairs // max(n_links, 1)).astype(np.int32)
        self._arc_to = np.ascontiguousarray(pairs % max(n_links, 1), dtype=np.int32)
        self._offsets = np.zeros(n_links + 1, np.int64)
        np.cumsum(np.bincount(self._arc_from, minlength=n_links), out=self._offsets[1:])
        self._arcs = np.arange(pairs.size, dtype=np.int32)
        self._cost = np.ascontiguousarray(np.asarray(cost, dtype=np.float64)[self._arc_to])

    def route(self, links: list[int]) -> IntArray | None:
        """The least-cost route that starts with ``links[0]``, passes
        ``links[1:-1]`` in order and ends with ``links[-1]``.

        Repeated consecutive links count once, so ``[a, a]`` is the route ``[a]``.

        Returns
        -------
        int32 array of link indices, or ``None`` when some leg has no path.
        """
        links = [x for i, x in enumerate(links) if i == 0 or x != links[i - 1]]
        route = [links[0]]
        for nxt in links[1:]:
            here = route[-1]
            _, pred, _ = dijkstra_csr(self._offsets, self._arcs, self._arc_to, self._cost,
                                      here, nxt)
            leg: list[int] = []
            link = nxt
            while link != here:
                arc = int(pred[link])
                if arc < 0:
                    return None
                leg.append(link)
                link = int(self._arc_from[arc])
            route.extend(reversed(leg))
        return np.array(route, dtype=np.int32)
