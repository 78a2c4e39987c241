"""Numba kernels of the link-based spatial-queue traffic model (private).

Call them through :func:`core_ext.link_model.advance`, which checks the arrays.
:mod:`core_ext.reference` holds the same semantics written plainly; the two
must agree bit for bit (no fastmath, same arithmetic in the same order).

The model, per step ``[T, T + dt)``, in this phase order
(decide from the state at ``T``, then apply, so the result does not depend on
the order links or vehicles are stored in):

1. **Outflow budget.** Each link accrues ``capacity_vph * cap_factor * dt / 3600``
   vehicles of outflow budget. What it carries in from earlier steps is first
   capped at ``burst_veh``, so an idle link cannot save up a burst; a link
   whose effective capacity is 0 (all lanes blocked) has budget 0.
2. **Exits.** A vehicle in its link's end queue (``pos_m == length_m``) may
   leave. Each link's exit queue is FIFO by the time the vehicle reached the end
   (``veh_pos_time_s``), ties by vehicle index; only its first
   ``floor(budget)`` vehicles are candidates. All candidates of all links are
   processed in one global order, again by (time at the end, vehicle index):

   - a vehicle on the last link of its route *arrives*: state ARRIVED, link -1,
     ``arrive_s`` set, one unit of budget spent;
   - otherwise it enters the next link of its route if that link has storage:
     ``count_at_T + entered_this_step < storage``. Storage freed by vehicles
     leaving that link in the same step is only available from the next step
     (decide-then-apply), so queues spill back one link per step at most;
   - if the next link is full, the vehicle stays and its link is blocked for
     the rest of the step (head-of-line blocking: nobody behind it leaves).

   A vehicle that reached the end at ``t_end`` and leaves in this step is
   taken to have left at ``E = max(t_end, T - dt)``: a vehicle that found no
   queue leaves exactly when it got there; one that waited is given at most
   one step of credit. ``E`` is its arrival time, or its entry time on the
   next link (it starts at ``pos_m = 0`` at time ``E`` and moves in phase 6 for
   ``T + dt - E`` seconds). A lone vehicle's travel time is therefore exact,
   not rounded up to whole steps per link.
3. **Insertion.** Waiting vehicles with ``depart_s <= T`` enter the first link
   of their route in FIFO order of departure (ties by vehicle index) when it
   has storage (same rule as exits, after the exits of this step); a vehicle
   that finds its first link full waits, and so does every later vehicle for
   that link. The entry time is ``max(depart_s, T - dt)``. Insertion is not
   limited by capacity, only by storage. Vehicles with an empty route are never
   inserted.
4. **Apply** the counts of exits and entries; update the cumulative
   ``link_entered``/``link_exited``.
5. **Link speed** (Greenshields with a floor) from the density of the
   *moving* vehicles after phase 4. The vehicles waiting at the link end form
   a standing queue of length ``n_queued / (lanes * k_jam)`` at the
   downstream end; the moving part is the rest, ``[0, tail)``:
   ``k = n_moving / (tail * lanes)``,
   ``v = speed_limit * speed_factor * max(min_speed_frac, 1 - k / k_jam)``
   (``v = speed_limit * speed_factor`` when nobody is moving). A lone vehicle
   therefore drives slightly below the limit (``1 - 1 / (length * lanes *
   k_jam)`` of it). Counting the queue in the density instead (``k = n /
   (length * lanes)``) would slow a link holding a queue down to the floor
   speed and make every congested link discharge at ``k_jam * v_floor`` per
   lane, far below its capacity. For the same reason the default floor is 0.5,
   the critical speed of Greenshields: the moving part's flow ``k * v`` then
   grows with ``k`` and cannot jam by itself; congestion is the queue. A floor
   below 0.5 lets an over-fed moving part slide down the congested branch and
   discharge below capacity.
6. **Advance.** Every active vehicle not yet in its link's queue moves from
   its position at ``veh_pos_time_s`` to ``T + dt`` at the link speed. When it
   reaches the queue tail (the tail decided in phase 5; the link end when there
   is no queue) it joins the queue: ``pos_m = length_m``, and
   ``veh_pos_time_s`` records when it got to the tail, its FIFO key for
   phase 2 (a vehicle the tail has already moved past, because the queue
   grew, keeps the time of its last position). Loop detectors: a vehicle whose position passes ``det_pos_m``
   (``old < det_pos_m <= new``, ``new = length_m`` on joining the queue)
   counts once and adds the link speed to the detector's speed sum; a moving
   vehicle also adds ``min(eff_length_m / v, dt)`` of occupancy. A detector
   under the standing queue (``n_queued > 0`` and ``det_pos_m >= tail``) adds
   ``dt * lanes`` of occupancy per step: the loops of every lane are covered.

Storage of a link is ``max(1, floor(length_m * lanes * k_jam + eps))``
vehicles (computed by the wrapper). Queues are per link, not per lane; lane
connections and signals are ignored by this model (the microscopic engine of
the "Traffic core" issue handles them). Gridlock on a cycle of full links is
possible, as in every spatial-queue model, and is not resolved.
"""

