"""All-or-nothing loading of one shortest-path tree (Numba kernel).

Given the tree of one origin (``dist`` and ``pred_link`` from
:func:`core_ext.shortest_path.shortest_path_tree`) and the demand from that
origin to some destination nodes, put each destination's demand on every link
of its tree path (a walk up ``pred_link``; zero-cost links, such as TNTP zone
connectors, make ``dist`` order unusable for a sweep, so the walk is per pair).
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def load_tree(
    dist: np.ndarray,
    pred_link: np.ndarray,
    link_from: np.ndarray,
    dest_nodes: np.ndarray,
    demand: np.ndarray,
    link_flow: np.ndarray,
) -> int:
    """Add ``demand[k]`` on the tree path to ``dest_nodes[k]``, into ``link_flow``.

    Parameters
    ----------
    dist : float64 (n_nodes,), tree costs (``inf`` = unreachable).
    pred_link : int32 (n_nodes,), last link of each tree path (-1 at the root).
    link_from : int32 (n_links,), tail node of each link.
    dest_nodes : int64 (n_od,), destination node indices.
    demand : float64 (n_od,), flow to each destination.
    link_flow : float64 (n_links,), accumulated in place.

    Returns
    -------
    int
        -1 when every positive demand was loaded, else the index ``k`` of the
        first destination that is unreachable (nothing is loaded then).
    """
    for k in range(dest_nodes.shape[0]):
        if demand[k] > 0.0 and not np.isfinite(dist[dest_nodes[k]]):
            return k
    for k in range(dest_nodes.shape[0]):
        f = demand[k]
        if f <= 0.0:
            continue
        v = dest_nodes[k]
        e = pred_link[v]
        while e >= 0:
            link_flow[e] += f
            v = link_from[e]
            e = pred_link[v]
    return -1
