"""Numba kernels of the microscopic, lane-level traffic engine (private).

Call them through :func:`core_ext.micro.advance`, which checks the arrays.
:mod:`core_ext.micro_reference` restates the same semantics plainly (Python
lists, one vehicle at a time) as the test oracle; the two must agree (no
fastmath, the same arithmetic in the same order).

Units and conventions
---------------------
Metres, seconds, m/s, m/s². A vehicle's position ``pos_m`` is its *front
bumper*, in metres from the start of its link; it occupies
``[pos_m - length_m, pos_m]``. Lanes are global indices (``link_lane_off``);
each lane keeps its vehicles in a ring buffer ordered front first (largest
``pos_m`` first). Junctions have no extent: crossing the end of a link puts
the vehicle on the next link at ``pos_m - length_of_old_link``.

Car-following: the Intelligent Driver Model (Treiber, Hennecke & Helbing 2000)
with per-class parameters (``a``, ``b``, ``T``, ``s0``, length, maximum speed,
desired-speed factor) and ``delta = 4``::

    v0    = min(v_max[c], speed_limit[link] * speed_factor[c] * link_speed_factor[link])
    s*    = s0 + max(0, v T + v (v - v_lead) / (2 sqrt(a b)))
    accel = a (1 - (v / v0)^4 - (s* / s)^2)          (free road: no s* term)

The update is **ballistic** (Treiber & Kanagaraj 2015): ``v' = v + accel dt``,
``x' = x + (v + v') dt / 2``; when ``v'`` would be negative the vehicle stops
within the step at ``x - v^2 / (2 accel)`` with ``v' = 0``. The result is then
capped at ``max_x`` (the leader's rear at the start of the step, or the stop
line when the vehicle must stop), so no vehicle ever moves into or through
another; a capped vehicle takes ``v' = min(v', v_lead)``.

One step ``[t, t + dt)``, decide-then-apply, in this order:

0. **Signals.** Every signalised connection gets the code of its program's
   phase at ``t``: 0 red (``r R u``), 1 amber (``y Y``), 2 green-yield
   (``g``), 3 green (``G``), 4 not signalised (``o O s`` and every
   connection without a program).
1. **Insertion** (sequential over links in index order). Waiting vehicles
   whose ``depart_s <= t`` enter the start of their first link FIFO by
   (departure, vehicle index), into the good lane (connects to the second
   route link) with the most space, at ``v = min(v0, v_last)`` (the speed of
   the lane's last vehicle, 0 for a block, ``v0`` when empty) once the gap to
   it is at least ``s0 + v T``; the first vehicle that does not fit stops the
   queue of that link for the step.
   A vehicle inserted at ``t`` moves in this same step.
2. **Longitudinal** (parallel over lanes; reads only the state at ``t``).
   For each vehicle, front to back, the leader is the vehicle ahead in its
   lane. The front vehicle of a lane looks past the end of its link:

   - on the last link of its route, the road ahead is free (it *arrives*
     when its front reaches the link end);
   - otherwise it needs a connection from its lane to the next route link; with
     none (wrong lane) it must stop at the line;
   - with a connection, the target lane is the connected lane of the next link
     that (a) connects on to the route link after it, if any lane does, then
     (b) has the most space (rear of its last vehicle, or the start of a
     block, ``+inf`` when empty), then (c) has the lowest index;
   - it stops at the line for red when it can (``v^2 <= 2 b_emergency d``,
     ``d`` = distance to the line), for amber when it can comfortably
     (``v^2 <= 2 b d``), to keep clear (below) when it can comfortably, and
     when it must yield (below) and is within ``v^2 / (2 b) + approach_m`` of
     the line;
   - if it does not stop, its leader is the last vehicle of the target lane
     (gap = ``d`` + that vehicle's rear; ``max_x`` = length + rear), which
     makes queues spill back across junctions.

   A lane blocked by an incident from ``block_pos_m`` on is, for the vehicles
   behind that point, a standing obstacle of zero length there.

   **Zipper merge** (only when ``merge_zone_m > 0``). Where lanes of a link
   join: a vehicle bound for ``nxt`` in a lane with exactly one connection to
   ``nxt``, to lane ``tl``, within ``zone = max(merge_zone_m, v^2 / (2 b) +
   approach_m)`` of its line (``d <= zone``), also follows, in every other lane
   ``g`` of its link whose only connection to ``nxt`` is to ``tl`` too, the
   vehicle ``j`` nearest ahead of it (front ahead, or level and ``g`` the lower
   lane), provided the front vehicle of ``g`` and ``j`` are bound for ``nxt``
   and no block lies ahead of ``j`` in ``g``: as if ``j``'s rear were at
   ``rear_j + (length_j + s0) d / zone`` (gap, ``max_x``, and ``j``'s speed
   when that is nearer than what it follows already; the nearest over the
   lanes ``g``). Far out the two lanes queue side by side; at the line they
   are single file, alternately, so the merge runs at the lane's capacity
   instead of both fronts aiming at the same gap and one being refused.

   **Keeping clear** (junctions have no extent, so a short link between two
   junctions plays the junction's box: "do not enter unless you can leave",
   SUMO's ``keepClear``). A vehicle whose route goes on after the next link
   does not enter target lane ``tl`` when that link is *short* (shorter than
   ``keep_clear_m`` or than the vehicle's ``length + s0``) and the route link
   after it is jammed: its lane with the most space among those ``tl``
   connects to (all its lanes when none) ends at a standing vehicle or a
   block (speed ``<= stop_speed``; an empty lane is never jammed), and that
   space, less the length of ``tl`` already queued (``length(tl) - space(tl)``
   when positive), is below ``length + s0``.

   **Yielding.** A vehicle about to make movement ``m`` considers every
   conflicting movement ``m'`` (same junction, paths that cross or merge)
   that does not give way to ``m`` (``m'`` gives way when ``m`` is ``G`` and
   ``m'`` is ``g``, when both are unsignalised and ``m'`` ranks lower, or
   when one is signalised and the other not). It yields when such an ``m'``
   was crossed less than ``clear_s`` ago (also while ``m'`` shows red or
   amber: the junction is still clearing); or ``m'`` has priority over
   ``m`` (``G`` over ``g``; between unsignalised movements a higher rank) and
   the front vehicle of a lane of ``m'``'s link heading for ``m'`` is moving
   (``v > stop_speed``) and within ``yield_gap_s`` of its line; or ``m'`` has
   equal rank (both unsignalised) and such a front vehicle is stopped within
   ``queue_front_m`` of its line, has been stopped longer (ties: the lower
   link index goes first) and *could go*: it has a connection to ``m'``'s
   link, its target lane (chosen as above) has at least its ``length + s0``
   of space, and keeping clear does not hold it. (Nobody waits for a foe that
   is itself waiting for room: otherwise two queues that each need the other
   to move first, through short links, deadlock.) A movement whose program
   shows red or amber is not a priority stream.
3. **Detectors** (sequential over the lanes with detectors). A vehicle whose
   front passes ``det_pos_m`` (``x < det_pos_m <= x'``) counts once, adds its
   speed interpolated at the crossing to the speed sum, and writes an event
   (detector, vehicle, time, speed, signal code of its next connection or -1).
   Occupancy: the time the loop is under the vehicle, its front within
   ``[det_pos_m, det_pos_m + length + loop_length)``, moving linearly.
   A vehicle that enters a link beyond a detector (phase 5: junctions have no
   extent) counts there too, at the time interpolated along its path from
   its old position to ``length + det_pos_m`` and with its end-of-step speed;
   that crossing adds no occupancy.
4. **Commit** ``x``, ``v`` (parallel); ``stopped_since`` is set on the step a
   vehicle's speed drops to ``<= stop_speed`` and cleared when it moves on.
5. **Transfers** (sequential, lanes in index order, front to back). A front
   vehicle past the end of its last route link arrives (time interpolated
   within the step). One past the end of another link enters its target lane
   at ``min(x - length, rear - min_entry_gap_m, next link length)``, unless
   (a) a conflicting movement was crossed in this same step, (b) that position
   is below 0, or (c) the lane is full: then it is held at the line with
   speed 0 and counted as refused, and nobody behind it crosses this step. A
   vehicle entering closer than it wanted takes the speed of the vehicle it
   lands behind when that is lower.
5b. **Queue passing** (sequential, vehicles in index order; only with emergency
   vehicles, see below): an emergency vehicle level with the front of the queue
   vehicles it is passing goes ahead of them.
6. **Lane changes** (parallel over links with two or more lanes; within a
   link sequential: lanes in index order, vehicles front to back, each
   decision made on the state the previous one left; a vehicle that moved
   into a lane visited later is skipped there, its cooldown has just begun).
   A lane is *good* for a vehicle at ``x`` when it connects to the vehicle's
   next route link (every lane is, on the last link) and has no block in
   ``(x - length, x + block_lookahead_m)``. In a lane that is not good the
   change is *mandatory*: one lane towards the nearest good lane (ties: the
   lower index); otherwise the vehicle tries a *discretionary* change to the
   lower, then the higher adjacent good lane, when its leader holds it back
   (its free-road IDM acceleration exceeds its current one by more than
   ``a_threshold``) (MOBIL, Kesting, Treiber & Helbing 2007):
   ``a'_c - a_c + p (a'_n - a_n + a'_o - a_o) > a_threshold``
   with in-lane leaders and blocks only (``c`` the changer, ``n`` the new
   follower, ``o`` the old one; primes after the change). Either change
   needs the new lane not full, gaps of at least ``min_entry_gap_m`` to the
   new leader's rear (or a block) and from the changer's rear to the new
   follower, and the new follower's IDM acceleration behind the changer at
   least ``-b_safe`` (``-b_safe_mandatory`` when mandatory; a stopped
   follower needs no braking). At most one change per ``lc_cooldown_s``; the
   change is instantaneous and keeps position and speed. A mandatory change
   that fails is tried as a *swap*: when the changer is stopped and a stopped
   vehicle beside it in the target lane (overlapping it lengthwise, past its
   cooldown) needs the changer's lane, the two exchange lanes if both then
   fit without touching anyone. Otherwise the changer files a *merge
   request* on the target lane (the front-most requester per lane wins,
   requests are renewed every step): in the next step's phase 2 every
   vehicle of that lane behind the requester's rear treats that rear as a
   leader (with the requester's speed), so a gap opens (cooperative merging).

**Emergency vehicles** (``veh_emergency`` 1: an ambulance, fire engine or police
car on a call; UU 22/2009 art. 134 gives them right of way, and art. 135(3) lifts
traffic signals and signs for them). Nothing below applies while no vehicle has the
flag (``em_on`` false), so the rules above are then exactly those of a run without it.

- *Desired speed*: ``v0`` (everywhere a vehicle's own ``v0`` is used: phases 1, 2
  and 6) is ``speed_limit * speed_factor * link_speed_factor *
  emergency_speed_factor``, capped by ``v_max``.
- *Red and amber*: when the front emergency vehicle would stop for red or amber
  (phase 2, as above), it instead goes once it is within ``approach_m`` of the line,
  at most ``emergency_crawl_mps`` fast, and the junction is *clear* for it: no
  conflicting movement was crossed less than ``clear_s`` ago and no front vehicle
  heading for one is moving (``v > stop_speed``) within ``yield_gap_s`` of its line,
  whatever that movement's signal shows. Going so, its ``v0`` for the step is
  ``min(v0, emergency_crawl_mps)``: it crawls through. Until then it stops at the line
  as any vehicle does (so it slows to a crawl or a standstill there). Its entry on
  red counts as a red-light crossing (counter and detector events), as a camera would
  record it.
- *Priority*: an emergency vehicle does not apply the yielding rule above; in its
  place it stops (within the same distance of the line) only while the junction is
  not clear for it. Every other vehicle about to make movement ``m`` also yields when
  the front vehicle of a lane heading for a movement conflicting with ``m`` is an
  emergency vehicle within ``max(queue_front_m, v yield_gap_s)`` of its line that
  could go (as in *could go* above), whatever the signals show.
- *Moving aside* (phase 6): a vehicle in a good lane with an emergency vehicle
  behind it in the same lane, their fronts at most ``emergency_clear_m`` apart,
  first tries to change to the lower, then the higher adjacent good lane as a
  mandatory change (no incentive test, ``b_safe_mandatory``); if it cannot, it goes on
  as above. No vehicle makes a discretionary change that puts an emergency vehicle
  right behind it (its new follower).
- *Queue passing* (where nobody can move aside: one lane, or every lane queued; cars
  pull to the kerb and the emergency vehicle squeezes by or takes the opposite
  carriageway). With ``v_p = emergency_pass_mps > 0``, the vehicle *ahead* is, in
  phase 2, the emergency vehicle's leader in its lane or, at the front of its lane,
  the last vehicle of its target lane (it looks across the junction, as above, and the
  junction is clear for it). The emergency vehicle is *closed up* behind a queue when
  the vehicle ahead is not an emergency vehicle, moves at ``<= v_p``, no block lies
  between them, and the gap to its rear (across the junction: ``d`` + its rear) is at
  most ``s0 + v_p T`` (the desired gap at the pass speed). The *group* it passes is
  then the vehicle ahead and, if the emergency vehicle would not fit in front of that
  one alone, the fewest vehicles ahead of it too (each moving at ``<= v_p``, none an
  emergency vehicle) such that: its front ``e = max(x_top, low + len_i + the lengths of
  the group but its last)`` (``x_top`` the front of the group's front-most vehicle,
  ``low`` the least front its last vehicle may take: the front of the vehicle behind
  the emergency vehicle plus the last vehicle's length, at least 0; across the
  junction 0) is within
  the room up to the next vehicle ahead (its rear; the link's end when none).

  Its progress beside the queue, ``veh_pass_m`` (metres ahead of its own place in the
  lane), grows by what the pass speed covers beyond its own move,
  ``p' = max(0, p + v_p dt - (x' - x))``, capped at the group's front (``x_top - x'``;
  across the junction ``length - min(x', length) + x_top``, the front held at the
  line); it is 0 when not closed up or when no group will do (and a crossing in phase
  5 sets it to 0). Keeping clear does not hold an emergency vehicle (it passes the
  queue in the box). In phase 5b, an emergency vehicle with ``p > 0`` that is level
  with the front of its group, recomputed now (``p >=`` that distance), goes ahead of
  it: its front at ``e``, the group behind it in order, each front moved back (never
  forward) to at most the rear of the vehicle ahead of it, so that nothing overlaps:

  - in its lane (no block between the group's new rear and ``e``);
  - across the junction onto its target lane (the lane's slots allowing, no block up
    to ``e``): the group stays on its link. When no group will do there and the last
    vehicle came from the emergency vehicle's link, that vehicle instead drops back
    over the line into the emergency vehicle's place (its rear where the emergency
    vehicle's was, its front at most at the line, ahead of the vehicle behind), the
    emergency vehicle's front where that vehicle's was: its route position goes back
    by one, both links count one exit and one entry for it.

  A pass across the junction counts as the emergency vehicle's crossing (link
  counters, the movement's last crossing, a red-light crossing on red); detectors do
  not see passes. ``p`` is then 0 and the next pass begins. So it gets through a chain
  of full one-lane links: group by group along each, across each junction at the
  queue's tail. It does not pass a block (an incident is where it is going, or must be
  cleared first), another emergency vehicle (each passes in turn), a vehicle moving
  faster than ``v_p``, nor a queue it cannot fit into (a link too short to hold it and
  the vehicles it passes, whose last vehicle came from elsewhere): it waits then. It
  does not help an emergency vehicle that has not yet entered the road (insertion
  waits for room as for any vehicle).

Counters: vehicle updates (vehicles active at the start of each step), steps
without progress (no vehicle moved, crossed, arrived or entered), refused
junction entries, red-light crossings (entering on a red connection).
"""