from __future__ import annotations

from typing import TypedDict

import numpy as np
from numba import njit

from core_ext import config

_WAITING = np.int8(config.VEH_WAITING)
_ACTIVE = np.int8(config.VEH_ACTIVE)
_ARRIVED = np.int8(config.VEH_ARRIVED)


class _JitOptions(TypedDict):
    """The ``@njit`` keyword arguments every kernel here is compiled with."""

    cache: bool
    fastmath: bool


_JIT: _JitOptions = {"cache": config.NUMBA_CACHE, "fastmath": config.NUMBA_FASTMATH}


@njit(**_JIT)
def _link_speeds(
    link_length_m, link_lanes, link_speed_limit_mps, link_speed_factor, link_count, link_queue,
    k_jam, min_speed_frac, link_speed_mps, tail,
):
    """Queue tail and speed of the moving vehicles per link; fills ``tail`` and ``link_speed_mps``.

    ``tail[l] = max(0, length - queue / (lanes * k_jam))``; Greenshields with a
    floor on ``k = moving / (tail * lanes)``.
    """
    for lk in range(link_length_m.shape[0]):
        lanes = link_lanes[lk]
        t = link_length_m[lk] - link_queue[lk] / (lanes * k_jam)
        if t < 0.0:
            t = 0.0
        tail[lk] = t
        moving = link_count[lk] - link_queue[lk]
        if moving <= 0:
            frac = 1.0
        elif t <= 0.0:
            frac = min_speed_frac
        else:
            density = moving / (t * lanes)
            frac = 1.0 - density / k_jam
            if frac < min_speed_frac:
                frac = min_speed_frac
        link_speed_mps[lk] = link_speed_limit_mps[lk] * link_speed_factor[lk] * frac


@njit(**_JIT)
def _before(t_a, v_a, t_b, v_b):
    """FIFO order: earlier time at the link end first, then lower vehicle index."""
    return t_a < t_b or (t_a == t_b and v_a < v_b)


