"""Plain-Python reference of the microscopic engine: the test oracle.

Nothing here is fast and nothing here is meant for production runs.
:func:`advance_reference` has the contract of :func:`core_ext.micro.advance`
and restates the step documented in :mod:`core_ext._micro_nb` in another
style: each step reads the lanes into Python lists (front first) and the
vehicle columns into lists of plain floats and ints, runs the phases one
after the other on those lists, one vehicle at a time, and writes everything
back into the :class:`~core_ext.micro.MicroState` at the end of the step.

Every formula does its arithmetic in the same order with the same operations
as the kernel (IEEE doubles, no fastmath), so the two agree bit for bit; the
comments name the kernel function each piece mirrors.

The ring buffers: a lane's ``lane_head`` moves on by one for every vehicle
that leaves the lane at its front (a transfer or an arrival); lane changes
insert and remove in place and leave it alone, as in the kernel. So
``lane_head``, ``lane_count`` and the occupied slots come out as the
kernel's; the *unoccupied* slots are not written here (the kernel leaves
stale vehicle indices there), so compare the ordered lane contents, not the
raw ``slots`` column.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from core_ext import _micro_nb as _nb
from core_ext import config
from core_ext.micro import MicroParams, MicroState, check_state, grow_buffers

__all__ = ["advance_reference"]

_WAITING = config.VEH_WAITING
_ACTIVE = config.VEH_ACTIVE
_ARRIVED = config.VEH_ARRIVED

RED, AMBER, YIELD, GREEN, NONE = (_nb.SIG_RED, _nb.SIG_AMBER, _nb.SIG_YIELD, _nb.SIG_GREEN,
                                  _nb.SIG_NONE)
INF = math.inf


# ------------------------------------------------------------------ inputs
@dataclass(frozen=True)
class _Rules:
    """The scalar rules, by name (read from :class:`MicroParams`, not from its vector)."""

    lookahead_m: float
    b_emergency: float
    approach_m: float
    yield_gap_s: float
    clear_s: float
    queue_front_m: float
    stop_speed: float
    min_entry_gap_m: float
    cooldown_s: float
    politeness: float
    a_threshold: float
    b_safe: float
    b_safe_mandatory: float
    block_lookahead_m: float
    loop_length_m: float
    keep_clear_m: float
    merge_zone_m: float
    em_speed_factor: float
    em_crawl: float
    em_clear_m: float
    em_pass: float

    @classmethod
    def of(cls, p: MicroParams) -> _Rules:
        return cls(
            lookahead_m=float(p.lookahead_m), b_emergency=float(p.b_emergency_mps2),
            approach_m=float(p.approach_m), yield_gap_s=float(p.yield_gap_s),
            clear_s=float(p.clear_s), queue_front_m=float(p.queue_front_m),
            stop_speed=float(p.stop_speed_mps), min_entry_gap_m=float(p.min_entry_gap_m),
            cooldown_s=float(p.lc_cooldown_s), politeness=float(p.politeness),
            a_threshold=float(p.a_threshold_mps2), b_safe=float(p.b_safe_mps2),
            b_safe_mandatory=float(p.b_safe_mandatory_mps2),
            block_lookahead_m=float(p.block_lookahead_m), loop_length_m=float(p.loop_length_m),
            keep_clear_m=float(p.keep_clear_m), merge_zone_m=float(p.merge_zone_m),
            em_speed_factor=float(p.emergency_speed_factor),
            em_crawl=float(p.emergency_crawl_mps), em_clear_m=float(p.emergency_clear_m),
            em_pass=float(p.emergency_pass_mps))


@dataclass(frozen=True)
class _Class:
    """IDM parameters of one vehicle class."""

    length: float
    s0: float
    headway: float
    accel: float
    decel: float
    v_max: float
    speed_factor: float


def idm_acceleration(v: float, v0: float, gap: float, v_lead: float, k: _Class) -> float:
    """IDM acceleration (delta = 4); ``gap = inf`` is a free road. (Kernel: ``idm_accel``.)"""
    ratio = v / v0
    ratio_sq = ratio * ratio
    free_term = 1.0 - ratio_sq * ratio_sq
    if gap == INF:
        return k.accel * free_term
    s = gap if gap > 1e-3 else 1e-3
    interaction = v * k.headway + v * (v - v_lead) / (2.0 * math.sqrt(k.accel * k.decel))
    if interaction < 0.0:
        interaction = 0.0
    desired_gap = k.s0 + interaction
    q = desired_gap / s
    return k.accel * (free_term - q * q)


def _ring(arr: np.ndarray, off: int, cap: int, head: int, count: int) -> list[int]:
    """The vehicles of one lane ring buffer, front first."""
    return [int(arr[off + (head + k) % cap]) for k in range(count)]


class _World:
    """One step's working copy of the state, as Python lists."""

    def __init__(self, s: MicroState, rules: _Rules) -> None:
        self.s = s
        self.r = rules
        # network (read only within a step)
        self.link_length: list[float] = s.link_length_m.tolist()
        self.link_nlanes: list[int] = s.link_lanes.tolist()
        self.link_limit: list[float] = s.link_speed_limit_mps.tolist()
        self.link_factor: list[float] = s.link_speed_factor.tolist()
        self.first_lane: list[int] = s.link_lane_off.tolist()
        self.lane_link: list[int] = s.lane_link.tolist()
        self.block: list[float] = s.lane_block_pos_m.tolist()
        slot_off: list[int] = s.lane_slot_off.tolist()
        self.slot_off = slot_off
        self.cap = [slot_off[g + 1] - slot_off[g] for g in range(len(self.lane_link))]
        conn_off: list[int] = s.lane_conn_off.tolist()
        self.conn_to_link: list[int] = s.conn_to_link.tolist()
        self.conn_to_lane: list[int] = s.conn_to_lane.tolist()
        self.conn_mov: list[int] = s.conn_mov.tolist()
        self.conn_program: list[int] = s.conn_program.tolist()
        self.conn_sig_index: list[int] = s.conn_sig_index.tolist()
        self.lane_conns = [list(range(conn_off[g], conn_off[g + 1]))
                           for g in range(len(self.lane_link))]
        self.lane_leads_to = [{self.conn_to_link[c] for c in cs} for cs in self.lane_conns]
        self.mov_from: list[int] = s.mov_from_link.tolist()
        self.mov_to: list[int] = s.mov_to_link.tolist()
        self.mov_rank: list[int] = s.mov_rank.tolist()
        self.mov_conn: list[int] = s.mov_conn.tolist()
        conf_off: list[int] = s.mov_conf_off.tolist()
        conf: list[int] = s.mov_conf.tolist()
        self.mov_conflicts = [conf[conf_off[m]:conf_off[m + 1]] for m in range(len(self.mov_from))]
        r_off: list[int] = s.route_offsets.tolist()
        r_links: list[int] = s.route_links.tolist()
        self.route = [r_links[r_off[i]:r_off[i + 1]] for i in range(len(r_off) - 1)]
        self.classes = [
            _Class(*vals) for vals in zip(
                s.cls_length_m.tolist(), s.cls_min_gap_m.tolist(), s.cls_headway_s.tolist(),
                s.cls_accel_mps2.tolist(), s.cls_decel_mps2.tolist(),
                s.cls_max_speed_mps.tolist(), s.cls_speed_factor.tolist(), strict=True)]
        # vehicles
        self.state: list[int] = s.veh_state.tolist()
        self.cls: list[int] = s.veh_class.tolist()
        self.link: list[int] = s.veh_link.tolist()
        self.lane: list[int] = s.veh_lane.tolist()
        self.pos: list[float] = s.veh_pos_m.tolist()
        self.prev_pos: list[float] = s.veh_prev_pos_m.tolist()
        self.speed: list[float] = s.veh_speed_mps.tolist()
        self.route_pos: list[int] = s.veh_route_pos.tolist()
        self.depart: list[float] = s.veh_depart_s.tolist()
        self.insert_s: list[float] = s.veh_insert_s.tolist()
        self.arrive_s: list[float] = s.veh_arrive_s.tolist()
        self.stopped_since: list[float] = s.veh_stopped_since_s.tolist()
        self.lc_s: list[float] = s.veh_lc_s.tolist()
        self.next_pos: list[float] = s.veh_next_pos_m.tolist()
        self.next_speed: list[float] = s.veh_next_speed_mps.tolist()
        self.target_lane: list[int] = s.veh_target_lane.tolist()
        self.conn: list[int] = s.veh_conn.tolist()
        self.emergency: list[int] = s.veh_emergency.tolist()
        self.pass_m: list[float] = s.veh_pass_m.tolist()
        self.em_on = any(self.emergency)  # the kernel looks at the yielding rules only then
        # lanes
        head: list[int] = s.lane_head.tolist()
        count: list[int] = s.lane_count.tolist()
        self.head = head
        self.lanes = [_ring(s.slots, slot_off[g], self.cap[g], head[g], count[g])
                      for g in range(len(self.lane_link))]
        self.lane_moved = [0] * len(self.lane_link)
        self.merge_request: list[int] = s.lane_merge_veh.tolist()
        # links, movements, signals, insertion
        self.entered: list[int] = s.link_entered.tolist()
        self.exited: list[int] = s.link_exited.tolist()
        self.changes: list[int] = s.link_changes.tolist()
        self.last_cross: list[float] = s.mov_last_cross_s.tolist()
        self.sig: list[int] = s.conn_sig.tolist()
        self.ins_ptr: list[int] = s.ins_ptr.tolist()
        ins_off: list[int] = s.ins_off.tolist()
        ins_veh: list[int] = s.ins_veh.tolist()
        self.ins_end = ins_off[1:]
        self.ins_veh = ins_veh
        # detectors
        self.det_count: list[int] = s.det_count.tolist()
        self.det_speed_sum: list[float] = s.det_speed_sum.tolist()
        self.det_occ: list[float] = s.det_occ_s.tolist()
        self.counters: list[int] = s.counters.tolist()

    # ---------------------------------------------------------- small helpers
    def next_link(self, i: int) -> int:
        """The route link after vehicle ``i``'s current one, -1 on its last link."""
        p = self.route_pos[i] + 1
        return self.route[i][p] if p < len(self.route[i]) else -1

    def link_after_next(self, i: int) -> int:
        p = self.route_pos[i] + 2
        return self.route[i][p] if p < len(self.route[i]) else -1

    def v0(self, i: int, link: int) -> float:
        """Desired speed of vehicle ``i`` on ``link`` (kernel: ``_v0``)."""
        k = self.classes[self.cls[i]]
        v = self.link_limit[link] * k.speed_factor * self.link_factor[link]
        if self.emergency[i]:
            v = v * self.r.em_speed_factor  # its desired speed may exceed the limit
        return k.v_max if k.v_max < v else v

    def length_of(self, i: int) -> float:
        return self.classes[self.cls[i]].length

    def rear_of(self, i: int) -> float:
        return self.pos[i] - self.length_of(i)

    def space(self, g: int) -> float:
        """Where the free room at the start of lane ``g`` ends (kernel: ``lane_tail``)."""
        room = self.rear_of(self.lanes[g][-1]) if self.lanes[g] else INF
        return self.block[g] if self.block[g] < room else room

    def space_speed(self, g: int, default: float) -> float:
        """Speed of whatever :meth:`space` found: 0 for a block (kernel: ``lane_tail``)."""
        if self.lanes[g]:
            last = self.lanes[g][-1]
            return 0.0 if self.block[g] < self.rear_of(last) else self.speed[last]
        return 0.0 if self.block[g] < INF else default

    def block_gap(self, g: int, y: float) -> float:
        """Distance from ``y`` to the block of lane ``g`` when it lies ahead, else inf."""
        return self.block[g] - y if self.block[g] > y else INF

    def pop_front(self, g: int) -> int:
        self.head[g] = (self.head[g] + 1) % self.cap[g]
        return self.lanes[g].pop(0)

    # ---------------------------------------------------------------- phases
    def signals(self, t: float) -> None:
        """Phase 0: each connection's signal code at ``t`` (kernel: ``signal_codes``)."""
        s = self.s
        phase_off: list[int] = s.prog_phase_off.tolist()
        durations: list[float] = s.phase_dur_s.tolist()
        offsets: list[float] = s.prog_offset_s.tolist()
        cycles: list[float] = s.prog_cycle_s.tolist()
        codes: list[list[int]] = s.phase_codes.tolist()
        current: list[int] = []
        for p in range(len(offsets)):
            into_cycle = (t + offsets[p]) % cycles[p]
            phase = phase_off[p + 1] - 1
            for ph in range(phase_off[p], phase_off[p + 1]):
                into_cycle -= durations[ph]
                if into_cycle < 0.0:
                    phase = ph
                    break
            current.append(phase)
        self.sig = [NONE if prog < 0 else codes[current[prog]][idx]
                    for prog, idx in zip(self.conn_program, self.conn_sig_index, strict=True)]

    def insert(self, t: float) -> int:
        """Phase 1: due vehicles enter their first link, FIFO per link (kernel: ``insertion``)."""
        done = 0
        for link in range(len(self.link_length)):
            lanes = range(self.first_lane[link], self.first_lane[link] + self.link_nlanes[link])
            while self.ins_ptr[link] < self.ins_end[link]:
                i = self.ins_veh[self.ins_ptr[link]]
                if self.depart[i] > t:
                    break
                second = self.route[i][1] if len(self.route[i]) > 1 else -1
                good = [g for g in lanes if second < 0 or second in self.lane_leads_to[g]]
                best, room = -1, -INF
                for g in good or list(lanes):
                    if self.space(g) > room:
                        best, room = g, self.space(g)
                k = self.classes[self.cls[i]]
                if len(self.lanes[best]) >= self.cap[best]:
                    break
                v0 = self.v0(i, link)
                v_in = min(v0, self.space_speed(best, v0))
                if room < k.s0 + v_in * k.headway:
                    break
                self.lanes[best].append(i)
                self.state[i] = _ACTIVE
                self.link[i] = link
                self.lane[i] = best
                self.pos[i] = 0.0
                self.prev_pos[i] = 0.0
                self.speed[i] = v_in
                self.route_pos[i] = 0
                self.insert_s[i] = t
                self.stopped_since[i] = INF
                self.entered[link] += 1
                self.ins_ptr[link] += 1
                done += 1
        return done

    def priority_of(self, other: int, mov: int) -> str:
        """Who goes first between conflicting movements ``other`` and ``mov``: "theirs",
        "mine" (``other`` gives way to ``mov``) or "equal" (kernel: ``must_yield``)."""
        code = self.sig[self.mov_conn[other]]
        my_code = self.sig[self.mov_conn[mov]]
        if code in (RED, AMBER):
            return "equal"  # not a priority stream, but it may still be clearing
        if code == NONE and my_code == NONE:
            diff = self.mov_rank[other] - self.mov_rank[mov]
            return "theirs" if diff > 0 else "mine" if diff < 0 else "equal"
        if code == GREEN and my_code == YIELD:
            return "theirs"
        if code == YIELD and my_code == GREEN:
            return "mine"
        return "equal" if code == my_code else "mine"

    def must_yield(self, i: int, link: int, mov: int, t: float) -> bool:
        """Whether vehicle ``i`` about to make ``mov`` gives way (kernel: ``must_yield``)."""
        r = self.r
        my_stop = self.stopped_since[i]
        for other in self.mov_conflicts[mov]:
            priority = self.priority_of(other, mov)
            if priority == "mine":
                continue
            if t - self.last_cross[other] < r.clear_s:
                return True  # the junction is still being cleared
            if self.sig[self.mov_conn[other]] in (RED, AMBER):
                continue
            src = self.mov_from[other]
            for g in range(self.first_lane[src], self.first_lane[src] + self.link_nlanes[src]):
                if not self.lanes[g]:
                    continue
                w = self.lanes[g][0]
                if self.next_link(w) != self.mov_to[other]:
                    continue
                dist = self.link_length[src] - self.pos[w]
                vw = self.speed[w]
                if priority == "theirs":
                    if vw > r.stop_speed and dist < vw * r.yield_gap_s:
                        return True
                elif vw <= r.stop_speed and dist <= r.queue_front_m:
                    their_stop = self.stopped_since[w]
                    if (their_stop < my_stop or (their_stop == my_stop and src < link)) \
                            and self.can_go(w, g, self.mov_to[other]):
                        return True
        return False

    def can_go(self, w: int, g: int, nxt: int) -> bool:
        """Whether front vehicle ``w`` of lane ``g`` could enter ``nxt`` now: a waiting
        foe with no room ahead is not waited for (kernel: ``_can_go``)."""
        choice, room = self.target_of(w, g, nxt)
        k = self.classes[self.cls[w]]
        if choice < 0 or room < k.length + k.s0:
            return False
        return not self.keep_clear(w, self.conn_to_lane[choice], room)

    def front_vehicles(self, mov: int) -> list[tuple[int, int]]:
        """(lane, front vehicle) of every lane of ``mov``'s link whose front vehicle is
        heading for ``mov``."""
        src = self.mov_from[mov]
        out = []
        for g in range(self.first_lane[src], self.first_lane[src] + self.link_nlanes[src]):
            if self.lanes[g] and self.next_link(self.lanes[g][0]) == self.mov_to[mov]:
                out.append((g, self.lanes[g][0]))
        return out

    def emergency_clear(self, mov: int, t: float) -> bool:
        """Whether the movements conflicting with ``mov`` are clear for an emergency
        vehicle, whatever their signals: none crossed less than ``clear_s`` ago, no front
        vehicle heading for one moving within ``yield_gap_s`` of its line (kernel:
        ``emergency_clear``)."""
        r = self.r
        for other in self.mov_conflicts[mov]:
            if t - self.last_cross[other] < r.clear_s:
                return False
            src = self.mov_from[other]
            for _, w in self.front_vehicles(other):
                vw = self.speed[w]
                if vw > r.stop_speed and self.link_length[src] - self.pos[w] < vw * r.yield_gap_s:
                    return False
        return True

    def yield_to_emergency(self, mov: int) -> bool:
        """Whether a vehicle about to make ``mov`` gives way to an emergency vehicle at the
        front of a conflicting approach, near its line and able to go (kernel:
        ``yield_to_emergency``)."""
        r = self.r
        for other in self.mov_conflicts[mov]:
            src = self.mov_from[other]
            for g, w in self.front_vehicles(other):
                if not self.emergency[w]:
                    continue
                reach = max(self.speed[w] * r.yield_gap_s, r.queue_front_m)
                if self.link_length[src] - self.pos[w] <= reach \
                        and self.can_go(w, g, self.mov_to[other]):
                    return True
        return False

    def target_of(self, i: int, g: int, nxt: int) -> tuple[int, float]:
        """The connection front vehicle ``i`` of lane ``g`` takes to ``nxt`` (-1: none) and
        the space of its target lane: one that leads on along the route first, then the
        most space, then the lowest index (kernel: ``front_target``)."""
        after = self.link_after_next(i)
        choice, choice_rank, choice_room = -1, -1, -INF
        for c in self.lane_conns[g]:
            if self.conn_to_link[c] != nxt:
                continue
            tl = self.conn_to_lane[c]
            rank = 1 if after >= 0 and after in self.lane_leads_to[tl] else 0
            room = self.space(tl)
            if (rank, room) > (choice_rank, choice_room):
                choice, choice_rank, choice_room = c, rank, room
        return choice, choice_room

    def keep_clear(self, i: int, tl: int, room_tl: float) -> bool:
        """Whether ``i`` must not enter lane ``tl``: its link is short (below ``keep_clear_m``
        or the vehicle's length plus ``s0``) and the route link after it is jammed, with
        less room than the vehicle needs beyond what queues on ``tl`` (kernel: ``keep_clear``)."""
        after = self.link_after_next(i)
        if after < 0:
            return False
        short = self.link_length[self.lane_link[tl]]
        k = self.classes[self.cls[i]]
        need = k.length + k.s0
        if short >= self.r.keep_clear_m and short >= need:
            return False
        fed = [self.conn_to_lane[c] for c in self.lane_conns[tl] if self.conn_to_link[c] == after]
        if not fed:
            fed = list(range(self.first_lane[after], self.first_lane[after] + self.link_nlanes[after]))
        room, out = -INF, -1
        for h in fed:
            if self.space(h) > room:
                room, out = self.space(h), h
        if room == INF:
            return False
        if self.space_speed(out, 0.0) > self.r.stop_speed:
            return False  # the jam beyond is moving: it makes room
        queued = short - room_tl if room_tl < short else 0.0
        return room - queued < need

    def ahead_of_line(self, i: int, g: int, t: float) -> tuple[float, float, float, bool]:
        """What the front vehicle of lane ``g`` follows: (gap, leader speed, max_x, whether
        it crawls through a red or amber line as an emergency vehicle).

        Also records the chosen connection and target lane of ``i``.
        """
        r = self.r
        link = self.lane_link[g]
        length = self.link_length[link]
        x, v = self.pos[i], self.speed[i]
        nxt = self.next_link(i)
        if nxt < 0:
            return INF, v, INF, False  # last link: free road, arrives at the end
        d = length - x
        choice, choice_room = self.target_of(i, g, nxt)
        if choice < 0:
            return d, 0.0, length, False  # wrong lane: stop at the line
        stop = False
        crawl = False
        em = bool(self.emergency[i])
        if d <= r.lookahead_m:
            code = self.sig[choice]
            k = self.classes[self.cls[i]]
            if code == RED and v * v <= 2.0 * r.b_emergency * d:
                stop = True
            elif code == AMBER and v * v <= 2.0 * k.decel * d:
                stop = True
            if stop and em and code in (RED, AMBER) and d <= r.approach_m \
                    and v <= r.em_crawl and self.emergency_clear(self.conn_mov[choice], t):
                stop, crawl = False, True  # UU 22/2009 art. 134-135: it may pass, slowly
            if not stop and v * v <= 2.0 * k.decel * d and not (em and r.em_pass > 0.0):
                stop = self.keep_clear(i, self.conn_to_lane[choice], choice_room)
            if not stop and d <= v * v / (2.0 * k.decel) + r.approach_m:
                if em:  # it gives way only to what is in the junction or about to be
                    stop = not self.emergency_clear(self.conn_mov[choice], t)
                else:
                    stop = self.must_yield(i, link, self.conn_mov[choice], t) or (
                        self.em_on and self.yield_to_emergency(self.conn_mov[choice]))
        self.target_lane[i] = self.conn_to_lane[choice]
        self.conn[i] = choice
        if stop:
            return d, 0.0, length, crawl
        if choice_room == INF:
            return INF, v, INF, crawl
        tl = self.conn_to_lane[choice]
        return d + choice_room, self.space_speed(tl, v), length + choice_room, crawl

    def only_target(self, g: int, nxt: int) -> int:
        """The lane of ``nxt`` that lane ``g`` connects to when it connects to exactly one
        lane of it, else -1 (kernel: ``sole_target``)."""
        targets = [self.conn_to_lane[c] for c in self.lane_conns[g] if self.conn_to_link[c] == nxt]
        return targets[0] if len(targets) == 1 else -1

    def zipper(self, i: int, g: int, d: float, zone: float) -> tuple[int, float]:
        """Zipper merge: the vehicle ``i`` (lane ``g``, ``d`` before its line) lets go first
        in the other lanes joining its own, and the nearest virtual rear of such a vehicle
        (kernel: ``zipper_leader``)."""
        nxt = self.next_link(i)
        if nxt < 0:
            return -1, INF
        tl = self.only_target(g, nxt)
        if tl < 0:
            return -1, INF
        x = self.pos[i]
        s0 = self.classes[self.cls[i]].s0
        link = self.lane_link[g]
        first = self.first_lane[link]
        best, best_rear = -1, INF
        for h in range(first, first + self.link_nlanes[link]):
            others = self.lanes[h]
            if h == g or not others or self.only_target(h, nxt) != tl:
                continue
            if self.next_link(others[0]) != nxt:
                continue
            # the nearest vehicle ahead; level with i, the lower lane goes first
            ahead = [w for w in others if self.pos[w] > x or (self.pos[w] == x and h < g)]
            if not ahead:
                continue
            j = ahead[-1]
            if self.next_link(j) != nxt or self.pos[j] <= self.block[h] < INF:
                continue
            len_j = self.length_of(j)
            virtual_rear = self.pos[j] - len_j + (len_j + s0) * (d / zone)
            if virtual_rear < best_rear:
                best, best_rear = j, virtual_rear
        return best, best_rear

    def came_from(self, w: int, link: int) -> bool:
        """Whether vehicle ``w`` came onto its link from ``link`` (its route's previous link)."""
        p = self.route_pos[w]
        return p >= 1 and self.route[w][p - 1] == link

    def pass_group(self, g: int, q: int, low: float, len_i: float) -> tuple[int, float]:
        """Queue passing: the vehicles an emergency vehicle of length ``len_i`` passes at
        once, from place ``q`` of lane ``g`` forward, so that they all fit behind it (the
        last one's front at least ``low``): the place of the front-most and the emergency
        vehicle's new front, ``(-1, 0)`` when no group will do (kernel: ``pass_group``)."""
        vehicles = self.lanes[g]
        need = low + len_i
        for top in range(q, -1, -1):
            j = vehicles[top]
            if self.emergency[j] or self.speed[j] > self.r.em_pass:
                return -1, 0.0
            if top < q:  # the ones behind it are packed behind its rear
                need = need + self.length_of(j)
            front = max(self.pos[j], need)
            room = self.rear_of(vehicles[top - 1]) if top > 0 \
                else self.link_length[self.lane_link[g]]
            if front <= room:
                return top, front
        return -1, 0.0

    def follower_floor(self, g: int, k: int) -> float:
        """Lowest front for the vehicle at place ``k - 1`` of lane ``g`` were it behind place
        ``k``'s vehicle instead: clear of the vehicle at ``k + 1`` and of the link's start."""
        vehicles = self.lanes[g]
        if k + 1 < len(vehicles):
            return max(0.0, self.pos[vehicles[k + 1]] + self.length_of(vehicles[k - 1]))
        return 0.0

    def queue_ahead(self, i: int, g: int, k: int, t: float, x_new: float) -> float:
        """Queue passing: when emergency vehicle ``i`` (place ``k`` of lane ``g``, its
        connection already chosen when in front) is closed up behind a queue vehicle it may
        pass (its leader, or the last vehicle of its target lane), how far the front of the
        group it passes is ahead of ``x_new``; -1 when not (kernel: ``queue_ahead``)."""
        r = self.r
        kc = self.classes[self.cls[i]]
        close = kc.s0 + r.em_pass * kc.headway
        x, blk = self.pos[i], self.block[g]
        if k > 0:
            ahead = self.lanes[g][k - 1]
            if self.emergency[ahead] or self.speed[ahead] > r.em_pass:
                return -1.0
            if x < blk <= self.pos[ahead] or self.rear_of(ahead) - x > close:
                return -1.0  # not past a block; not closed up
            top, _ = self.pass_group(g, k - 1, self.follower_floor(g, k), kc.length)
            return self.pos[self.lanes[g][top]] - x_new if top >= 0 else -1.0
        c = self.conn[i]
        if c < 0 or x < blk < INF:
            return -1.0
        tl = self.target_lane[i]
        if not self.lanes[tl]:
            return -1.0
        last = self.lanes[tl][-1]
        if self.emergency[last] or self.speed[last] > r.em_pass or self.block[tl] <= self.pos[last]:
            return -1.0
        link = self.lane_link[g]
        length = self.link_length[link]
        if (length - x) + self.rear_of(last) > close:
            return -1.0
        top, _ = self.pass_group(tl, len(self.lanes[tl]) - 1, 0.0, kc.length)
        if top < 0:
            if not self.came_from(last, link):
                return -1.0  # nor can it drop back onto this link
            top = len(self.lanes[tl]) - 1
        if not self.emergency_clear(self.conn_mov[c], t):
            return -1.0
        return (length - min(x_new, length)) + self.pos[self.lanes[tl][top]]

    def longitudinal(self, t: float, dt: float) -> None:
        """Phase 2: next position and speed of every vehicle, from the state at ``t``."""
        for g, vehicles in enumerate(self.lanes):
            self.lane_moved[g] = 0
            link = self.lane_link[g]
            blk = self.block[g]
            asking = self.merge_request[g]
            length = self.link_length[link]
            merging = self.link_nlanes[link] > 1 and self.r.merge_zone_m > 0.0
            for k, i in enumerate(vehicles):
                kc = self.classes[self.cls[i]]
                x, v = self.pos[i], self.speed[i]
                self.target_lane[i] = -1
                self.conn[i] = -1
                crawl = False
                if k == 0:
                    gap, v_lead, max_x, crawl = self.ahead_of_line(i, g, t)
                else:
                    rear = self.rear_of(vehicles[k - 1])
                    gap, v_lead, max_x = rear - x, self.speed[vehicles[k - 1]], rear
                if merging:
                    zone = max(v * v / (2.0 * kc.decel) + self.r.approach_m, self.r.merge_zone_m)
                    d = length - x
                    if d <= zone:
                        j, virtual_rear = self.zipper(i, g, d, zone)
                        if j >= 0 and virtual_rear - x < gap:
                            gap, v_lead = virtual_rear - x, self.speed[j]
                            max_x = min(max_x, virtual_rear)
                if x < blk and blk - x < gap:  # the block is a standing obstacle
                    gap, v_lead = blk - x, 0.0
                    max_x = min(max_x, blk)
                if asking >= 0:  # make room for a vehicle waiting to merge in ahead
                    asking_rear = self.rear_of(asking)
                    if x < asking_rear and asking_rear - x < gap:
                        gap, v_lead = asking_rear - x, self.speed[asking]
                v0 = self.v0(i, link)
                if crawl:
                    v0 = min(v0, self.r.em_crawl)
                acc = idm_acceleration(v, v0, gap, v_lead, kc)
                # ballistic update, stopping within the step when the speed would go negative
                v_new = v + acc * dt
                if v_new < 0.0:
                    x_new = x - v * v / (2.0 * acc)
                    v_new = 0.0
                else:
                    x_new = x + (v + v_new) * 0.5 * dt
                if x_new > max_x:  # never into or through what is ahead
                    x_new = max(max_x, x)
                    v_new = min(v_new, v_lead)
                self.next_pos[i] = x_new
                self.next_speed[i] = v_new
                if x_new > x:
                    self.lane_moved[g] = 1
                if self.emergency[i] and self.r.em_pass > 0.0:
                    # queue passing: beside the queue at the pass speed, beyond its own move
                    # (at most level with the front of the vehicle it passes)
                    reach = self.queue_ahead(i, g, k, t, x_new)
                    gained = 0.0
                    if reach >= 0.0:
                        gained = max(self.pass_m[i] + self.r.em_pass * dt - (x_new - x), 0.0)
                        gained = min(gained, reach)
                    self.pass_m[i] = gained

    def detectors(self, t: float, dt: float) -> None:
        """Phase 3: counts, speeds, events and occupancy of the loops (kernel: ``detect``)."""
        s = self.s
        det_lane_off: list[int] = s.det_lane_off.tolist()
        det_by_lane: list[int] = s.det_by_lane.tolist()
        det_pos: list[float] = s.det_pos_m.tolist()
        for g in s.det_lanes.tolist():
            loops = det_by_lane[det_lane_off[g]:det_lane_off[g + 1]]
            for i in self.lanes[g]:
                x0, x1 = self.pos[i], self.next_pos[i]
                v0, v1 = self.speed[i], self.next_speed[i]
                span = self.length_of(i) + self.r.loop_length_m
                for d in loops:
                    p = det_pos[d]
                    if x0 < p <= x1:
                        frac = (p - x0) / (x1 - x0)
                        v_cross = v0 + frac * (v1 - v0)
                        self.det_count[d] += 1
                        self.det_speed_sum[d] += v_cross
                        e = self.counters[_nb.C_EVENTS]
                        s.ev_det[e] = d
                        s.ev_veh[e] = i
                        s.ev_time[e] = t + frac * dt
                        s.ev_speed[e] = v_cross
                        s.ev_sig[e] = self.sig[self.conn[i]] if self.conn[i] >= 0 else -1
                        self.counters[_nb.C_EVENTS] = e + 1
                    if x1 > x0:
                        covered = min(x1, p + span) - max(x0, p)
                        if covered > 0.0:
                            self.det_occ[d] += dt * covered / (x1 - x0)
                    elif p <= x0 < p + span:
                        self.det_occ[d] += dt

    def commit(self, t: float, dt: float) -> None:
        """Phase 4: apply the decided positions and speeds (kernel: ``_commit``)."""
        for vehicles in self.lanes:
            for i in vehicles:
                self.prev_pos[i] = self.pos[i]
                self.pos[i] = self.next_pos[i]
                self.speed[i] = self.next_speed[i]
                if self.speed[i] > self.r.stop_speed:
                    self.stopped_since[i] = INF
                elif self.stopped_since[i] == INF:
                    self.stopped_since[i] = t + dt

    def transfers(self, t: float, dt: float) -> int:
        """Phase 5: arrivals and junction crossings, lanes in index order (kernel: ``transfers``)."""
        t_end = t + dt
        done = 0
        for g in range(len(self.lanes)):
            link = self.lane_link[g]
            length = self.link_length[link]
            while self.lanes[g]:
                i = self.lanes[g][0]
                x = self.pos[i]
                if self.next_link(i) < 0:  # last link: arrive when the front reaches its end
                    if x < length:
                        break
                    x0 = self.prev_pos[i]
                    frac = (length - x0) / (x - x0) if x > x0 else 1.0
                    self.arrive_s[i] = t + frac * dt
                    self.state[i] = _ARRIVED
                    self.link[i] = -1
                    self.lane[i] = -1
                    self.pop_front(g)
                    self.exited[link] += 1
                    done += 1
                    continue
                if x <= length:
                    break
                c, tl = self.conn[i], self.target_lane[i]
                entry = self._entry_position(i, x - length, c, tl, t_end)
                if entry is None:  # held at the line; nobody behind crosses this step
                    self.pos[i] = length
                    self.speed[i] = 0.0
                    if self.stopped_since[i] == INF:
                        self.stopped_since[i] = t_end
                    self.counters[_nb.C_REFUSED] += 1
                    break
                if entry < x - length:  # closer than it wanted: no faster than what it lands behind
                    self.speed[i] = min(self.speed[i], self.space_speed(tl, self.speed[i]))
                new_link = self.lane_link[tl]
                entry = min(entry, self.link_length[new_link])
                if self.sig[c] == RED:
                    self.counters[_nb.C_RED_RUNS] += 1
                self.detect_entry(i, tl, entry, x, length, self.sig[c], t, dt)
                self.pop_front(g)
                self.lanes[tl].append(i)
                self.link[i] = new_link
                self.lane[i] = tl
                self.pos[i] = entry
                self.prev_pos[i] = entry
                self.route_pos[i] += 1
                self.pass_m[i] = 0.0  # through the queue it was passing, if any
                self.exited[link] += 1
                self.entered[new_link] += 1
                self.last_cross[self.conn_mov[c]] = t_end
                done += 1
        return done

    def detect_entry(self, i: int, tl: int, entry: float, x: float, old_length: float, code: int,
                     t: float, dt: float) -> None:
        """Loops of lane ``tl`` that vehicle ``i``, entering it at ``entry``, jumped over:
        they count it at the time interpolated along its path, with its end-of-step speed
        (kernel: ``_detect_entry``)."""
        s = self.s
        first, last = int(s.det_lane_off[tl]), int(s.det_lane_off[tl + 1])
        x0 = self.prev_pos[i]
        for d in s.det_by_lane[first:last].tolist():
            p = float(s.det_pos_m[d])
            if p > entry:
                continue
            frac = min((old_length + p - x0) / (x - x0), 1.0)
            self.det_count[d] += 1
            self.det_speed_sum[d] += self.speed[i]
            e = self.counters[_nb.C_EVENTS]
            s.ev_det[e] = d
            s.ev_veh[e] = i
            s.ev_time[e] = t + frac * dt
            s.ev_speed[e] = self.speed[i]
            s.ev_sig[e] = code
            self.counters[_nb.C_EVENTS] = e + 1

    def _entry_position(self, i: int, wanted: float, c: int, tl: int, t_end: float) -> float | None:
        """Where vehicle ``i`` lands on lane ``tl`` through connection ``c``, or None if refused."""
        if c < 0:
            return None
        if any(self.last_cross[m] == t_end for m in self.mov_conflicts[self.conn_mov[c]]):
            return None  # a conflicting movement was crossed in this same step
        entry = min(wanted, self.space(tl) - self.r.min_entry_gap_m)
        if entry < 0.0 or len(self.lanes[tl]) >= self.cap[tl]:
            return None
        return entry

    # ------------------------------------------------------------ queue passing
    def pack_behind(self, group: list[int], top_m: float) -> None:
        """``group`` in order behind a rear at ``top_m``, each front at most where it was
        and at most at the rear of the one ahead (kernel: ``_pack_behind``)."""
        for j in group:
            if self.pos[j] > top_m:
                self.pos[j] = self.prev_pos[j] = top_m
            top_m = self.rear_of(j)

    def passes(self, t_end: float) -> int:
        """Phase 5b: an emergency vehicle level with the front of the queue vehicles it
        passes goes ahead of them; vehicles in index order (kernel: ``passes``)."""
        done = 0
        for i, em in enumerate(self.emergency):
            if not em or self.pass_m[i] <= 0.0 or self.state[i] != _ACTIVE:
                continue
            g = self.lane[i]
            here = self.lanes[g]
            k = here.index(i)
            x, p, len_i, blk = self.pos[i], self.pass_m[i], self.length_of(i), self.block[g]
            if k > 0:
                low = self.follower_floor(g, k)
                top, front = self.pass_group(g, k - 1, low, len_i)
                if top < 0:
                    continue
                lo = min(low - self.length_of(here[k - 1]), x - len_i)  # nothing moves behind
                if p < self.pos[here[top]] - x or lo < blk <= front:
                    continue
                group = here[top:k]
                del here[k]
                here.insert(top, i)
                self.pos[i] = self.prev_pos[i] = front
                self.pack_behind(group, front - len_i)
            elif not self.pass_across(i, g, x, p, len_i, blk, t_end):
                continue
            self.pass_m[i] = 0.0
            self.counters[_nb.C_PASSES] += 1
            done += 1
        return done

    def pass_across(self, i: int, g: int, x: float, p: float, len_i: float, blk: float,
                    t_end: float) -> bool:
        """Emergency vehicle ``i`` at the front of lane ``g`` passes the group at the tail of
        its target lane when level with its front, ahead of them on that lane; when no
        group will do, the last vehicle there drops back over the line. Whether it did."""
        c, tl = self.conn[i], self.target_lane[i]
        if c < 0 or tl < 0 or not self.lanes[tl] or x < blk < INF:
            return False
        link = self.lane_link[g]
        length = self.link_length[link]
        here, there = self.lanes[g], self.lanes[tl]
        new_link = self.lane_link[tl]
        top, front = self.pass_group(tl, len(there) - 1, 0.0, len_i)
        if top >= 0:
            if p < (length - x) + self.pos[there[top]] or self.block[tl] <= front \
                    or len(there) >= self.cap[tl]:
                return False
            group = there[top:]
            self.pop_front(g)
            there.insert(top, i)
            self.pos[i] = self.prev_pos[i] = front
            self.pack_behind(group, front - len_i)
        else:
            last = there[-1]
            x_last = self.pos[last]
            if p < (length - x) + x_last or self.emergency[last] or self.block[tl] <= x_last:
                return False
            if not self.came_from(last, link):
                return False
            len_l = self.length_of(last)
            y = max(min(x - len_i + len_l, length), 0.0)
            if y - len_l < blk <= y:
                return False
            if len(here) > 1 and self.pos[here[1]] > y - len_l:
                return False
            here[0], there[-1] = last, i
            self.link[last], self.lane[last] = link, g
            self.pos[last] = self.prev_pos[last] = y
            self.route_pos[last] -= 1
            self.exited[new_link] += 1
            self.entered[link] += 1
            self.pos[i] = self.prev_pos[i] = x_last
        self.link[i], self.lane[i] = new_link, tl
        self.route_pos[i] += 1
        self.exited[link] += 1
        self.entered[new_link] += 1
        if self.sig[c] == RED:
            self.counters[_nb.C_RED_RUNS] += 1
        self.last_cross[self.conn_mov[c]] = t_end
        return True

    # ------------------------------------------------------------ lane changes
    def good_lane(self, g: int, x: float, length: float, nxt: int) -> bool:
        """Lane ``g`` leads to ``nxt`` (any does when ``nxt < 0``) and has no block in
        ``(x - length, x + block_lookahead)`` (kernel: ``_good_lane``)."""
        if nxt >= 0 and nxt not in self.lane_leads_to[g]:
            return False
        blk = self.block[g]
        return not (blk > x - length and blk - x < self.r.block_lookahead_m)

    def accel_behind(self, i: int, leader: int, block_gap: float, v0: float) -> float:
        """IDM acceleration of ``i`` behind ``leader`` (-1: none) and a block ``block_gap``
        ahead (kernel: ``_accel_behind``)."""
        gap, v_lead = INF, self.speed[i]
        if leader >= 0:
            gap = self.pos[leader] - self.length_of(leader) - self.pos[i]
            v_lead = self.speed[leader]
        if block_gap < gap:
            gap, v_lead = block_gap, 0.0
        return idm_acceleration(self.speed[i], v0, gap, v_lead, self.classes[self.cls[i]])

    def try_change(self, i: int, g: int, k: int, target: int, mandatory: bool,
                   t_end: float) -> bool:
        """Move ``i`` (place ``k`` of lane ``g``) to lane ``target`` when safe and, unless
        mandatory, worth it by MOBIL (kernel: ``_try_change``)."""
        r = self.r
        link = self.link[i]
        x = self.pos[i]
        here, there = self.lanes[g], self.lanes[target]
        place = next((n for n, w in enumerate(there) if self.pos[w] < x), len(there))
        if len(there) >= self.cap[target]:
            return False
        if x - self.length_of(i) < self.block[target] <= x:
            return False  # the block would lie under the vehicle
        new_lead = there[place - 1] if place > 0 else -1
        new_follower = there[place] if place < len(there) else -1
        if not mandatory and new_follower >= 0 and self.emergency[new_follower]:
            return False  # no discretionary change in front of an emergency vehicle
        blk_new = self.block_gap(target, x)
        room_ahead = self.rear_of(new_lead) - x if new_lead >= 0 else INF
        room_ahead = min(room_ahead, blk_new)
        if room_ahead < r.min_entry_gap_m:
            return False
        a_n_new = a_n_old = 0.0
        if new_follower >= 0:
            room_behind = x - self.length_of(i) - self.pos[new_follower]
            if room_behind < r.min_entry_gap_m:
                return False
            v0f = self.v0(new_follower, link)
            a_n_new = idm_acceleration(self.speed[new_follower], v0f, room_behind, self.speed[i],
                                       self.classes[self.cls[new_follower]])
            if a_n_new < -(r.b_safe_mandatory if mandatory else r.b_safe) \
                    and not (mandatory and self.speed[new_follower] <= r.stop_speed):
                return False  # too hard on the new follower (a stopped one has to wait)
            if not mandatory:
                a_n_old = self.accel_behind(new_follower, new_lead,
                                            self.block_gap(target, self.pos[new_follower]), v0f)
        if not mandatory:
            v0 = self.v0(i, link)
            old_lead = here[k - 1] if k > 0 else -1
            a_c = self.accel_behind(i, old_lead, self.block_gap(g, x), v0)
            a_c_new = self.accel_behind(i, new_lead, blk_new, v0)
            a_o_new = a_o_old = 0.0
            if k + 1 < len(here):
                o = here[k + 1]
                v0o = self.v0(o, link)
                blk_o = self.block_gap(g, self.pos[o])
                a_o_old = self.accel_behind(o, i, blk_o, v0o)
                a_o_new = self.accel_behind(o, old_lead, blk_o, v0o)
            gain = a_c_new - a_c + r.politeness * (a_n_new - a_n_old + a_o_new - a_o_old)
            if not gain > r.a_threshold:
                return False
        del here[k]
        there.insert(place, i)
        self.lane[i] = target
        self.lc_s[i] = t_end
        return True

    def fits(self, g: int, x: float, length: float) -> int:
        """Place in lane ``g`` where a vehicle with front ``x`` fits without touching anyone
        or a block, -1 if it does not (kernel: ``_fits``)."""
        vehicles = self.lanes[g]
        place = next((n for n, w in enumerate(vehicles) if self.pos[w] < x), len(vehicles))
        if len(vehicles) >= self.cap[g]:
            return -1
        if place > 0 and self.rear_of(vehicles[place - 1]) <= x:
            return -1
        if place < len(vehicles) and x - length <= self.pos[vehicles[place]]:
            return -1
        if x - length < self.block[g] <= x:
            return -1
        return place

    def try_swap(self, i: int, g: int, target: int, t_end: float) -> bool:
        """Stopped ``i`` (lane ``g``, needs ``target``) swaps with a stopped vehicle beside
        it in ``target`` that needs lane ``g`` (kernel: ``_try_swap``)."""
        r = self.r
        if self.speed[i] > r.stop_speed:
            return False
        x, len_i = self.pos[i], self.length_of(i)
        for kc, c in enumerate(self.lanes[target]):
            xc, len_c = self.pos[c], self.length_of(c)
            if xc - len_c >= x or xc <= x - len_i:
                continue  # not side by side
            if self.speed[c] > r.stop_speed or t_end - self.lc_s[c] < r.cooldown_s:
                continue
            nxt_c = self.next_link(c)
            if self.good_lane(target, xc, len_c, nxt_c) or not self.good_lane(g, xc, len_c, nxt_c):
                continue
            ki = self.lanes[g].index(i)
            del self.lanes[g][ki]
            del self.lanes[target][kc]
            place_i = self.fits(target, x, len_i)
            place_c = self.fits(g, xc, len_c)
            if place_i < 0 or place_c < 0:
                self.lanes[g].insert(ki, i)
                self.lanes[target].insert(kc, c)
                return False
            self.lanes[target].insert(place_i, i)
            self.lanes[g].insert(place_c, c)
            self.lane[i], self.lane[c] = target, g
            self.lc_s[i] = self.lc_s[c] = t_end
            return True
        return False

    def held_back(self, i: int, g: int, k: int) -> bool:
        """Whether ``i`` (place ``k`` of lane ``g``) would accelerate by more than
        ``a_threshold`` more on a free road than behind its leader or block: only
        then does it look for a discretionary change."""
        link = self.link[i]
        v0 = self.v0(i, link)
        leader = self.lanes[g][k - 1] if k > 0 else -1
        a_now = self.accel_behind(i, leader, self.block_gap(g, self.pos[i]), v0)
        ratio = self.speed[i] / v0
        a_free = self.classes[self.cls[i]].accel * (1.0 - ratio * ratio * ratio * ratio)
        return a_free - a_now > self.r.a_threshold

    def emergency_behind(self, g: int, k: int) -> bool:
        """Whether an emergency vehicle follows place ``k`` of lane ``g``, its front within
        ``emergency_clear_m`` of that vehicle's (kernel: ``_emergency_behind``)."""
        x = self.pos[self.lanes[g][k]]
        for e in self.lanes[g][k + 1:]:
            if self.pos[e] < x - self.r.em_clear_m:
                return False
            if self.emergency[e]:
                return True
        return False

    def lane_changes(self, t_end: float) -> None:
        """Phase 6: mandatory and discretionary lane changes, link by link (kernel: ``_lane_changes``)."""
        r = self.r
        for link in range(len(self.link_length)):
            self.changes[link] = 0
            n_lanes = self.link_nlanes[link]
            lanes = range(self.first_lane[link], self.first_lane[link] + n_lanes)
            for g in lanes:
                self.merge_request[g] = -1
            if n_lanes < 2:
                continue
            for g in lanes:
                k = 0
                while k < len(self.lanes[g]):
                    i = self.lanes[g][k]
                    moved = False
                    if t_end - self.lc_s[i] >= r.cooldown_s:
                        x, length, nxt = self.pos[i], self.length_of(i), self.next_link(i)
                        good = self.good_lane(g, x, length, nxt)
                        if good and self.em_on and not self.emergency[i] \
                                and self.emergency_behind(g, k):
                            for target in (g - 1, g + 1):  # out of its way, as if mandatory
                                if target in lanes and self.good_lane(target, x, length, nxt) \
                                        and self.try_change(i, g, k, target, True, t_end):
                                    moved = True
                                    break
                        if not moved and good:
                            sides = (g - 1, g + 1) if self.held_back(i, g, k) else ()
                            for target in sides:  # the lower lane first
                                if target in lanes and self.good_lane(target, x, length, nxt) \
                                        and self.try_change(i, g, k, target, False, t_end):
                                    moved = True
                                    break
                        elif not moved:
                            good_lanes = [h for h in lanes if self.good_lane(h, x, length, nxt)]
                            if good_lanes:
                                nearest = min(good_lanes, key=lambda h: (abs(h - g), h))
                                target = g + 1 if nearest > g else g - 1
                                moved = self.try_change(i, g, k, target, True, t_end) \
                                    or self.try_swap(i, g, target, t_end)
                                if not moved:  # ask the target lane to make room: the
                                    asking = self.merge_request[target]  # foremost asks
                                    if asking < 0 or self.pos[asking] < x:
                                        self.merge_request[target] = i
                    if moved:
                        self.changes[link] += 1
                    else:
                        k += 1

    def trace(self, t_end: float) -> None:
        """Samples of the traced vehicles on the road at the end of the step."""
        s = self.s
        for i in s.trace_veh.tolist():
            if self.state[i] == _ACTIVE:
                e = self.counters[_nb.C_TRACE]
                s.tr_veh[e] = i
                s.tr_time[e] = t_end
                s.tr_link[e] = self.link[i]
                s.tr_lane[e] = self.lane[i]
                s.tr_pos[e] = self.pos[i]
                s.tr_speed[e] = self.speed[i]
                self.counters[_nb.C_TRACE] = e + 1

    # ------------------------------------------------------------- write back
    def store(self) -> None:
        """Write the lists back into the state arrays (in place)."""
        s = self.s
        s.veh_state[:] = self.state
        s.veh_link[:] = self.link
        s.veh_lane[:] = self.lane
        s.veh_pos_m[:] = self.pos
        s.veh_prev_pos_m[:] = self.prev_pos
        s.veh_speed_mps[:] = self.speed
        s.veh_route_pos[:] = self.route_pos
        s.veh_insert_s[:] = self.insert_s
        s.veh_arrive_s[:] = self.arrive_s
        s.veh_stopped_since_s[:] = self.stopped_since
        s.veh_lc_s[:] = self.lc_s
        s.veh_next_pos_m[:] = self.next_pos
        s.veh_next_speed_mps[:] = self.next_speed
        s.veh_target_lane[:] = self.target_lane
        s.veh_conn[:] = self.conn
        s.veh_pass_m[:] = self.pass_m
        s.link_entered[:] = self.entered
        s.link_exited[:] = self.exited
        s.link_changes[:] = self.changes
        s.lane_moved[:] = self.lane_moved
        s.lane_merge_veh[:] = self.merge_request
        s.lane_head[:] = self.head
        s.lane_count[:] = [len(v) for v in self.lanes]
        for g, vehicles in enumerate(self.lanes):
            off, cap, head = self.slot_off[g], self.cap[g], self.head[g]
            for k, i in enumerate(vehicles):
                s.slots[off + (head + k) % cap] = i
        s.mov_last_cross_s[:] = self.last_cross
        s.conn_sig[:] = self.sig
        s.ins_ptr[:] = self.ins_ptr
        s.det_count[:] = self.det_count
        s.det_speed_sum[:] = self.det_speed_sum
        s.det_occ_s[:] = self.det_occ
        s.counters[:] = self.counters


