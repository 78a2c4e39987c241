"""Units driven as vehicles in the traffic engine (``units_in_traffic``).

A dispatched unit's route is the fastest one on the CURRENT link travel times when it
sets off (:meth:`TravelTimes.route_to_link`), from its station (or its last reported
position) to the start of the incident's link. It is added to the engine with
:meth:`twin.simulation.Simulation.add_vehicle` as a ``car`` on an emergency call
(``emergency=True``): the engine gives it the privileges of UU 22/2009 art. 134-135 as
:mod:`core_ext._micro_nb` models them (a desired speed above the limit, passing red at
a crawl when the junction is clear, priority at junctions, vehicles ahead moving
aside on multi-lane roads, and passing a standing queue nobody can move aside from at
``MicroParams.emergency_pass_mps``, as cars pull to the kerb). It still follows moving
traffic and waits at blocks, so congestion and blocked lanes lengthen its drive by
what the engine simulates, not by a formula; ``emergency_speedup`` does not shorten
the engine's part of the drive. A drive cut off at :data:`MAX_DRIVE_S` clears the flag:
the vehicle drives on as ordinary traffic.

The drive ends where the incident's link begins (the vehicle's route stops one link
short), and the last stretch to the incident in the middle of that link is the
link's current travel time / 2, as in the computed travel times: a drive that had to
pass the blocked lanes would wait behind them, and a link blocked on every lane would
never let the tow truck that clears it arrive.
"""

from __future__ import annotations

import math
from collections.abc import Generator
from dataclasses import dataclass
from typing import Any

import simpy

from twin.simulation import Simulation

from .travel import TravelTimes

MAX_DRIVE_S = 3600.0
"""A unit whose route does not exist, or whose vehicle has not arrived after this,
counts as on scene then (the engine vehicle drives on)."""


@dataclass
class Drive:
    """One unit's drive to an incident.

    ``vehicle`` is the engine vehicle (None when the route is the incident's link
    alone); on scene at ``depart_s + engine_s + last_s``.
    """

    incident_id: str
    unit: str
    vehicle: int | None
    depart_s: float
    engine_s: float = math.nan
    last_s: float = 0.0

    @property
    def travel_s(self) -> float:
        """Seconds from setting off to on scene."""
        return self.engine_s + self.last_s


class UnitDrives:
    """The drives under way, resolved from the engine's arrival records.

    Parameters
    ----------
    env : simpy.Environment
    sim : Simulation, kept at ``env.now`` by the caller before :meth:`poll`
    travel : TravelTimes
    """

    def __init__(self, env: simpy.Environment, sim: Simulation, travel: TravelTimes) -> None:
        self.env = env
        self.sim = sim
        self.travel = travel
        self.drives: list[Drive] = []
        """Every drive so far, in the order the units set off."""
        self._waiting: dict[int, simpy.Event] = {}

    def poll(self) -> None:
        """Wake the drives whose vehicle has arrived (call after advancing the engine)."""
        if not self._waiting:
            return
        arrive = self.sim.arrive_s
        for v in [v for v in self._waiting if math.isfinite(float(arrive[v]))]:
            self._waiting.pop(v).succeed()

    def drive(self, incident_id: str, unit: str, origin_vertex: int,
              link: int) -> Generator[simpy.Event, Any, Drive]:
        """Drive from ``origin_vertex`` to the incident on ``link``, now; the process
        resumes when the unit is on scene and returns the :class:`Drive`."""
        env = self.env
        start = float(env.now)
        route = self.travel.route_to_link(origin_vertex, link)
        if route is None:
            d = Drive(incident_id, unit, None, start, MAX_DRIVE_S)
            self.drives.append(d)
            yield env.timeout(MAX_DRIVE_S)
            return d
        d = Drive(incident_id, unit, None, start, 0.0,
                  0.5 * self.travel.link_time_s(link) / self.travel.speedup)
        self.drives.append(d)
        if route.size > 1:
            d.vehicle = self.sim.add_vehicle(route[:-1], start, "car", emergency=True)
            done = env.event()
            self._waiting[d.vehicle] = done
            yield done | env.timeout(MAX_DRIVE_S)
            self._waiting.pop(d.vehicle, None)
            arrived = float(self.sim.arrive_s[d.vehicle])
            if not math.isfinite(arrived):
                self.sim.set_emergency([d.vehicle], False)  # no longer on this call
            d.engine_s = arrived - start if math.isfinite(arrived) else float(env.now) - start
        rest = start + d.travel_s - float(env.now)
        if rest > 0:
            yield env.timeout(rest)
        return d