@njit(**_JIT)
def _step(
    link_length_m, link_lanes, link_speed_limit_mps, link_capacity_vph,
    link_cap_factor, link_speed_factor, link_storage,
    link_count, link_queue, link_budget, link_speed_mps, link_entered, link_exited,
    veh_state, veh_link, veh_route_pos, veh_pos_m, veh_pos_time_s, veh_speed_mps,
    veh_arrive_s, veh_depart_s, veh_eff_length_m, route_offsets, route_links, insert_order,
    det_link, det_pos_m, det_link_offsets, det_by_link, det_count, det_speed_sum, det_occ_s,
    counters, k_jam, min_speed_frac, burst_veh, t_s, dt_s,
    q_count, q_offsets, q_veh, cand_veh, cand_time, inflow, outflow, blocked, ins_blocked,
    tail,
):
    """One step ``[t_s, t_s + dt_s)`` of the model; see the module docstring.

    Updates in place: ``link_count``, ``link_queue``, ``link_budget``,
    ``link_speed_mps``, ``link_entered``, ``link_exited``, every ``veh_*`` column except
    ``veh_depart_s``/``veh_eff_length_m``, the detector accumulators and
    ``counters`` (``[insert_cursor, vehicle_steps]``). The arrays from
    ``q_count`` on are scratch space.
    """
    n_links = link_length_m.shape[0]
    n_veh = veh_state.shape[0]
    t_floor = t_s - dt_s

    # 1. outflow budget
    for lk in range(n_links):
        rate = link_capacity_vph[lk] * link_cap_factor[lk] * dt_s / 3600.0
        if rate <= 0.0:
            link_budget[lk] = 0.0
        else:
            b = link_budget[lk]
            if b > burst_veh:
                b = burst_veh
            link_budget[lk] = b + rate
        inflow[lk] = 0
        outflow[lk] = 0
        blocked[lk] = False
        ins_blocked[lk] = False
        q_count[lk] = 0

    # 2. exits: bucket the vehicles at their link end, in vehicle-index order
    for v in range(n_veh):
        if veh_state[v] == _ACTIVE:
            lk = veh_link[v]
            if veh_pos_m[v] >= link_length_m[lk]:
                q_count[lk] += 1
    q_offsets[0] = 0
    for lk in range(n_links):
        q_offsets[lk + 1] = q_offsets[lk] + q_count[lk]
        q_count[lk] = 0
    for v in range(n_veh):
        if veh_state[v] == _ACTIVE:
            lk = veh_link[v]
            if veh_pos_m[v] >= link_length_m[lk]:
                q_veh[q_offsets[lk] + q_count[lk]] = v
                q_count[lk] += 1
    # the first floor(budget) of each FIFO queue are the candidates
    n_cand = 0
    for lk in range(n_links):
        a = q_offsets[lk]
        q = q_count[lk]
        k = int(link_budget[lk])
        if k > q:
            k = q
        for j in range(k):
            best = a + j
            for i in range(a + j + 1, a + q):
                if _before(veh_pos_time_s[q_veh[i]], q_veh[i],
                           veh_pos_time_s[q_veh[best]], q_veh[best]):
                    best = i
            tmp = q_veh[a + j]
            q_veh[a + j] = q_veh[best]
            q_veh[best] = tmp
            cand_veh[n_cand] = q_veh[a + j]
            n_cand += 1
    # one global order of all candidates: (time at the end, vehicle index)
    cands = np.sort(cand_veh[:n_cand])
    for i in range(n_cand):
        cand_time[i] = veh_pos_time_s[cands[i]]
    order = np.argsort(cand_time[:n_cand], kind="mergesort")
    for i in range(n_cand):
        v = cands[order[i]]
        lk = veh_link[v]
        if blocked[lk]:
            continue
        t_leave = veh_pos_time_s[v]
        if t_leave < t_floor:
            t_leave = t_floor
        nxt = veh_route_pos[v] + 1
        if nxt >= route_offsets[v + 1]:
            veh_state[v] = _ARRIVED
            veh_arrive_s[v] = t_leave
            veh_link[v] = -1
            veh_speed_mps[v] = 0.0
            link_budget[lk] -= 1.0
            outflow[lk] += 1
        else:
            nb = route_links[nxt]
            if link_count[nb] + inflow[nb] < link_storage[nb]:
                veh_link[v] = nb
                veh_route_pos[v] = nxt
                veh_pos_m[v] = 0.0
                veh_pos_time_s[v] = t_leave
                link_budget[lk] -= 1.0
                outflow[lk] += 1
                inflow[nb] += 1
            else:
                blocked[lk] = True

    # 3. insertion, FIFO by departure
    cursor = counters[0]
    k = cursor
    while k < n_veh:
        v = insert_order[k]
        if veh_depart_s[v] > t_s:
            break
        if veh_state[v] == _WAITING and route_offsets[v + 1] > route_offsets[v]:
            first = route_links[route_offsets[v]]
            if not ins_blocked[first]:
                if link_count[first] + inflow[first] < link_storage[first]:
                    t_enter = veh_depart_s[v]
                    if t_enter < t_floor:
                        t_enter = t_floor
                    veh_state[v] = _ACTIVE
                    veh_link[v] = first
                    veh_route_pos[v] = route_offsets[v]
                    veh_pos_m[v] = 0.0
                    veh_pos_time_s[v] = t_enter
                    inflow[first] += 1
                else:
                    ins_blocked[first] = True
        k += 1
    while cursor < n_veh and veh_state[insert_order[cursor]] != _WAITING:
        cursor += 1
    counters[0] = cursor

    # 4. apply
    for lk in range(n_links):
        link_count[lk] += inflow[lk] - outflow[lk]
        link_queue[lk] = q_count[lk] - outflow[lk]
        link_entered[lk] += inflow[lk]
        link_exited[lk] += outflow[lk]

    # 5. queue tails and link speeds from the moving vehicles
    _link_speeds(link_length_m, link_lanes, link_speed_limit_mps, link_speed_factor,
                 link_count, link_queue, k_jam, min_speed_frac, link_speed_mps, tail)

    # 6. advance to the queue tail, with loop detectors
    t_end = t_s + dt_s
    n_active = 0
    for v in range(n_veh):
        if veh_state[v] != _ACTIVE:
            continue
        n_active += 1
        lk = veh_link[v]
        length = link_length_m[lk]
        old = veh_pos_m[v]
        if old >= length:
            veh_speed_mps[v] = 0.0
            continue
        s = link_speed_mps[lk]
        new = old + s * (t_end - veh_pos_time_s[v])
        joined = new >= tail[lk]
        if joined:
            new = length
            if old < tail[lk]:
                veh_pos_time_s[v] = veh_pos_time_s[v] + (tail[lk] - old) / s
            link_queue[lk] += 1
        else:
            veh_pos_time_s[v] = t_end
        veh_pos_m[v] = new
        veh_speed_mps[v] = s
        for j in range(det_link_offsets[lk], det_link_offsets[lk + 1]):
            d = det_by_link[j]
            p = det_pos_m[d]
            if old < p <= new:
                det_count[d] += 1
                det_speed_sum[d] += s
                if not (joined and p >= tail[lk]):
                    occ = veh_eff_length_m[v] / s
                    if occ > dt_s:
                        occ = dt_s
                    det_occ_s[d] += occ
    counters[1] += n_active
    # a standing queue covers the loops under it, in every lane
    for d in range(det_pos_m.shape[0]):
        lk = det_link[d]
        if link_queue[lk] > 0 and det_pos_m[d] >= tail[lk]:
            det_occ_s[d] += dt_s * link_lanes[lk]


