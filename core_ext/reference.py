"""Slow, obviously-correct references of the kernels: the test oracles.

Nothing here is fast and nothing here is meant for production runs. Each
function restates the semantics of a compiled kernel in plain Python so the
differential tests can compare them:

- :func:`dijkstra_reference` for :func:`core_ext.shortest_path.shortest_path_tree`;
- :func:`advance_reference` for :func:`core_ext.link_model.advance` (the link
  model's rules are documented in :mod:`core_ext._link_model_nb`). It works on
  the same :class:`~core_ext.link_model.LinkModelState` and must reproduce the
  kernel bit for bit, so its arithmetic is written in the same order.
"""

from __future__ import annotations

import heapq
import math
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import NDArray

from core_ext import config

if TYPE_CHECKING:
    from core_ext.link_model import LinkModelParams, LinkModelState

__all__ = ["advance_reference", "dijkstra_reference"]


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


# --------------------------------------------------------------- link model
def _queue_tail_and_speed(
    s: LinkModelState, link: int, k_jam: float, min_speed_frac: float
) -> tuple[float, float]:
    """Where the standing queue at the link end begins, and the speed of the moving vehicles.

    The queue packs at jam density over all lanes; upstream of its tail,
    Greenshields with a floor on the moving vehicles' density.
    """
    lanes = int(s.link_lanes[link])
    queued = int(s.link_queue[link])
    moving = int(s.link_count[link]) - queued
    tail = max(0.0, float(s.link_length_m[link]) - queued / (lanes * k_jam))
    if moving <= 0:
        frac = 1.0  # nobody moving: an entering vehicle drives at the limit
    elif tail <= 0.0:
        frac = min_speed_frac
    else:
        frac = max(min_speed_frac, 1.0 - (moving / (tail * lanes)) / k_jam)
    speed = float(s.link_speed_limit_mps[link]) * float(s.link_speed_factor[link]) * frac
    return tail, speed


