"""The timed sections of a scenario, run as processes on the twin's clock.

- ``[[conditions]]`` (rain, flooding): from ``start_s`` the links' desired speed is
  scaled by ``speed_factor`` (:meth:`Simulation.set_link_speed_factor`; overlapping
  conditions multiply), ``lanes_blocked`` lanes are blocked
  (:meth:`Simulation.open_incident`) or the links are closed
  (:meth:`Simulation.close_link`); at ``end_s`` all of it is undone.
- ``[[closures]]`` (roadworks): the links are closed at ``start_s`` and reopened at
  ``end_s``; a link closed by two closures or conditions reopens when the last ends.
  The drivers a closure diverted before they departed plan again when it reopens
  (those still waiting then); those on the road keep their diversion.
- ``[[odd_even]]`` (ganjil-genap): at the start of each window on a day the policy
  applies, the fleet's vehicles of the listed classes whose plate parity does not match
  the date's, and that depart before the window ends, are forbidden the corridor's links
  (:meth:`Simulation.restrict_links`): the ones whose route used them re-plan around
  them. One still waiting with no way around puts the trip off to the window's end (it
  is not dropped); one already on the road with no way around keeps its route and is
  counted as ``no_way_around`` (it would be a violation). The ban is lifted at the
  window's end.

Routes are planned when the window opens, on the travel times of that moment (and when a
vehicle re-plans later); a vehicle that departs before the window ends but would reach
the corridor only after it still avoids it, as a driver planning at departure would.

Each action is recorded; :meth:`TimedActions.summary` goes into the run's summary. A
closure's record counts ``trips_affected`` (vehicles whose route had one of its links
ahead when it closed) and ``route_changes`` (routes changed, summed over its links closed
one by one: a route through two of them may change twice).
"""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

import numpy as np

from twin.clock import Clock, ProcessGenerator
from twin.demand import VEHICLE_CLASSES
from twin.scenario import Scenario
from twin.scenario_timed import ClosureSpec, ConditionSpec, OddEvenSpec
from twin.simulation import VEH_WAITING, Simulation
from twin.vehicles import Fleet

__all__ = ["TimedActions", "odd_even_windows"]


def odd_even_windows(spec: OddEvenSpec, start: datetime, duration_s: float
                     ) -> list[tuple[float, float, bool]]:
    """The windows of an odd-even corridor within a run: ``(start_s, end_s, date_odd)``
    in seconds since the run's start (clipped to ``[0, duration_s]``), on the days
    the policy applies (weekdays, not holidays), in the run's local time."""
    if not spec.enabled:
        return []
    out = []
    tz = start.tzinfo
    day = start.date()
    end = start + timedelta(seconds=duration_s)
    while day <= end.date():
        if day.weekday() in spec.weekdays and day not in spec.holidays:
            for a, b in spec.windows:
                t0 = (datetime.combine(day, a, tzinfo=tz) - start).total_seconds()
                t1 = (datetime.combine(day, b, tzinfo=tz) - start).total_seconds()
                t0, t1 = max(t0, 0.0), min(t1, duration_s)
                if t1 > t0:
                    out.append((t0, t1, day.day % 2 == 1))
        day += timedelta(days=1)
    return sorted(out)


