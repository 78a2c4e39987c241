"""The microscopic engine's Numba kernel against its plain-Python reference.

Every test builds one scenario twice through :class:`twin.simulation.Simulation`,
once with ``EngineConfig(backend="numba")`` and once with ``backend="reference"``
(:mod:`core_ext.micro_reference`), steps both and compares every state column
after every step: integers exactly, floats within ``config.TEST_RTOL/TEST_ATOL``
(in practice they agree bit for bit). The lane ring buffers are compared as
ordered lane contents plus ``lane_head``/``lane_count``: the slots a lane does
not occupy hold stale indices in the kernel and are not written by the
reference. Each scenario also asserts that it really exercises its rule
(red lights, refused entries, lane changes, insertion queues...), and the
kernel's state is checked for a few invariants (no vehicle overlaps the one
ahead of it, link counts add up).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import subprocess
import sys
import textwrap
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import numpy.testing as npt
import pytest

from core_ext import _micro_nb as nb
from core_ext import config
from core_ext.micro import MicroParams, MicroState
from core_ext.micro_reference import advance_reference
from twin.demand import Trips, od_trips, random_trips
from twin.importers.grid import grid_network
from twin.network import Network, unproject_xy
from twin.simulation import EngineConfig, Simulation

try:
    from hypothesis import given, settings
    from hypothesis import strategies as st
    HAVE_HYPOTHESIS = True
except ImportError:  # pragma: no cover - hypothesis is a dev requirement
    HAVE_HYPOTHESIS = False

REPO = Path(__file__).resolve().parents[2]
ORIGIN = (106.85, -6.21)

Hook = Callable[[int, Simulation], None]


# ------------------------------------------------------------------ comparing
def _model(sim: Simulation) -> MicroState:
    """The live engine state of ``sim`` (no copy)."""
    return sim._state


def lane_contents(s: MicroState) -> list[list[int]]:
    """Each lane's vehicles, front first, read from its ring buffer."""
    out = []
    for g in range(s.n_lanes):
        off, cap = int(s.lane_slot_off[g]), int(s.lane_slot_off[g + 1] - s.lane_slot_off[g])
        head, n = int(s.lane_head[g]), int(s.lane_count[g])
        out.append([int(s.slots[off + (head + k) % cap]) for k in range(n)])
    return out


def assert_same_state(a: MicroState, b: MicroState, where: str) -> None:
    """Every column equal (floats within the test tolerances); slots as lane contents."""
    arrays_b = b.arrays()
    for name, x in a.arrays().items():
        if name == "slots":
            continue
        y = arrays_b[name]
        assert x.shape == y.shape, f"{where}: {name} has shape {x.shape} vs {y.shape}"
        if x.dtype.kind == "f":
            if not np.array_equal(x, y, equal_nan=True):
                npt.assert_allclose(y, x, rtol=config.TEST_RTOL, atol=config.TEST_ATOL,
                                    err_msg=f"{where}: column {name} (numba = desired)")
        elif not np.array_equal(x, y):
            bad = np.flatnonzero(x != y)[:8]
            raise AssertionError(f"{where}: column {name} differs at {bad.tolist()}: "
                                 f"numba {x[bad].tolist()} reference {y[bad].tolist()}")
    la, lb = lane_contents(a), lane_contents(b)
    if la != lb:
        lanes_bad = [g for g in range(len(la)) if la[g] != lb[g]][:4]
        raise AssertionError(f"{where}: lane contents differ in lanes {lanes_bad}: numba "
                             f"{[la[g] for g in lanes_bad]} reference {[lb[g] for g in lanes_bad]}")
    assert a.ev_margin == b.ev_margin


def check_invariants(s: MicroState, where: str) -> None:
    """No vehicle overlaps the one ahead; lanes, vehicle columns and link counters agree."""
    lanes = lane_contents(s)
    on_link = np.zeros(s.n_links, np.int64)
    for g, vehicles in enumerate(lanes):
        link = int(s.lane_link[g])
        on_link[link] += len(vehicles)
        for k, i in enumerate(vehicles):
            assert s.veh_state[i] == config.VEH_ACTIVE and s.veh_lane[i] == g \
                and s.veh_link[i] == link, f"{where}: vehicle {i} is not where lane {g} says"
            assert 0.0 - 1e-9 <= s.veh_pos_m[i] <= s.link_length_m[link] + 1e-9, \
                f"{where}: vehicle {i} at {s.veh_pos_m[i]} outside link {link}"
            if k > 0:
                ahead = vehicles[k - 1]
                rear = s.veh_pos_m[ahead] - s.cls_length_m[s.veh_class[ahead]]
                assert s.veh_pos_m[i] <= rear + 1e-9, \
                    f"{where}: vehicle {i} at {s.veh_pos_m[i]} overlaps {ahead} (rear {rear})"
    npt.assert_array_equal(on_link, s.link_entered - s.link_exited, err_msg=where)
    assert int(np.count_nonzero(s.veh_state == config.VEH_ACTIVE)) == int(s.lane_count.sum())


