"""What a run's live view shows on the map: its open incidents, its sites, and (with the
dispatch module) every unit at its place, with its route while it drives to an incident."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from tests.modules.dispatch.test_live_run import dispatch_of
from tests.modules.dispatch.test_live_run import scenario as dispatch_scenario
from twin.map_marks import link_midpoint, route_lonlat
from twin.runner import TwinRun
from twin.scenario import CameraSpec, load_scenario
from twin.sensors import point_along_link

GRID = Path(__file__).resolve().parents[2] / "scenarios" / "grid_small.toml"


def test_the_view_shows_the_incident_while_it_blocks_and_every_site() -> None:
    base = load_scenario(GRID)  # breakdown-r2c1 blocks r2c1-r2c2 from 600 s to 900 s
    cam = CameraSpec(id="anpr-1", type="anpr", link="r0c0-r0c1", pos_m=40.0)
    run = TwinRun(base.model_copy(update={"cameras": [cam]}), store_url="sqlite://")
    try:
        run.advance(590.0)
        assert run.live.latest().incidents == ()
        run.advance(610.0)
        (inc,) = run.live.latest().incidents
        link = run.network.link_index["r2c1-r2c2"]
        assert (inc.incident_id, inc.type, inc.link_id, inc.lanes_blocked, inc.source) == (
            "breakdown-r2c1", "breakdown", "r2c1-r2c2", 1, "scenario")
        assert (inc.lon, inc.lat) == link_midpoint(run.network, link)
        run.advance(910.0)
        view = run.live.latest()
        assert view.incidents == () and view.units == ()
    finally:
        run.close()
    cams = [s for s in view.sites if s.kind == "camera"]
    loops = [s for s in view.sites if s.kind == "detector"]
    assert [(s.site_id, s.detail, s.link_id) for s in cams] == [("anpr-1", "anpr", "r0c0-r0c1")]
    assert (cams[0].lon, cams[0].lat) == point_along_link(
        run.network, run.network.link_index["r0c0-r0c1"], 40.0)
    assert {s.site_id for s in loops} == set(run.sensors.detector_ids) and len(loops) == 5


def _off_route_m(lon: float, lat: float, rlon: tuple[float, ...], rlat: tuple[float, ...]) -> float:
    """Distance (m) from a point to a polyline, in a local flat frame."""
    k = math.cos(math.radians(lat)) * 111_195.0
    p = np.array([lon * k, lat * 111_195.0])
    pts = np.column_stack([np.array(rlon) * k, np.array(rlat) * 111_195.0])
    best = math.inf
    for a, b in zip(pts[:-1], pts[1:], strict=True):
        ab = b - a
        t = 0.0 if not ab.any() else float(np.clip(np.dot(p - a, ab) / np.dot(ab, ab), 0, 1))
        best = min(best, float(np.hypot(*(a + t * ab - p))))
    return best


def test_dispatch_units_are_at_their_station_or_on_their_route_to_the_incident() -> None:
    run = TwinRun(dispatch_scenario(600.0), store_url="sqlite://")
    try:
        seen: dict[str, list[tuple[float, float]]] = {}
        for t in range(150, 420, 15):
            run.advance(float(t))
            view = run.live.latest()
            model = dispatch_of(run).model
            assert model is not None
            net = run.network
            open_ids = {i.id for i in model.incidents.values() if i.t_clear is None}
            assert {m.incident_id for m in view.incidents if m.source == "dispatch"} == open_ids
            assert {u.unit_id for u in view.units} == set(model.units)
            for mark in view.units:
                unit = model.units[mark.unit_id]
                assert mark.status == unit.status
                if unit.status == "available" and unit.link is None:
                    assert (mark.lon, mark.lat) == (float(net.node_lon[unit.home_node]),
                                                    float(net.node_lat[unit.home_node]))
                    assert mark.route_lon == ()
                if unit.status == "en_route":
                    inc = model.incidents[mark.incident_id]
                    end_lon, end_lat = route_lonlat(net, [inc.link])
                    # the route runs from the station to the end of the incident's link
                    assert (mark.route_lon[-1], mark.route_lat[-1]) == (end_lon[-1], end_lat[-1])
                    assert math.isclose(mark.route_lon[0], net.node_lon[unit.home_node],
                                        abs_tol=1e-6)
                    assert _off_route_m(mark.lon, mark.lat, mark.route_lon, mark.route_lat) < 0.5
                    seen.setdefault(mark.unit_id, []).append((mark.lon, mark.lat))
    finally:
        run.close()
    # units en route over several views moved along their routes
    assert any(len(set(p)) >= 3 for p in seen.values())
