"""Static user-equilibrium traffic assignment (conjugate Frank-Wolfe, BPR costs).

Arrays in, arrays out. Link cost (file time units, e.g. minutes)::

    t(v) = fft * (1 + b * (v / capacity) ** power) + const

where ``const`` is an optional flow-independent generalized cost (e.g.
Chicago-Sketch's ``0.02 * toll + 0.04 * length``). The equilibrium minimizes
the Beckmann objective ``sum_a integral_0^{v_a} t_a(w) dw``.

Method: conjugate Frank-Wolfe (Mitradjieva & Lindberg 2013, "The
stiff is moving - conjugate direction Frank-Wolfe methods with applications
to traffic assignment", Transportation Science 47(2)). Each iteration loads
all-or-nothing (one Cython Dijkstra tree per origin zone), makes the target
conjugate to the previous one w.r.t. the diagonal Hessian ``t'(v)``, and
finds the step by bisection on the Beckmann derivative along the direction.
Plain FW (``method="fw"``) is kept for comparison.

Relative gap: ``(sum t.v - sum t.y) / sum t.v`` with ``y`` the AON flows at
the current costs (``t.y`` is the shortest-path total cost).

First-thru-node rule: nodes flagged ``no_thru`` (TNTP zones below
``<FIRST THRU NODE>``) may start or end a path but not be passed through. They
are split: every link entering such a node is redirected to a sink copy with
no outgoing links, so Dijkstra cannot continue through it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from core_ext.aon import load_tree
from core_ext.shortest_path import check_graph, shortest_path_tree

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

__all__ = [
    "AssignmentGraph",
    "AssignmentResult",
    "IterationInfo",
    "aon_flows",
    "beckmann_objective",
    "bpr_cost",
    "build_graph",
    "solve_ue",
]


@dataclass(frozen=True)
class IterationInfo:
    """Progress after one iteration: ``iteration`` (1-based), ``relative_gap``, ``objective``."""

    iteration: int
    relative_gap: float
    objective: float


@dataclass
class AssignmentResult:
    """Outcome of :func:`solve_ue`.

    Attributes
    ----------
    link_flow : float64 (n_links,), equilibrium flows (trip-table units).
    link_cost : float64 (n_links,), BPR cost at ``link_flow`` (+ const).
    relative_gap : float, at ``link_flow``.
    objective : float, Beckmann objective at ``link_flow``.
    iterations : int
    converged : bool, ``relative_gap <= gap``.
    history : list of IterationInfo
    """

    link_flow: FloatArray
    link_cost: FloatArray
    relative_gap: float
    objective: float
    iterations: int
    converged: bool
    history: list[IterationInfo] = field(default_factory=list)


@dataclass(frozen=True)
class AssignmentGraph:
    """A CSR graph ready for repeated AON loads (build with :func:`build_graph`).

    ``n_links`` original links come first in every link array; nodes
    ``n_nodes..`` are the sink copies of no-thru nodes.
    """

    n_links: int
    out_offsets: NDArray[np.int64]
    out_links: NDArray[np.int32]
    link_from: NDArray[np.int32]
    link_to: NDArray[np.int32]
    origins: IntArray
    od_offsets: IntArray
    od_dest_node: IntArray
    od_demand: FloatArray


def build_graph(
    link_from: NDArray[np.integer],
    link_to: NDArray[np.integer],
    n_nodes: int,
    od_origin: NDArray[np.integer],
    od_dest: NDArray[np.integer],
    od_demand: FloatArray,
    *,
    no_thru: NDArray[np.bool_] | None = None,
) -> AssignmentGraph:
    """Prepare the graph and the OD demand, grouped by origin.

    Parameters
    ----------
    link_from, link_to : int (n_links,), node indices ``0..n_nodes-1``.
    n_nodes : int
    od_origin, od_dest : int (n_od,), node indices; od_demand float64 (n_od,) >= 0.
    no_thru : bool (n_nodes,), optional; nodes that may not be passed through.

    Raises
    ------
    ValueError
        On out-of-range node indices, negative demand or mismatched lengths.
    """
    lf = np.asarray(link_from, dtype=np.int64)
    lt = np.asarray(link_to, dtype=np.int64)
    oo = np.asarray(od_origin, dtype=np.int64)
    od = np.asarray(od_dest, dtype=np.int64)
    dem = np.asarray(od_demand, dtype=np.float64)
    if lf.shape != lt.shape or oo.shape != od.shape or oo.shape != dem.shape:
        raise ValueError("link_from/link_to and od_origin/od_dest/od_demand must have equal lengths")
    for name, arr in (("link_from", lf), ("link_to", lt), ("od_origin", oo), ("od_dest", od)):
        if arr.size and (arr.min() < 0 or arr.max() >= n_nodes):
            raise ValueError(f"{name} has a node index outside 0..{n_nodes - 1}")
    if dem.size and (not np.isfinite(dem).all() or dem.min() < 0):
        raise ValueError("od_demand must be finite and >= 0")
    blocked = np.zeros(n_nodes, bool) if no_thru is None else np.asarray(no_thru, bool)
    sink = np.full(n_nodes, -1, np.int64)
    sink[blocked] = n_nodes + np.arange(int(blocked.sum()))
    n_total = n_nodes + int(blocked.sum())
    head = np.where(blocked[lt], sink[lt], lt)
    order = np.argsort(lf, kind="stable")
    counts = np.bincount(lf, minlength=n_total)
    out_offsets = np.zeros(n_total + 1, np.int64)
    np.cumsum(counts, out=out_offsets[1:])
    keep = dem > 0
    oo, od, dem = oo[keep], od[keep], dem[keep]
    by_origin = np.argsort(oo, kind="stable")
    oo, od, dem = oo[by_origin], od[by_origin], dem[by_origin]
    origins, starts = np.unique(oo, return_index=True)
    od_offsets = np.append(starts, oo.size).astype(np.int64)
    dest_node = np.where(blocked[od], sink[od], od)
    return AssignmentGraph(
        n_links=int(lf.size),
        out_offsets=out_offsets,
        out_links=np.ascontiguousarray(order, dtype=np.int32),
        link_from=np.ascontiguousarray(lf, dtype=np.int32),
        link_to=np.ascontiguousarray(head, dtype=np.int32),
        origins=origins.astype(np.int64),
        od_offsets=od_offsets,
        od_dest_node=np.ascontiguousarray(dest_node, dtype=np.int64),
        od_demand=np.ascontiguousarray(dem),
    )


def aon_flows(graph: AssignmentGraph, link_cost: FloatArray) -> FloatArray:
    """All-or-nothing link flows at ``link_cost`` (one Dijkstra tree per origin).

    Raises
    ------
    ValueError
        When a destination with demand cannot be reached from its origin.
    """
    cost = np.ascontiguousarray(link_cost, dtype=np.float64)
    check_graph(graph.out_offsets, graph.out_links, graph.link_to, cost)
    flow = np.zeros(graph.n_links)
    for i, origin in enumerate(graph.origins):
        dist, pred = shortest_path_tree(
            graph.out_offsets, graph.out_links, graph.link_to, cost, int(origin), check=False
        )
        lo, hi = graph.od_offsets[i], graph.od_offsets[i + 1]
        bad = load_tree(dist, pred, graph.link_from, graph.od_dest_node[lo:hi],
                        graph.od_demand[lo:hi], flow)
        if bad >= 0:
            raise ValueError(f"node index {graph.od_dest_node[lo + bad]} is unreachable "
                             f"from origin node index {origin}")
    return flow


def bpr_cost(flow: FloatArray, fft: FloatArray, capacity: FloatArray, b: FloatArray,
             power: FloatArray, const: FloatArray | float = 0.0) -> FloatArray:
    """BPR link cost ``fft * (1 + b * (flow/capacity)**power) + const``."""
    return fft * (1.0 + b * (flow / capacity) ** power) + const


def beckmann_objective(flow: FloatArray, fft: FloatArray, capacity: FloatArray, b: FloatArray,
                       power: FloatArray, const: FloatArray | float = 0.0) -> float:
    """Beckmann objective ``sum_a integral_0^{flow_a} t_a(w) dw`` for BPR costs."""
    integral = fft * (flow + b * capacity * (flow / capacity) ** (power + 1.0) / (power + 1.0))
    return float(np.sum(integral + const * flow))


def _bpr_derivative(flow: FloatArray, fft: FloatArray, capacity: FloatArray, b: FloatArray,
                    power: FloatArray) -> FloatArray:
    ratio = np.maximum(flow, 0.0) / capacity
    with np.errstate(divide="ignore", invalid="ignore"):
        d = fft * b * power * np.where(ratio > 0, ratio ** (power - 1.0), 0.0) / capacity
    return np.nan_to_num(d, nan=0.0, posinf=0.0)


_MAX_CONJUGATE_WEIGHT = 0.99999


def _line_search(x: FloatArray, d: FloatArray, cost: Callable[[FloatArray], FloatArray],
                 tol: float = 1e-12) -> float:
    """Step in [0, 1] minimizing the Beckmann objective along ``x + s d`` (bisection)."""
    if float(np.dot(cost(x + d), d)) <= 0.0:
        return 1.0
    lo, hi = 0.0, 1.0
    while hi - lo > tol:
        mid = 0.5 * (lo + hi)
        if float(np.dot(cost(x + mid * d), d)) > 0.0:
            hi = mid
        else:
            lo = mid
    return 0.5 * (lo + hi)


def _conjugate_target(x: FloatArray, y: FloatArray, target: FloatArray,
                      h: FloatArray) -> FloatArray:
    """CFW target: ``alpha * target + (1 - alpha) * y``, H-conjugate to ``target - x``."""
    d_prev = target - x
    num = float(np.dot(d_prev * h, y - x))
    den = float(np.dot(d_prev * h, y - target))
    alpha = num / den if den != 0.0 else 0.0
    alpha = min(max(alpha, 0.0), _MAX_CONJUGATE_WEIGHT)
    return alpha * target + (1.0 - alpha) * y


def _biconjugate_target(x: FloatArray, y: FloatArray, target: FloatArray, target2: FloatArray,
                        h: FloatArray, prev_step: float) -> FloatArray:
    """BFW target ``b0 y + b1 target + b2 target2``, H-conjugate to the two previous directions.

    Mitradjieva & Lindberg (2013), eq. for mu_k and nu_k; negative weights are
    clipped to 0, so the target stays a convex combination of AON solutions.
    """
    d_fw = y - x
    d1 = target - x
    d2 = target2 - x
    den_mu = float(np.dot(d2 * h, target2 - target))
    den_nu = float(np.dot(d1 * h, d1))
    if den_mu == 0.0 or den_nu == 0.0:
        return _conjugate_target(x, y, target, h)
    mu = max(0.0, -float(np.dot(d2 * h, d_fw)) / den_mu)
    nu = max(0.0, -float(np.dot(d1 * h, d_fw)) / den_nu + mu * prev_step / (1.0 - prev_step))
    beta0 = 1.0 / (1.0 + mu + nu)
    return beta0 * y + nu * beta0 * target + mu * beta0 * target2


def solve_ue(
    graph: AssignmentGraph,
    fft: FloatArray,
    capacity: FloatArray,
    b: FloatArray,
    power: FloatArray,
    *,
    const: FloatArray | float = 0.0,
    gap: float = 1e-4,
    max_iterations: int = 2000,
    method: str = "bfw",
    progress: Callable[[IterationInfo], None] | None = None,
) -> AssignmentResult:
    """User equilibrium by bi-conjugate, conjugate or plain Frank-Wolfe.

    Parameters
    ----------
    graph : from :func:`build_graph`.
    fft, capacity, b, power : float64 (n_links,), BPR parameters (capacity > 0).
    const : float or float64 (n_links,), flow-independent cost added to each link.
    gap : stop when the relative gap is at or below this.
    max_iterations : int
    method : "bfw" (bi-conjugate, default), "cfw" (conjugate) or "fw" (plain).
    progress : called with an :class:`IterationInfo` after every iteration.

    Returns
    -------
    AssignmentResult
    """
    if method not in ("bfw", "cfw", "fw"):
        raise ValueError(f"method must be 'bfw', 'cfw' or 'fw', got {method!r}")
    fft, capacity, b, power = (np.asarray(a, dtype=np.float64) for a in (fft, capacity, b, power))
    if (capacity <= 0).any():
        raise ValueError("capacity must be > 0 on every link")

    def cost(v: FloatArray) -> FloatArray:
        return bpr_cost(v, fft, capacity, b, power, const)

    x = aon_flows(graph, cost(np.zeros(graph.n_links)))
    history: list[IterationInfo] = []
    target: FloatArray | None = None
    target2: FloatArray | None = None
    prev_step = 1.0
    rel_gap = np.inf
    for it in range(1, max_iterations + 1):
        t = cost(x)
        y = aon_flows(graph, t)
        total = float(np.dot(t, x))
        rel_gap = (total - float(np.dot(t, y))) / total if total > 0 else 0.0
        info = IterationInfo(it, rel_gap, beckmann_objective(x, fft, capacity, b, power, const))
        history.append(info)
        if progress is not None:
            progress(info)
        if rel_gap <= gap:
            break
        s = y
        if method != "fw" and target is not None:
            h = _bpr_derivative(x, fft, capacity, b, power)
            if method == "bfw" and target2 is not None and prev_step < 1.0:
                s = _biconjugate_target(x, y, target, target2, h, prev_step)
            else:
                s = _conjugate_target(x, y, target, h)
        step = _line_search(x, s - x, cost)
        x = x + step * (s - x)
        target, target2, prev_step = s, target, step
    else:
        t = cost(x)
        total = float(np.dot(t, x))
        y = aon_flows(graph, t)
        rel_gap = (total - float(np.dot(t, y))) / total if total > 0 else 0.0
    return AssignmentResult(
        link_flow=x,
        link_cost=cost(x),
        relative_gap=float(rel_gap),
        objective=beckmann_objective(x, fft, capacity, b, power, const),
        iterations=len(history),
        converged=bool(rel_gap <= gap),
        history=history,
    )
