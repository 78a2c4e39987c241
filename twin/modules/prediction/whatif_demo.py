"""Ready-made what-if set-ups: a scenario's twin at a given time, and the candidate
interventions for an incident.

:func:`twin_at` builds a scenario's simulation exactly as ``kota run`` does (same
network, trips and seeds, hence the same records) and runs it to a time, opening and
clearing the scenario's incidents on their schedule. :func:`scenario_plan` tells what
the scenario still has in store for a simulation at its current time (when each open
incident will be cleared, which incidents will open), for a live
:class:`~twin.runner.TwinRun` as well. :func:`incident_candidates` is the built-in
candidate set for a lane-blocking incident:

1. clear it ``earlier_s`` (15 min) earlier: the tow truck sent sooner;
2. close the busiest link feeding the incident link, with a diversion;
3. close the incident link itself, with a diversion;
4. let ``reroute_share`` (30 %) of the drivers re-plan every 5 minutes;
5. ``extra_green_s`` more green for the incident link at its signal, when it has one
   (the Jatinegara network from OpenStreetMap has no tagged signals, so there it is
   reported as not applicable).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from twin.assemble import build_network, build_trips, run_seeds
from twin.scenario import Scenario, check_against_network
from twin.simulation import Simulation

from .interventions import (
    ClearIncidentEarlier,
    CloseLink,
    ExtendGreen,
    Intervention,
    Reroute,
)
from .whatif import FuturePlan, PlannedIncident

__all__ = ["OpenIncident", "busiest_link", "incident_candidates", "scenario_plan", "twin_at"]


@dataclass(frozen=True)
class OpenIncident:
    """An incident open in a simulation, with its planned clearance (``inf``: none)."""

    incident_id: int
    link: str
    lanes_blocked: int
    clear_at_s: float
    label: str


def twin_at(scenario: Scenario, at_s: float) -> Simulation:
    """The scenario's simulation run to ``at_s``, with its incidents opened and cleared
    on schedule (an incident starting at ``at_s`` is open).

    Raises
    ------
    ValueError
        When ``at_s`` is negative or beyond the scenario's end.
    """
    meta = scenario.scenario
    if not (math.isfinite(at_s) and 0 <= at_s <= meta.duration_s):
        raise ValueError(f"--at {at_s!r} must lie in 0..{meta.duration_s} s (the scenario's "
                         f"duration)")
    network = build_network(scenario)
    check_against_network(scenario, network)
    demand_rng, engine_seed = run_seeds(meta.seed)
    trips = build_trips(scenario, network, demand_rng)
    sim = Simulation(network, trips, seed=engine_seed)
    sim.load_kernels()
    events: list[tuple[float, int, str, int]] = []  # time, order (clear before open), what, spec
    for k, spec in enumerate(scenario.incidents):
        if spec.start_s <= at_s:
            events.append((spec.start_s, 1, "open", k))
            if spec.start_s + spec.duration_s <= at_s:
                events.append((spec.start_s + spec.duration_s, 0, "clear", k))
    handles: dict[int, int] = {}
    for t, _, what, k in sorted(events):
        sim.run(t)
        spec = scenario.incidents[k]
        if what == "open":
            handles[k] = sim.open_incident(spec.link, spec.lanes_blocked)
        else:
            sim.clear_incident(handles.pop(k))
    sim.run(at_s)
    return sim


def scenario_plan(scenario: Scenario, sim: Simulation) -> tuple[FuturePlan, list[OpenIncident]]:
    """What the scenario still schedules from the simulation's time on.

    Each incident open in ``sim`` is matched to the scenario incident on the same link
    that is running now (its clearance is then ``start + duration``); one without a
    match stays open (``clear_at_s = inf``). Scenario incidents starting later are
    planned incidents.
    """
    now = float(sim.time_s)
    running = [s for s in scenario.incidents if s.start_s <= now < s.start_s + s.duration_s]
    clearances: dict[int, float] = {}
    opened: list[OpenIncident] = []
    for incident_id, (link, lanes, _, _) in sorted(sim.open_incidents.items()):
        link_id = sim.network.link_ids[link]
        match = next((s for s in running if s.link == link_id), None)
        if match is not None:
            running.remove(match)
            clear_at = match.start_s + match.duration_s
            clearances[incident_id] = clear_at
            label = f"{match.type} {match.id}"
        else:
            clear_at, label = math.inf, f"incident {incident_id}"
        opened.append(OpenIncident(incident_id, link_id, len(lanes), clear_at, label))
    later = tuple(PlannedIncident(s.link, s.start_s, s.duration_s, s.lanes_blocked)
                  for s in scenario.incidents if s.start_s > now)
    return FuturePlan(clearances, later), opened


def busiest_link(sim: Simulation, min_lanes: int = 2) -> str:
    """The link with the most vehicles on it now among those with at least
    ``min_lanes`` lanes (ties: most vehicles entered so far)."""
    lanes = np.asarray(sim.network.link_lanes)
    ok = np.flatnonzero(lanes >= min_lanes)
    if ok.size == 0:
        ok = np.arange(lanes.shape[0])
    count = np.asarray(sim.link_vehicle_count)[ok]
    entered = np.asarray(sim.link_entered)[ok]
    best = ok[np.lexsort((-entered, -count))[0]]
    return sim.network.link_ids[int(best)]


def _busiest_feeder(sim: Simulation, link: str) -> str | None:
    net = sim.network
    index = sim.resolve_link(link)
    feeders = np.unique(net.conn_from_link[net.conn_to_link == index])
    if feeders.size == 0:
        return None
    entered = np.asarray(sim.link_entered)[feeders]
    return net.link_ids[int(feeders[int(np.argmax(entered))])]


def incident_candidates(
    sim: Simulation,
    incident: OpenIncident,
    *,
    earlier_s: float = 900.0,
    reroute_share: float = 0.3,
    extra_green_s: float = 10.0,
) -> list[Intervention]:
    """The built-in candidate set for ``incident`` (see the module docstring).

    The "clear earlier" candidate is left out when the incident has no planned clearance.
    """
    out: list[Intervention] = []
    if math.isfinite(incident.clear_at_s):
        out.append(ClearIncidentEarlier(incident.incident_id, earlier_s))
    feeder = _busiest_feeder(sim, incident.link)
    if feeder is not None:
        out.append(CloseLink(feeder))
    out.append(CloseLink(incident.link))
    out.append(Reroute(reroute_share, 300.0))
    out.append(ExtendGreen(incident.link, extra_green_s))
    return out
