"""Travel times of emergency units over the twin's CURRENT link travel times.

Each query runs the engine's turn-aware Dijkstra (:class:`twin.routing.LineGraph`)
with the link costs of :meth:`twin.simulation.Simulation.link_travel_time_s` at that
moment, so a congested or blocked road slows a unit exactly as it slows traffic.
Without units in traffic a unit's travel time is the path time at the moment it sets
off, divided by the configured emergency speed-up. With ``units_in_traffic`` the same
query gives the route (:meth:`TravelTimes.route_to_link`) the unit then drives as a
vehicle in the engine (see :mod:`twin.modules.dispatch.model`).
"""

from __future__ import annotations

import math
import time

import numpy as np
from numpy.typing import NDArray

from twin.simulation import Simulation

FloatArray = NDArray[np.float64]


class TravelTimes:
    """Shortest current travel times from nodes or links.

    Parameters
    ----------
    sim : Simulation
    emergency_speedup : float
        Divides every path time (1: units drive at the traffic's current speed).
    """

    def __init__(self, sim: Simulation, *, emergency_speedup: float = 1.0) -> None:
        self.sim = sim
        self.graph = sim.line_graph
        self.speedup = float(emergency_speedup)
        self._cache: dict[int, tuple[FloatArray, NDArray[np.int32]]] = {}
        self._cache_time_s = -math.inf
        self._cost_s: FloatArray = np.zeros(0)
        self._edge_cost: FloatArray = np.zeros(0)
        self.queries = 0
        """Shortest-path trees computed."""
        self.wall_s = 0.0
        """Wall seconds spent computing them."""

    def node_vertex(self, node: int) -> int:
        """Search vertex of a network node."""
        return self.graph.n_links + int(node)

    def _refresh(self) -> None:
        now = self.sim.time_s
        if now != self._cache_time_s:
            self._cache.clear()
            self._cache_time_s = now
            self._cost_s = np.asarray(self.sim.link_travel_time_s(), dtype=np.float64)
            # routes avoid closed links (Simulation.close_link); edge costs once per instant
            self._edge_cost = self.graph.edge_cost(self.sim.route_cost_s(self._cost_s))

    def _tree(self, vertex: int) -> tuple[FloatArray, NDArray[np.int32]]:
        self._refresh()
        tree = self._cache.get(vertex)
        if tree is None:
            self.queries += 1
            t0 = time.perf_counter()
            tree = self.graph.tree(vertex, self._edge_cost)
            self.wall_s += time.perf_counter() - t0
            self._cache[vertex] = tree
        return tree

    def _dist(self, vertex: int) -> FloatArray:
        return self._tree(vertex)[0]

    def link_time_s(self, link: int) -> float:
        """Current travel time of ``link`` (seconds, not divided by the speed-up)."""
        self._refresh()
        return float(self._cost_s[link])

    def route_to_link(self, vertex: int, link: int) -> NDArray[np.int32] | None:
        """Fastest current route from ``vertex`` that ends on ``link`` (None: unreachable).

        From a link vertex the route starts on that link; from a node vertex on a
        link leaving the node. The route is drivable along lane connections.
        """
        if vertex == link:
            return np.array([link], np.int32)
        dist, pred = self._tree(vertex)
        if not math.isfinite(float(dist[link])):
            return None
        (path,) = self.graph.links_to(pred, int(vertex), np.array([link], np.int32))
        if path is None:
            return None
        if vertex < self.graph.n_links:
            path = np.concatenate([np.array([vertex], np.int32), path])
        return path

    def to_link_s(self, vertex: int, link: int) -> float:
        """Seconds from ``vertex`` to the middle of ``link`` (inf when unreachable)."""
        if vertex == link:
            return 0.0
        dist = self._dist(vertex)
        d = float(dist[link])
        if not math.isfinite(d):
            return math.inf
        return max(d - 0.5 * float(self._cost_s[link]), 0.0) / self.speedup

    def to_node_s(self, vertex: int, node: int) -> float:
        """Seconds from ``vertex`` to ``node`` (0 when already there; inf when unreachable)."""
        g = self.graph
        if vertex == self.node_vertex(node):
            return 0.0
        dist = self._dist(vertex)
        ins = g.in_links[g.in_offsets[node]:g.in_offsets[node + 1]]
        if ins.size == 0:
            return math.inf
        d = float(np.min(dist[ins]))
        if vertex < g.n_links and int(self.sim.network.link_to[vertex]) == int(node):
            d = min(d, 0.5 * float(self._cost_s[vertex]))
        return d / self.speedup if math.isfinite(d) else math.inf