def _reference_step(s: LinkModelState, p: LinkModelParams, t: float, dt: float) -> None:
    """One step ``[t, t + dt)``, phase by phase as in ``core_ext._link_model_nb``."""
    n_links = s.n_links
    n_veh = s.n_vehicles
    active, waiting, arrived = config.VEH_ACTIVE, config.VEH_WAITING, config.VEH_ARRIVED
    t_floor = t - dt

    # 1. outflow budget: carry over at most the burst, then add capacity * dt
    for link in range(n_links):
        rate = float(s.link_capacity_vph[link]) * float(s.link_cap_factor[link]) * dt / 3600.0
        if rate <= 0.0:
            s.link_budget[link] = 0.0
        else:
            s.link_budget[link] = min(float(s.link_budget[link]), p.outflow_burst_veh) + rate

    # 2. exits. Each link's end queue, FIFO by (time at the end, vehicle index).
    count_at_t = [int(c) for c in s.link_count]
    entering = [0] * n_links
    leaving = [0] * n_links

    def fifo_key(v: int) -> tuple[float, int]:
        return (float(s.veh_pos_time_s[v]), v)

    queues: dict[int, list[int]] = {link: [] for link in range(n_links)}
    for v in range(n_veh):
        if s.veh_state[v] == active and s.veh_pos_m[v] >= s.link_length_m[s.veh_link[v]]:
            queues[int(s.veh_link[v])].append(v)
    candidates: list[int] = []
    for link, queue in queues.items():
        queue.sort(key=fifo_key)
        candidates.extend(queue[: int(s.link_budget[link])])
    blocked: set[int] = set()
    for v in sorted(candidates, key=fifo_key):
        link = int(s.veh_link[v])
        if link in blocked:
            continue
        t_leave = max(float(s.veh_pos_time_s[v]), t_floor)
        next_pos = int(s.veh_route_pos[v]) + 1
        if next_pos >= s.route_offsets[v + 1]:  # end of the route: arrive
            s.veh_state[v] = arrived
            s.veh_arrive_s[v] = t_leave
            s.veh_link[v] = -1
            s.veh_speed_mps[v] = 0.0
            s.link_budget[link] -= 1.0
            leaving[link] += 1
            continue
        nxt = int(s.route_links[next_pos])
        if count_at_t[nxt] + entering[nxt] < s.link_storage[nxt]:
            s.veh_link[v] = nxt
            s.veh_route_pos[v] = next_pos
            s.veh_pos_m[v] = 0.0
            s.veh_pos_time_s[v] = t_leave
            s.link_budget[link] -= 1.0
            leaving[link] += 1
            entering[nxt] += 1
        else:
            blocked.add(link)  # head of the queue cannot go, nobody behind it goes

    # 3. insertion, FIFO by departure, blocked per first link
    due = [v for v in range(n_veh) if s.veh_state[v] == waiting and s.veh_depart_s[v] <= t
           and s.route_offsets[v + 1] > s.route_offsets[v]]
    due.sort(key=lambda v: (float(s.veh_depart_s[v]), v))
    full: set[int] = set()
    for v in due:
        first = int(s.route_links[s.route_offsets[v]])
        if first in full:
            continue
        if count_at_t[first] + entering[first] < s.link_storage[first]:
            s.veh_state[v] = active
            s.veh_link[v] = first
            s.veh_route_pos[v] = s.route_offsets[v]
            s.veh_pos_m[v] = 0.0
            s.veh_pos_time_s[v] = max(float(s.veh_depart_s[v]), t_floor)
            entering[first] += 1
        else:
            full.add(first)
    waiting_left = [k for k, v in enumerate(s.insert_order) if s.veh_state[v] == waiting]
    s.counters[0] = waiting_left[0] if waiting_left else n_veh

    # 4. apply; the queue is whoever still waits at a link end
    for link in range(n_links):
        s.link_count[link] += entering[link] - leaving[link]
        s.link_entered[link] += entering[link]
        s.link_exited[link] += leaving[link]
    s.link_queue[:] = 0
    for v in range(n_veh):
        if s.veh_state[v] == active and s.veh_pos_m[v] >= s.link_length_m[s.veh_link[v]]:
            s.link_queue[s.veh_link[v]] += 1

    # 5. queue tails and the speed of the moving vehicles
    tails = [0.0] * n_links
    for link in range(n_links):
        tails[link], s.link_speed_mps[link] = _queue_tail_and_speed(
            s, link, p.k_jam_vpm_per_lane, p.min_speed_frac)

    # 6. advance every moving vehicle to t + dt or to its queue tail; detectors count
    t_end = t + dt
    n_active = 0
    for v in range(n_veh):
        if s.veh_state[v] != active:
            continue
        n_active += 1
        link = int(s.veh_link[v])
        length = float(s.link_length_m[link])
        tail = tails[link]
        old = float(s.veh_pos_m[v])
        if old >= length:
            s.veh_speed_mps[v] = 0.0  # in the queue
            continue
        speed = float(s.link_speed_mps[link])
        new = old + speed * (t_end - float(s.veh_pos_time_s[v]))
        joined = new >= tail
        if joined:  # reached the queue tail: wait at the link end from then on
            new = length
            if old < tail:
                s.veh_pos_time_s[v] = float(s.veh_pos_time_s[v]) + (tail - old) / speed
            s.link_queue[link] += 1
        else:
            s.veh_pos_time_s[v] = t_end
        s.veh_pos_m[v] = new
        s.veh_speed_mps[v] = speed
        for d in range(s.n_detectors):
            if s.det_link[d] == link and old < s.det_pos_m[d] <= new:
                s.det_count[d] += 1
                s.det_speed_sum[d] += speed
                if not (joined and s.det_pos_m[d] >= tail):
                    s.det_occ_s[d] += min(float(s.veh_eff_length_m[v]) / speed, dt)
    s.counters[1] += n_active
    # loops under a standing queue are covered in every lane
    for d in range(s.n_detectors):
        link = int(s.det_link[d])
        if s.link_queue[link] > 0 and s.det_pos_m[d] >= tails[link]:
            s.det_occ_s[d] += dt * int(s.link_lanes[link])


def advance_reference(
    state: LinkModelState,
    params: LinkModelParams,
    time_s: float,
    dt_s: float,
    n_steps: int = 1,
    *,
    check: bool = True,
) -> float:
    """Pure-Python :func:`core_ext.link_model.advance`: same arguments, same result.

    Returns
    -------
    float
        ``time_s + n_steps * dt_s``.
    """
    from core_ext.link_model import _check_step_args, check_state

    time_s = float(time_s)
    dt_s = float(dt_s)
    _check_step_args(time_s, dt_s, n_steps)
    if check:
        check_state(state)
    for i in range(int(n_steps)):
        _reference_step(state, params, time_s + i * dt_s, dt_s)
    return time_s + int(n_steps) * dt_s