def run_pair(
    network: Network,
    trips: Trips,
    steps: int,
    *,
    micro: MicroParams | None = None,
    dt_s: float = 1.0,
    setup: Callable[[Simulation], None] | None = None,
    hook: Hook | None = None,
    after: Hook | None = None,
    other: str = "reference",
) -> tuple[Simulation, Simulation]:
    """Run the scenario on the numba backend and on ``other`` step by step, comparing
    after every step; ``hook(step, sim)`` runs on both before each step."""
    sims = []
    for backend in ("numba", other):
        params = micro or MicroParams()
        if backend == "numba-parallel":
            backend, params = "numba", _parallel(params)
        cfg = EngineConfig(dt_s=dt_s, micro=params, backend=backend)
        sim = Simulation(network, trips, seed=0, config=cfg)
        if setup is not None:
            setup(sim)
        sims.append(sim)
    a, b = sims
    assert_same_state(_model(a), _model(b), "after setup")
    for step in range(steps):
        for sim in (a, b):
            if hook is not None:
                hook(step, sim)
            sim.step()
        assert a.time_s == b.time_s
        if after is not None:
            after(step, a)
        assert_same_state(_model(a), _model(b), f"step {step} (t = {a.time_s} s)")
        check_invariants(_model(a), f"step {step}")
    return a, b


def _parallel(p: MicroParams) -> MicroParams:
    return dataclasses.replace(p, parallel_min_vehicles=0)


# ------------------------------------------------------------------ networks
def make_network(
    name: str,
    nodes: dict[str, tuple[float, float]],
    links: Sequence[tuple[str, str, str, int, str]],
    *,
    connections: Sequence[tuple[str, int, str, int]] | None = None,
    speed_mps: float = 13.89,
) -> Network:
    """A network from node x/y metres and links ``(id, from, to, lanes, road class)``;
    ``connections`` as ``(from link, from lane, to link, to lane)``, default: SUMO-like."""
    ids = list(nodes)
    x = np.array([nodes[n][0] for n in ids])
    y = np.array([nodes[n][1] for n in ids])
    lon, lat = unproject_xy(x, y, *ORIGIN)
    link_ids = [lk[0] for lk in links]
    frm = [ids.index(lk[1]) for lk in links]
    to = [ids.index(lk[2]) for lk in links]
    length = [float(math.hypot(x[b] - x[a], y[b] - y[a])) for a, b in zip(frm, to, strict=True)]
    conn = None
    if connections is not None:
        conn = tuple(np.array(col, np.int32) for col in (
            [link_ids.index(c[0]) for c in connections], [c[1] for c in connections],
            [link_ids.index(c[2]) for c in connections], [c[3] for c in connections]))
    return Network.from_arrays(
        name=name, node_ids=ids, node_lon=lon, node_lat=lat, link_ids=link_ids,
        link_from=frm, link_to=to, link_length_m=length,
        link_lanes=[lk[3] for lk in links], link_speed_limit_mps=[speed_mps] * len(links),
        link_capacity_vph=[1800.0 * lk[3] for lk in links],
        link_road_class=[lk[4] for lk in links], connections=conn,  # type: ignore[arg-type]
        origin_lonlat=ORIGIN)


def crossroads(arm_m: float = 120.0, major: str = "primary", minor: str = "residential") -> Network:
    """Four arms around an unsignalised centre; east-west is ``major``, north-south ``minor``."""
    nodes = {"C": (0.0, 0.0), "W": (-arm_m, 0.0), "E": (arm_m, 0.0), "S": (0.0, -arm_m),
             "N": (0.0, arm_m)}
    links = []
    for arm in "WESN":
        cls = major if arm in "WE" else minor
        links += [(f"{arm}C", arm, "C", 1, cls), (f"C{arm}", "C", arm, 1, cls)]
    return make_network("crossroads", nodes, links)


def turn_lane_network() -> Network:
    """U (2 lanes) -> A (3 lanes) -> S (2 lanes) straight on, or T (1 lane) left.

    Both lanes of U feed lane 0 of A only, and only lane 2 of A turns into T,
    so every vehicle for T must change lanes twice on A (mandatory changes);
    lanes 0 and 1 of A go straight on into S.
    """
    nodes = {"n0": (0.0, 0.0), "n1": (150.0, 0.0), "n2": (400.0, 0.0), "n3": (550.0, 0.0),
             "n4": (400.0, 150.0)}
    links = [("U", "n0", "n1", 2, "secondary"), ("A", "n1", "n2", 3, "secondary"),
             ("S", "n2", "n3", 2, "secondary"), ("T", "n2", "n4", 1, "secondary")]
    conns = [("U", 0, "A", 0), ("U", 1, "A", 0), ("A", 0, "S", 0), ("A", 1, "S", 1),
             ("A", 2, "T", 0)]
    return make_network("turn lane", nodes, links, connections=conns)