from __future__ import annotations

import math
import types
from collections.abc import Callable
from typing import Any

import numpy as np
from numba import njit, prange

from core_ext import config

_WAITING = np.int8(config.VEH_WAITING)
_ACTIVE = np.int8(config.VEH_ACTIVE)
_ARRIVED = np.int8(config.VEH_ARRIVED)

SIG_RED = 0
SIG_AMBER = 1
SIG_YIELD = 2
SIG_GREEN = 3
SIG_NONE = 4

# indices into the counters array
C_VEHICLE_STEPS = 0
C_STALL_STEPS = 1
C_REFUSED = 2
C_RED_RUNS = 3
C_EVENTS = 4
C_TRACE = 5
C_STEPS = 6
C_PASSES = 7
N_COUNTERS = 8

# indices into the float parameter vector
P_LOOKAHEAD_M = 0
P_B_EMERGENCY = 1
P_APPROACH_M = 2
P_YIELD_GAP_S = 3
P_CLEAR_S = 4
P_QUEUE_FRONT_M = 5
P_STOP_SPEED = 6
P_MIN_ENTRY_GAP_M = 7
P_LC_COOLDOWN_S = 8
P_POLITENESS = 9
P_A_THRESHOLD = 10
P_B_SAFE = 11
P_B_SAFE_MANDATORY = 12
P_BLOCK_LOOKAHEAD_M = 13
P_LOOP_LENGTH_M = 14
P_KEEP_CLEAR_M = 15
P_MERGE_ZONE_M = 16
P_EM_SPEED_FACTOR = 17
P_EM_CRAWL_MPS = 18
P_EM_CLEAR_M = 19
P_EM_PASS_MPS = 20
N_PARAMS = 21

# Every kernel but the step loop and the signal phase (which allocate) runs
# without reference counting (numba's ``_nrt`` compiler flag): with it, each
# call of a helper taking arrays increments and decrements every array's
# reference count with an atomic operation, which cost more than the
# arithmetic of the lane-change phase (measured 3.6x slower).
#
# The helpers called for most vehicles in every step with many array arguments
# (``front_target``, ``_place_from``, ``_try_change``) are inlined into their
# callers (``inline='always'``, numba IR level): each array is passed as
# several machine words, and passing some thirty of them cost more than the
# work of a lane-change check (kernel step 9.7 -> 13.7 M vehicle-updates/s
# serial). Inlining more helpers gained a few per cent for twice the compile time.
_JIT_ALLOC: dict[str, Any] = {"cache": config.NUMBA_CACHE, "fastmath": config.NUMBA_FASTMATH}
_JIT: dict[str, Any] = {**_JIT_ALLOC, "_nrt": False}
_JIT_PAR: dict[str, Any] = {**_JIT, "parallel": True}


@njit(**_JIT)
def idm_accel(v, v0, gap, v_lead, a, den, t_head, s0):
    """IDM acceleration; ``gap = inf`` means free road. ``den`` is the class's
    ``2 sqrt(a b)`` (``cls_idm_den``, computed once per :func:`run_steps` call)."""
    r = v / v0
    r2 = r * r
    free = 1.0 - r2 * r2
    if math.isinf(gap):
        return a * free
    s = gap if gap > 1e-3 else 1e-3
    dyn = v * t_head + v * (v - v_lead) / den
    if dyn < 0.0:
        dyn = 0.0
    s_star = s0 + dyn
    q = s_star / s
    return a * (free - q * q)


@njit(**_JIT)
def lane_at(slots, lane_slot_off, lane_head, lane, k):
    """The vehicle at place ``k`` (0 = front) of ``lane``."""
    off = lane_slot_off[lane]
    j = lane_head[lane] + k  # head < cap and 0 <= k < count <= cap: one wrap at most
    cap = lane_slot_off[lane + 1] - off
    if j >= cap:
        j -= cap
    return slots[off + j]


@njit(**_JIT)
def lane_tail(slots, lane_slot_off, lane_head, lane_count, lane_block_pos_m, veh_pos_m,
              veh_speed_mps, veh_class, cls_length_m, lane, default):
    """Where the free space at the start of ``lane`` ends, and the speed there: the
    rear of its last vehicle and that vehicle's speed, or the start of a block and 0,
    whichever is nearer; ``(inf, default)`` if neither."""
    rear = math.inf
    spd = default
    n = lane_count[lane]
    if n > 0:
        last = lane_at(slots, lane_slot_off, lane_head, lane, n - 1)
        rear = veh_pos_m[last] - cls_length_m[veh_class[last]]
        spd = veh_speed_mps[last]
    blk = lane_block_pos_m[lane]
    if blk < rear:
        rear = blk
        spd = 0.0
    return rear, spd


@njit(**_JIT)
def pop_front(lane_slot_off, lane_head, lane_count, lane):
    cap = lane_slot_off[lane + 1] - lane_slot_off[lane]
    lane_head[lane] = (lane_head[lane] + 1) % cap
    lane_count[lane] -= 1


@njit(**_JIT)
def push_back(slots, lane_slot_off, lane_head, lane_count, lane, veh):
    off = lane_slot_off[lane]
    cap = lane_slot_off[lane + 1] - off
    slots[off + (lane_head[lane] + lane_count[lane]) % cap] = veh
    lane_count[lane] += 1


@njit(**_JIT)
def remove_at(slots, lane_slot_off, lane_head, lane_count, lane, k):
    off = lane_slot_off[lane]
    cap = lane_slot_off[lane + 1] - off
    h = lane_head[lane]
    n = lane_count[lane]
    for j in range(k, n - 1):
        slots[off + (h + j) % cap] = slots[off + (h + j + 1) % cap]
    lane_count[lane] = n - 1


@njit(**_JIT)
def insert_at(slots, lane_slot_off, lane_head, lane_count, lane, k, veh):
    off = lane_slot_off[lane]
    cap = lane_slot_off[lane + 1] - off
    h = lane_head[lane]
    n = lane_count[lane]
    for j in range(n, k, -1):
        slots[off + (h + j) % cap] = slots[off + (h + j - 1) % cap]
    slots[off + (h + k) % cap] = veh
    lane_count[lane] = n + 1


@njit(**_JIT)
def set_at(slots, lane_slot_off, lane_head, lane, k, veh):
    """Put ``veh`` at place ``k`` (0 = front) of ``lane`` in place of whoever is there."""
    off = lane_slot_off[lane]
    cap = lane_slot_off[lane + 1] - off
    slots[off + (lane_head[lane] + k) % cap] = veh


@njit(**_JIT)
def next_link_of(veh, veh_route_pos, route_offsets, route_links):
    """The route link after the vehicle's current one, or -1 on its last link."""
    p = route_offsets[veh] + veh_route_pos[veh] + 1
    if p >= route_offsets[veh + 1]:
        return -1
    return route_links[p]


@njit(**_JIT)
def link_after_next(veh, veh_route_pos, route_offsets, route_links):
    """The route link after the next one, or -1 when the route ends before it."""
    p = route_offsets[veh] + veh_route_pos[veh] + 2
    if p >= route_offsets[veh + 1]:
        return -1
    return route_links[p]


@njit(**_JIT)
def lane_serves(lane, to_link, lane_conn_off, conn_to_link):
    """Whether ``lane`` has a connection to ``to_link``."""
    for c in range(lane_conn_off[lane], lane_conn_off[lane + 1]):
        if conn_to_link[c] == to_link:
            return True
    return False


@njit(**_JIT_ALLOC)
def signal_codes(t, prog_offset_s, prog_cycle_s, prog_phase_off, phase_dur_s, phase_codes,
                 conn_program, conn_sig_index, conn_sig):
    """Phase 0: the signal code of every connection at time ``t``."""
    n_prog = prog_offset_s.shape[0]
    phase_now = np.empty(n_prog, np.int64)
    for p in range(n_prog):
        a = prog_phase_off[p]
        b = prog_phase_off[p + 1]
        rem = (t + prog_offset_s[p]) % prog_cycle_s[p]
        ph = b - 1
        for i in range(a, b):
            rem -= phase_dur_s[i]
            if rem < 0.0:
                ph = i
                break
        phase_now[p] = ph
    for c in range(conn_program.shape[0]):
        p = conn_program[c]
        if p < 0:
            conn_sig[c] = SIG_NONE
        else:
            conn_sig[c] = phase_codes[phase_now[p], conn_sig_index[c]]


@njit(**_JIT)
def _v0(c, link, link_speed_limit_mps, link_speed_factor, cls_speed_factor, cls_max_speed_mps):
    v0 = link_speed_limit_mps[link] * cls_speed_factor[c] * link_speed_factor[link]
    if cls_max_speed_mps[c] < v0:
        v0 = cls_max_speed_mps[c]
    return v0


@njit(**_JIT)
def _v0_of(i, link, veh_class, veh_emergency, link_speed_limit_mps, link_speed_factor,
           cls_speed_factor, cls_max_speed_mps, fp):
    """Desired speed of vehicle ``i`` on ``link``: :func:`_v0`, with the limit times
    ``emergency_speed_factor`` for an emergency vehicle (capped by the class's top speed)."""
    c = veh_class[i]
    v0 = link_speed_limit_mps[link] * cls_speed_factor[c] * link_speed_factor[link]
    if veh_emergency[i] != 0:
        v0 = v0 * fp[P_EM_SPEED_FACTOR]
    if cls_max_speed_mps[c] < v0:
        v0 = cls_max_speed_mps[c]
    return v0


@njit(inline='always', **_JIT)
def front_target(i, lane, nxt, veh_route_pos, route_offsets, route_links, lane_conn_off,
                 conn_to_link, conn_to_lane, slots, lane_slot_off, lane_head, lane_count,
                 lane_block_pos_m, veh_pos_m, veh_speed_mps, veh_class, cls_length_m):
    """Phase 2: the connection the front vehicle ``i`` of ``lane`` takes to ``nxt`` (-1:
    none, wrong lane), the space of its target lane and the speed where that space
    ends (:func:`lane_tail`; see the module docstring)."""
    nxt2 = link_after_next(i, veh_route_pos, route_offsets, route_links)
    best_c = -1
    best_rank = -1
    best_space = -math.inf
    best_speed = 0.0
    for cc in range(lane_conn_off[lane], lane_conn_off[lane + 1]):
        if conn_to_link[cc] != nxt:
            continue
        tl = conn_to_lane[cc]
        rank = 0
        if nxt2 >= 0 and lane_serves(tl, nxt2, lane_conn_off, conn_to_link):
            rank = 1
        sp, spd = lane_tail(slots, lane_slot_off, lane_head, lane_count, lane_block_pos_m,
                            veh_pos_m, veh_speed_mps, veh_class, cls_length_m, tl, 0.0)
        if rank > best_rank or (rank == best_rank and sp > best_space):
            best_c = cc
            best_rank = rank
            best_space = sp
            best_speed = spd
    return best_c, best_space, best_speed


