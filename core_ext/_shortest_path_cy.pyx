# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Dijkstra shortest paths over CSR arrays with a binary heap (compiled kernel).

Private: call the checked wrappers in :mod:`core_ext.shortest_path` instead.
The heap uses lazy deletion: a node may be pushed several times and stale
entries are skipped when popped, so the heap holds at most ``n_links + 1``
entries.
"""

import numpy as np
cimport numpy as cnp
from libc.math cimport INFINITY

cnp.import_array()


cdef inline void _sift_up(double[::1] keys, int[::1] vals, Py_ssize_t pos) noexcept nogil:
    cdef double key = keys[pos]
    cdef int val = vals[pos]
    cdef Py_ssize_t parent
    while pos > 0:
        parent = (pos - 1) >> 1
        if keys[parent] <= key:
            break
        keys[pos] = keys[parent]
        vals[pos] = vals[parent]
        pos = parent
    keys[pos] = key
    vals[pos] = val


cdef inline void _sift_down(double[::1] keys, int[::1] vals, Py_ssize_t size) noexcept nogil:
    cdef Py_ssize_t pos = 0
    cdef Py_ssize_t child
    cdef double key = keys[0]
    cdef int val = vals[0]
    while True:
        child = 2 * pos + 1
        if child >= size:
            break
        if child + 1 < size and keys[child + 1] < keys[child]:
            child += 1
        if keys[child] >= key:
            break
        keys[pos] = keys[child]
        vals[pos] = vals[child]
        pos = child
    keys[pos] = key
    vals[pos] = val


cdef Py_ssize_t _dijkstra(
    const long long[::1] out_offsets,
    const int[::1] out_links,
    const int[::1] link_to,
    const double[::1] link_cost,
    int source,
    int target,
    double[::1] dist,
    int[::1] pred_link,
    double[::1] heap_keys,
    int[::1] heap_vals,
) noexcept nogil:
    """Fill ``dist`` and ``pred_link``; return the number of settled nodes."""
    cdef Py_ssize_t n_nodes = dist.shape[0]
    cdef Py_ssize_t i, k
    cdef Py_ssize_t size = 0
    cdef Py_ssize_t settled = 0
    cdef int u, v, link
    cdef double d, nd
    for i in range(n_nodes):
        dist[i] = INFINITY
        pred_link[i] = -1
    dist[source] = 0.0
    heap_keys[0] = 0.0
    heap_vals[0] = source
    size = 1
    while size > 0:
        d = heap_keys[0]
        u = heap_vals[0]
        size -= 1
        if size > 0:
            heap_keys[0] = heap_keys[size]
            heap_vals[0] = heap_vals[size]
            _sift_down(heap_keys, heap_vals, size)
        if d > dist[u]:
            continue  # stale entry
        settled += 1
        if u == target:
            break
        for k in range(out_offsets[u], out_offsets[u + 1]):
            link = out_links[k]
            v = link_to[link]
            nd = d + link_cost[link]
            if nd < dist[v]:
                dist[v] = nd
                pred_link[v] = link
                heap_keys[size] = nd
                heap_vals[size] = v
                _sift_up(heap_keys, heap_vals, size)
                size += 1
    return settled


def dijkstra_csr(
    const long long[::1] out_offsets,
    const int[::1] out_links,
    const int[::1] link_to,
    const double[::1] link_cost,
    int source,
    int target,
):
    """Run Dijkstra from ``source``; stop early when ``target`` (>= 0) is settled.

    Returns ``(dist, pred_link, settled)``: float64 distances per node (inf when
    unreached), int32 predecessor link per node (-1 for the source and unreached
    nodes) and the number of settled nodes.
    """
    cdef Py_ssize_t n_nodes = out_offsets.shape[0] - 1
    cdef Py_ssize_t heap_cap = out_links.shape[0] + 1
    dist_arr = np.empty(n_nodes, dtype=np.float64)
    pred_arr = np.empty(n_nodes, dtype=np.int32)
    keys_arr = np.empty(heap_cap, dtype=np.float64)
    vals_arr = np.empty(heap_cap, dtype=np.int32)
    cdef double[::1] dist = dist_arr
    cdef int[::1] pred = pred_arr
    cdef double[::1] keys = keys_arr
    cdef int[::1] vals = vals_arr
    cdef Py_ssize_t settled
    with nogil:
        settled = _dijkstra(out_offsets, out_links, link_to, link_cost, source, target,
                            dist, pred, keys, vals)
    return dist_arr, pred_arr, settled


def paths_from_tree_csr(
    const int[::1] pred_link,
    const int[::1] link_from,
    const int[::1] targets,
    int source,
):
    """Walk a predecessor-link tree rooted at ``source`` back from each target.

    Returns ``(offsets, links, status)``: int64 CSR offsets ``(len(targets) + 1,)``,
    the int32 link indices of every path from ``source`` to its target in
    driving order, and an int8 status per target (0 path found or target is
    ``source``, 1 unreachable, 2 the walk did not end within ``n_nodes`` links,
    i.e. ``pred_link`` is not a tree). A target with status != 0 has an empty
    path; so has ``source`` itself.
    """
    cdef Py_ssize_t n_nodes = pred_link.shape[0]
    cdef Py_ssize_t n_t = targets.shape[0]
    offsets_arr = np.zeros(n_t + 1, dtype=np.int64)
    status_arr = np.zeros(n_t, dtype=np.int8)
    cdef long long[::1] offsets = offsets_arr
    cdef signed char[::1] status = status_arr
    cdef Py_ssize_t i, steps, k
    cdef int node, link
    with nogil:
        for i in range(n_t):
            node = targets[i]
            steps = 0
            while pred_link[node] >= 0 and steps <= n_nodes:
                node = link_from[pred_link[node]]
                steps += 1
            if steps > n_nodes:
                status[i] = 2
                steps = 0
            elif node != source:
                status[i] = 1
                steps = 0
            offsets[i + 1] = offsets[i] + steps
    links_arr = np.empty(offsets_arr[n_t], dtype=np.int32)
    cdef int[::1] links = links_arr
    with nogil:
        for i in range(n_t):
            k = offsets[i + 1]
            node = targets[i]
            while k > offsets[i]:
                k -= 1
                link = pred_link[node]
                links[k] = link
                node = link_from[link]
    return offsets_arr, links_arr, status_arr