def crossover_network() -> Network:
    """U (2 lanes) -> A (2 lanes) -> L or R (1 lane each), the lanes crossing over:
    U's lane 0 feeds A's lane 1 and U's lane 1 A's lane 0, A's lane 0 turns into L
    and lane 1 into R. About half the vehicles reach A in the wrong lane."""
    nodes = {"n0": (0.0, 0.0), "n1": (150.0, 0.0), "n2": (300.0, 0.0), "nl": (300.0, 120.0),
             "nr": (300.0, -120.0)}
    links = [("U", "n0", "n1", 2, "secondary"), ("A", "n1", "n2", 2, "secondary"),
             ("L", "n2", "nl", 1, "secondary"), ("R", "n2", "nr", 1, "secondary")]
    conns = [("U", 0, "A", 1), ("U", 1, "A", 0), ("A", 0, "L", 0), ("A", 1, "R", 0)]
    return make_network("crossover", nodes, links, connections=conns)


def dual_carriageway(median_m: float = 10.0, arm_m: float = 150.0) -> Network:
    """A two-way minor road crossing a dual carriageway: eastbound W1 -> A -> E1 on top,
    westbound E2 -> B -> W2 below, and the minor road N - A - B - S, whose links across
    the median (AB, BA) are ``median_m`` short. Every road is residential (equal rank),
    as on many OSM networks."""
    h = median_m / 2.0
    nodes = {"W1": (-arm_m, h), "A": (0.0, h), "E1": (arm_m, h), "E2": (arm_m, -h),
             "B": (0.0, -h), "W2": (-arm_m, -h), "N": (0.0, arm_m), "S": (0.0, -arm_m)}
    ends = [("W1", "A"), ("A", "E1"), ("E2", "B"), ("B", "W2"), ("N", "A"), ("A", "N"),
            ("A", "B"), ("B", "A"), ("S", "B"), ("B", "S")]
    links = [(a + b, a, b, 1, "residential") for a, b in ends]
    return make_network("dual carriageway", nodes, links)


def _rng(seed: int) -> np.random.Generator:
    return np.random.default_rng(seed)


# ------------------------------------------------------------------ scenarios
def test_corridor_free_flow():
    """A straight two-way corridor, light traffic both ways, mixed classes."""
    net = grid_network(1, 5, block_m=150.0, signals=False)
    trips = od_trips(net, {("r0c0", "r0c4"): 12, ("r0c4", "r0c0"): 8, ("r0c1", "r0c3"): 5},
                     duration_s=60.0, rng=_rng(1), rounding="stochastic")
    a, _ = run_pair(net, trips, 150)
    assert a.n_arrived == len(trips) > 0
    assert a.summary()["refused_entries"] == 0


def test_signalised_grid_red_amber_and_yield():
    """Fixed-time signals with G, g, y and r; vehicles stop for red and amber."""
    net = grid_network(3, 3, block_m=100.0, signals=True)
    assert net.signals.n_programs == 1
    trips = random_trips(net, n_trips=60, duration_s=150.0, rng=_rng(2))
    seen = {"red": False, "stopped_at_line": False}

    def hook(step: int, sim: Simulation) -> None:
        s = _model(sim)
        seen["red"] |= bool((s.conn_sig == nb.SIG_RED).any())
        heading = (s.veh_state == config.VEH_ACTIVE) & (s.veh_conn >= 0)
        red = s.conn_sig[s.veh_conn[heading]] == nb.SIG_RED
        seen["stopped_at_line"] |= bool((s.veh_speed_mps[heading][red] == 0.0).any())

    a, _ = run_pair(net, trips, 260, hook=hook)
    assert seen["red"] and seen["stopped_at_line"]
    assert a.n_arrived > 30
    codes = set(_model(a).phase_codes.ravel().tolist())
    assert {nb.SIG_RED, nb.SIG_AMBER, nb.SIG_YIELD, nb.SIG_GREEN} <= codes


@pytest.mark.parametrize("major", ["primary", "residential"], ids=["ranked", "equal-rank"])
def test_unsignalised_priority_junction(major):
    """Conflicting flows through an unsignalised crossroads: a major road over a minor
    one (priority by rank), or all equal (first stopped goes first)."""
    net = crossroads(major=major)
    od = {("W", "E"): 25, ("E", "W"): 25, ("S", "N"): 20, ("N", "S"): 20, ("S", "W"): 8,
          ("E", "S"): 8}
    trips = od_trips(net, od, duration_s=90.0, rng=_rng(3), rounding="stochastic")
    a, _ = run_pair(net, trips, 220)
    assert a.n_arrived > 50
    s = _model(a)
    assert (s.mov_last_cross_s > -np.inf).sum() >= 6  # many movements used