@njit(**_JIT)
def sole_target(lane, nxt, lane_conn_off, conn_to_link, conn_to_lane):
    """The lane of ``nxt`` that ``lane`` connects to when it connects to exactly one; else -1."""
    tl = -1
    for cc in range(lane_conn_off[lane], lane_conn_off[lane + 1]):
        if conn_to_link[cc] == nxt:
            if tl >= 0:
                return -1
            tl = conn_to_lane[cc]
    return tl


@njit(**_JIT)
def zipper_leader(i, lane, link, relax, s0, link_lane_off, veh_pos_m, veh_class, veh_route_pos,
                  route_offsets, route_links, lane_conn_off, conn_to_link, conn_to_lane, slots,
                  lane_slot_off, lane_head, lane_count, lane_block_pos_m, cls_length_m):
    """Zipper merge (phase 2, see the module docstring): the vehicle that ``i`` (in ``lane``)
    lets go first in the other lanes of ``link`` joining its own into the same lane of its
    next route link (-1: none), and the nearest of their rears moved on by
    ``(length + s0) * relax``."""
    best = -1
    best_vr = math.inf
    nxt = next_link_of(i, veh_route_pos, route_offsets, route_links)
    if nxt < 0:
        return best, best_vr
    tl = sole_target(lane, nxt, lane_conn_off, conn_to_link, conn_to_lane)
    if tl < 0:
        return best, best_vr
    x = veh_pos_m[i]
    for g in range(link_lane_off[link], link_lane_off[link + 1]):
        if g == lane or lane_count[g] == 0:
            continue
        if sole_target(g, nxt, lane_conn_off, conn_to_link, conn_to_lane) != tl:
            continue
        front = lane_at(slots, lane_slot_off, lane_head, g, 0)
        if next_link_of(front, veh_route_pos, route_offsets, route_links) != nxt:
            continue  # the head of that lane turns elsewhere: it is not merging now
        kk = _place_in_lane(slots, lane_slot_off, lane_head, lane_count, veh_pos_m, g, x)
        if g > lane:  # side by side: the lower lane goes first
            while kk > 0 and veh_pos_m[lane_at(slots, lane_slot_off, lane_head, g, kk - 1)] == x:
                kk -= 1
        if kk == 0:
            continue
        j = lane_at(slots, lane_slot_off, lane_head, g, kk - 1)
        if next_link_of(j, veh_route_pos, route_offsets, route_links) != nxt:
            continue
        if veh_pos_m[j] <= lane_block_pos_m[g] < math.inf:
            continue  # held by a block: it is not merging
        len_j = cls_length_m[veh_class[j]]
        vr = veh_pos_m[j] - len_j + (len_j + s0) * relax
        if vr < best_vr:
            best = j
            best_vr = vr
    return best, best_vr


@njit(**_JIT)
def short_link(tl, c, link_length_m, lane_link, cls_length_m, cls_min_gap_m, fp):
    """Whether the link of lane ``tl`` is short for class ``c`` (keeping clear): under
    ``keep_clear_m`` or under the class's length plus standstill gap."""
    ell = link_length_m[lane_link[tl]]
    return ell < fp[P_KEEP_CLEAR_M] or ell < cls_length_m[c] + cls_min_gap_m[c]


@njit(**_JIT)
def keep_clear(i, tl, space, veh_route_pos, route_offsets, route_links, link_length_m,
               link_lane_off, lane_link, lane_conn_off, conn_to_link, conn_to_lane, slots,
               lane_slot_off, lane_head, lane_count, lane_block_pos_m, veh_pos_m,
               veh_speed_mps, veh_class, cls_length_m, cls_min_gap_m, fp):
    """Keep clear: whether vehicle ``i`` must not enter lane ``tl`` (free ``space`` at its
    start), a short link it could not leave because the route link after it is jammed."""
    nxt2 = link_after_next(i, veh_route_pos, route_offsets, route_links)
    c = veh_class[i]
    if nxt2 < 0 or not short_link(tl, c, link_length_m, lane_link, cls_length_m,
                                  cls_min_gap_m, fp):
        return False
    room = -math.inf
    room_speed = 0.0
    out = -1
    for cc in range(lane_conn_off[tl], lane_conn_off[tl + 1]):
        if conn_to_link[cc] == nxt2:
            sp, spd = lane_tail(slots, lane_slot_off, lane_head, lane_count, lane_block_pos_m,
                                veh_pos_m, veh_speed_mps, veh_class, cls_length_m,
                                conn_to_lane[cc], 0.0)
            if sp > room:
                room = sp
                room_speed = spd
                out = conn_to_lane[cc]
    if out < 0:
        for g in range(link_lane_off[nxt2], link_lane_off[nxt2 + 1]):
            sp, spd = lane_tail(slots, lane_slot_off, lane_head, lane_count, lane_block_pos_m,
                                veh_pos_m, veh_speed_mps, veh_class, cls_length_m, g, 0.0)
            if sp > room:
                room = sp
                room_speed = spd
                out = g
    if math.isinf(room):
        return False
    if room_speed > fp[P_STOP_SPEED]:
        return False  # the jam beyond is moving: it makes room
    ell = link_length_m[lane_link[tl]]
    queued = ell - space if space < ell else 0.0
    return room - queued < cls_length_m[c] + cls_min_gap_m[c]


@njit(**_JIT)
def _can_go(w, lane, nxt, veh_route_pos, route_offsets, route_links, link_length_m,
            link_lane_off, lane_link, lane_conn_off, conn_to_link, conn_to_lane, slots,
            lane_slot_off, lane_head, lane_count, lane_block_pos_m, veh_pos_m, veh_speed_mps,
            veh_class, cls_length_m, cls_min_gap_m, fp):
    """Whether the front vehicle ``w`` of ``lane`` could enter ``nxt`` now: it has a
    connection, its target lane has room for its length and standstill gap, and keeping
    clear does not hold it."""
    wc, wsp, _ = front_target(w, lane, nxt, veh_route_pos, route_offsets, route_links,
                              lane_conn_off, conn_to_link, conn_to_lane, slots, lane_slot_off,
                              lane_head, lane_count, lane_block_pos_m, veh_pos_m, veh_speed_mps,
                              veh_class, cls_length_m)
    if wc < 0 or wsp < cls_length_m[veh_class[w]] + cls_min_gap_m[veh_class[w]]:
        return False
    return not keep_clear(w, conn_to_lane[wc], wsp, veh_route_pos, route_offsets, route_links,
                          link_length_m, link_lane_off, lane_link, lane_conn_off, conn_to_link,
                          conn_to_lane, slots, lane_slot_off, lane_head, lane_count,
                          lane_block_pos_m, veh_pos_m, veh_speed_mps, veh_class, cls_length_m,
                          cls_min_gap_m, fp)


@njit(**_JIT)
def must_yield(veh, link, mov, t, veh_pos_m, veh_speed_mps, veh_route_pos, veh_stopped_since_s,
               route_offsets, route_links, link_length_m, link_lane_off,
               slots, lane_slot_off, lane_head, lane_count,
               mov_from_link, mov_to_link, mov_rank, mov_conn, mov_conf_off, mov_conf,
               mov_last_cross_s, conn_sig, lane_link, lane_block_pos_m, lane_conn_off,
               conn_to_link, conn_to_lane, veh_class, cls_length_m, cls_min_gap_m, fp):
    """Whether a vehicle about to make movement ``mov`` must give way (phase 2)."""
    my_sig = conn_sig[mov_conn[mov]]
    my_stop = veh_stopped_since_s[veh]
    for j in range(mov_conf_off[mov], mov_conf_off[mov + 1]):
        m2 = mov_conf[j]
        sig2 = conn_sig[mov_conn[m2]]
        prio = 0  # 1: m2 has priority, 0: equal, -1: m has priority
        if sig2 == SIG_RED or sig2 == SIG_AMBER:
            prio = 0  # vehicles may still be clearing the junction on it
        elif sig2 == SIG_NONE and my_sig == SIG_NONE:
            if mov_rank[m2] > mov_rank[mov]:
                prio = 1
            elif mov_rank[m2] < mov_rank[mov]:
                prio = -1
        elif sig2 == SIG_GREEN and my_sig == SIG_YIELD:
            prio = 1
        elif sig2 == SIG_YIELD and my_sig == SIG_GREEN:
            prio = -1
        elif sig2 == my_sig:
            prio = 0
        else:
            prio = -1
        if prio < 0:
            continue
        if t - mov_last_cross_s[m2] < fp[P_CLEAR_S]:
            return True
        if sig2 == SIG_RED or sig2 == SIG_AMBER:
            continue
        l2 = mov_from_link[m2]
        for lane in range(link_lane_off[l2], link_lane_off[l2 + 1]):
            if lane_count[lane] == 0:
                continue
            w = lane_at(slots, lane_slot_off, lane_head, lane, 0)
            if next_link_of(w, veh_route_pos, route_offsets, route_links) != mov_to_link[m2]:
                continue
            d_w = link_length_m[l2] - veh_pos_m[w]
            v_w = veh_speed_mps[w]
            if prio > 0:
                if v_w > fp[P_STOP_SPEED] and d_w < v_w * fp[P_YIELD_GAP_S]:
                    return True
            else:
                if v_w <= fp[P_STOP_SPEED] and d_w <= fp[P_QUEUE_FRONT_M]:
                    w_stop = veh_stopped_since_s[w]
                    if w_stop < my_stop or (w_stop == my_stop and l2 < link):
                        if _can_go(w, lane, mov_to_link[m2], veh_route_pos, route_offsets,
                                   route_links, link_length_m, link_lane_off, lane_link,
                                   lane_conn_off, conn_to_link, conn_to_lane, slots,
                                   lane_slot_off, lane_head, lane_count, lane_block_pos_m,
                                   veh_pos_m, veh_speed_mps, veh_class, cls_length_m,
                                   cls_min_gap_m, fp):
                            return True
    return False


@njit(**_JIT)
def emergency_clear(mov, t, veh_pos_m, veh_speed_mps, veh_route_pos, route_offsets, route_links,
                    link_length_m, link_lane_off, slots, lane_slot_off, lane_head, lane_count,
                    mov_from_link, mov_to_link, mov_conf_off, mov_conf, mov_last_cross_s, fp):
    """Whether the movements conflicting with ``mov`` are clear for an emergency vehicle
    (phase 2): none was crossed less than ``clear_s`` ago and no front vehicle heading for
    one is moving within ``yield_gap_s`` of its line, whatever their signals show."""
    for j in range(mov_conf_off[mov], mov_conf_off[mov + 1]):
        m2 = mov_conf[j]
        if t - mov_last_cross_s[m2] < fp[P_CLEAR_S]:
            return False
        l2 = mov_from_link[m2]
        for lane in range(link_lane_off[l2], link_lane_off[l2 + 1]):
            if lane_count[lane] == 0:
                continue
            w = lane_at(slots, lane_slot_off, lane_head, lane, 0)
            if next_link_of(w, veh_route_pos, route_offsets, route_links) != mov_to_link[m2]:
                continue
            d_w = link_length_m[l2] - veh_pos_m[w]
            v_w = veh_speed_mps[w]
            if v_w > fp[P_STOP_SPEED] and d_w < v_w * fp[P_YIELD_GAP_S]:
                return False
    return True


@njit(**_JIT)
def yield_to_emergency(mov, veh_pos_m, veh_speed_mps, veh_route_pos, veh_emergency,
                       route_offsets, route_links, link_length_m, link_lane_off, lane_link,
                       slots, lane_slot_off, lane_head, lane_count, lane_block_pos_m,
                       lane_conn_off, conn_to_link, conn_to_lane, mov_from_link, mov_to_link,
                       mov_conf_off, mov_conf, veh_class, cls_length_m, cls_min_gap_m, fp):
    """Whether a vehicle about to make ``mov`` gives way to an emergency vehicle (phase 2):
    the front vehicle of a lane heading for a conflicting movement is one, within
    ``max(queue_front_m, v yield_gap_s)`` of its line, and could go (:func:`_can_go`)."""
    for j in range(mov_conf_off[mov], mov_conf_off[mov + 1]):
        m2 = mov_conf[j]
        l2 = mov_from_link[m2]
        for lane in range(link_lane_off[l2], link_lane_off[l2 + 1]):
            if lane_count[lane] == 0:
                continue
            w = lane_at(slots, lane_slot_off, lane_head, lane, 0)
            if veh_emergency[w] == 0:
                continue
            if next_link_of(w, veh_route_pos, route_offsets, route_links) != mov_to_link[m2]:
                continue
            reach = veh_speed_mps[w] * fp[P_YIELD_GAP_S]
            if reach < fp[P_QUEUE_FRONT_M]:
                reach = fp[P_QUEUE_FRONT_M]
            if link_length_m[l2] - veh_pos_m[w] > reach:
                continue
            if _can_go(w, lane, mov_to_link[m2], veh_route_pos, route_offsets, route_links,
                       link_length_m, link_lane_off, lane_link, lane_conn_off, conn_to_link,
                       conn_to_lane, slots, lane_slot_off, lane_head, lane_count,
                       lane_block_pos_m, veh_pos_m, veh_speed_mps, veh_class, cls_length_m,
                       cls_min_gap_m, fp):
                return True
    return False


