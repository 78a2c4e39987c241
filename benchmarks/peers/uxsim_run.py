"""Run the scenario in UXsim (``python -m benchmarks.peers.uxsim_run WORKDIR``).

The World is built from the Kota :class:`~twin.network.Network` arrays of the
scenario (the same ones Kota simulates):

- a node per Kota node; a signalised node gets the Kota/SUMO fixed-time
  program as UXsim's ``signal`` (phase durations) and ``signal_offset`` (SUMO's
  offset: UXsim's offset delays the program as SUMO's does);
- a link per Kota link: ``length``, ``free_flow_speed`` = speed limit,
  ``number_of_lanes`` = lanes, ``jam_density_per_lane`` = 1 / (car length +
  minimum gap) of the scenario's car (1/6.5 veh/m with Kota's car),
  ``capacity_out`` = the link capacity of the Kota network (1800 veh/h per
  lane from the SUMO importer); at a signalised
  node its ``signal_group`` lists the phases in which at least one of its
  lane connections shows ``G`` or ``g`` (UXsim signals are per link, not per
  turn; yellow counts as red).
- one vehicle per trip (``addVehicle`` at the trip's departure time, named by
  the trip id) with its route fixed by ``Vehicle.enforce_route``, so UXsim does
  not choose routes itself.

Settings: ``deltan=1`` (every vehicle is simulated individually), the
default ``reaction_time=1`` s, hence a 1 s time step (``DELTAT = reaction_time
* deltan``), ``random_seed`` = the scenario seed, vehicle logging off
(``vehicle_logging_timestep_interval=-1``; on with ``record_routes``), C++ mode
(``World(..., cpp=True)``, the ``uxsim_cpp`` engine bundled in the UXsim wheel; tested with 1.15.1) with
``threads=1`` unless ``UXSIM_MODE=python`` is set in the environment.

Vehicle-steps: with ``deltan=1`` and a 1 s step, UXsim updates every driving
vehicle (state ``run``) once per step, so vehicle-steps = the number of
(vehicle, step) pairs in state ``run``: from the cumulative arrival and
departure curves, the sum over links and steps of ``cum_arrival[t] -
cum_departure[t]``, plus one step per completed trip (the step in which it
ends, which the curves do not hold); see :func:`vehicle_steps`. Vehicles
waiting at their origin to enter (UXsim's vertical queue, state ``wait``) are
not counted, as in SUMO and Kota.
Travel time = ``arrival_time - departure_time`` (scheduled departure, so the
wait at the origin counts).
"""

from __future__ import annotations

import time

_T0 = time.perf_counter()

import importlib  # noqa: E402 - the clock starts before the imports
import os  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

from benchmarks.peers.common import (  # noqa: E402
    INSTALL_HINT,
    EngineResult,
    child_main,
    current_rss_mb,
    peak_rss_self_mb,
    save_trip_results,
)
from benchmarks.peers.grid import CAR, CarParams, load_car, load_scenario, route_ids  # noqa: E402
from twin.demand import Trips  # noqa: E402
from twin.network import Network  # noqa: E402

#: Simulated seconds per ``exec_simulation`` call between completion checks.
CHUNK_S = 300.0


def load_uxsim() -> tuple[Any, bool, str]:
    """``(uxsim module, C++ mode available, message)``; the module is None when missing."""
    try:
        uxsim = importlib.import_module("uxsim")
    except ImportError:
        return None, False, f"UXsim is not installed; install it with {INSTALL_HINT}"
    try:
        importlib.import_module("uxsim.uxsim_cpp")
    except ImportError as exc:
        return uxsim, False, f"UXsim's C++ engine is not available ({exc}); Python mode used"
    return uxsim, True, ""


def signal_groups(network: Network) -> tuple[dict[int, int], dict[int, list[int]], list[str]]:
    """Signal programs per node and UXsim signal groups per incoming link.

    Returns
    -------
    program_of_node : node index -> program index
    groups : link index -> the phases in which the link may go (a link
        entering a signalised node); other links are absent.
    notes : anything that did not map cleanly.
    """
    sig = network.signals
    notes: list[str] = []
    program_of_node: dict[int, int] = {}
    for p, node in enumerate(sig.program_node.tolist()):
        if node in program_of_node:
            notes.append(f"node {network.node_ids[node]!r} has several programs; UXsim gets the "
                         f"first ({sig.program_ids[program_of_node[node]]!r})")
            continue
        program_of_node[node] = p
    groups: dict[int, list[int]] = {}
    for link in range(network.n_links):
        node = int(network.link_to[link])
        prog = program_of_node.get(node)
        if prog is None:
            continue
        p = prog
        a, b = int(sig.phase_offsets[p]), int(sig.phase_offsets[p + 1])
        conns = np.flatnonzero((network.conn_from_link == link) & (network.conn_program == p))
        idx = network.conn_signal_index[conns].tolist()
        green = [k - a for k in range(a, b) if any(sig.phase_state[k][i] in "Gg" for i in idx)]
        if not green:
            notes.append(f"link {network.link_ids[link]!r} is never green at "
                         f"{network.node_ids[node]!r}; UXsim lets it go in every phase")
            green = list(range(b - a))
        groups[link] = green
    return program_of_node, groups, notes


