"""Slow, obviously-correct references of the kernels: the test oracles.

Nothing here is fast and nothing here is meant for production runs. Each
function restates the semantics of a compiled kernel in plain Python so the
differential tests can compare them:

- :func:`dijkstra_reference` for :func:`core_ext.shortest_path.shortest_path_tree`.

The traffic engine's oracle is :mod:`core_ext.micro_reference`.
"""

from __future__ import annotations

import heapq
import math

import numpy as np
from numpy.typing import NDArray

__all__ = ["dijkstra_reference"]


# ----------------------------------------------------------------- Dijkstra
def dijkstra_reference(
    out_offsets: NDArray[np.int64],
    out_links: NDArray[np.int32],
    link_to: NDArray[np.int32],
    link_cost_s: NDArray[np.float64],
    source: int,
) -> tuple[NDArray[np.float64], NDArray[np.int32]]:
    """One-to-all Dijkstra with :mod:`heapq`; same contract as ``shortest_path_tree``.

    Returns
    -------
    dist_s : float64 (n_nodes,), ``inf`` when unreachable
    pred_link : int32 (n_nodes,), -1 at the source and unreachable nodes
    """
    n_nodes = len(out_offsets) - 1
    dist = [math.inf] * n_nodes
    pred = [-1] * n_nodes
    done = [False] * n_nodes
    dist[source] = 0.0
    heap = [(0.0, source)]
    while heap:
        d, u = heapq.heappop(heap)
        if done[u]:
            continue
        done[u] = True
        for k in range(int(out_offsets[u]), int(out_offsets[u + 1])):
            link = int(out_links[k])
            v = int(link_to[link])
            nd = d + float(link_cost_s[link])
            if nd < dist[v]:
                dist[v] = nd
                pred[v] = link
                heapq.heappush(heap, (nd, v))
    return np.array(dist, dtype=np.float64), np.array(pred, dtype=np.int32)