@njit(**_JIT)
def pass_group(lane, q, low, len_i, slots, lane_slot_off, lane_head, veh_pos_m, veh_speed_mps,
               veh_class, veh_emergency, cls_length_m, link_length_m, lane_link, v_pass):
    """Queue passing: the vehicles an emergency vehicle of length ``len_i`` passes at once,
    from place ``q`` of ``lane`` forward, so that they all fit behind it (moved back at
    most, the last one's front at least ``low``). Returns the place of the front-most of
    them and the emergency vehicle's new front, ``(-1, 0)`` when no group will do."""
    need = low + len_i
    top = q
    while top >= 0:
        j = lane_at(slots, lane_slot_off, lane_head, lane, top)
        if veh_emergency[j] != 0 or veh_speed_mps[j] > v_pass:
            return -1, 0.0
        if top < q:  # the ones behind it are packed behind its rear
            need = need + cls_length_m[veh_class[j]]
        e = veh_pos_m[j] if veh_pos_m[j] > need else need
        room = link_length_m[lane_link[lane]]
        if top > 0:
            ahead = lane_at(slots, lane_slot_off, lane_head, lane, top - 1)
            room = veh_pos_m[ahead] - cls_length_m[veh_class[ahead]]
        if e <= room:
            return top, e
        top -= 1
    return -1, 0.0


@njit(**_JIT)
def queue_ahead(i, lane, k, t, x_new, veh_class, veh_pos_m, veh_speed_mps, veh_route_pos,
                veh_conn, veh_target_lane, veh_emergency, route_offsets, route_links,
                link_length_m, link_lane_off, lane_link, slots, lane_slot_off, lane_head,
                lane_count, lane_block_pos_m, conn_mov, mov_from_link, mov_to_link,
                mov_conf_off, mov_conf, mov_last_cross_s, cls_length_m, cls_min_gap_m,
                cls_headway_s, fp):
    """Queue passing (phase 2): when emergency vehicle ``i`` (place ``k`` of ``lane``, its
    connection already chosen when ``k == 0``) is closed up behind a queue vehicle it may
    pass (its leader, or the last vehicle of its target lane), how far the front of the
    group it passes (:func:`pass_group`) is ahead of ``x_new`` (in front of the line:
    from the line on); -1 when not (see the module docstring)."""
    v_pass = fp[P_EM_PASS_MPS]
    c = veh_class[i]
    x = veh_pos_m[i]
    len_i = cls_length_m[c]
    close = cls_min_gap_m[c] + v_pass * cls_headway_s[c]
    blk = lane_block_pos_m[lane]
    if k > 0:
        ld = lane_at(slots, lane_slot_off, lane_head, lane, k - 1)
        if veh_emergency[ld] != 0 or veh_speed_mps[ld] > v_pass:
            return -1.0
        if x < blk <= veh_pos_m[ld]:
            return -1.0  # a block between them is not passed
        if veh_pos_m[ld] - cls_length_m[veh_class[ld]] - x > close:
            return -1.0
        low = 0.0
        if k + 1 < lane_count[lane]:
            fo = lane_at(slots, lane_slot_off, lane_head, lane, k + 1)
            low_f = veh_pos_m[fo] + cls_length_m[veh_class[ld]]
            if low_f > low:
                low = low_f
        top, _ = pass_group(lane, k - 1, low, len_i, slots, lane_slot_off, lane_head, veh_pos_m,
                            veh_speed_mps, veh_class, veh_emergency, cls_length_m,
                            link_length_m, lane_link, v_pass)
        if top < 0:
            return -1.0
        return veh_pos_m[lane_at(slots, lane_slot_off, lane_head, lane, top)] - x_new
    cc = veh_conn[i]
    if cc < 0 or (x < blk and not math.isinf(blk)):
        return -1.0
    tl = veh_target_lane[i]
    n = lane_count[tl]
    if n == 0:
        return -1.0
    w = lane_at(slots, lane_slot_off, lane_head, tl, n - 1)
    if veh_emergency[w] != 0 or veh_speed_mps[w] > v_pass:
        return -1.0
    if lane_block_pos_m[tl] <= veh_pos_m[w]:
        return -1.0  # a block before it is not passed
    link = lane_link[lane]
    length = link_length_m[link]
    if (length - x) + (veh_pos_m[w] - cls_length_m[veh_class[w]]) > close:
        return -1.0
    top, _ = pass_group(tl, n - 1, 0.0, len_i, slots, lane_slot_off, lane_head, veh_pos_m,
                        veh_speed_mps, veh_class, veh_emergency, cls_length_m, link_length_m,
                        lane_link, v_pass)
    if top < 0:
        rp = veh_route_pos[w]
        if rp < 1 or route_links[route_offsets[w] + rp - 1] != link:
            return -1.0  # nor can it drop back onto this link
        top = n - 1
    if not emergency_clear(conn_mov[cc], t, veh_pos_m, veh_speed_mps, veh_route_pos,
                           route_offsets, route_links, link_length_m, link_lane_off, slots,
                           lane_slot_off, lane_head, lane_count, mov_from_link, mov_to_link,
                           mov_conf_off, mov_conf, mov_last_cross_s, fp):
        return -1.0
    x_line = x_new if x_new < length else length  # beyond it, it is held at the line
    return (length - x_line) + veh_pos_m[lane_at(slots, lane_slot_off, lane_head, tl, top)]


def _longitudinal(t, dt, veh_class, veh_link, veh_pos_m, veh_speed_mps, veh_route_pos,
                 veh_stopped_since_s, veh_next_pos_m, veh_next_speed_mps, veh_target_lane,
                 veh_conn, route_offsets, route_links,
                 link_length_m, link_speed_limit_mps, link_speed_factor, link_lane_off,
                 lane_link, slots, lane_slot_off, lane_head, lane_count, lane_block_pos_m,
                 lane_conn_off, conn_to_link, conn_to_lane, conn_mov, conn_sig,
                 mov_from_link, mov_to_link, mov_rank, mov_conn, mov_conf_off, mov_conf,
                 mov_last_cross_s,
                 cls_length_m, cls_min_gap_m, cls_headway_s, cls_accel_mps2, cls_decel_mps2,
                 cls_idm_den, cls_max_speed_mps, cls_speed_factor, fp, lane_moved,
                 lane_merge_veh, veh_emergency, veh_pass_m, em_on):
    """Phase 2: next position and speed of every active vehicle (parallel over lanes)."""
    n_lanes = lane_link.shape[0]
    for lane in prange(n_lanes):
        n = lane_count[lane]
        lane_moved[lane] = 0
        if n == 0:
            continue
        link = lane_link[lane]
        length = link_length_m[link]
        blk = lane_block_pos_m[lane]
        req = lane_merge_veh[lane]
        multi = link_lane_off[link + 1] - link_lane_off[link] > 1 and fp[P_MERGE_ZONE_M] > 0.0
        for k in range(n):
            i = lane_at(slots, lane_slot_off, lane_head, lane, k)
            c = veh_class[i]
            x = veh_pos_m[i]
            v = veh_speed_mps[i]
            a = cls_accel_mps2[c]
            b = cls_decel_mps2[c]
            v0 = _v0_of(i, link, veh_class, veh_emergency, link_speed_limit_mps,
                        link_speed_factor, cls_speed_factor, cls_max_speed_mps, fp)
            em = veh_emergency[i] != 0
            crawl = False
            gap = math.inf
            v_lead = v
            max_x = math.inf
            veh_target_lane[i] = -1
            veh_conn[i] = -1
            if k > 0:
                ld = lane_at(slots, lane_slot_off, lane_head, lane, k - 1)
                rear = veh_pos_m[ld] - cls_length_m[veh_class[ld]]
                gap = rear - x
                v_lead = veh_speed_mps[ld]
                max_x = rear
            else:
                nxt = next_link_of(i, veh_route_pos, route_offsets, route_links)
                d = length - x
                if nxt >= 0:
                    best_c, best_space, best_speed = front_target(
                        i, lane, nxt, veh_route_pos, route_offsets, route_links, lane_conn_off,
                        conn_to_link, conn_to_lane, slots, lane_slot_off, lane_head, lane_count,
                        lane_block_pos_m, veh_pos_m, veh_speed_mps, veh_class, cls_length_m)
                    stop = False
                    if best_c < 0:
                        stop = True
                    else:
                        sig = conn_sig[best_c]
                        if d <= fp[P_LOOKAHEAD_M]:
                            if sig == SIG_RED:
                                if v * v <= 2.0 * fp[P_B_EMERGENCY] * d:
                                    stop = True
                            elif sig == SIG_AMBER:
                                if v * v <= 2.0 * b * d:
                                    stop = True
                            # an emergency vehicle crawls through a red or amber line
                            if stop and em and d <= fp[P_APPROACH_M] \
                                    and v <= fp[P_EM_CRAWL_MPS] and emergency_clear(
                                        conn_mov[best_c], t, veh_pos_m, veh_speed_mps,
                                        veh_route_pos, route_offsets, route_links,
                                        link_length_m, link_lane_off, slots, lane_slot_off,
                                        lane_head, lane_count, mov_from_link, mov_to_link,
                                        mov_conf_off, mov_conf, mov_last_cross_s, fp):
                                stop = False
                                crawl = True
                            # keep_clear's own first test, here, spares most fronts the call;
                            # an emergency vehicle that may pass queues is not held by it
                            if not stop and v * v <= 2.0 * b * d and not (
                                    em and fp[P_EM_PASS_MPS] > 0.0) and short_link(
                                    conn_to_lane[best_c], c, link_length_m, lane_link,
                                    cls_length_m, cls_min_gap_m, fp) and keep_clear(
                                    i, conn_to_lane[best_c], best_space, veh_route_pos,
                                    route_offsets, route_links, link_length_m, link_lane_off,
                                    lane_link, lane_conn_off, conn_to_link, conn_to_lane, slots,
                                    lane_slot_off, lane_head, lane_count, lane_block_pos_m,
                                    veh_pos_m, veh_speed_mps, veh_class, cls_length_m,
                                    cls_min_gap_m, fp):
                                stop = True
                            if not stop and d <= v * v / (2.0 * b) + fp[P_APPROACH_M]:
                                if em:
                                    stop = not emergency_clear(
                                        conn_mov[best_c], t, veh_pos_m, veh_speed_mps,
                                        veh_route_pos, route_offsets, route_links,
                                        link_length_m, link_lane_off, slots, lane_slot_off,
                                        lane_head, lane_count, mov_from_link, mov_to_link,
                                        mov_conf_off, mov_conf, mov_last_cross_s, fp)
                                elif must_yield(i, link, conn_mov[best_c], t, veh_pos_m,
                                              veh_speed_mps, veh_route_pos, veh_stopped_since_s,
                                              route_offsets, route_links, link_length_m,
                                              link_lane_off, slots, lane_slot_off, lane_head,
                                              lane_count, mov_from_link, mov_to_link, mov_rank,
                                              mov_conn, mov_conf_off, mov_conf,
                                              mov_last_cross_s, conn_sig, lane_link,
                                              lane_block_pos_m, lane_conn_off, conn_to_link,
                                              conn_to_lane, veh_class, cls_length_m,
                                              cls_min_gap_m, fp):
                                    stop = True
                                elif em_on and yield_to_emergency(
                                        conn_mov[best_c], veh_pos_m, veh_speed_mps,
                                        veh_route_pos, veh_emergency, route_offsets,
                                        route_links, link_length_m, link_lane_off, lane_link,
                                        slots, lane_slot_off, lane_head, lane_count,
                                        lane_block_pos_m, lane_conn_off, conn_to_link,
                                        conn_to_lane, mov_from_link, mov_to_link, mov_conf_off,
                                        mov_conf, veh_class, cls_length_m, cls_min_gap_m, fp):
                                    stop = True
                        veh_target_lane[i] = conn_to_lane[best_c]
                        veh_conn[i] = best_c
                    if stop:
                        gap = d
                        v_lead = 0.0
                        max_x = length
                    elif not math.isinf(best_space):
                        gap = d + best_space
                        max_x = length + best_space
                        v_lead = best_speed
            if multi:
                zone = v * v / (2.0 * b) + fp[P_APPROACH_M]
                if zone < fp[P_MERGE_ZONE_M]:
                    zone = fp[P_MERGE_ZONE_M]
                if length - x <= zone:
                    j, vr = zipper_leader(i, lane, link, (length - x) / zone, cls_min_gap_m[c],
                                          link_lane_off, veh_pos_m, veh_class, veh_route_pos,
                                          route_offsets, route_links, lane_conn_off,
                                          conn_to_link, conn_to_lane, slots, lane_slot_off,
                                          lane_head, lane_count, lane_block_pos_m,
                                          cls_length_m)
                    if j >= 0 and vr - x < gap:
                        gap = vr - x
                        v_lead = veh_speed_mps[j]
                        if vr < max_x:
                            max_x = vr
            if blk > x and blk - x < gap:
                gap = blk - x
                v_lead = 0.0
                if blk < max_x:
                    max_x = blk
            if req >= 0:
                req_rear = veh_pos_m[req] - cls_length_m[veh_class[req]]
                if req_rear > x and req_rear - x < gap:
                    gap = req_rear - x
                    v_lead = veh_speed_mps[req]
            if crawl and fp[P_EM_CRAWL_MPS] < v0:
                v0 = fp[P_EM_CRAWL_MPS]
            acc = idm_accel(v, v0, gap, v_lead, a, cls_idm_den[c], cls_headway_s[c],
                            cls_min_gap_m[c])
            v_new = v + acc * dt
            if v_new < 0.0:
                x_new = x - v * v / (2.0 * acc)
                v_new = 0.0
            else:
                x_new = x + (v + v_new) * 0.5 * dt
            if x_new > max_x:
                x_new = max_x if max_x > x else x
                if v_lead < v_new:
                    v_new = v_lead
            veh_next_pos_m[i] = x_new
            veh_next_speed_mps[i] = v_new
            if x_new > x:
                lane_moved[lane] = 1
            if em and fp[P_EM_PASS_MPS] > 0.0:
                # queue passing: what the pass speed gains over its move in the lane
                # (at most level with the front of the vehicle it passes)
                reach = queue_ahead(i, lane, k, t, x_new, veh_class, veh_pos_m,
                                    veh_speed_mps, veh_route_pos, veh_conn, veh_target_lane,
                                    veh_emergency, route_offsets, route_links, link_length_m,
                                    link_lane_off, lane_link, slots, lane_slot_off, lane_head,
                                    lane_count, lane_block_pos_m, conn_mov, mov_from_link,
                                    mov_to_link, mov_conf_off, mov_conf, mov_last_cross_s,
                                    cls_length_m, cls_min_gap_m, cls_headway_s, fp)
                p = 0.0
                if reach >= 0.0:
                    p = veh_pass_m[i] + fp[P_EM_PASS_MPS] * dt - (x_new - x)
                    if p < 0.0:
                        p = 0.0
                    if p > reach:
                        p = reach
                veh_pass_m[i] = p