def build_world(uxsim: Any, network: Network, trips: Trips, *, seed: int, horizon_s: float,
                cpp: bool, record: bool, car: CarParams = CAR) -> tuple[Any, list[Any], list[str]]:
    """The UXsim World of the scenario, its vehicles in trip order, and mapping notes."""
    world = uxsim.World(
        name="kota-peers", deltan=1, reaction_time=1.0, tmax=horizon_s, random_seed=seed,
        print_mode=0, save_mode=0, show_mode=0, show_progress=0,
        vehicle_logging_timestep_interval=1 if record else -1, cpp=cpp,
    )
    program_of_node, groups, notes = signal_groups(network)
    sig = network.signals
    for n, name in enumerate(network.node_ids):
        p = program_of_node.get(n)
        if p is None:
            world.addNode(name, float(network.node_x_m[n]), float(network.node_y_m[n]))
            continue
        a, b = int(sig.phase_offsets[p]), int(sig.phase_offsets[p + 1])
        durations = [float(d) for d in sig.phase_duration_s[a:b]]
        offset = (-float(sig.offset_s[p])) % sum(durations)
        world.addNode(name, float(network.node_x_m[n]), float(network.node_y_m[n]),
                      signal=durations, signal_offset=offset)
    for k, link_id in enumerate(network.link_ids):
        world.addLink(
            link_id, network.node_ids[int(network.link_from[k])],
            network.node_ids[int(network.link_to[k])],
            length=float(network.link_length_m[k]),
            free_flow_speed=float(network.link_speed_limit_mps[k]),
            jam_density_per_lane=car.jam_density_per_lane_vpm,
            number_of_lanes=int(network.link_lanes[k]),
            capacity_out=float(network.link_capacity_vph[k]) / 3600.0,
            signal_group=groups.get(k, [0]),
        )
    vehicles = []
    for i, trip_id in enumerate(trips.trip_ids):
        veh = world.addVehicle(network.node_ids[int(trips.origin_node[i])],
                               network.node_ids[int(trips.destination_node[i])],
                               float(trips.depart_s[i]), name=trip_id)
        veh.enforce_route(route_ids(network, trips, i))
        vehicles.append(veh)
    return world, vehicles, notes


def vehicle_steps(world: Any, trips_completed: int) -> int:
    """Steps in which a vehicle was driving (state ``run``), summed over vehicles.

    The cumulative curves give the vehicles on each link at the end of each step,
    ``sum(cum_arrival[t] - cum_departure[t])``; the step in which a vehicle
    finishes its trip is not in them, so one step per completed trip is added.
    (With vehicle logging on, this matches the number of ``run`` samples in the
    vehicles' logs to within a few steps in thousands; the tests check 1 %.)
    """
    last = int(world.T) + 1
    total = 0.0
    for link in world.LINKS:
        arr = np.asarray(link.cum_arrival, dtype=np.float64)[:last]
        dep = np.asarray(link.cum_departure, dtype=np.float64)[:last]
        m = min(arr.shape[0], dep.shape[0])
        total += float((arr[:m] - dep[:m]).sum())
    return int(round(total)) + trips_completed


def run(workdir: Path) -> EngineResult:
    uxsim, cpp_ok, message = load_uxsim()
    if uxsim is None:
        return EngineResult.skipped("uxsim", message)
    cpp = cpp_ok and os.environ.get("UXSIM_MODE", "cpp") != "python"
    baseline = current_rss_mb()
    network, trips, params = load_scenario(workdir)

    t_build = time.perf_counter()
    world, vehicles, notes = build_world(uxsim, network, trips, seed=params.seed,
                                         horizon_s=params.horizon_s, cpp=cpp,
                                         record=params.record_routes, car=load_car(workdir))
    world.finalize_scenario()
    build_s = time.perf_counter() - t_build

    t_run = time.perf_counter()
    startup = t_run - _T0
    while world.check_simulation_ongoing():
        world.exec_simulation(duration_t=CHUNK_S)
        if not world.VEHICLES_LIVING:
            break
    wall = time.perf_counter() - t_run

    n = len(trips)
    tt = np.full(n, np.nan)
    dist = np.full(n, np.nan)
    routes: list[list[str]] | None = [] if params.record_routes else None
    for i, veh in enumerate(vehicles):
        if veh.state == "end" and veh.travel_time is not None and veh.travel_time >= 0:
            tt[i] = float(veh.travel_time)
        dist[i] = float(veh.distance_traveled) if hasattr(veh, "distance_traveled") \
            else float(veh._cpp_vehicle.distance_traveled)
        if routes is not None:
            route, _ = veh.traveled_route()
            routes.append([link.name for link in route])
    save_trip_results(workdir, "uxsim", trips.trip_ids, tt, dist, routes)
    done = np.isfinite(tt)
    steps = vehicle_steps(world, int(done.sum()))
    run_samples = (sum(sum(1 for s in veh.log_state if s == "run") for veh in vehicles)
                   if params.record_routes else None)
    mode = "C++ mode" if cpp else "Python mode"
    return EngineResult(
        engine="uxsim",
        label=f"UXsim {getattr(uxsim, '__version__', '?')} ({mode}, deltan=1, step 1 s)",
        message=message,
        sim_wall_s=wall,
        startup_s=startup,
        vehicle_steps=steps,
        trips_total=n,
        trips_completed=int(done.sum()),
        mean_travel_time_s=float(tt[done].mean()) if done.any() else None,
        sim_end_s=float(world.T * world.DELTAT),
        peak_rss_mb=peak_rss_self_mb(),
        baseline_rss_mb=baseline,
        threads=1,
        extra={"cpp": cpp, "build_s": build_s, "delta_t_s": float(world.DELTAT),
               "mapping_notes": notes, "logged_run_samples": run_samples},
    )


if __name__ == "__main__":
    raise SystemExit(child_main("uxsim", run))