def test_congested_grid_refuses_entries():
    """Heavy demand on an unsignalised grid: merges and spill-back refuse junction entries."""
    net = grid_network(3, 3, block_m=80.0, signals=False)
    trips = random_trips(net, n_trips=160, duration_s=60.0, rng=_rng(4))
    a, b = run_pair(net, trips, 200)
    assert a.summary()["refused_entries"] > 0
    assert a.summary() == b.summary()


def test_insertion_queue_at_busy_origin():
    """More departures than an origin link can take: vehicles wait, FIFO, then enter."""
    net = grid_network(1, 3, block_m=120.0, lanes=2, signals=False)
    trips = od_trips(net, {("r0c0", "r0c2"): 70, ("r0c0", "r0c1"): 20}, duration_s=20.0,
                     rng=_rng(5), rounding="stochastic")
    queued = []

    def hook(step: int, sim: Simulation) -> None:
        s = _model(sim)
        queued.append(int(((s.veh_state == config.VEH_WAITING)
                           & (s.veh_depart_s <= sim.time_s)).sum()))

    a, _ = run_pair(net, trips, 120, hook=hook)
    assert max(queued) > 10
    s = _model(a)
    late = s.veh_insert_s - s.veh_depart_s
    assert np.nanmax(late) > 10.0


def test_dual_carriageway_keeps_clear_without_deadlock():
    """Equal-rank flows through a dual carriageway's 10 m median links: vehicles keep
    the short median clear while the road beyond is jammed, and nobody waits for a
    foe that is itself waiting for room (that wait, both ways round the median, used
    to deadlock the crossing for good)."""
    net = dual_carriageway()
    od = {("N", "S"): 60, ("S", "N"): 60, ("W1", "E1"): 40, ("E2", "W2"): 40, ("N", "W2"): 20,
          ("S", "E1"): 20, ("W1", "S"): 20, ("E2", "N"): 20}
    trips = od_trips(net, od, duration_s=200.0, rng=_rng(7), rounding="stochastic")
    seen = {"kept_clear": 0, "foe_without_room": 0}
    ids: dict[int, int] = {}

    def hook(step: int, sim: Simulation) -> None:
        if step == 40:  # a jam on BS that spills back to B
            ids[id(sim)] = sim.open_incident("BS", 1, pos_m=60.0)
        if step == 160:
            sim.clear_incident(ids[id(sim)])
        if sim.config.backend != "numba":
            return
        s = _model(sim)
        fp = sim.config.micro.vector()
        cols = (s.slots, s.lane_slot_off, s.lane_head, s.lane_count, s.lane_block_pos_m,
                s.veh_pos_m)
        for g in range(s.n_lanes):
            if s.lane_count[g] == 0:
                continue
            i = nb.lane_at(s.slots, s.lane_slot_off, s.lane_head, g, 0)
            nxt = nb.next_link_of(i, s.veh_route_pos, s.route_offsets, s.route_links)
            if nxt < 0:
                continue
            c, room, _ = nb.front_target(i, g, nxt, s.veh_route_pos, s.route_offsets,
                                         s.route_links, s.lane_conn_off, s.conn_to_link,
                                         s.conn_to_lane, *cols, s.veh_speed_mps, s.veh_class,
                                         s.cls_length_m)
            if c < 0:
                continue
            if s.veh_speed_mps[i] == 0.0 and room < s.cls_length_m[s.veh_class[i]]:
                seen["foe_without_room"] += 1
            seen["kept_clear"] += bool(nb.keep_clear(
                i, s.conn_to_lane[c], room, s.veh_route_pos, s.route_offsets, s.route_links,
                s.link_length_m, s.link_lane_off, s.lane_link, s.lane_conn_off, s.conn_to_link,
                s.conn_to_lane, *cols, s.veh_speed_mps, s.veh_class, s.cls_length_m,
                s.cls_min_gap_m, fp))

    a, _ = run_pair(net, trips, 520, hook=hook)
    assert seen["kept_clear"] > 0 and seen["foe_without_room"] > 0
    assert a.n_arrived == len(trips) > 250