@njit(**_JIT)
def _record_crossing(d, i, time_s, speed, sig, det_count, det_speed_sum, ev_det, ev_veh,
                     ev_time, ev_speed, ev_sig, counters):
    """Count vehicle ``i`` on detector ``d`` and append the crossing to the event buffer."""
    det_count[d] += 1
    det_speed_sum[d] += speed
    e = counters[C_EVENTS]
    ev_det[e] = d
    ev_veh[e] = i
    ev_time[e] = time_s
    ev_speed[e] = speed
    ev_sig[e] = sig
    counters[C_EVENTS] = e + 1


@njit(**_JIT)
def detect(t, dt, veh_class, veh_pos_m, veh_next_pos_m, veh_speed_mps, veh_next_speed_mps,
           veh_conn, conn_sig, cls_length_m, slots, lane_slot_off, lane_head, lane_count,
           det_lanes, det_lane_off, det_by_lane, det_pos_m, det_count, det_speed_sum,
           det_occ_s, ev_det, ev_veh, ev_time, ev_speed, ev_sig, counters, fp):
    """Phase 3: loop detectors and crossing events (sequential)."""
    loop_len = fp[P_LOOP_LENGTH_M]
    for q in range(det_lanes.shape[0]):
        lane = det_lanes[q]
        n = lane_count[lane]
        for k in range(n):
            i = lane_at(slots, lane_slot_off, lane_head, lane, k)
            x0 = veh_pos_m[i]
            x1 = veh_next_pos_m[i]
            span = cls_length_m[veh_class[i]] + loop_len
            for j in range(det_lane_off[lane], det_lane_off[lane + 1]):
                d = det_by_lane[j]
                p = det_pos_m[d]
                if x0 < p <= x1:
                    f = (p - x0) / (x1 - x0)
                    v = veh_speed_mps[i] + f * (veh_next_speed_mps[i] - veh_speed_mps[i])
                    sig = conn_sig[veh_conn[i]] if veh_conn[i] >= 0 else -1
                    _record_crossing(d, i, t + f * dt, v, sig, det_count, det_speed_sum,
                                     ev_det, ev_veh, ev_time, ev_speed, ev_sig, counters)
                lo = x0 if x0 > p else p
                hi = x1 if x1 < p + span else p + span
                if x1 > x0:
                    if hi > lo:
                        det_occ_s[d] += dt * (hi - lo) / (x1 - x0)
                elif p <= x0 < p + span:
                    det_occ_s[d] += dt


def _commit(t, dt, slots, lane_slot_off, lane_head, lane_count, veh_pos_m, veh_speed_mps,
            veh_next_pos_m, veh_next_speed_mps, veh_prev_pos_m, veh_stopped_since_s, stop_speed):
    """Phase 4: apply the positions and speeds decided in phase 2 (vehicles on the road only)."""
    for lane in prange(lane_count.shape[0]):
        for k in range(lane_count[lane]):
            i = lane_at(slots, lane_slot_off, lane_head, lane, k)
            veh_prev_pos_m[i] = veh_pos_m[i]
            veh_pos_m[i] = veh_next_pos_m[i]
            veh_speed_mps[i] = veh_next_speed_mps[i]
            if veh_speed_mps[i] <= stop_speed:
                if math.isinf(veh_stopped_since_s[i]):
                    veh_stopped_since_s[i] = t + dt
            else:
                veh_stopped_since_s[i] = math.inf


@njit(**_JIT)
def _detect_entry(t, dt, i, lane, x_new, x0, x_end, length, speed, sig, det_lane_off,
                  det_by_lane, det_pos_m, det_count, det_speed_sum, ev_det, ev_veh, ev_time,
                  ev_speed, ev_sig, counters):
    """Detectors of ``lane`` that a vehicle entering it at ``x_new`` jumped over."""
    for j in range(det_lane_off[lane], det_lane_off[lane + 1]):
        d = det_by_lane[j]
        p = det_pos_m[d]
        if p <= x_new:
            f = (length + p - x0) / (x_end - x0)
            if f > 1.0:
                f = 1.0
            _record_crossing(d, i, t + f * dt, speed, sig, det_count, det_speed_sum, ev_det,
                             ev_veh, ev_time, ev_speed, ev_sig, counters)


@njit(**_JIT)
def transfers(t, dt, veh_state, veh_class, veh_link, veh_lane, veh_pos_m, veh_speed_mps,
              veh_prev_pos_m, veh_route_pos, veh_arrive_s, veh_stopped_since_s,
              veh_target_lane, veh_conn, veh_pass_m, route_offsets, route_links,
              link_length_m, link_entered, link_exited, lane_link,
              slots, lane_slot_off, lane_head, lane_count, lane_block_pos_m,
              conn_mov, conn_sig, mov_conf_off, mov_conf, mov_last_cross_s,
              cls_length_m, fp, counters, det_lane_off, det_by_lane, det_pos_m, det_count,
              det_speed_sum, ev_det, ev_veh, ev_time, ev_speed, ev_sig):
    """Phase 5: arrivals and junction crossings (sequential). Returns how many happened."""
    t_end = t + dt
    done = 0
    for lane in range(lane_link.shape[0]):
        link = lane_link[lane]
        length = link_length_m[link]
        while lane_count[lane] > 0:
            i = lane_at(slots, lane_slot_off, lane_head, lane, 0)
            x = veh_pos_m[i]
            nxt = next_link_of(i, veh_route_pos, route_offsets, route_links)
            if nxt < 0:
                if x < length:
                    break
                x0 = veh_prev_pos_m[i]
                f = (length - x0) / (x - x0) if x > x0 else 1.0
                veh_arrive_s[i] = t + f * dt
                veh_state[i] = _ARRIVED
                veh_link[i] = -1
                veh_lane[i] = -1
                pop_front(lane_slot_off, lane_head, lane_count, lane)
                link_exited[link] += 1
                done += 1
                continue
            if x <= length:
                break
            cc = veh_conn[i]
            tl = veh_target_lane[i]
            ok = cc >= 0
            if ok:
                mov = conn_mov[cc]
                for j in range(mov_conf_off[mov], mov_conf_off[mov + 1]):
                    if mov_last_cross_s[mov_conf[j]] == t_end:
                        ok = False
                        break
            x_new = 0.0
            rear = math.inf
            rear_speed = veh_speed_mps[i]
            if ok:
                rear, rear_speed = lane_tail(slots, lane_slot_off, lane_head, lane_count,
                                             lane_block_pos_m, veh_pos_m, veh_speed_mps,
                                             veh_class, cls_length_m, tl, veh_speed_mps[i])
                x_new = x - length
                lim = rear - fp[P_MIN_ENTRY_GAP_M]
                if lim < x_new:
                    x_new = lim
                if x_new < 0.0:
                    ok = False
                cap = lane_slot_off[tl + 1] - lane_slot_off[tl]
                if lane_count[tl] >= cap:
                    ok = False
            if not ok:
                veh_pos_m[i] = length
                veh_speed_mps[i] = 0.0
                if math.isinf(veh_stopped_since_s[i]):
                    veh_stopped_since_s[i] = t_end
                counters[C_REFUSED] += 1
                break
            if x_new < x - length and rear_speed < veh_speed_mps[i]:
                veh_speed_mps[i] = rear_speed
            nlink = lane_link[tl]
            if x_new > link_length_m[nlink]:
                x_new = link_length_m[nlink]
            if conn_sig[cc] == SIG_RED:
                counters[C_RED_RUNS] += 1
            if det_lane_off[tl + 1] > det_lane_off[tl]:
                _detect_entry(t, dt, i, tl, x_new, veh_prev_pos_m[i], x, length,
                              veh_speed_mps[i], conn_sig[cc], det_lane_off, det_by_lane,
                              det_pos_m, det_count, det_speed_sum, ev_det, ev_veh, ev_time,
                              ev_speed, ev_sig, counters)
            pop_front(lane_slot_off, lane_head, lane_count, lane)
            push_back(slots, lane_slot_off, lane_head, lane_count, tl, i)
            veh_link[i] = nlink
            veh_lane[i] = tl
            veh_pos_m[i] = x_new
            veh_prev_pos_m[i] = x_new
            veh_route_pos[i] += 1
            veh_pass_m[i] = 0.0  # an emergency vehicle passing a queue has got through
            link_exited[link] += 1
            link_entered[nlink] += 1
            mov_last_cross_s[conn_mov[cc]] = t_end
            done += 1
    return done


@njit(**_JIT)
def _pack_behind(lane, first, last, top_m, slots, lane_slot_off, lane_head, veh_class,
                 veh_pos_m, veh_prev_pos_m, cls_length_m):
    """Places ``first..last`` of ``lane``, in order behind a rear at ``top_m``: each front
    at most where it was and at most at the rear of the one ahead."""
    for kk in range(first, last + 1):
        j = lane_at(slots, lane_slot_off, lane_head, lane, kk)
        if veh_pos_m[j] > top_m:
            veh_pos_m[j] = top_m
            veh_prev_pos_m[j] = top_m
        top_m = veh_pos_m[j] - cls_length_m[veh_class[j]]
    return top_m


