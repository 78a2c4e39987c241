"""Shortest paths over the CSR road graph: the checked wrappers of the Cython kernel.

The graph is given as arrays, never as a network object:

- ``out_offsets`` int64 ``(n_nodes + 1,)`` and ``out_links`` int32 ``(n_links,)``:
  the links leaving node ``u`` are ``out_links[out_offsets[u]:out_offsets[u + 1]]``;
- ``link_to`` int32 ``(n_links,)``: the node each link leads to;
- ``link_cost_s`` float64 ``(n_links,)``: the cost of each link in seconds
  (e.g. free-flow time ``length_m / speed_limit_mps``), ``>= 0``; ``+inf``
  closes a link.

Every array must already have its dtype and be C-contiguous: the wrappers do
not copy silently. Pass ``check=False`` to skip the O(n_links) validation when
the arrays were checked once already (the simulator does this for each origin).

The compiled module is required. When it is missing, importing this module
raises :class:`ImportError` saying how to build it; there is no slow fallback
(the pure-Python :func:`core_ext.reference.dijkstra_reference` is a test
oracle, not a substitute).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

try:
    from core_ext import _shortest_path_cy as _cy
except ImportError as exc:  # pragma: no cover - depends on the build
    raise ImportError(
        "core_ext._shortest_path_cy (the compiled Dijkstra kernel) is not built. "
        "Build it with `pip install -e .` or, in a source checkout, "
        "`python setup.py build_ext --inplace` (needs Cython and a C compiler)."
    ) from exc

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int32]
OffsetArray = NDArray[np.int64]

__all__ = [
    "check_graph",
    "path_from_tree",
    "paths_from_tree",
    "shortest_path",
    "shortest_path_tree",
]


def _check_array(name: str, arr: object, dtype: type, ndim: int = 1) -> np.ndarray:
    if not isinstance(arr, np.ndarray):
        raise ValueError(
            f"{name} must be a numpy array of dtype {np.dtype(dtype).name}, got "
            f"{type(arr).__name__}; convert with np.ascontiguousarray({name}, "
            f"dtype=np.{np.dtype(dtype).name})"
        )
    if arr.dtype != dtype:
        raise ValueError(
            f"{name} must have dtype {np.dtype(dtype).name}, got {arr.dtype}; convert with "
            f"np.ascontiguousarray({name}, dtype=np.{np.dtype(dtype).name})"
        )
    if arr.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-D, got shape {arr.shape}")
    if not arr.flags.c_contiguous:
        raise ValueError(f"{name} must be C-contiguous; pass np.ascontiguousarray({name})")
    return arr


def check_graph(
    out_offsets: OffsetArray,
    out_links: IntArray,
    link_to: IntArray,
    link_cost_s: FloatArray,
) -> int:
    """Validate a CSR graph and its link costs; return ``n_nodes``.

    Raises
    ------
    ValueError
        Naming the array and the first bad entry.
    """
    _check_array("out_offsets", out_offsets, np.int64)
    _check_array("out_links", out_links, np.int32)
    _check_array("link_to", link_to, np.int32)
    _check_array("link_cost_s", link_cost_s, np.float64)
    if out_offsets.shape[0] < 1:
        raise ValueError("out_offsets must have n_nodes + 1 >= 1 entries, got 0")
    n_nodes = out_offsets.shape[0] - 1
    n_links = out_links.shape[0]
    if out_offsets[0] != 0 or out_offsets[-1] != n_links:
        raise ValueError(
            f"out_offsets must start at 0 and end at len(out_links) = {n_links}, got "
            f"{out_offsets[0]} .. {out_offsets[-1]}"
        )
    steps = np.diff(out_offsets)
    if steps.size and steps.min() < 0:
        bad_node = int(np.flatnonzero(steps < 0)[0])
        raise ValueError(f"out_offsets must be non-decreasing; it decreases after node {bad_node}")
    for name, arr in (("link_to", link_to), ("link_cost_s", link_cost_s)):
        if arr.shape[0] != n_links:
            raise ValueError(f"{name} has {arr.shape[0]} entries, expected n_links = {n_links} "
                             f"(the length of out_links)")
    if n_links:
        # cheap min/max scans first; locate the culprit only when one fails
        if out_links.min() < 0 or out_links.max() >= n_links:
            bad = np.flatnonzero((out_links < 0) | (out_links >= n_links))
            raise ValueError(f"out_links[{bad[0]}] = {out_links[bad[0]]} is not a link index "
                             f"(0..{n_links - 1})")
        if np.bincount(out_links, minlength=n_links).max() != 1:
            raise ValueError("out_links must list every link exactly once")
        if link_to.min() < 0 or link_to.max() >= n_nodes:
            bad = np.flatnonzero((link_to < 0) | (link_to >= n_nodes))
            raise ValueError(f"link_to[{bad[0]}] = {link_to[bad[0]]} is not a node index "
                             f"(0..{n_nodes - 1})")
        lowest = link_cost_s.min()  # NaN if any cost is NaN
        if not lowest >= 0:
            bad = np.flatnonzero(np.isnan(link_cost_s))
            if bad.size:
                raise ValueError(f"link_cost_s[{bad[0]}] is NaN; every link needs a cost (use "
                                 f"+inf to close a link)")
            bad = np.flatnonzero(link_cost_s < 0)
            raise ValueError(f"link_cost_s[{bad[0]}] = {link_cost_s[bad[0]]} is negative; "
                             f"Dijkstra needs costs >= 0")
    return n_nodes


def _check_node(name: str, node: object, n_nodes: int) -> int:
    if isinstance(node, bool) or not isinstance(node, int | np.integer):
        raise ValueError(f"{name} must be an integer node index, got {node!r}")
    if not 0 <= int(node) < n_nodes:
        raise ValueError(f"{name} = {node} is not a node index (0..{n_nodes - 1})")
    return int(node)


def shortest_path_tree(
    out_offsets: OffsetArray,
    out_links: IntArray,
    link_to: IntArray,
    link_cost_s: FloatArray,
    source: int,
    *,
    check: bool = True,
) -> tuple[FloatArray, IntArray]:
    """One-to-all shortest paths from ``source`` (Dijkstra, binary heap).

    Parameters
    ----------
    out_offsets : int64 (n_nodes + 1,)
    out_links : int32 (n_links,)
    link_to : int32 (n_links,)
    link_cost_s : float64 (n_links,), seconds, >= 0 (``inf`` closes a link)
    source : int, node index
    check : bool
        Validate the arrays (O(n_links)); skip only for arrays checked before.

    Returns
    -------
    dist_s : float64 (n_nodes,)
        Cost of the cheapest path from ``source`` in seconds; ``inf`` when
        unreachable, 0 at ``source``.
    pred_link : int32 (n_nodes,)
        The last link of the cheapest path to each node; -1 at ``source`` and
        at unreachable nodes. Walk it with :func:`path_from_tree`.

    Raises
    ------
    ValueError
        When an array has the wrong dtype, shape or layout, a cost is negative
        or NaN, or ``source`` is not a node.

    Examples
    --------
    >>> import numpy as np
    >>> off = np.array([0, 1, 2, 2], np.int64)       # 0 -> 1 -> 2
    >>> links = np.array([0, 1], np.int32)
    >>> to = np.array([1, 2], np.int32)
    >>> dist, pred = shortest_path_tree(off, links, to, np.array([3.0, 4.0]), 0)
    >>> dist.tolist(), pred.tolist()
    ([0.0, 3.0, 7.0], [-1, 0, 1])
    """
    if check:
        n_nodes = check_graph(out_offsets, out_links, link_to, link_cost_s)
        source = _check_node("source", source, n_nodes)
    dist, pred, _settled = _cy.dijkstra_csr(out_offsets, out_links, link_to, link_cost_s,
                                            int(source), -1)
    return dist, pred


def shortest_path(
    out_offsets: OffsetArray,
    out_links: IntArray,
    link_to: IntArray,
    link_from: IntArray,
    link_cost_s: FloatArray,
    source: int,
    target: int,
    *,
    check: bool = True,
) -> IntArray:
    """The cheapest path from ``source`` to ``target`` as link indices.

    Dijkstra stops as soon as ``target`` is settled.

    Parameters
    ----------
    out_offsets, out_links, link_to, link_cost_s : see :func:`shortest_path_tree`
    link_from : int32 (n_links,), the node each link leaves
    source, target : int, node indices
    check : bool
        Validate the arrays first.

    Returns
    -------
    int32 (n_path_links,)
        Link indices in driving order; empty when ``target`` is unreachable or
        equals ``source``.

    Examples
    --------
    >>> import numpy as np
    >>> off = np.array([0, 1, 2, 2], np.int64)
    >>> links = np.array([0, 1], np.int32)
    >>> shortest_path(off, links, np.array([1, 2], np.int32), np.array([0, 1], np.int32),
    ...               np.array([3.0, 4.0]), 0, 2).tolist()
    [0, 1]
    """
    if check:
        n_nodes = check_graph(out_offsets, out_links, link_to, link_cost_s)
        _check_array("link_from", link_from, np.int32)
        if link_from.shape != link_to.shape:
            raise ValueError(f"link_from has {link_from.shape[0]} entries, expected "
                             f"{link_to.shape[0]}")
        source = _check_node("source", source, n_nodes)
        target = _check_node("target", target, n_nodes)
    if source == target:
        return np.zeros(0, dtype=np.int32)
    _dist, pred, _settled = _cy.dijkstra_csr(out_offsets, out_links, link_to, link_cost_s,
                                             int(source), int(target))
    return path_from_tree(pred, link_from, target, source=source, check=False)


def path_from_tree(
    pred_link: IntArray,
    link_from: IntArray,
    target: int,
    *,
    source: int | None = None,
    check: bool = True,
) -> IntArray:
    """Walk a predecessor-link tree back from ``target``.

    Parameters
    ----------
    pred_link : int32 (n_nodes,), from :func:`shortest_path_tree`
    link_from : int32 (n_links,), the node each link leaves
    target : int, node index
    source : int or None
        The tree's root. When given, a walk that ends elsewhere (``target``
        unreachable) returns an empty path; when ``None``, an unreachable
        target (``pred_link[target] == -1``) gives an empty path as well.
    check : bool
        Validate the arrays first.

    Returns
    -------
    int32 (n_path_links,)
        Link indices in driving order from the root to ``target``; empty when
        ``target`` is the root or unreachable.

    Raises
    ------
    ValueError
        When ``pred_link`` is not a tree (a walk does not end within
        ``n_nodes`` links) or an index is out of range.
    """
    if check:
        _check_array("pred_link", pred_link, np.int32)
        _check_array("link_from", link_from, np.int32)
        n_nodes = pred_link.shape[0]
        target = _check_node("target", target, n_nodes)
        if source is not None:
            source = _check_node("source", source, n_nodes)
        bad = np.flatnonzero((pred_link < -1) | (pred_link >= link_from.shape[0]))
        if bad.size:
            raise ValueError(f"pred_link[{bad[0]}] = {pred_link[bad[0]]} is neither -1 nor a "
                             f"link index")
    if source is None:
        # the root is wherever the walk ends; unreachable targets have no predecessor
        if pred_link[target] < 0:
            return np.zeros(0, dtype=np.int32)
        node = int(target)
        for _ in range(pred_link.shape[0] + 1):
            if pred_link[node] < 0:
                break
            node = int(link_from[pred_link[node]])
        source = node
    offsets, links, status = _cy.paths_from_tree_csr(
        pred_link, link_from, np.array([target], dtype=np.int32), int(source))
    if status[0] == 2:
        raise ValueError("pred_link is not a tree: the walk back from target "
                         f"{target} does not end")
    return links


def paths_from_tree(
    pred_link: IntArray,
    link_from: IntArray,
    targets: IntArray,
    source: int,
) -> tuple[OffsetArray, IntArray, NDArray[np.bool_]]:
    """Paths from ``source`` to many ``targets`` at once, as CSR arrays.

    Parameters
    ----------
    pred_link : int32 (n_nodes,), a tree rooted at ``source``
    link_from : int32 (n_links,)
    targets : int32 (n_targets,), node indices
    source : int, the tree's root

    Returns
    -------
    offsets : int64 (n_targets + 1,)
    links : int32 (offsets[-1],)
        Path ``i`` is ``links[offsets[i]:offsets[i + 1]]`` in driving order.
    reachable : bool (n_targets,)
        False where the target cannot be reached (its path is empty). A target
        equal to ``source`` is reachable with an empty path.

    Raises
    ------
    ValueError
        When an array is malformed or ``pred_link`` is not a tree.
    """
    _check_array("pred_link", pred_link, np.int32)
    _check_array("link_from", link_from, np.int32)
    _check_array("targets", targets, np.int32)
    n_nodes = pred_link.shape[0]
    source = _check_node("source", source, n_nodes)
    if targets.size and (targets.min() < 0 or targets.max() >= n_nodes):
        raise ValueError(f"targets must be node indices (0..{n_nodes - 1})")
    bad = np.flatnonzero((pred_link < -1) | (pred_link >= link_from.shape[0]))
    if bad.size:
        raise ValueError(f"pred_link[{bad[0]}] = {pred_link[bad[0]]} is neither -1 nor a "
                         f"link index")
    offsets, links, status = _cy.paths_from_tree_csr(pred_link, link_from, targets, source)
    if np.any(status == 2):
        raise ValueError("pred_link is not a tree rooted at source: a walk does not end")
    return offsets, links, status == 0