def test_zipper_merge_where_two_lanes_join_into_one():
    """Both lanes of U feed lane 0 of A only: with ``merge_zone_m`` the vehicles near
    the end of U take turns (zipper). Mid-run a block in U's lane 1 holds its vehicles,
    which then lead nobody in lane 0; lane changes and junction rules go on as usual."""
    net = turn_lane_network()
    trips = od_trips(net, {("n0", "n4"): 20, ("n0", "n3"): 110}, duration_s=120.0, rng=_rng(11),
                     rounding="stochastic")
    micro = MicroParams(merge_zone_m=50.0)
    fp = micro.vector()
    u = net.link_index["U"]
    seen = {"zipped": 0, "blocked_skip": 0}
    ids: dict[int, list[int]] = {}

    def hook(step: int, sim: Simulation) -> None:
        mine = ids.setdefault(id(sim), [])
        if step == 60:
            mine.append(sim.open_incident("U", 1, lanes=[1], pos_m=140.0))
        if step == 110:
            for k in mine:
                sim.clear_incident(k)
        if sim.config.backend != "numba":
            return
        s = _model(sim)
        length = s.link_length_m[u]
        for g in range(s.link_lane_off[u], s.link_lane_off[u + 1]):
            for k in range(s.lane_count[g]):
                i = nb.lane_at(s.slots, s.lane_slot_off, s.lane_head, g, k)
                c = s.veh_class[i]
                v = s.veh_speed_mps[i]
                zone = max(v * v / (2.0 * s.cls_decel_mps2[c]) + fp[nb.P_APPROACH_M],
                           fp[nb.P_MERGE_ZONE_M])
                d = length - s.veh_pos_m[i]
                if d > zone:
                    continue
                j, _ = nb.zipper_leader(
                    i, g, u, d / zone, s.cls_min_gap_m[c], s.link_lane_off, s.veh_pos_m,
                    s.veh_class, s.veh_route_pos, s.route_offsets, s.route_links,
                    s.lane_conn_off, s.conn_to_link, s.conn_to_lane, s.slots, s.lane_slot_off,
                    s.lane_head, s.lane_count, s.lane_block_pos_m, s.cls_length_m)
                seen["zipped"] += j >= 0
                seen["blocked_skip"] += bool(j < 0 and math.isfinite(s.lane_block_pos_m[g + 1])
                                             if g + 1 < s.link_lane_off[u + 1] else False)

    a, _ = run_pair(net, trips, 260, micro=micro, hook=hook)
    assert seen["zipped"] > 100 and seen["blocked_skip"] > 0
    assert a.link_exited[net.link_index["T"]] > 5 and a.link_exited[net.link_index["S"]] > 50


def test_mandatory_and_discretionary_lane_changes():
    """Vehicles for T enter A in lane 0 and must reach lane 2; others change at will."""
    net = turn_lane_network()
    trips = od_trips(net, {("n0", "n4"): 30, ("n0", "n3"): 40}, duration_s=80.0, rng=_rng(6),
                     rounding="stochastic")
    changes = np.zeros(net.n_links, np.int64)

    def hook(step: int, sim: Simulation) -> None:
        if sim.config.backend == "numba":
            changes[:] += _model(sim).link_changes

    a, _ = run_pair(net, trips, 200, hook=hook)
    a_link = net.link_index["A"]
    assert changes[a_link] >= 30  # two mandatory changes per turning vehicle, at least
    assert changes[net.link_index["U"]] + changes[net.link_index["S"]] > 0  # discretionary
    assert a.link_exited[net.link_index["T"]] > 10  # the turners made it


def test_stopped_vehicles_swap_lanes_and_ask_to_merge():
    """Queued vehicles in the wrong lane: mandatory changes into a stopped queue (the
    stopped follower has to wait), merge requests that make the other lane open a gap,
    and two stopped vehicles side by side that each need the other's lane swap."""
    net = crossover_network()
    trips = od_trips(net, {("n0", "nl"): 45, ("n0", "nr"): 45}, duration_s=90.0, rng=_rng(12),
                     rounding="stochastic", vehicle_mix={"car": 1.0})
    swaps: list[tuple[int, int]] = []
    ids: dict[int, list[int]] = {}
    lanes_before: list[np.ndarray] = []

    def hook(step: int, sim: Simulation) -> None:
        mine = ids.setdefault(id(sim), [])
        if step == 0:
            mine += [sim.open_incident("L", 1, pos_m=30.0), sim.open_incident("R", 1, pos_m=30.0)]
        if step == 110:
            for k in mine:
                sim.clear_incident(k)
        if sim.config.backend == "numba":
            lanes_before.append(_model(sim).veh_lane.copy())

    def after(step: int, sim: Simulation) -> None:
        s = _model(sim)
        before = lanes_before[-1]
        changed = np.flatnonzero((before >= 0) & (s.veh_lane >= 0) & (before != s.veh_lane)
                                 & (s.veh_lc_s == sim.time_s))
        for i in changed:
            for c in changed:
                if i < c and before[i] == s.veh_lane[c] and before[c] == s.veh_lane[i]:
                    swaps.append((int(i), int(c)))

    run_pair(net, trips, 240, hook=hook, after=after)
    assert swaps, "no two vehicles swapped lanes"


