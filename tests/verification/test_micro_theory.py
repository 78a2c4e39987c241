"""Traffic-flow theory the microscopic engine must reproduce.

The engine (semantics in :mod:`core_ext._micro_nb`) moves every vehicle with the
Intelligent Driver Model (IDM, ``delta = 4``, ballistic update), lets fixed-time
signals and priority rules govern the junctions and blocks lanes for incidents.
Each test states the theory it checks in its docstring; the figures quoted in
the xfail reasons were measured with the default parameters
(:data:`core_ext.micro.DEFAULT_CLASS_PARAMS`, ``dt = 1 s``).

Corridors are built by :mod:`tests.verification._corridors`.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from core_ext.micro import DEFAULT_CLASS_PARAMS, ClassParams, MicroParams
from tests.verification._corridors import (
    chain_connections,
    corridor,
    corridor_trips,
    idm_equilibrium_capacity,
)
from twin.demand import VEHICLE_CLASSES, DemandError, TripRecord, Trips, random_trips
from twin.importers.grid import grid_network
from twin.network import Network, NetworkError, SignalPrograms
from twin.simulation import (
    VEH_ACTIVE,
    VEH_ARRIVED,
    VEH_UNROUTABLE,
    VEH_WAITING,
    EngineConfig,
    Simulation,
)

REPO = Path(__file__).resolve().parents[2]
CAR = DEFAULT_CLASS_PARAMS["car"]
CITY_SPEED_MPS = 13.89  # 50 km/h


def car_capacity_vph(v_limit_mps: float = CITY_SPEED_MPS) -> float:
    """Maximum of the IDM equilibrium flow of cars (veh/h/lane) at this limit."""
    q, _ = idm_equilibrium_capacity(CAR.length_m, CAR.min_gap_m, CAR.headway_s,
                                    min(v_limit_mps * CAR.speed_factor, CAR.max_speed_mps))
    return 3600.0 * q


def flow_vph(times_s: np.ndarray) -> float:
    """Flow from sorted passage times: (n - 1) headways over their span."""
    return 3600.0 * (len(times_s) - 1) / float(times_s[-1] - times_s[0])


def due_waiting(sim: Simulation) -> int:
    """Vehicles whose departure time has come but that are not on the road yet."""
    state = np.asarray(sim.vehicle_state)
    return int(((sim.trips.depart_s <= sim.time_s) & (state == VEH_WAITING)).sum())


# ----------------------------------------------------------------------------- 1
@pytest.mark.parametrize(("vclass", "limit_mps", "dt_s"), [
    ("car", 25.0, 1.0),          # v0 = the limit (car top speed 33.3)
    ("car", CITY_SPEED_MPS, 0.5),
    ("motorcycle", 25.0, 1.0),   # v0 = the motorcycle's max_speed 22.2 < limit
    ("bus", 20.0, 1.0),          # v0 = speed_factor 0.9 x limit = 18
])
def test_free_flow_travel_time_of_a_lone_vehicle(vclass, limit_mps, dt_s):
    """A lone vehicle on an empty, unsignalised corridor drives at its desired speed.

    ``v0 = min(max_speed, limit * speed_factor)``; it is inserted at ``v0``
    (empty lane) at the first step start ``t >= depart``, and at ``v = v0`` the
    IDM free-road acceleration ``a (1 - (v/v0)^4)`` is zero, so it keeps
    ``v0`` across the junctions: travel time = total length / v0 (+ the wait
    for the first step, < dt; arrival is interpolated within the step).
    """
    lengths = [300.0, 450.0, 250.0, 600.0]
    net = corridor(lengths, speed_mps=limit_mps)
    depart = 3.7
    sim = Simulation(net, corridor_trips(net, [depart], vclass), seed=0,
                     config=EngineConfig(dt_s=dt_s))
    sim.run(300.0)
    p = DEFAULT_CLASS_PARAMS[vclass]
    v0 = min(p.max_speed_mps, limit_mps * p.speed_factor)
    free_tt = sum(lengths) / v0
    assert sim.n_arrived == 1
    tt = float(sim.travel_time_s[0])
    assert abs(tt - free_tt) < 1.0, (tt, free_tt)
    wait = math.ceil(depart / dt_s) * dt_s - depart
    assert tt == pytest.approx(wait + free_tt, abs=1e-6)


# ----------------------------------------------------------------------------- 2
def test_saturation_flow_at_a_signal():
    """Queue discharge at a fixed-time signal runs at the saturation flow.

    Single-lane approach, 120 s red builds a queue of 30 cars, then 200 s
    green. Saturation headway (HCM field method): the time between the 4th
    and the last queued vehicle crossing the stop line divided by the number
    of headways, i.e. excluding the start-up lost time of the first 4. For
    cars, base saturation flow 1,700-2,100 veh/h/lane (HCM base 1,900).
    """
    net = corridor([400.0, 500.0], signal_at=0, phases=[("r", 120.0), ("G", 200.0)])
    n_cars = 30
    sim = Simulation(net, corridor_trips(net, np.arange(n_cars) * 3.0), seed=0)
    sim.add_loop_detector("stop", "l0", 400.0)
    sim.run(119.0)
    assert int(sim.link_queue_veh[0]) == n_cars  # the whole platoon queues at the red
    sim.run(320.0)
    t = np.sort(sim.take_crossings().time_s)
    assert len(t) == n_cars and t[0] >= 120.0  # nobody crossed on red
    sat = flow_vph(t[3:])  # headways after the 4th vehicle
    assert 1700.0 <= sat <= 2100.0, f"saturation flow {sat:.0f} veh/h/lane"


# ----------------------------------------------------------------------------- 3
def test_capacity_of_queue_discharge_matches_the_fundamental_diagram():
    """The outflow of a standing queue carries the maximum equilibrium flow.

    IDM equilibrium gap ``s_e(v) = (s0 + v T) / sqrt(1 - (v/v0)^4)``; flow
    ``q(v) = v / (s_e(v) + L)`` has a maximum ``q_max`` at some ``v* < v0``
    (computed numerically from the car's class parameters: 1953 veh/h
    for 50 km/h). The simpler ``s0 + v T`` (no free-road term) peaks
    at ``v0`` with 2452 veh/h, an upper bound for any stationary car flow.
    A single-lane corridor with more demand than that: a long red stores a
    queue of >100 cars, the green lets it discharge; a detector 300 m
    downstream sees the stationary discharge flow while the queue lasts.
    It must be ``q_max`` within 15 % and at most 5 % above it.
    """
    q_max = car_capacity_vph()
    q_upper = 3600.0 * CITY_SPEED_MPS / (CAR.min_gap_m + CITY_SPEED_MPS * CAR.headway_s
                                         + CAR.length_m)
    net = corridor([1500.0, 1000.0], signal_at=0, phases=[("r", 400.0), ("G", 3000.0)])
    depart = np.arange(0.0, 1200.0, 3600.0 / 3000.0)  # 3000 veh/h demand
    sim = Simulation(net, corridor_trips(net, depart), seed=0)
    sim.add_loop_detector("down", "l1", 300.0)
    sim.run(400.0)
    assert int(sim.link_queue_veh[0]) > 100
    sim.run(620.0)
    sim.take_crossings()
    sim.run(980.0)
    t = np.sort(sim.take_crossings().time_s)
    assert int(sim.link_vehicle_count[0]) > 20  # the queue still feeds the window
    q = flow_vph(t)
    assert 0.85 * q_max <= q <= 1.05 * q_max, f"measured {q:.0f} veh/h, q_max {q_max:.0f}"
    assert q <= q_upper


def test_capacity_of_an_overloaded_corridor_fed_from_its_origin():
    """Demand above capacity at the origin: the corridor carries its capacity.

    A 2 km single-lane corridor with 3600 veh/h demanded at its origin
    (twice ``q_max`` of the IDM equilibrium, see the previous test). After a
    warm-up, a detector downstream over a stationary 10 min window must
    measure ``q_max`` within 15 % and at most 5 % above it.
    """
    q_max = car_capacity_vph()
    net = corridor([500.0, 500.0, 500.0, 500.0])
    sim = Simulation(net, corridor_trips(net, np.arange(0.0, 1200.0, 1.0)), seed=0)
    sim.add_loop_detector("down", "l3", 250.0)
    sim.run(300.0)
    sim.take_crossings()
    sim.run(900.0)
    t = np.sort(sim.take_crossings().time_s)
    assert due_waiting(sim) > 100  # the demand is really there
    q = flow_vph(t)
    assert 0.85 * q_max <= q <= 1.05 * q_max, f"measured {q:.0f} veh/h, q_max {q_max:.0f}"


LANE_DROP_REASON = (
    "engine finding: with the default merge_zone_m = 0 (zipper off) a 2 -> 1 lane drop at a "
    "junction discharges only ~1060 veh/h here (54 % of q_max 1953): the front cars of both "
    "lanes aim at the same gap, the loser is refused at the line and reset to speed 0, so the "
    "merge runs stop-and-go. The zipper (merge_zone_m = 50, test below) reaches ~94 %, but it "
    "is off by default because it raises the Jatinegara demo's mean travel time (338 -> "
    "449-552 s): the merge of link 642 (2-lane primary, rank 5) into the 10.5 m link 95 then "
    "sends a regular stream at ~3 s headways, under yield_gap_s = 3.5 s, so the minor "
    "approach 88 (rank 1) at the same node starves (306 -> 194 veh/h), its vehicles hold the "
    "single lane of 1076 and the queue spills back over a chain of one-lane links. The "
    "stop-and-go merge's refusals were the minor road's gaps; the fix belongs in the yield "
    "rule (gap acceptance under a saturated priority stream), not the merge."
)


def _lane_drop_flow(micro: MicroParams) -> float:
    q_max = car_capacity_vph()
    net = corridor([400.0, 400.0, 400.0, 400.0], lanes=[2, 2, 1, 1])
    sim = Simulation(net, corridor_trips(net, np.arange(0.0, 1500.0, 1.2)), seed=0,
                     config=EngineConfig(micro=micro))
    sim.add_loop_detector("down", "l3", 200.0)
    sim.run(300.0)
    sim.take_crossings()
    sim.run(900.0)
    assert int(sim.link_queue_veh[1]) > 0 or int(sim.link_vehicle_count[1]) > 80
    q = flow_vph(np.sort(sim.take_crossings().time_s))
    assert 0.85 * q_max <= q <= 1.05 * q_max, f"measured {q:.0f} veh/h, q_max {q_max:.0f}"
    return q


@pytest.mark.xfail(strict=True, reason=LANE_DROP_REASON)
def test_capacity_behind_a_lane_drop():
    """A lane drop bottleneck discharges at about one lane's capacity.

    Two lanes (queued, overloaded: 3000 veh/h) join into one lane at a
    junction; the single lane downstream of a queue runs at its capacity,
    ``q_max`` within 15 % (merge friction at most) and at most 5 % above.
    """
    _lane_drop_flow(MicroParams())


def test_capacity_behind_a_lane_drop_with_zipper_merge():
    """The same lane drop with the zipper merge on (``merge_zone_m = 50``): the two
    lanes take turns before the line and the single lane runs at
    its capacity (same bounds as above)."""
    _lane_drop_flow(MicroParams(merge_zone_m=50.0))


# ----------------------------------------------------------------------------- 4
def test_conservation_and_no_overlap_every_step():
    """Vehicles are conserved and never overlap, on a congested signalised grid.

    Every step: vehicles inserted = arrived + on the road; vehicles due by
    now (``depart_s <= t``) = arrived + active + still waiting; nobody is on
    the road before its departure; the per-link counts add up. In every lane
    the fronts of consecutive vehicles differ by at least the leader's
    length (a vehicle occupies ``[pos - length, pos]``).
    """
    net = grid_network(4, 4, block_m=150.0, lanes=2)
    trips = random_trips(net, n_trips=2200, duration_s=500.0, rng=np.random.default_rng(5))
    sim = Simulation(net, trips, seed=5)
    lengths = np.array([c.length_m for c in sim.config.class_params])
    depart = np.asarray(trips.depart_s)
    max_active = 0
    for _ in range(600):
        sim.step()
        state = np.asarray(sim.vehicle_state)
        inserted = np.isfinite(sim.insert_s)
        arrived = state == VEH_ARRIVED
        active = state == VEH_ACTIVE
        waiting = state == VEH_WAITING
        due = depart <= sim.time_s
        assert int(inserted.sum()) == int(arrived.sum() + active.sum())
        assert int((due & (state != VEH_UNROUTABLE)).sum()) == int(
            arrived.sum() + active.sum() + (waiting & due).sum())
        assert not (inserted & ~due).any()
        assert np.isfinite(sim.arrive_s[arrived]).all() and np.isnan(sim.arrive_s[~arrived]).all()
        assert int(sim.link_vehicle_count.sum()) == int(active.sum())
        assert (np.asarray(sim.link_entered) - np.asarray(sim.link_exited)
                == sim.link_vehicle_count).all()
        # overlap
        idx = np.flatnonzero(active)
        link = np.asarray(sim.vehicle_link)[idx]
        lane = sim.vehicle_lane[idx]
        pos = np.asarray(sim.vehicle_pos_m)[idx]
        assert (pos >= -1e-9).all() and (pos <= net.link_length_m[link] + 1e-9).all()
        order = np.lexsort((-pos, lane, link))
        link, lane, pos = link[order], lane[order], pos[order]
        ln = lengths[np.asarray(sim.vehicle_class)[idx][order]]
        same = (link[1:] == link[:-1]) & (lane[1:] == lane[:-1])
        spacing = pos[:-1] - pos[1:]
        bad = np.flatnonzero(same & (spacing < ln[:-1] - 1e-9))
        assert not bad.size, (f"t={sim.time_s}: vehicles {idx[order][bad[0]]} and "
                              f"{idx[order][bad[0] + 1]} overlap on link {link[bad[0]]} lane "
                              f"{lane[bad[0]]}: spacing {spacing[bad[0]]:.3f} m < {ln[bad[0]]} m")
        max_active = max(max_active, int(active.sum()))
    assert max_active > 300  # it was congested
    assert sim.summary()["refused_entries"] > 0


# ----------------------------------------------------------------------------- 5
def _incident_corridor():
    """Two lanes: 3000 m upstream link, 1200 m incident link, 400 m exit link.

    The upstream link is long enough to store the whole incident queue, so it
    never reaches the origin (where insertion would meter it, see above).
    """
    return corridor([3000.0, 1200.0, 400.0], lanes=2)


def test_incident_blocking_one_of_two_lanes():
    """A lane-blocking incident cuts throughput; its queue grows and then dissolves.

    Two-lane corridor at 70 % of its capacity (``q_in`` = 2735 veh/h of
    2 x 1953). One lane blocked mid-link for ``T = 15`` min: throughput past
    the block drops to what the merge into one lane passes (HCM: one of two
    lanes blocked leaves ~35 % of the capacity; in any case less than one
    lane's ``q_max``); the queue upstream grows by ``(q_in - q_block) T``
    (deterministic queueing, measured as the vertical queue from cumulative
    curves: vehicles due at the block at free flow minus vehicles past it);
    after clearance it discharges at the two-lane capacity and dissolves
    ``T (q_in - q_block) / (2 q_max - q_in)`` later (~19 min here). The
    vehicles on the upstream links must return to their pre-incident count
    within 1.5 times that, and not much sooner than capacity allows.
    """
    q_cap = 2 * car_capacity_vph()
    q_in = 0.7 * q_cap
    net = _incident_corridor()
    depart = np.arange(0.0, 6000.0, 3600.0 / q_in)
    sim = Simulation(net, corridor_trips(net, depart), seed=0)
    sim.add_loop_detector("down", "l2", 200.0)
    sim.add_loop_detector("block", "l1", 820.0)
    ff_to_block_s = (3000.0 + 820.0) / CITY_SPEED_MPS
    passed: list[float] = []

    def vertical_queue() -> int:
        cr = sim.take_crossings()
        passed.extend(cr.time_s[cr.detector == 1].tolist())
        return int((depart + ff_to_block_s <= sim.time_s).sum()) - len(passed)

    def upstream_count() -> int:
        c = sim.link_vehicle_count
        return int(c[0] + c[1]) + due_waiting(sim)

    sim.run(600.0)
    sim.take_detector_counts()
    sim.run(900.0)
    before = sim.take_detector_counts().count[0] * 12.0  # veh/h over 5 min
    base_count, base_vq = upstream_count(), vertical_queue()
    assert before == pytest.approx(q_in, rel=0.05)

    inc = sim.open_incident("l1", lanes_blocked=1, pos_m=800.0)
    counts = [base_count]
    for k in range(1, 16):
        sim.run(900.0 + 60.0 * k)
        counts.append(upstream_count())
    vq_at_clear = vertical_queue() - base_vq
    during = sim.take_detector_counts()
    q_block = during.count[0] * 3600.0 / during.interval_s
    sim.clear_incident(inc)
    assert 0.0 < q_block < 0.5 * before
    assert q_block < 1.05 * car_capacity_vph()
    assert all(b > a for a, b in zip(counts[2:], counts[3:], strict=False))  # grows while open
    # the queue stored what the block held back (q_block over the whole 15 min is a bit
    # higher than its stationary value: the first minute passed the demand)
    assert vq_at_clear == pytest.approx((q_in - q_block) * 900.0 / 3600.0, rel=0.1)
    assert counts[-1] - base_count == pytest.approx(vq_at_clear, rel=0.15)
    assert due_waiting(sim) <= 2  # the queue stayed on the road

    t_clear = 900.0 * (q_in - q_block) / (q_cap - q_in)
    cleared_at = None
    t = 1800.0
    while t < 1800.0 + 1.5 * t_clear:
        t += 60.0
        sim.run(t)
        if upstream_count() <= base_count + 10:
            cleared_at = t - 1800.0
            break
    assert cleared_at is not None, (f"{upstream_count() - base_count} vehicles still queued "
                                    f"{1.5 * t_clear:.0f} s after clearance")
    assert cleared_at >= 0.8 * t_clear  # no faster than the two-lane capacity allows
    sim.take_detector_counts()
    sim.run(sim.time_s + 600.0)
    after = sim.take_detector_counts()
    assert after.count[0] * 3600.0 / after.interval_s == pytest.approx(q_in, rel=0.08)
    assert abs(vertical_queue() - base_vq) <= 3


def test_incident_blocking_every_lane_passes_nobody():
    """With every lane blocked, nothing passes the block (flow 0), until it clears."""
    net = _incident_corridor()
    sim = Simulation(net, corridor_trips(net, np.arange(0.0, 1500.0, 2.0)), seed=0)
    sim.add_loop_detector("past", "l1", 1000.0)
    sim.run(600.0)
    block = 800.0
    link = np.asarray(sim.vehicle_link)
    past = set(np.flatnonzero(((link == 1) & (np.asarray(sim.vehicle_pos_m) > block))
                              | (link == 2)).tolist())
    inc = sim.open_incident("l1", lanes_blocked=2, pos_m=block)
    sim.take_crossings()
    arrived_before = sim.n_arrived
    for _ in range(600):
        sim.step()
        on_l1 = np.asarray(sim.vehicle_link) == 1
        beyond = set(np.flatnonzero(on_l1 & (np.asarray(sim.vehicle_pos_m) > block)).tolist())
        assert beyond <= past
    crossed = set(sim.take_crossings().vehicle.tolist())
    assert crossed <= past
    assert sim.n_arrived - arrived_before <= len(past)
    assert int(sim.link_vehicle_count[0]) > 100  # queued up behind it
    sim.clear_incident(inc)
    sim.run(sim.time_s + 300.0)
    assert len(sim.take_crossings()) > 100


# ----------------------------------------------------------------------------- 6
_DETERMINISM_SCRIPT = """
import hashlib, json, sys
import numpy as np
from core_ext.micro import MicroParams
from twin.demand import random_trips
from twin.importers.grid import grid_network
from twin.simulation import EngineConfig, Simulation

net = grid_network(4, 4, block_m=150.0, lanes=2)
trips = random_trips(net, n_trips=1800, duration_s=400.0, rng=np.random.default_rng(7))
micro = MicroParams(parallel_min_vehicles=0) if sys.argv[1] == "parallel" else MicroParams()
cfg = EngineConfig(reroute_share=0.2, reroute_period_s=60.0, micro=micro)
sim = Simulation(net, trips, seed=11, config=cfg)
for k, link in enumerate((5, 17, 30)):
    sim.add_loop_detector(f"d{k}", link, 100.0)
sim.run(200.0)
inc = sim.open_incident(17, 1, pos_m=75.0)
sim.run(400.0)
sim.clear_incident(inc)
sim.run(700.0)
cr = sim.take_crossings()
h = hashlib.sha256()
for a in (sim.arrive_s, sim.insert_s, sim.vehicle_pos_m, sim.vehicle_speed_mps, cr.detector,
          cr.vehicle, cr.time_s, cr.speed_mps, cr.signal):
    h.update(np.ascontiguousarray(a).tobytes())
print(json.dumps({"summary": sim.summary(), "hash": h.hexdigest(), "crossings": len(cr)}))
"""


def _scenario_run(seed: int = 3) -> tuple[dict, np.ndarray, tuple[np.ndarray, ...]]:
    net = grid_network(3, 4, block_m=150.0, lanes=2)
    trips = random_trips(net, n_trips=900, duration_s=300.0, rng=np.random.default_rng(seed))
    sim = Simulation(net, trips, seed=seed, config=EngineConfig(reroute_share=0.3,
                                                                reroute_period_s=45.0))
    sim.add_loop_detector("a", 3, 75.0)
    sim.add_loop_detector("b", 10, 140.0, lane=1)
    sim.run(500.0)
    cr = sim.take_crossings()
    return sim.summary(), np.array(sim.arrive_s), (cr.detector, cr.vehicle, cr.time_s,
                                                   cr.speed_mps, cr.signal, cr.lane)


def test_determinism_same_seed_same_results():
    """The same scenario and seed give identical summary, arrivals and crossings."""
    s1, arr1, cr1 = _scenario_run()
    s2, arr2, cr2 = _scenario_run()
    assert s1 == s2
    np.testing.assert_array_equal(arr1, arr2)
    assert len(cr1[0]) > 50
    for a, b in zip(cr1, cr2, strict=True):
        np.testing.assert_array_equal(a, b)


def test_determinism_across_threads_and_kernels():
    """Serial and parallel kernels, 1 or 2 numba threads: bit-identical runs.

    The parallel phases read only the state at ``t`` and write per lane or
    per link, so the result may not depend on the thread count or schedule.
    """
    runs = {}
    procs = {}
    for threads in ("1", "2"):
        for mode in ("serial", "parallel"):
            env = dict(os.environ, NUMBA_NUM_THREADS=threads, PYTHONPATH=str(REPO))
            procs[(threads, mode)] = subprocess.Popen(
                [sys.executable, "-c", _DETERMINISM_SCRIPT, mode], cwd=REPO, env=env,
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for key, p in procs.items():
        out, err = p.communicate(timeout=600)
        assert p.returncode == 0, err
        runs[key] = json.loads(out.strip().splitlines()[-1])
    first = runs[("1", "serial")]
    assert first["crossings"] > 100 and first["summary"]["trips_completed"] > 0
    for key, r in runs.items():
        assert r == first, key


# ----------------------------------------------------------------------------- 7
def test_snapshot_restore_repeats_the_run():
    """Restoring a snapshot and running the same 300 s repeats every record.

    Re-routing (seeded rng), an incident open across the snapshot and
    cleared after it, detectors and traced vehicles are all part of it.
    """
    net = grid_network(3, 4, block_m=150.0, lanes=2)
    trips = random_trips(net, n_trips=1200, duration_s=600.0, rng=np.random.default_rng(4))
    sim = Simulation(net, trips, seed=4, config=EngineConfig(reroute_share=0.25,
                                                             reroute_period_s=50.0))
    sim.add_loop_detector("a", 3, 75.0)
    sim.add_loop_detector("b", 12, 140.0)
    inc = sim.open_incident(12, 1, pos_m=100.0)
    sim.trace([5, 400, 700])
    sim.run(300.0)
    sim.take_crossings()
    sim.take_trajectories()
    sim.take_detector_counts()
    snap = sim.snapshot()

    def branch():
        sim.run(420.0)
        sim.clear_incident(inc)
        sim.run(600.0)
        cr = sim.take_crossings()
        tr = sim.take_trajectories()
        counts = sim.take_detector_counts()
        return (sim.summary(), np.array(sim.arrive_s), np.array(sim.vehicle_pos_m),
                [np.array(a) for a in (cr.detector, cr.vehicle, cr.time_s, cr.speed_mps)],
                [np.array(a) for a in (tr.vehicle, tr.time_s, tr.pos_m, tr.speed_mps)],
                counts.count.copy(), counts.occupancy_s.copy(),
                [np.array(sim.route_of(v)) for v in range(0, len(trips), 37)])

    first = branch()
    sim.restore(snap)
    assert sim.time_s == 300.0 and sim.open_incidents
    second = branch()
    assert first[0] == second[0]
    assert len(first[3][0]) > 50
    for a, b in zip(first[1:], second[1:], strict=True):
        if isinstance(a, list):
            for x, y in zip(a, b, strict=True):
                np.testing.assert_array_equal(x, y)
        else:
            np.testing.assert_array_equal(a, b)


# ----------------------------------------------------------------------------- 8
@pytest.mark.parametrize("bottleneck", ["red_signal", "full_block"])
def test_spill_back_across_the_upstream_junction(bottleneck):
    """A queue longer than its link spills back onto the link before it.

    Corridor l0 (400 m) -> l1 (120 m) -> l2 (300 m). The bottleneck is a
    red at the end of l1 or a block of every lane of l2 at 30 m. l1 stores
    about ``length / (L + s0)`` cars; then the car at the front of l0 finds
    no room on l1 and stops at the end of l0: the queue crosses the
    junction, with l1 full and nobody crossing the red.
    """
    if bottleneck == "red_signal":
        net = corridor([400.0, 120.0, 300.0], signal_at=1, phases=[("r", 600.0), ("G", 600.0)])
        stored_on_l1 = 120.0
    else:
        net = corridor([400.0, 120.0, 300.0])
        stored_on_l1 = 120.0 + 30.0
    sim = Simulation(net, corridor_trips(net, np.arange(0.0, 300.0, 4.0)), seed=0)
    if bottleneck == "full_block":
        inc = sim.open_incident("l2", lanes_blocked=1, pos_m=30.0)
    sim.run(450.0)
    jam_spacing = CAR.length_m + CAR.min_gap_m
    counts = sim.link_vehicle_count
    queue = sim.link_queue_veh
    assert int(counts[1]) >= int(120.0 / jam_spacing) - 1  # l1 is full
    assert int(queue[1]) == int(counts[1])
    assert int(queue[0]) >= 10  # the queue is on l0 too
    on_l0 = np.flatnonzero(np.asarray(sim.vehicle_link) == 0)
    front = on_l0[np.argmax(np.asarray(sim.vehicle_pos_m)[on_l0])]
    assert sim.vehicle_pos_m[front] > 400.0 - 2 * jam_spacing  # held at the junction
    assert sim.vehicle_speed_mps[front] <= sim.config.micro.stop_speed_mps
    assert sim.n_arrived == 0
    total_stored = int(counts[1] + counts[2])
    assert total_stored <= stored_on_l1 / jam_spacing + 2
    assert sim.summary()["red_light_runs"] == 0
    if bottleneck == "full_block":
        sim.clear_incident(inc)
    sim.run(1200.0)
    assert sim.n_arrived == len(sim.trips)


# ----------------------------------------------------------------------------- 9
def test_rejects_a_route_with_a_gap():
    """A route whose consecutive links do not meet is rejected, naming the trip and links."""
    net = corridor([100.0, 100.0, 100.0])
    with pytest.raises(ValueError, match=r"trip 'bad'.*gap.*'l0'.*'l2'"):
        Trips.from_records(net, [TripRecord("bad", "car", 0.0, route=[0, 2])])
    # The same trips built without the demand checks: the simulation rejects them.
    trips = Trips(("ok", "bad"), np.array([1, 1]), np.array([0, 0]), np.array([3, 3]),
                  np.array([0.0, 1.0]), np.array([0, 3, 5]), np.array([0, 1, 2, 0, 2]))
    with pytest.raises(ValueError, match=r"trip 'bad'.*'l0' does not lead to 'l2'"):
        Simulation(net, trips, seed=0)


def test_rejects_a_route_through_a_missing_lane_connection():
    """Links that meet at a node but have no lane connection cannot be driven in sequence."""
    lengths = [100.0, 100.0, 100.0]
    conns = [c[:-1] for c in chain_connections([1, 1, 1])]  # drop l1 -> l2
    base = corridor(lengths)
    net = Network.from_arrays(
        name="cut", node_ids=base.node_ids, node_lon=base.node_lon, node_lat=base.node_lat,
        link_ids=base.link_ids, link_from=base.link_from, link_to=base.link_to,
        link_length_m=base.link_length_m, link_lanes=base.link_lanes,
        link_speed_limit_mps=base.link_speed_limit_mps,
        link_capacity_vph=base.link_capacity_vph, connections=tuple(conns))
    trips = Trips.from_records(net, [TripRecord("cut-trip", "car", 0.0, route=["l0", "l1", "l2"])])
    with pytest.raises(ValueError, match=r"trip 'cut-trip'.*'l1' has no lane connection to 'l2'"):
        Simulation(net, trips, seed=0)


def test_rejects_a_vehicle_class_without_parameters():
    """A class index beyond the parameter table is rejected, naming the trip/vehicle and class."""
    net = corridor([100.0, 100.0])
    n = len(VEHICLE_CLASSES)
    with pytest.raises(DemandError, match=rf"trip 'x'.*unknown vehicle class code {n}"):
        Trips.from_arrays(net, trip_ids=["x"], vehicle_class=[n], origin_node=[0],
                          destination_node=[2], depart_s=[0.0])
    trips = Trips(("a", "x"), np.array([1, n]), np.array([0, 0]), np.array([2, 2]),
                  np.array([0.0, 0.0]), np.array([0, 2, 4]), np.array([0, 1, 0, 1]))
    with pytest.raises(ValueError, match=rf"vehicle 1: class {n} has no parameters"):
        Simulation(net, trips, seed=0)


def test_rejects_signal_states_shorter_than_the_signal_indices():
    """State strings must cover every signal index the program's connections use."""
    lengths = [100.0, 100.0, 100.0]
    conns = chain_connections([2, 2, 2])
    from_link = conns[0]
    prog = np.where(from_link == 0, 0, -1).astype(np.int32)
    sig_index = np.where(from_link == 0, conns[1], -1).astype(np.int32)  # lane 1 uses index 1
    short = SignalPrograms(program_ids=("J1",), program_node=np.array([1], np.int32),
                           offset_s=np.zeros(1), phase_offsets=np.array([0, 2], np.int64),
                           phase_duration_s=np.array([30.0, 30.0]), phase_state=("G", "r"))
    kw = dict(name="sig", node_ids=["n0", "n1", "n2", "n3"], node_lon=[106.8, 106.81, 106.82, 106.83],
              node_lat=[-6.2] * 4, link_ids=["l0", "l1", "l2"], link_from=[0, 1, 2],
              link_to=[1, 2, 3], link_length_m=lengths, link_lanes=[2, 2, 2],
              link_speed_limit_mps=[13.89] * 3, link_capacity_vph=[3600.0] * 3,
              connections=conns, conn_program=prog, conn_signal_index=sig_index)
    with pytest.raises(NetworkError, match=r"'l0' -> 'l1': signal index 1 is outside program 'J1'"):
        Network.from_arrays(**kw, signals=short)
    good = dataclasses.replace(short, phase_state=("GG", "rr"))
    net = Network.from_arrays(**kw, signals=good)
    trips = corridor_trips(net, [0.0])
    Simulation(net, trips, seed=0)  # the good one loads
    broken = dataclasses.replace(net, signals=short)  # bypasses the network's own checks
    with pytest.raises(ValueError, match=r"signal program 'J1'.*signal index 1.*1 characters"):
        Simulation(broken, trips, seed=0)


@pytest.mark.parametrize("field", [f.name for f in dataclasses.fields(ClassParams)])
@pytest.mark.parametrize("value", [float("nan"), -1.0, 0.0, float("inf")])
def test_rejects_bad_class_params(field, value):
    """Every IDM class parameter must be a finite number > 0; the message names it."""
    kwargs = dataclasses.asdict(CAR) | {field: value}
    with pytest.raises(ValueError, match=rf"ClassParams\.{field} must be a finite number > 0"):
        ClassParams(**kwargs)


@pytest.mark.parametrize(("kwargs", "name"), [
    ({"dt_s": float("nan")}, "dt_s"),
    ({"dt_s": -1.0}, "dt_s"),
    ({"dt_s": 0.0}, "dt_s"),
    ({"reroute_period_s": -60.0}, "reroute_period_s"),
    ({"reroute_share": float("nan")}, "reroute_share"),
    ({"reroute_share": -0.1}, "reroute_share"),
    ({"gridlock_after_s": float("nan")}, "gridlock_after_s"),
    ({"class_params": tuple(DEFAULT_CLASS_PARAMS.values())[:3]}, "class_params"),
])
def test_rejects_bad_engine_config(kwargs, name):
    """``EngineConfig`` values out of range are rejected with the field's name."""
    with pytest.raises(ValueError, match=rf"EngineConfig\.{name}"):
        EngineConfig(**kwargs)


@pytest.mark.parametrize(("field", "value"), [
    ("b_emergency_mps2", float("nan")), ("clear_s", -1.0), ("politeness", float("nan")),
    ("politeness", -0.5), ("loop_length_m", -2.0), ("parallel_min_vehicles", -1),
    ("keep_clear_m", -1.0), ("keep_clear_m", float("nan")),
])
def test_rejects_bad_micro_params(field, value):
    """``MicroParams`` (inside ``EngineConfig.micro``) reject NaN and negative values by name."""
    with pytest.raises(ValueError, match=rf"MicroParams\.{field}"):
        MicroParams(**{field: value})