def _step(s: MicroState, rules: _Rules, t: float, dt: float) -> float:
    """One step ``[t, t + dt)``; returns ``t + dt``."""
    w = _World(s, rules)
    t_end = t + dt
    w.signals(t)
    n_inserted = w.insert(t)
    on_road = sum(len(v) for v in w.lanes)
    w.counters[_nb.C_VEHICLE_STEPS] += on_road
    w.longitudinal(t, dt)
    w.detectors(t, dt)
    w.commit(t, dt)
    n_moved = w.transfers(t, dt)
    if w.em_on and rules.em_pass > 0.0:
        n_moved += w.passes(t_end)
    w.lane_changes(t_end)
    progress = n_inserted + n_moved + sum(w.lane_moved) + sum(w.changes)
    if progress == 0 and on_road > 0:
        w.counters[_nb.C_STALL_STEPS] += 1
    else:
        w.counters[_nb.C_STALL_STEPS] = 0
    w.trace(t_end)
    w.counters[_nb.C_STEPS] += 1
    w.store()
    return t_end


def _buffers_full(s: MicroState) -> bool:
    """Whether the event or trace buffer could overflow in the next step."""
    return bool(int(s.counters[_nb.C_EVENTS]) + s.ev_margin > s.ev_det.shape[0]
                or int(s.counters[_nb.C_TRACE]) + s.trace_veh.shape[0] > s.tr_veh.shape[0])


def advance_reference(
    state: MicroState,
    params: MicroParams,
    time_s: float,
    dt_s: float,
    n_steps: int,
    *,
    check: bool = True,
) -> float:
    """Run ``n_steps`` steps of ``dt_s`` from ``time_s`` in plain Python; return the new time.

    Same contract as :func:`core_ext.micro.advance`, including growing the
    event and trace buffers (the same way) when they could overflow.

    Raises
    ------
    ValueError
        On a non-finite time, a step that is not > 0, or a malformed state.
    """
    if not (math.isfinite(time_s) and math.isfinite(dt_s) and dt_s > 0):
        raise ValueError(f"time_s must be finite and dt_s finite and > 0, got {time_s!r}, "
                         f"{dt_s!r}")
    if isinstance(n_steps, bool) or not isinstance(n_steps, int | np.integer) or n_steps < 0:
        raise ValueError(f"n_steps must be an integer >= 0, got {n_steps!r}")
    if check:
        check_state(state)
    rules = _Rules.of(params)
    t = float(time_s)
    dt = float(dt_s)
    for _ in range(int(n_steps)):
        while _buffers_full(state):
            grow_buffers(state)
        t = _step(state, rules, t, dt)
    return t