@njit(**_JIT)
def _run_steps(
    link_length_m, link_lanes, link_speed_limit_mps, link_capacity_vph,
    link_cap_factor, link_speed_factor, link_storage,
    link_count, link_queue, link_budget, link_speed_mps, link_entered, link_exited,
    veh_state, veh_link, veh_route_pos, veh_pos_m, veh_pos_time_s, veh_speed_mps,
    veh_arrive_s, veh_depart_s, veh_eff_length_m, route_offsets, route_links, insert_order,
    det_link, det_pos_m, det_link_offsets, det_by_link, det_count, det_speed_sum, det_occ_s,
    counters, k_jam, min_speed_frac, burst_veh, t0_s, dt_s, n_steps,
):
    """Run ``n_steps`` steps of :func:`_step`; step ``i`` starts at ``t0_s + i * dt_s``.

    Allocates the scratch arrays once for all steps. Updates the same arrays in
    place as :func:`_step`.
    """
    n_links = link_length_m.shape[0]
    n_veh = veh_state.shape[0]
    q_count = np.zeros(n_links, np.int64)
    q_offsets = np.zeros(n_links + 1, np.int64)
    q_veh = np.empty(n_veh, np.int64)
    cand_veh = np.empty(n_veh, np.int64)
    cand_time = np.empty(n_veh, np.float64)
    inflow = np.zeros(n_links, np.int64)
    outflow = np.zeros(n_links, np.int64)
    blocked = np.zeros(n_links, np.bool_)
    ins_blocked = np.zeros(n_links, np.bool_)
    tail = np.zeros(n_links, np.float64)
    for i in range(n_steps):
        _step(
            link_length_m, link_lanes, link_speed_limit_mps, link_capacity_vph,
            link_cap_factor, link_speed_factor, link_storage,
            link_count, link_queue, link_budget, link_speed_mps, link_entered, link_exited,
            veh_state, veh_link, veh_route_pos, veh_pos_m, veh_pos_time_s, veh_speed_mps,
            veh_arrive_s, veh_depart_s, veh_eff_length_m, route_offsets, route_links,
            insert_order, det_link, det_pos_m, det_link_offsets, det_by_link, det_count,
            det_speed_sum, det_occ_s, counters, k_jam, min_speed_frac, burst_veh,
            t0_s + i * dt_s, dt_s,
            q_count, q_offsets, q_veh, cand_veh, cand_time, inflow, outflow, blocked,
            ins_blocked, tail,
        )
