"""The dispatch model on the live map: its open incidents and its units with their routes.

:class:`RouteBook` remembers the route of each unit's drive to an incident the first time
the map asks (the fastest route on the travel times of that instant, as the model sends
it; with ``units_in_traffic`` the engine vehicle's own route), so a route is searched
once per drive, not once per view. A unit driving a computed leg is placed along its
route by the share of its travel time gone by; a unit driving in the engine is where its
vehicle is; any other unit is on its last known link, else at its station.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from twin.map_marks import IncidentMark, MapMarks, UnitMark, link_midpoint, route_lonlat
from twin.sensors import point_along_link

from .incidents import Incident
from .model import DispatchModel
from .units import Unit

DRIVING = ("dispatched", "en_route")
"""Statuses in which a unit's route to its incident is drawn."""
_STAGES = (("t_closed", "closed"), ("t_clear", "cleared"), ("t_road_reopened", "road reopened"),
           ("t_onscene", "on scene"), ("t_enroute", "en route"), ("t_dispatch", "dispatched"),
           ("t_classified", "classified"), ("t_answer", "answered"), ("t_ring", "call received"))


@dataclass(frozen=True)
class _Route:
    links: np.ndarray
    cum_m: np.ndarray
    """Cumulative length at the end of each link, metres."""
    eta_s: float
    vehicle: int | None


class RouteBook:
    """The routes of the drives under way, by (unit, incident)."""

    def __init__(self) -> None:
        self._routes: dict[tuple[str, str], _Route | None] = {}

    def route(self, model: DispatchModel, unit: Unit, inc: Incident) -> _Route | None:
        """The unit's route to ``inc`` (None: unreachable), searched on first call."""
        key = (unit.name, inc.id)
        if key not in self._routes:
            self._routes[key] = self._search(model, unit, inc)
        return self._routes[key]

    def forget_done(self, model: DispatchModel) -> None:
        """Drop the routes of units no longer driving."""
        for key in [k for k in self._routes
                    if model.units[k[0]].status not in DRIVING or model.units[k[0]].incident_id != k[1]]:
            del self._routes[key]

    @staticmethod
    def _search(model: DispatchModel, unit: Unit, inc: Incident) -> _Route | None:
        net = model.sim.network
        vehicle = next((d.vehicle for d in reversed(model.drives.drives)
                        if d.unit == unit.name and d.incident_id == inc.id), None)
        if vehicle is not None:
            links = np.append(np.asarray(model.sim.route_of(vehicle)), inc.link)
        else:
            found = model.travel.route_to_link(model.origin_vertex(unit), inc.link)
            if found is None:
                return None
            links = np.asarray(found)
        eta = model.travel.to_link_s(model.origin_vertex(unit), inc.link)
        return _Route(links.astype(np.int64), np.cumsum(net.link_length_m[links]), eta, vehicle)


def incident_status(inc: Incident) -> str:
    """The latest stage the incident reached."""
    return next((label for name, label in _STAGES if getattr(inc, name) is not None), "open")


def dispatch_marks(model: DispatchModel, book: RouteBook) -> MapMarks:
    """The model's incidents not cleared yet and every unit, now."""
    net = model.sim.network
    incidents = []
    for inc in model.incidents.values():
        if inc.t_clear is not None:
            continue
        lon, lat = link_midpoint(net, inc.link)
        lanes = inc.lanes_blocked if inc.engine_incident is not None else 0
        incidents.append(IncidentMark(inc.id, inc.type, net.link_ids[inc.link], lanes, lon, lat,
                                      "dispatch", incident_status(inc)))
    book.forget_done(model)
    units = [_unit_mark(model, book, u) for u in model.units.values()]
    return MapMarks(tuple(incidents), tuple(units))


def _unit_mark(model: DispatchModel, book: RouteBook, unit: Unit) -> UnitMark:
    net = model.sim.network
    if unit.link is not None:
        lon, lat = link_midpoint(net, unit.link)
    else:
        lon, lat = float(net.node_lon[unit.home_node]), float(net.node_lat[unit.home_node])
    inc = model.incidents.get(unit.incident_id) if unit.incident_id is not None else None
    if inc is None or unit.status not in DRIVING:
        return UnitMark(unit.name, unit.kind, unit.station, unit.status, lon, lat,
                        unit.incident_id)
    route = book.route(model, unit, inc)
    if route is None:
        return UnitMark(unit.name, unit.kind, unit.station, unit.status, lon, lat, inc.id)
    if unit.status == "en_route":
        lon, lat = _along(model, route, inc, unit)
    rlon, rlat = route_lonlat(net, route.links)
    return UnitMark(unit.name, unit.kind, unit.station, unit.status, lon, lat, inc.id, rlon, rlat)


def _along(model: DispatchModel, route: _Route, inc: Incident, unit: Unit) -> tuple[float, float]:
    """Where an en-route unit is: its engine vehicle, or the share of its ETA gone by."""
    net, sim = model.sim.network, model.sim
    if route.vehicle is not None and int(sim.vehicle_link[route.vehicle]) >= 0:
        return point_along_link(net, int(sim.vehicle_link[route.vehicle]),
                                float(sim.vehicle_pos_m[route.vehicle]))
    t0 = inc.kind_times.get(unit.kind, {}).get("t_enroute", float(model.env.now))
    share = 1.0 if not math.isfinite(route.eta_s) or route.eta_s <= 0 else \
        min(max((float(model.env.now) - t0) / route.eta_s, 0.0), 1.0)
    total = float(route.cum_m[-1])
    target = share * (total - 0.5 * float(net.link_length_m[route.links[-1]]))
    i = min(int(np.searchsorted(route.cum_m, target, side="right")), len(route.links) - 1)
    start = float(route.cum_m[i - 1]) if i > 0 else 0.0
    return point_along_link(net, int(route.links[i]), target - start)
