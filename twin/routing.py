"""Turn-aware routing: shortest paths over the network's movements.

Routes must be drivable lane by lane, so the search runs on the *line graph*
of the network: its vertices are the links, and an edge joins link ``a`` to
link ``b`` for every movement ``a -> b`` that a lane connection allows,
costing the travel time of ``b``. A banned turn is simply missing. Trips
start at a node, so each node also gets a source vertex with an edge to each
link leaving it. The search is the Cython Dijkstra of
:mod:`core_ext.shortest_path`, run on these arrays unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from core_ext.shortest_path import paths_from_tree, shortest_path_tree
from twin.junctions import Movements
from twin.network import Network

__all__ = ["LineGraph", "build_line_graph"]

FloatArray = NDArray[np.float64]


@dataclass(frozen=True, eq=False)
class LineGraph:
    """The movement graph of a network, ready for the CSR Dijkstra.

    Vertices ``0..n_links-1`` are links, ``n_links + u`` the source vertex of
    node ``u``. Edge ``e`` leads to vertex ``edge_to[e]`` and drives link
    ``edge_link[e]`` (the link it enters).
    """

    n_links: int
    n_nodes: int
    out_offsets: NDArray[np.int64]
    out_edges: NDArray[np.int32]
    edge_from: NDArray[np.int32]
    edge_to: NDArray[np.int32]
    edge_link: NDArray[np.int32]
    in_offsets: NDArray[np.int64]
    in_links: NDArray[np.int32]

    def edge_cost(self, link_cost_s: FloatArray) -> FloatArray:
        """Edge costs from per-link costs (seconds)."""
        return np.ascontiguousarray(link_cost_s[self.edge_link], dtype=np.float64)

    def tree(self, vertex: int, edge_cost_s: FloatArray) -> tuple[FloatArray, NDArray[np.int32]]:
        """Dijkstra tree from ``vertex``: (dist_s per vertex, pred edge per vertex)."""
        return shortest_path_tree(self.out_offsets, self.out_edges, self.edge_to, edge_cost_s,
                                  int(vertex), check=False)

    def routes_to(
        self,
        dist: FloatArray,
        pred: NDArray[np.int32],
        source_vertex: int,
        dest_nodes: NDArray[np.int64],
    ) -> list[NDArray[np.int32] | None]:
        """Link sequences from a tree to each destination node (None when unreachable).

        The route ends on the cheapest link into the destination node; the
        source vertex's own link (when the source is a link) is not included.
        """
        targets = np.empty(dest_nodes.shape[0], np.int32)
        ok = np.zeros(dest_nodes.shape[0], bool)
        for j, d in enumerate(dest_nodes.tolist()):
            ins = self.in_links[self.in_offsets[d]:self.in_offsets[d + 1]]
            if ins.size == 0:
                targets[j] = source_vertex
                continue
            k = int(ins[np.argmin(dist[ins])])
            ok[j] = bool(np.isfinite(dist[k])) and k != source_vertex
            targets[j] = k if ok[j] else source_vertex
        paths = self.links_to(pred, source_vertex, targets)
        return [p if ok[j] else None for j, p in enumerate(paths)]

    def links_to(self, pred: NDArray[np.int32], source_vertex: int,
                 target_links: NDArray[np.int32]) -> list[NDArray[np.int32] | None]:
        """The links driven from ``source_vertex`` to each of ``target_links`` along the tree
        ``pred`` (the target included, the source's own link not), None when not reached."""
        off, edges, reach = paths_from_tree(pred, self.edge_from,
                                            np.ascontiguousarray(target_links, np.int32),
                                            int(source_vertex))
        return [self.edge_link[edges[off[j]:off[j + 1]]].astype(np.int32) if reach[j] else None
                for j in range(target_links.shape[0])]


def build_line_graph(network: Network, movements: Movements) -> LineGraph:
    """The movement graph of ``network``."""
    n_links, n_nodes = network.n_links, network.n_nodes
    m_from = movements.from_link.astype(np.int64)
    m_to = movements.to_link.astype(np.int32)
    src_from = (n_links + network.link_from).astype(np.int64)
    edge_from = np.concatenate([m_from, src_from]).astype(np.int32)
    edge_link = np.concatenate([m_to, np.arange(n_links, dtype=np.int32)]).astype(np.int32)
    edge_to = edge_link.copy()
    order = np.argsort(edge_from, kind="stable").astype(np.int32)
    out_offsets = np.zeros(n_links + n_nodes + 1, np.int64)
    np.cumsum(np.bincount(edge_from, minlength=n_links + n_nodes), out=out_offsets[1:])
    in_order = np.argsort(network.link_to, kind="stable").astype(np.int32)
    in_offsets = np.zeros(n_nodes + 1, np.int64)
    np.cumsum(np.bincount(network.link_to, minlength=n_nodes), out=in_offsets[1:])
    return LineGraph(n_links=n_links, n_nodes=n_nodes, out_offsets=out_offsets,
                     out_edges=order, edge_from=edge_from, edge_to=edge_to,
                     edge_link=edge_link, in_offsets=in_offsets, in_links=in_order)