def test_incidents_block_lanes_and_clear():
    """A lane blocked mid-run (vehicles stop behind it and merge), a full block that
    spills back across the junction, then both cleared."""
    net = turn_lane_network()
    trips = od_trips(net, {("n0", "n4"): 25, ("n0", "n3"): 50}, duration_s=100.0, rng=_rng(7),
                     rounding="stochastic")
    ids: dict[int, list[int]] = {}

    def hook(step: int, sim: Simulation) -> None:
        mine = ids.setdefault(id(sim), [])
        if step == 20:
            mine.append(sim.open_incident("A", 1, lanes=[1], pos_m=180.0, speed_factor=0.7))
            mine.append(sim.open_incident("T", 1, pos_m=60.0))
        if step == 150:
            for k in mine:
                sim.clear_incident(k)

    a, _ = run_pair(net, trips, 260, hook=hook)
    assert a.summary()["refused_entries"] > 0 or a.summary()["trips_completed"] < len(trips)
    assert a.link_exited[net.link_index["T"]] > 0  # after clearing, the turners go on


def test_detectors_events_and_traces():
    """Loop detectors (one lane, all lanes, at the stop line) and traced vehicles,
    read out mid-run on both backends."""
    net = grid_network(2, 3, block_m=120.0, lanes=2, signals=True)
    trips = random_trips(net, n_trips=50, duration_s=100.0, rng=_rng(8))
    readings: dict[str, list[object]] = {"numba": [], "reference": []}

    def setup(sim: Simulation) -> None:
        for k, link in enumerate(net.link_ids[:6]):
            sim.add_loop_detector(f"mid{k}", link, 60.0)
            sim.add_loop_detector(f"line{k}", link, 120.0, lane=k % 2)
            sim.add_loop_detector(f"start{k}", link, 4.0)  # vehicles entering jump over it
        sim.trace(list(range(0, 50, 3)))

    def hook(step: int, sim: Simulation) -> None:
        if step in (60, 140):
            readings[sim.config.backend].append(
                (sim.take_crossings(), sim.take_trajectories(), sim.take_detector_counts()))

    run_pair(net, trips, 200, setup=setup, hook=hook)
    n_events = 0
    for (ca, ta, da), (cb, tb, db) in zip(readings["numba"], readings["reference"], strict=True):
        for x, y in ((ca, cb), (ta, tb), (da, db)):
            for field in x.__dataclass_fields__:
                vx, vy = getattr(x, field), getattr(y, field)
                if isinstance(vx, np.ndarray):
                    npt.assert_allclose(vy, vx, rtol=config.TEST_RTOL, atol=config.TEST_ATOL)
                else:
                    assert vx == vy
        n_events += len(ca)
        assert len(ta) > 0 and da.count.sum() > 0
    assert n_events > 20


def test_buffer_growth_mid_run():
    """Event and trace buffers that fill up mid-run grow the same way on both backends."""
    net = grid_network(1, 4, block_m=100.0, signals=False)
    trips = od_trips(net, {("r0c0", "r0c3"): 20, ("r0c3", "r0c0"): 20}, duration_s=40.0,
                     rng=_rng(9), rounding="stochastic")

    def setup(sim: Simulation) -> None:
        sim.add_loop_detector("d", 0, 50.0)
        sim.trace(list(range(10)))
        s = _model(sim)
        for name in ("tr_veh", "tr_time", "tr_link", "tr_lane", "tr_pos", "tr_speed"):
            setattr(s, name, np.ascontiguousarray(getattr(s, name)[:25]))

    a, _ = run_pair(net, trips, 120, setup=setup)
    assert _model(a).tr_veh.shape[0] > 25


def test_parallel_kernels_match_serial():
    """The threaded kernels (prange) give the serial results: no order dependence on threads."""
    net = turn_lane_network()
    trips = od_trips(net, {("n0", "n4"): 25, ("n0", "n3"): 40}, duration_s=60.0, rng=_rng(10),
                     rounding="stochastic")
    run_pair(net, trips, 150, other="numba-parallel")


def test_reference_contract():
    """Argument checks and the zero-step call, as :func:`core_ext.micro.advance`."""
    net = grid_network(1, 3, signals=False)
    sim = Simulation(net, Trips.empty(), seed=0, config=EngineConfig(backend="reference"))
    s = _model(sim)
    assert advance_reference(s, MicroParams(), 5.0, 1.0, 0) == 5.0
    for bad in ((math.nan, 1.0, 1), (0.0, 0.0, 1), (0.0, 1.0, -1)):
        with pytest.raises(ValueError):
            advance_reference(s, MicroParams(), *bad)
    assert advance_reference(s, MicroParams(), 0.0, 0.5, 3) == 1.5
    assert int(s.counters[nb.C_STEPS]) == 3