@njit(**_JIT)
def passes(t_end, veh_state, veh_class, veh_link, veh_lane, veh_pos_m, veh_prev_pos_m,
           veh_speed_mps, veh_route_pos, veh_target_lane, veh_conn, veh_emergency,
           veh_pass_m, route_offsets, route_links, link_length_m, link_entered, link_exited,
           lane_link, slots, lane_slot_off, lane_head, lane_count, lane_block_pos_m,
           conn_mov, conn_sig, mov_last_cross_s, cls_length_m, counters, fp):
    """Phase 5b: emergency vehicles level with the front of the queue vehicles they pass
    go ahead of them (sequential, vehicles in index order; see the module docstring).
    Returns how many passes there were."""
    v_pass = fp[P_EM_PASS_MPS]
    done = 0
    for i in range(veh_emergency.shape[0]):
        if veh_emergency[i] == 0 or veh_pass_m[i] <= 0.0 or veh_state[i] != _ACTIVE:
            continue
        lane = veh_lane[i]
        n = lane_count[lane]
        x = veh_pos_m[i]
        p = veh_pass_m[i]
        len_i = cls_length_m[veh_class[i]]
        blk = lane_block_pos_m[lane]
        k = _place_in_lane(slots, lane_slot_off, lane_head, lane_count, veh_pos_m, lane, x) - 1
        while lane_at(slots, lane_slot_off, lane_head, lane, k) != i:
            k -= 1
        if k > 0:
            ld = lane_at(slots, lane_slot_off, lane_head, lane, k - 1)
            low = 0.0
            if k + 1 < n:
                fo = lane_at(slots, lane_slot_off, lane_head, lane, k + 1)
                low_f = veh_pos_m[fo] + cls_length_m[veh_class[ld]]
                if low_f > low:
                    low = low_f
            top, e = pass_group(lane, k - 1, low, len_i, slots, lane_slot_off, lane_head,
                                veh_pos_m, veh_speed_mps, veh_class, veh_emergency,
                                cls_length_m, link_length_m, lane_link, v_pass)
            if top < 0:
                continue
            x_top = veh_pos_m[lane_at(slots, lane_slot_off, lane_head, lane, top)]
            lo = low - cls_length_m[veh_class[ld]]  # nothing moves behind this
            if x - len_i < lo:
                lo = x - len_i
            if p < x_top - x or lo < blk <= e:
                continue
            remove_at(slots, lane_slot_off, lane_head, lane_count, lane, k)
            insert_at(slots, lane_slot_off, lane_head, lane_count, lane, top, i)
            veh_pos_m[i] = e
            veh_prev_pos_m[i] = e
            _pack_behind(lane, top + 1, k, e - len_i, slots, lane_slot_off, lane_head,
                         veh_class, veh_pos_m, veh_prev_pos_m, cls_length_m)
        else:
            cc = veh_conn[i]
            tl = veh_target_lane[i]
            if cc < 0 or tl < 0 or lane_count[tl] == 0:
                continue
            if x < blk and not math.isinf(blk):
                continue
            link = lane_link[lane]
            length = link_length_m[link]
            m = lane_count[tl]
            w = lane_at(slots, lane_slot_off, lane_head, tl, m - 1)
            nlink = lane_link[tl]
            top, e = pass_group(tl, m - 1, 0.0, len_i, slots, lane_slot_off, lane_head,
                                veh_pos_m, veh_speed_mps, veh_class, veh_emergency,
                                cls_length_m, link_length_m, lane_link, v_pass)
            if top >= 0:
                # ahead of them on its target lane; they stay on their link behind it
                x_top = veh_pos_m[lane_at(slots, lane_slot_off, lane_head, tl, top)]
                if p < (length - x) + x_top or lane_block_pos_m[tl] <= e \
                        or m >= lane_slot_off[tl + 1] - lane_slot_off[tl]:
                    continue
                pop_front(lane_slot_off, lane_head, lane_count, lane)
                insert_at(slots, lane_slot_off, lane_head, lane_count, tl, top, i)
                veh_pos_m[i] = e
                veh_prev_pos_m[i] = e
                _pack_behind(tl, top + 1, m, e - len_i, slots, lane_slot_off, lane_head,
                             veh_class, veh_pos_m, veh_prev_pos_m, cls_length_m)
            else:
                # the last one drops back over the line, its rear where the emergency
                # vehicle's was
                x_w = veh_pos_m[w]
                if p < (length - x) + x_w or veh_emergency[w] != 0 \
                        or lane_block_pos_m[tl] <= x_w:
                    continue
                rp = veh_route_pos[w]
                if rp < 1 or route_links[route_offsets[w] + rp - 1] != link:
                    continue
                len_w = cls_length_m[veh_class[w]]
                y = x - len_i + len_w
                if y > length:
                    y = length
                if y < 0.0:
                    y = 0.0
                if y - len_w < blk <= y:
                    continue
                if n > 1 and veh_pos_m[lane_at(slots, lane_slot_off, lane_head, lane,
                                               1)] > y - len_w:
                    continue
                set_at(slots, lane_slot_off, lane_head, lane, 0, w)
                set_at(slots, lane_slot_off, lane_head, tl, m - 1, i)
                veh_link[w] = link
                veh_lane[w] = lane
                veh_pos_m[w] = y
                veh_prev_pos_m[w] = y
                veh_route_pos[w] -= 1
                link_exited[nlink] += 1
                link_entered[link] += 1
                veh_pos_m[i] = x_w
                veh_prev_pos_m[i] = x_w
            veh_link[i] = nlink
            veh_lane[i] = tl
            veh_route_pos[i] += 1
            link_exited[link] += 1
            link_entered[nlink] += 1
            if conn_sig[cc] == SIG_RED:
                counters[C_RED_RUNS] += 1
            mov_last_cross_s[conn_mov[cc]] = t_end
        veh_pass_m[i] = 0.0
        counters[C_PASSES] += 1
        done += 1
    return done


@njit(**_JIT)
def _good_lane(lane, x, length_i, nxt, lane_conn_off, conn_to_link, lane_block_pos_m, look_m):
    """A lane leads to ``nxt`` (any lane does when ``nxt < 0``) and is not blocked
    beside or within ``look_m`` ahead of a vehicle at ``x``."""
    if nxt >= 0 and not lane_serves(lane, nxt, lane_conn_off, conn_to_link):
        return False
    blk = lane_block_pos_m[lane]
    if blk > x - length_i and blk - x < look_m:
        return False
    return True


@njit(**_JIT)
def _place_in_lane(slots, lane_slot_off, lane_head, lane_count, veh_pos_m, lane, x):
    """Index of the first vehicle of ``lane`` whose front is behind ``x`` (binary
    search: a lane is ordered front first)."""
    lo = 0
    hi = lane_count[lane]
    while lo < hi:
        mid = (lo + hi) // 2
        if veh_pos_m[lane_at(slots, lane_slot_off, lane_head, lane, mid)] < x:
            hi = mid
        else:
            lo = mid + 1
    return lo


@njit(inline='always', **_JIT)
def _place_from(slots, lane_slot_off, lane_head, lane_count, veh_pos_m, lane, x, hint):
    """:func:`_place_in_lane` by walking from ``hint`` (the same answer for any hint;
    a few steps when the hint is the place of a vehicle just behind or ahead)."""
    n = lane_count[lane]
    kk = hint if hint < n else n
    if kk < 0:
        kk = 0
    while kk > 0 and veh_pos_m[lane_at(slots, lane_slot_off, lane_head, lane, kk - 1)] < x:
        kk -= 1
    while kk < n and veh_pos_m[lane_at(slots, lane_slot_off, lane_head, lane, kk)] >= x:
        kk += 1
    return kk


@njit(**_JIT)
def _accel_behind(i, leader, gap_block, veh_class, veh_pos_m, veh_speed_mps, v0,
                  cls_length_m, cls_min_gap_m, cls_headway_s, cls_accel_mps2, cls_idm_den):
    """IDM acceleration of ``i`` behind ``leader`` (-1: none) and a block ``gap_block`` ahead."""
    c = veh_class[i]
    gap = math.inf
    v_lead = veh_speed_mps[i]
    if leader >= 0:
        gap = veh_pos_m[leader] - cls_length_m[veh_class[leader]] - veh_pos_m[i]
        v_lead = veh_speed_mps[leader]
    if gap_block < gap:
        gap = gap_block
        v_lead = 0.0
    return idm_accel(veh_speed_mps[i], v0, gap, v_lead, cls_accel_mps2[c], cls_idm_den[c],
                     cls_headway_s[c], cls_min_gap_m[c])


@njit(**_JIT)
def _fits(slots, lane_slot_off, lane_head, lane_count, lane_block_pos_m, veh_pos_m, veh_class,
          cls_length_m, lane, x, length):
    """Place in ``lane`` where a vehicle with front ``x`` and ``length`` fits without
    touching anyone or a block; -1 when it does not."""
    kk = _place_in_lane(slots, lane_slot_off, lane_head, lane_count, veh_pos_m, lane, x)
    if lane_count[lane] >= lane_slot_off[lane + 1] - lane_slot_off[lane]:
        return -1
    if kk > 0:
        ld = lane_at(slots, lane_slot_off, lane_head, lane, kk - 1)
        if veh_pos_m[ld] - cls_length_m[veh_class[ld]] <= x:
            return -1
    if kk < lane_count[lane]:
        fo = lane_at(slots, lane_slot_off, lane_head, lane, kk)
        if x - length <= veh_pos_m[fo]:
            return -1
    blk = lane_block_pos_m[lane]
    if x - length < blk <= x:
        return -1
    return kk


@njit(**_JIT)
def _try_swap(i, lane, k, target, t_end, veh_class, veh_lane, veh_pos_m, veh_speed_mps, veh_lc_s,
              veh_route_pos, route_offsets, route_links, slots, lane_slot_off, lane_head,
              lane_count, lane_block_pos_m, lane_conn_off, conn_to_link, cls_length_m, fp):
    """Two stopped vehicles side by side, each in the other's lane of choice, swap lanes.

    ``i`` (stopped, in ``lane``, needs ``target``) looks for a stopped vehicle ``c``
    in ``target`` overlapping it lengthwise whose lane is not good for it but
    ``lane`` is; both must be past their cooldown and fit without touching
    anyone. Returns whether they swapped.
    """
    stop = fp[P_STOP_SPEED]
    if veh_speed_mps[i] > stop:
        return False
    x = veh_pos_m[i]
    len_i = cls_length_m[veh_class[i]]
    look = fp[P_BLOCK_LOOKAHEAD_M]
    longest = 0.0
    for cl in range(cls_length_m.shape[0]):
        if cls_length_m[cl] > longest:
            longest = cls_length_m[cl]
    first_kc = _place_in_lane(slots, lane_slot_off, lane_head, lane_count, veh_pos_m, target,
                              x + longest)
    for kc in range(first_kc, lane_count[target]):
        c = lane_at(slots, lane_slot_off, lane_head, target, kc)
        if veh_pos_m[c] <= x - len_i:
            break
        xc = veh_pos_m[c]
        len_c = cls_length_m[veh_class[c]]
        if xc - len_c >= x:
            continue
        if veh_speed_mps[c] > stop or t_end - veh_lc_s[c] < fp[P_LC_COOLDOWN_S]:
            continue
        nxt_c = next_link_of(c, veh_route_pos, route_offsets, route_links)
        if _good_lane(target, xc, len_c, nxt_c, lane_conn_off, conn_to_link, lane_block_pos_m,
                      look):
            continue
        if not _good_lane(lane, xc, len_c, nxt_c, lane_conn_off, conn_to_link,
                          lane_block_pos_m, look):
            continue
        ki = k
        remove_at(slots, lane_slot_off, lane_head, lane_count, lane, ki)
        remove_at(slots, lane_slot_off, lane_head, lane_count, target, kc)
        pi = _fits(slots, lane_slot_off, lane_head, lane_count, lane_block_pos_m, veh_pos_m,
                   veh_class, cls_length_m, target, x, len_i)
        pc = _fits(slots, lane_slot_off, lane_head, lane_count, lane_block_pos_m, veh_pos_m,
                   veh_class, cls_length_m, lane, xc, len_c)
        if pi < 0 or pc < 0:
            insert_at(slots, lane_slot_off, lane_head, lane_count, lane, ki, i)
            insert_at(slots, lane_slot_off, lane_head, lane_count, target, kc, c)
            return False
        insert_at(slots, lane_slot_off, lane_head, lane_count, target, pi, i)
        insert_at(slots, lane_slot_off, lane_head, lane_count, lane, pc, c)
        veh_lane[i] = target
        veh_lane[c] = lane
        veh_lc_s[i] = t_end
        veh_lc_s[c] = t_end
        return True
    return False