class TimedActions:
    """Runs a scenario's conditions, closures and odd-even corridors on ``clock``.

    Parameters
    ----------
    scenario : Scenario
    sim : Simulation
    fleet : Fleet, the plates of the simulation's vehicles (vehicle ``i`` = trip ``i``)
    clock : Clock
    """

    def __init__(self, scenario: Scenario, sim: Simulation, fleet: Fleet, clock: Clock) -> None:
        self.scenario = scenario
        self.sim = sim
        self.fleet = fleet
        self.clock = clock
        self._factors: dict[int, dict[str, float]] = defaultdict(dict)
        self._closed: dict[int, int] = defaultdict(int)
        self._diverted: dict[int, np.ndarray] = {}
        self.conditions: list[dict[str, Any]] = []
        self.closures: list[dict[str, Any]] = []
        self.odd_even: list[dict[str, Any]] = []

    def start(self) -> None:
        """Start one clock process per condition, closure and odd-even window."""
        meta = self.scenario.scenario
        for cond in self.scenario.conditions:
            self.clock.process(self._condition(cond))
        for closure in self.scenario.closures:
            self.clock.process(self._closure(closure))
        for corridor in self.scenario.odd_even:
            for t0, t1, odd in odd_even_windows(corridor, meta.start, meta.duration_s):
                self.clock.process(self._odd_even(corridor, t0, t1, odd))

    # ------------------------------------------------------------ processes
    def _index(self, links: list[str]) -> list[int]:
        return [self.sim.resolve_link(link) for link in links]

    def _set_factor(self, link: int, key: str, factor: float | None) -> None:
        if factor is None:
            self._factors[link].pop(key, None)
        else:
            self._factors[link][key] = factor
        self.sim.set_link_speed_factor([link], math.prod(self._factors[link].values()))

    def _uses(self, links: list[int]) -> int:
        """How many vehicles, on the road or still to depart, have one of ``links`` ahead."""
        return int(self.sim.route_ahead_uses(links).sum())

    def _close(self, link: int) -> int:
        self._closed[link] += 1
        if self._closed[link] > 1:
            return 0
        sim = self.sim
        self._diverted[link] = np.flatnonzero(sim.route_ahead_uses([link])
                                              & (sim.vehicle_state == VEH_WAITING))
        return sim.close_link(link)

    def _reopen(self, link: int) -> None:
        """Lift a closure; the drivers it diverted before they departed and who have not
        departed yet plan their routes again (on the road, they keep the diversion)."""
        self._closed[link] -= 1
        if self._closed[link] == 0:
            self.sim.reopen_link(link)
            self.sim.replan_departures(self._diverted.pop(link))

    def _condition(self, spec: ConditionSpec) -> ProcessGenerator:
        env = self.clock.env
        yield env.timeout(spec.start_s)
        links = self._index(spec.links)
        record: dict[str, Any] = {"id": spec.id, "type": spec.type, "links": len(links),
                                  "speed_factor": spec.speed_factor,
                                  "lanes_blocked": spec.lanes_blocked, "closed": spec.closed,
                                  "started_s": float(env.now), "ended_s": None,
                                  "trips_affected": 0, "route_changes": 0}
        self.conditions.append(record)
        if spec.closed:
            record["trips_affected"] = self._uses(links)
        handles = []
        for link in links:
            if spec.speed_factor != 1.0:
                self._set_factor(link, spec.id, spec.speed_factor)
            if spec.lanes_blocked is not None:
                handles.append(self.sim.open_incident(link, spec.lanes_blocked))
            if spec.closed:
                record["route_changes"] += self._close(link)
        yield env.timeout(spec.end_s - spec.start_s)
        for link in links:
            if spec.speed_factor != 1.0:
                self._set_factor(link, spec.id, None)
            if spec.closed:
                self._reopen(link)
        for h in handles:
            self.sim.clear_incident(h)
        record["ended_s"] = float(env.now)

    def _closure(self, spec: ClosureSpec) -> ProcessGenerator:
        env = self.clock.env
        yield env.timeout(spec.start_s)
        links = self._index(spec.links)
        record: dict[str, Any] = {"id": spec.id, "reason": spec.reason, "links": len(links),
                                  "started_s": float(env.now), "ended_s": None,
                                  "trips_affected": self._uses(links), "route_changes": 0}
        self.closures.append(record)
        for link in links:
            record["route_changes"] += self._close(link)
        yield env.timeout(spec.end_s - spec.start_s)
        for link in links:
            self._reopen(link)
        record["ended_s"] = float(env.now)

    def banned(self, spec: OddEvenSpec, date_odd: bool, depart_before_s: float
               ) -> np.ndarray:
        """Indices of the fleet's vehicles an odd-even window bans: of a class it applies
        to, plate parity not the date's, departing before ``depart_before_s``."""
        n = self.fleet.n_vehicles
        idx = np.arange(n, dtype=np.int64)
        classes = [VEHICLE_CLASSES.index(c) for c in spec.applies_to]
        depart = np.asarray(self.sim.trips.depart_s[:n])
        keep = np.isin(self.fleet.vehicle_class, classes) & (depart < depart_before_s)
        keep &= self.fleet.is_odd(idx) != date_odd
        return idx[keep]

    def _odd_even(self, spec: OddEvenSpec, t0: float, t1: float, date_odd: bool
                  ) -> ProcessGenerator:
        env = self.clock.env
        yield env.timeout(t0)
        sim = self.sim
        banned = self.banned(spec, date_odd, t1)
        mask = np.zeros(sim.n_vehicles, dtype=bool)
        mask[banned] = True
        affected = sim.route_ahead_uses(spec.links) & mask
        rid, changed = sim.restrict_links(spec.links, banned)
        still = sim.route_ahead_uses(spec.links) & mask
        waiting = sim.vehicle_state == VEH_WAITING
        postponed = sim.postpone(np.flatnonzero(still & waiting), t1)
        record: dict[str, Any] = {
            "id": spec.id, "start_s": t0, "end_s": t1,
            "date_parity": "odd" if date_odd else "even",
            "banned_vehicles": int(banned.size), "trips_affected": int(affected.sum()),
            "rerouted": int(changed), "postponed": postponed,
            "no_way_around": int((still & ~waiting).sum()),
        }
        self.odd_even.append(record)
        yield env.timeout(t1 - t0)
        sim.lift_restriction(rid)

    def summary(self) -> dict[str, Any]:
        """What ran so far, JSON-ready: one record per condition, closure and odd-even
        window that started, with the trips each affected."""
        out: dict[str, Any] = {}
        if self.scenario.conditions:
            out["conditions"] = list(self.conditions)
        if self.scenario.closures:
            out["closures"] = list(self.closures)
        if self.scenario.odd_even:
            out["odd_even"] = list(self.odd_even)
            out["odd_even_trips_affected"] = sum(r["trips_affected"] for r in self.odd_even)
        return out