if HAVE_HYPOTHESIS:
    @settings(max_examples=6, deadline=None, database=None)
    @given(rows=st.integers(1, 3), cols=st.integers(2, 3), lanes=st.integers(1, 2),
           signals=st.booleans(), block_m=st.sampled_from([60.0, 90.0, 140.0]),
           n_trips=st.integers(5, 60), seed=st.integers(0, 2**32 - 1))
    def test_random_grids(rows, cols, lanes, signals, block_m, n_trips, seed):
        """Random small grids, demands and seeds: the two backends agree every step."""
        net = grid_network(rows, cols, block_m=block_m, lanes=lanes, signals=signals)
        trips = random_trips(net, n_trips=n_trips, duration_s=60.0, rng=_rng(seed))
        run_pair(net, trips, 90)
else:  # pragma: no cover
    @pytest.mark.skip(reason="hypothesis is not installed")
    def test_random_grids():
        pass


# ---------------------------------------------------------------- no-JIT run
_NO_JIT_SCRIPT = """
import json, sys
import numpy as np
{shim}
from twin.demand import od_trips
from twin.importers.grid import grid_network
from twin.simulation import Simulation
net = grid_network(2, 2, block_m=80.0, signals=False)
trips = od_trips(net, {{("r0c0", "r1c1"): 6, ("r1c1", "r0c0"): 6}}, duration_s=20.0,
                 rng=np.random.default_rng(11), rounding="stochastic")
sim = Simulation(net, trips, seed=0)
sim.run(60.0)
s = sim._state
result = {{"summary": sim.summary(), "pos": s.veh_pos_m.tolist(),
          "arrive": [None if x != x else x for x in s.veh_arrive_s.tolist()]}}
"""

# ``core_ext.micro`` reads the kernel's signature from ``run_steps.py_func``, which a
# function is without when NUMBA_DISABLE_JIT=1 makes ``njit`` return it unchanged.
_PY_FUNC_SHIM = """
import core_ext._micro_nb as _nb
if not hasattr(_nb.run_steps, "py_func"):
    _nb.run_steps.py_func = _nb.run_steps
"""


def _run_no_jit(shim: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, NUMBA_DISABLE_JIT="1")
    code = textwrap.dedent(_NO_JIT_SCRIPT.format(shim=shim)) + "print(json.dumps(result))\n"
    return subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=300)


def _compiled_result() -> dict[str, object]:
    """The no-JIT scenario run here, compiled."""
    namespace: dict[str, object] = {}
    exec(textwrap.dedent(_NO_JIT_SCRIPT.format(shim="")), namespace)
    result: dict[str, object] = json.loads(json.dumps(namespace["result"]))
    return result


def test_numba_disabled_jit_matches_compiled():
    """The kernel run as plain Python (NUMBA_DISABLE_JIT=1) gives the compiled results.

    Uses a shim for the ``py_func`` problem (see the xfail test below)."""
    proc = _run_no_jit(_PY_FUNC_SHIM)
    assert proc.returncode == 0, proc.stderr[-2000:]
    no_jit = json.loads(proc.stdout.strip().splitlines()[-1])
    compiled = _compiled_result()
    assert no_jit["summary"] == compiled["summary"]
    assert no_jit["summary"]["trips_completed"] > 0
    npt.assert_allclose(no_jit["pos"], compiled["pos"], rtol=config.TEST_RTOL,
                        atol=config.TEST_ATOL)
    assert no_jit["arrive"] == compiled["arrive"]


def test_micro_imports_with_jit_disabled():
    """``import core_ext.micro`` works with NUMBA_DISABLE_JIT=1 (debugging, coverage)."""
    proc = _run_no_jit("")
    assert proc.returncode == 0, proc.stderr[-2000:]


# ------------------------------------------------------------ emergency vehicles
@pytest.mark.parametrize("signals", [True, False], ids=["signalised", "unsignalised"])
def test_emergency_vehicles_match_reference(signals):
    """Busy two-lane grid with every ninth vehicle on an emergency call: its desired speed,
    red-light crawl, junction priority and vehicles moving aside, kernel = reference."""
    net = grid_network(3, 3, block_m=120.0, lanes=2, signals=signals)
    trips = random_trips(net, n_trips=150, duration_s=120.0, rng=_rng(21))
    emergency = np.arange(0, len(trips), 9)

    def setup(sim: Simulation) -> None:
        sim.set_emergency(emergency, True)

    a, b = run_pair(net, trips, 260, setup=setup)
    assert a.emergency.sum() == emergency.size
    assert a.n_arrived > 100
    if signals:
        assert a.summary()["red_light_runs"] > 0  # emergency vehicles crawled through red
    assert a.summary() == b.summary()


def _dropped_back(seen: set[int]) -> Hook:
    """An ``after`` hook adding to ``seen`` every vehicle whose route position went down in
    the step: a vehicle an emergency vehicle passed across a junction, back over the line."""
    last: dict[int, np.ndarray] = {}

    def after(step: int, sim: Simulation) -> None:
        pos = _model(sim).veh_route_pos.copy()
        before = last.get(id(sim))
        if before is not None and before.shape == pos.shape:
            seen.update(np.flatnonzero(pos < before).tolist())
        last[id(sim)] = pos

    return after