@njit(inline='always', **_JIT)
def _try_change(i, lane, k, target, kk, mandatory, a_c, t_end, veh_class, veh_link, veh_lane,
                veh_pos_m, veh_speed_mps, veh_lc_s, slots, lane_slot_off, lane_head, lane_count,
                lane_block_pos_m, link_speed_limit_mps, link_speed_factor,
                cls_length_m, cls_min_gap_m, cls_headway_s, cls_accel_mps2, cls_idm_den,
                cls_max_speed_mps, cls_speed_factor, fp, veh_emergency):
    """Move vehicle ``i`` (place ``k`` of ``lane``) to place ``kk`` of ``target``
    (:func:`_place_in_lane`) if safe (and, when not mandatory, worth it by MOBIL;
    ``a_c`` is then its acceleration in ``lane``). Returns whether it moved."""
    link = veh_link[i]
    x = veh_pos_m[i]
    c = veh_class[i]
    len_i = cls_length_m[c]
    cap = lane_slot_off[target + 1] - lane_slot_off[target]
    if lane_count[target] >= cap:
        return False
    if x - len_i < lane_block_pos_m[target] <= x:
        return False  # the block would lie under the vehicle
    new_lead = lane_at(slots, lane_slot_off, lane_head, target, kk - 1) if kk > 0 else -1
    new_fol = (lane_at(slots, lane_slot_off, lane_head, target, kk)
               if kk < lane_count[target] else -1)
    min_gap = fp[P_MIN_ENTRY_GAP_M]
    blk_new = lane_block_pos_m[target] - x if lane_block_pos_m[target] > x else math.inf
    gap_front = math.inf
    if new_lead >= 0:
        gap_front = veh_pos_m[new_lead] - cls_length_m[veh_class[new_lead]] - x
    if blk_new < gap_front:
        gap_front = blk_new
    if gap_front < min_gap:
        return False
    if not mandatory and new_fol >= 0 and veh_emergency[new_fol] != 0:
        return False  # no discretionary change in front of an emergency vehicle
    a_n_new = 0.0
    a_n_old = 0.0
    if new_fol >= 0:
        gap_back = x - len_i - veh_pos_m[new_fol]
        if gap_back < min_gap:
            return False
        cf = veh_class[new_fol]
        v0f = _v0_of(new_fol, link, veh_class, veh_emergency, link_speed_limit_mps,
                     link_speed_factor, cls_speed_factor, cls_max_speed_mps, fp)
        a_n_new = idm_accel(veh_speed_mps[new_fol], v0f, gap_back, veh_speed_mps[i],
                            cls_accel_mps2[cf], cls_idm_den[cf], cls_headway_s[cf],
                            cls_min_gap_m[cf])
        b_lim = fp[P_B_SAFE_MANDATORY] if mandatory else fp[P_B_SAFE]
        if a_n_new < -b_lim and not (mandatory and veh_speed_mps[new_fol] <= fp[P_STOP_SPEED]):
            return False
        if not mandatory:
            blk_f = (lane_block_pos_m[target] - veh_pos_m[new_fol]
                     if lane_block_pos_m[target] > veh_pos_m[new_fol] else math.inf)
            a_n_old = _accel_behind(new_fol, new_lead, blk_f, veh_class, veh_pos_m,
                                    veh_speed_mps, v0f, cls_length_m, cls_min_gap_m,
                                    cls_headway_s, cls_accel_mps2, cls_idm_den)
    if not mandatory:
        v0 = _v0_of(i, link, veh_class, veh_emergency, link_speed_limit_mps, link_speed_factor,
                    cls_speed_factor, cls_max_speed_mps, fp)
        old_lead = lane_at(slots, lane_slot_off, lane_head, lane, k - 1) if k > 0 else -1
        a_c_new = _accel_behind(i, new_lead, blk_new, veh_class, veh_pos_m, veh_speed_mps, v0,
                                cls_length_m, cls_min_gap_m, cls_headway_s, cls_accel_mps2,
                                cls_idm_den)
        a_o_new = 0.0
        a_o_old = 0.0
        if k + 1 < lane_count[lane]:
            o = lane_at(slots, lane_slot_off, lane_head, lane, k + 1)
            v0o = _v0_of(o, link, veh_class, veh_emergency, link_speed_limit_mps,
                         link_speed_factor, cls_speed_factor, cls_max_speed_mps, fp)
            blk_o = (lane_block_pos_m[lane] - veh_pos_m[o]
                     if lane_block_pos_m[lane] > veh_pos_m[o] else math.inf)
            a_o_old = _accel_behind(o, i, blk_o, veh_class, veh_pos_m, veh_speed_mps, v0o,
                                    cls_length_m, cls_min_gap_m, cls_headway_s, cls_accel_mps2,
                                    cls_idm_den)
            a_o_new = _accel_behind(o, old_lead, blk_o, veh_class, veh_pos_m, veh_speed_mps,
                                    v0o, cls_length_m, cls_min_gap_m, cls_headway_s,
                                    cls_accel_mps2, cls_idm_den)
        gain = a_c_new - a_c + fp[P_POLITENESS] * (a_n_new - a_n_old + a_o_new - a_o_old)
        if not gain > fp[P_A_THRESHOLD]:
            return False
    remove_at(slots, lane_slot_off, lane_head, lane_count, lane, k)
    insert_at(slots, lane_slot_off, lane_head, lane_count, target, kk, i)
    veh_lane[i] = target
    veh_lc_s[i] = t_end
    return True


@njit(**_JIT)
def _emergency_behind(lane, k, x, veh_pos_m, veh_emergency, slots, lane_slot_off, lane_head,
                      lane_count, fp):
    """Whether an emergency vehicle is behind place ``k`` of ``lane`` (front at ``x``),
    its front within ``emergency_clear_m`` of ``x``."""
    for kk in range(k + 1, lane_count[lane]):
        e = lane_at(slots, lane_slot_off, lane_head, lane, kk)
        if veh_pos_m[e] < x - fp[P_EM_CLEAR_M]:
            return False
        if veh_emergency[e] != 0:
            return True
    return False


def _lane_changes(t_end, veh_class, veh_link, veh_lane, veh_pos_m, veh_speed_mps, veh_route_pos,
                 veh_lc_s, route_offsets, route_links, link_lanes, link_lane_off,
                 link_speed_limit_mps, link_speed_factor, slots, lane_slot_off, lane_head,
                 lane_count, lane_block_pos_m, lane_conn_off, conn_to_link,
                 cls_length_m, cls_min_gap_m, cls_headway_s, cls_accel_mps2, cls_idm_den,
                 cls_max_speed_mps, cls_speed_factor, fp, link_changes, lane_merge_veh,
                 veh_emergency, em_on):
    """Phase 6: mandatory and discretionary lane changes (parallel over links)."""
    look = fp[P_BLOCK_LOOKAHEAD_M]
    for link in prange(link_lanes.shape[0]):
        link_changes[link] = 0
        n_l = link_lanes[link]
        first = link_lane_off[link]
        for lane in range(first, first + n_l):
            lane_merge_veh[lane] = -1
        if n_l < 2:
            continue
        for lane in range(first, first + n_l):
            k = 0
            # places in the lanes below and above where the last search ended: the
            # vehicles come front to back, so the next search starts close by
            hint_lo = 0
            hint_hi = 0
            while k < lane_count[lane]:
                i = lane_at(slots, lane_slot_off, lane_head, lane, k)
                moved = False
                if t_end - veh_lc_s[i] >= fp[P_LC_COOLDOWN_S]:
                    x = veh_pos_m[i]
                    len_i = cls_length_m[veh_class[i]]
                    nxt = next_link_of(i, veh_route_pos, route_offsets, route_links)
                    good = _good_lane(lane, x, len_i, nxt, lane_conn_off, conn_to_link,
                                      lane_block_pos_m, look)
                    if good and em_on and veh_emergency[i] == 0 and _emergency_behind(
                            lane, k, x, veh_pos_m, veh_emergency, slots, lane_slot_off,
                            lane_head, lane_count, fp):
                        # out of an emergency vehicle's way: as a mandatory change
                        for side in range(2):
                            target = lane - 1 if side == 0 else lane + 1
                            if target < first or target >= first + n_l:
                                continue
                            if not _good_lane(target, x, len_i, nxt, lane_conn_off,
                                              conn_to_link, lane_block_pos_m, look):
                                continue
                            kk = _place_in_lane(slots, lane_slot_off, lane_head, lane_count,
                                                veh_pos_m, target, x)
                            if _try_change(i, lane, k, target, kk, True, 0.0, t_end,
                                           veh_class, veh_link, veh_lane, veh_pos_m,
                                           veh_speed_mps, veh_lc_s, slots, lane_slot_off,
                                           lane_head, lane_count, lane_block_pos_m,
                                           link_speed_limit_mps, link_speed_factor,
                                           cls_length_m, cls_min_gap_m, cls_headway_s,
                                           cls_accel_mps2, cls_idm_den, cls_max_speed_mps,
                                           cls_speed_factor, fp, veh_emergency):
                                moved = True
                                break
                    if not moved and good:
                        # discretionary: only a vehicle its leader (or a block) holds back
                        c = veh_class[i]
                        v0 = _v0_of(i, link, veh_class, veh_emergency, link_speed_limit_mps,
                                    link_speed_factor, cls_speed_factor, cls_max_speed_mps, fp)
                        ld = lane_at(slots, lane_slot_off, lane_head, lane, k - 1) if k > 0 else -1
                        blk_i = lane_block_pos_m[lane] - x if lane_block_pos_m[lane] > x \
                            else math.inf
                        a_now = _accel_behind(i, ld, blk_i, veh_class, veh_pos_m, veh_speed_mps,
                                              v0, cls_length_m, cls_min_gap_m, cls_headway_s,
                                              cls_accel_mps2, cls_idm_den)
                        r = veh_speed_mps[i] / v0
                        a_free = cls_accel_mps2[c] * (1.0 - r * r * r * r)
                        held_back = a_free - a_now > fp[P_A_THRESHOLD]
                        for side in range(2 if held_back else 0):
                            target = lane - 1 if side == 0 else lane + 1
                            if target < first or target >= first + n_l:
                                continue
                            if not _good_lane(target, x, len_i, nxt, lane_conn_off,
                                              conn_to_link, lane_block_pos_m, look):
                                continue
                            kk = _place_from(slots, lane_slot_off, lane_head, lane_count,
                                             veh_pos_m, target, x,
                                             hint_lo if side == 0 else hint_hi)
                            if side == 0:
                                hint_lo = kk
                            else:
                                hint_hi = kk
                            if _try_change(i, lane, k, target, kk, False, a_now, t_end,
                                           veh_class, veh_link, veh_lane, veh_pos_m,
                                           veh_speed_mps, veh_lc_s, slots, lane_slot_off,
                                           lane_head, lane_count, lane_block_pos_m,
                                           link_speed_limit_mps, link_speed_factor,
                                           cls_length_m, cls_min_gap_m, cls_headway_s,
                                           cls_accel_mps2, cls_idm_den, cls_max_speed_mps,
                                           cls_speed_factor, fp, veh_emergency):
                                moved = True
                                break
                    elif not moved:
                        best = -1
                        best_d = 1 << 30
                        for g in range(first, first + n_l):
                            if _good_lane(g, x, len_i, nxt, lane_conn_off, conn_to_link,
                                          lane_block_pos_m, look):
                                d = g - lane if g > lane else lane - g
                                if d < best_d:
                                    best_d = d
                                    best = g
                        if best >= 0:
                            target = lane + 1 if best > lane else lane - 1
                            kk = _place_from(slots, lane_slot_off, lane_head, lane_count,
                                             veh_pos_m, target, x,
                                             hint_lo if target < lane else hint_hi)
                            if target < lane:
                                hint_lo = kk
                            else:
                                hint_hi = kk
                            moved = _try_change(i, lane, k, target, kk, True, 0.0, t_end,
                                                veh_class, veh_link, veh_lane, veh_pos_m,
                                                veh_speed_mps, veh_lc_s, slots, lane_slot_off,
                                                lane_head, lane_count, lane_block_pos_m,
                                                link_speed_limit_mps, link_speed_factor,
                                                cls_length_m, cls_min_gap_m, cls_headway_s,
                                                cls_accel_mps2, cls_idm_den,
                                                cls_max_speed_mps, cls_speed_factor, fp,
                                                veh_emergency)
                            if not moved:
                                moved = _try_swap(i, lane, k, target, t_end, veh_class, veh_lane,
                                                  veh_pos_m, veh_speed_mps, veh_lc_s,
                                                  veh_route_pos, route_offsets, route_links,
                                                  slots, lane_slot_off, lane_head, lane_count,
                                                  lane_block_pos_m, lane_conn_off,
                                                  conn_to_link, cls_length_m, fp)
                            if not moved:
                                r = lane_merge_veh[target]
                                if r < 0 or veh_pos_m[r] < x:
                                    lane_merge_veh[target] = i
                if moved:
                    link_changes[link] += 1
                else:
                    k += 1


@njit(**_JIT)
def insertion(t, veh_state, veh_class, veh_link, veh_lane, veh_pos_m, veh_prev_pos_m,
              veh_speed_mps, veh_depart_s, veh_insert_s, veh_stopped_since_s, veh_route_pos,
              route_offsets, route_links, link_lanes, link_lane_off, link_speed_limit_mps,
              link_speed_factor, link_entered, slots, lane_slot_off, lane_head, lane_count,
              lane_block_pos_m, lane_conn_off, conn_to_link, ins_off, ins_veh, ins_ptr,
              cls_length_m, cls_min_gap_m, cls_headway_s, cls_max_speed_mps, cls_speed_factor,
              veh_emergency, fp):
    """Phase 1: waiting vehicles due by ``t`` enter their first link (sequential)."""
    done = 0
    for link in range(link_lanes.shape[0]):
        p = ins_ptr[link]
        end = ins_off[link + 1]
        first = link_lane_off[link]
        n_l = link_lanes[link]
        while p < end:
            i = ins_veh[p]
            if veh_depart_s[i] > t:
                break
            c = veh_class[i]
            nxt = -1
            if route_offsets[i] + 1 < route_offsets[i + 1]:
                nxt = route_links[route_offsets[i] + 1]
            v0 = _v0_of(i, link, veh_class, veh_emergency, link_speed_limit_mps,
                        link_speed_factor, cls_speed_factor, cls_max_speed_mps, fp)
            best = -1
            best_rear = -math.inf
            v_in = v0
            for g in range(first, first + n_l):
                if nxt >= 0 and not lane_serves(g, nxt, lane_conn_off, conn_to_link):
                    continue
                r, spd = lane_tail(slots, lane_slot_off, lane_head, lane_count,
                                   lane_block_pos_m, veh_pos_m, veh_speed_mps, veh_class,
                                   cls_length_m, g, v0)
                if r > best_rear:
                    best_rear = r
                    best = g
                    v_in = spd
            if best < 0:
                for g in range(first, first + n_l):
                    r, spd = lane_tail(slots, lane_slot_off, lane_head, lane_count,
                                       lane_block_pos_m, veh_pos_m, veh_speed_mps, veh_class,
                                       cls_length_m, g, v0)
                    if r > best_rear:
                        best_rear = r
                        best = g
                        v_in = spd
            if lane_count[best] >= lane_slot_off[best + 1] - lane_slot_off[best]:
                break
            if v0 < v_in:
                v_in = v0
            if best_rear < cls_min_gap_m[c] + v_in * cls_headway_s[c]:
                break  # not yet the safe gap for entering at the leader's speed
            push_back(slots, lane_slot_off, lane_head, lane_count, best, i)
            veh_state[i] = _ACTIVE
            veh_link[i] = link
            veh_lane[i] = best
            veh_pos_m[i] = 0.0
            veh_prev_pos_m[i] = 0.0
            veh_speed_mps[i] = v_in
            veh_route_pos[i] = 0
            veh_insert_s[i] = t
            veh_stopped_since_s[i] = math.inf
            link_entered[link] += 1
            p += 1
            done += 1
        ins_ptr[link] = p
    return done


def _variant(fn: Callable[..., Any], suffix: str, **options: Any) -> Any:
    """``fn`` compiled under another name (its own on-disk cache entry) with ``options``."""
    copy = types.FunctionType(fn.__code__, fn.__globals__, fn.__name__ + suffix,
                              fn.__defaults__, fn.__closure__)
    copy.__qualname__ = fn.__qualname__ + suffix
    return njit(**options)(copy)


# The phases that may run in parallel, compiled twice: with ``prange`` spread over
# threads, and serial (``prange`` is then ``range``). Both give the same results;
# the serial one saves the threads' start-up cost on small networks.
longitudinal_par = _variant(_longitudinal, "_par", **_JIT_PAR)
longitudinal = _variant(_longitudinal, "_ser", **_JIT)
commit_par = _variant(_commit, "_par", **_JIT_PAR)
commit = _variant(_commit, "_ser", **_JIT)
lane_changes_par = _variant(_lane_changes, "_par", **_JIT_PAR)
lane_changes = _variant(_lane_changes, "_ser", **_JIT)


@njit(**_JIT_ALLOC)
def run_steps(t, dt, n_steps, ev_margin, fp, parallel,
              veh_state, veh_class, veh_link, veh_lane, veh_pos_m, veh_prev_pos_m,
              veh_speed_mps, veh_route_pos, veh_depart_s, veh_insert_s, veh_arrive_s,
              veh_stopped_since_s, veh_lc_s, veh_next_pos_m, veh_next_speed_mps,
              veh_target_lane, veh_conn, veh_emergency, veh_pass_m, route_offsets, route_links,
              link_length_m, link_lanes, link_speed_limit_mps, link_speed_factor, link_lane_off,
              link_entered, link_exited, link_changes,
              lane_link, lane_slot_off, lane_head, lane_count, lane_block_pos_m, lane_conn_off,
              lane_moved, lane_merge_veh, slots,
              conn_to_link, conn_to_lane, conn_mov, conn_program, conn_sig_index, conn_sig,
              mov_from_link, mov_to_link, mov_rank, mov_conn, mov_conf_off, mov_conf,
              mov_last_cross_s,
              prog_offset_s, prog_cycle_s, prog_phase_off, phase_dur_s, phase_codes,
              ins_off, ins_veh, ins_ptr,
              cls_length_m, cls_min_gap_m, cls_headway_s, cls_accel_mps2, cls_decel_mps2,
              cls_max_speed_mps, cls_speed_factor,
              det_lanes, det_lane_off, det_by_lane, det_pos_m, det_count, det_speed_sum,
              det_occ_s, ev_det, ev_veh, ev_time, ev_speed, ev_sig,
              trace_veh, tr_veh, tr_time, tr_link, tr_lane, tr_pos, tr_speed,
              counters):
    """Run up to ``n_steps`` steps of ``dt`` from ``t``; return the new time.

    Stops early, before a step, when the event or trace buffer could overflow
    in it (``counters[C_STEPS]`` tells how many steps ran in total).
    """
    cls_idm_den = 2.0 * np.sqrt(cls_accel_mps2 * cls_decel_mps2)  # the IDM's 2 sqrt(a b)
    em_on = False  # any emergency vehicle: only then are the yielding rules looked at
    for i in range(veh_emergency.shape[0]):
        if veh_emergency[i] != 0:
            em_on = True
            break
    for _ in range(n_steps):
        if counters[C_EVENTS] + ev_margin > ev_det.shape[0]:
            break
        if counters[C_TRACE] + trace_veh.shape[0] > tr_veh.shape[0]:
            break
        t_end = t + dt
        signal_codes(t, prog_offset_s, prog_cycle_s, prog_phase_off, phase_dur_s, phase_codes,
                     conn_program, conn_sig_index, conn_sig)
        n_ins = insertion(t, veh_state, veh_class, veh_link, veh_lane, veh_pos_m,
                          veh_prev_pos_m, veh_speed_mps, veh_depart_s, veh_insert_s,
                          veh_stopped_since_s, veh_route_pos, route_offsets, route_links,
                          link_lanes, link_lane_off, link_speed_limit_mps, link_speed_factor,
                          link_entered, slots, lane_slot_off, lane_head, lane_count,
                          lane_block_pos_m, lane_conn_off, conn_to_link, ins_off, ins_veh,
                          ins_ptr, cls_length_m, cls_min_gap_m, cls_headway_s,
                          cls_max_speed_mps, cls_speed_factor, veh_emergency, fp)
        active = 0
        for lane in range(lane_count.shape[0]):
            active += lane_count[lane]
        counters[C_VEHICLE_STEPS] += active
        if parallel:
            longitudinal_par(t, dt, veh_class, veh_link, veh_pos_m, veh_speed_mps, veh_route_pos,
                             veh_stopped_since_s, veh_next_pos_m, veh_next_speed_mps, veh_target_lane,
                             veh_conn, route_offsets, route_links,
                             link_length_m, link_speed_limit_mps, link_speed_factor, link_lane_off,
                             lane_link, slots, lane_slot_off, lane_head, lane_count, lane_block_pos_m,
                             lane_conn_off, conn_to_link, conn_to_lane, conn_mov, conn_sig,
                             mov_from_link, mov_to_link, mov_rank, mov_conn, mov_conf_off, mov_conf,
                             mov_last_cross_s,
                             cls_length_m, cls_min_gap_m, cls_headway_s, cls_accel_mps2,
                             cls_decel_mps2, cls_idm_den, cls_max_speed_mps, cls_speed_factor,
                             fp, lane_moved, lane_merge_veh, veh_emergency, veh_pass_m, em_on)
        else:
            longitudinal(t, dt, veh_class, veh_link, veh_pos_m, veh_speed_mps, veh_route_pos,
                         veh_stopped_since_s, veh_next_pos_m, veh_next_speed_mps, veh_target_lane,
                         veh_conn, route_offsets, route_links,
                         link_length_m, link_speed_limit_mps, link_speed_factor, link_lane_off,
                         lane_link, slots, lane_slot_off, lane_head, lane_count, lane_block_pos_m,
                         lane_conn_off, conn_to_link, conn_to_lane, conn_mov, conn_sig,
                         mov_from_link, mov_to_link, mov_rank, mov_conn, mov_conf_off, mov_conf,
                         mov_last_cross_s,
                         cls_length_m, cls_min_gap_m, cls_headway_s, cls_accel_mps2,
                         cls_decel_mps2, cls_idm_den, cls_max_speed_mps, cls_speed_factor,
                         fp, lane_moved, lane_merge_veh, veh_emergency, veh_pass_m, em_on)
        if det_lanes.shape[0] > 0:
            detect(t, dt, veh_class, veh_pos_m, veh_next_pos_m, veh_speed_mps,
                   veh_next_speed_mps, veh_conn, conn_sig, cls_length_m, slots, lane_slot_off,
                   lane_head, lane_count, det_lanes, det_lane_off, det_by_lane, det_pos_m,
                   det_count, det_speed_sum, det_occ_s, ev_det, ev_veh, ev_time, ev_speed,
                   ev_sig, counters, fp)
        if parallel:
            commit_par(t, dt, slots, lane_slot_off, lane_head, lane_count, veh_pos_m,
                       veh_speed_mps, veh_next_pos_m, veh_next_speed_mps, veh_prev_pos_m,
                       veh_stopped_since_s, fp[P_STOP_SPEED])
        else:
            commit(t, dt, slots, lane_slot_off, lane_head, lane_count, veh_pos_m,
                   veh_speed_mps, veh_next_pos_m, veh_next_speed_mps, veh_prev_pos_m,
                   veh_stopped_since_s, fp[P_STOP_SPEED])
        n_tr = transfers(t, dt, veh_state, veh_class, veh_link, veh_lane, veh_pos_m,
                         veh_speed_mps, veh_prev_pos_m, veh_route_pos, veh_arrive_s,
                         veh_stopped_since_s, veh_target_lane, veh_conn, veh_pass_m,
                         route_offsets, route_links, link_length_m, link_entered, link_exited,
                         lane_link, slots, lane_slot_off, lane_head, lane_count, lane_block_pos_m,
                         conn_mov, conn_sig, mov_conf_off, mov_conf, mov_last_cross_s,
                         cls_length_m, fp, counters, det_lane_off, det_by_lane, det_pos_m,
                         det_count, det_speed_sum, ev_det, ev_veh, ev_time, ev_speed, ev_sig)
        n_pass = 0
        if em_on and fp[P_EM_PASS_MPS] > 0.0:
            n_pass = passes(t_end, veh_state, veh_class, veh_link, veh_lane, veh_pos_m,
                            veh_prev_pos_m, veh_speed_mps, veh_route_pos, veh_target_lane,
                            veh_conn, veh_emergency, veh_pass_m, route_offsets, route_links,
                            link_length_m, link_entered, link_exited, lane_link, slots,
                            lane_slot_off, lane_head, lane_count, lane_block_pos_m, conn_mov,
                            conn_sig, mov_last_cross_s, cls_length_m, counters, fp)
        if parallel:
            lane_changes_par(t_end, veh_class, veh_link, veh_lane, veh_pos_m, veh_speed_mps,
                             veh_route_pos, veh_lc_s, route_offsets, route_links, link_lanes,
                             link_lane_off, link_speed_limit_mps, link_speed_factor, slots,
                             lane_slot_off, lane_head, lane_count, lane_block_pos_m, lane_conn_off,
                             conn_to_link, cls_length_m, cls_min_gap_m, cls_headway_s, cls_accel_mps2,
                             cls_idm_den, cls_max_speed_mps, cls_speed_factor, fp, link_changes,
                             lane_merge_veh, veh_emergency, em_on)
        else:
            lane_changes(t_end, veh_class, veh_link, veh_lane, veh_pos_m, veh_speed_mps,
                         veh_route_pos, veh_lc_s, route_offsets, route_links, link_lanes,
                         link_lane_off, link_speed_limit_mps, link_speed_factor, slots,
                         lane_slot_off, lane_head, lane_count, lane_block_pos_m, lane_conn_off,
                         conn_to_link, cls_length_m, cls_min_gap_m, cls_headway_s, cls_accel_mps2,
                         cls_idm_den, cls_max_speed_mps, cls_speed_factor, fp, link_changes,
                         lane_merge_veh, veh_emergency, em_on)
        progress = n_ins + n_tr + n_pass
        for lane in range(lane_moved.shape[0]):
            progress += lane_moved[lane]
        for link in range(link_changes.shape[0]):
            progress += link_changes[link]
        if progress == 0 and active > 0:
            counters[C_STALL_STEPS] += 1
        else:
            counters[C_STALL_STEPS] = 0
        for q in range(trace_veh.shape[0]):
            i = trace_veh[q]
            if veh_state[i] == _ACTIVE:
                e = counters[C_TRACE]
                tr_veh[e] = i
                tr_time[e] = t_end
                tr_link[e] = veh_link[i]
                tr_lane[e] = veh_lane[i]
                tr_pos[e] = veh_pos_m[i]
                tr_speed[e] = veh_speed_mps[i]
                counters[C_TRACE] = e + 1
        counters[C_STEPS] += 1
        t = t_end
    return t