@pytest.mark.parametrize("other", ["reference", "numba-parallel"])
def test_emergency_vehicles_pass_stopped_single_lane_queues(other):
    """A one-lane street jammed behind an incident, its queue spilling back over three
    junctions; emergency vehicles (two cars, a fire engine) join behind the queue and
    pass it, vehicle by vehicle or a few at once where one alone would not fit behind
    them, and across the junctions (the last vehicle beyond the line may drop back over
    it); a fourth goes up to the block, which it does not pass: kernel = reference (and
    = the threaded kernels), lanes ordered without overlap every step."""
    net = grid_network(1, 6, block_m=150.0, lanes=1, signals=False)
    route = [int(net.link_index[f"r0c{j}-r0c{j + 1}"]) for j in range(5)]
    classes = ["car", "motorcycle", "truck", "car", "bus"]
    units: dict[int, list[int]] = {}

    def setup(sim: Simulation) -> None:
        sim.add_vehicles([route] * 70, list(np.linspace(0.0, 140.0, 70)),
                         [classes[j % 5] for j in range(70)])

    def hook(step: int, sim: Simulation) -> None:
        mine = units.setdefault(id(sim), [])
        if step == 60:
            sim.open_incident(route[4], 1, pos_m=100.0)
        if step in (200, 212):
            mine.append(int(sim.add_vehicle(route[:4], sim.time_s, "car", emergency=True)))
        if step == 220:  # a fire engine, longer than the motorcycles and cars it passes
            mine.append(int(sim.add_vehicle(route[:4], sim.time_s, "truck", emergency=True)))
        if step == 230:  # a police car bound through the blocked link
            mine.append(int(sim.add_vehicle(route, sim.time_s, "car", emergency=True)))
        if step == 560:
            for k in list(sim.open_incidents):
                sim.clear_incident(k)

    back: set[int] = set()
    a, b = run_pair(net, Trips.empty(), 640, setup=setup, hook=hook, after=_dropped_back(back))
    s = _model(a)
    assert s.counters[nb.C_PASSES] > 30
    assert back and not s.veh_emergency[sorted(back)].any()  # passed over junctions
    first, second, fire, through = units[id(a)]
    assert (a.arrive_s[[first, second, fire]] < 560.0).all()  # before the clearing
    assert not a.arrive_s[through] < 560.0  # held by the block until it cleared
    assert a.summary() == b.summary()


@pytest.mark.parametrize("signals", [True, False], ids=["signalised", "unsignalised"])
def test_emergency_vehicles_pass_through_a_gridlock(signals):
    """A one-lane grid jammed solid behind an incident, with a vehicle in forty departing
    late on an emergency call: they pass the queues of full links one after the other (a
    chain of passes across junctions), kernel = reference."""
    net = grid_network(3, 4, block_m=120.0, lanes=1, signals=signals)
    trips = random_trips(net, n_trips=1500, duration_s=400.0, rng=_rng(3))
    late = np.flatnonzero(trips.depart_s > 250.0)[::40]

    def setup(sim: Simulation) -> None:
        sim.set_emergency(late, True)

    def hook(step: int, sim: Simulation) -> None:
        if step == 100:
            sim.open_incident(4, 1, pos_m=60.0)

    a, b = run_pair(net, trips, 700, setup=setup, hook=hook)
    s = _model(a)
    assert a.n_active > 200  # the jam is real
    assert s.counters[nb.C_PASSES] > 80
    inserted = late[np.isfinite(a.insert_s[late])]
    assert np.isfinite(a.arrive_s[inserted]).sum() >= inserted.size - 1  # one waits at the block
    assert a.summary() == b.summary()


def test_emergency_vehicles_pass_queues_on_two_lane_roads():
    """A signalised two-lane grid with an incident closing a link (both lanes) and one
    closing a lane, a vehicle in fifteen on an emergency call: queues filling both lanes
    are passed where nobody can move aside, beside lane changes, merges and vehicles
    moving aside, kernel = reference."""
    net = grid_network(3, 3, block_m=120.0, lanes=2, signals=True)
    trips = random_trips(net, n_trips=900, duration_s=300.0, rng=_rng(22))
    units = np.flatnonzero(trips.depart_s > 100.0)[::15]

    def setup(sim: Simulation) -> None:
        sim.set_emergency(units, True)

    def hook(step: int, sim: Simulation) -> None:
        if step == 50:
            sim.open_incident("r0c1-r1c1", 2, pos_m=60.0)
            sim.open_incident("r2c0-r1c0", 1, pos_m=80.0)

    a, b = run_pair(net, trips, 350, setup=setup, hook=hook)
    assert _model(a).counters[nb.C_PASSES] > 20
    assert np.isfinite(a.arrive_s[units]).sum() > units.size // 2
    assert a.summary() == b.summary()
