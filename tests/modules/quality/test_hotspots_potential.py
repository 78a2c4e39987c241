"""Problem and potential mapping on stores filled by real runs: hot spots per link, suggested
camera sites (evidence and no camera), suggested station sites and dispatch areas."""

from __future__ import annotations

import math
from datetime import timedelta

import pytest

from tests.dashboard.map_fixtures import BLOCKED, QUEUE, dispatch_run, etle_run
from tests.modules.dispatch.test_live_run import dispatch_of
from twin.map_marks import link_midpoint
from twin.modules.quality.extent import latest_data_time
from twin.modules.quality.hotspots import hotspots, link_hotspots
from twin.modules.quality.potential import (
    area_hulls,
    convex_hull,
    link_evidence,
    slow_responses,
    suggest_camera_sites,
    suggest_station_sites,
)
from twin.modules.quality.risk import risk_map
from twin.observations import ObservationKind


@pytest.fixture(scope="module")
def etle(tmp_path_factory):
    run = etle_run(tmp_path_factory.mktemp("etle-map"))
    end = latest_data_time(run.store)
    limits = {link: float(run.network.link_speed_limit_mps[i])
              for link, i in run.network.link_index.items()}
    yield run, end - timedelta(days=7), end, limits
    run.close()


@pytest.fixture(scope="module")
def dispatch(tmp_path_factory):
    run = dispatch_run(tmp_path_factory.mktemp("dispatch-map"))
    yield run
    run.close()


def test_hotspots_fold_the_risk_map_per_link(etle):
    run, start, end, limits = etle
    risk = risk_map(run.store, "violation", start, end)
    spots = link_hotspots(risk)
    assert {h.link_id for h in spots} == {"r1c0-r1c1", "r1c2-r1c3"}  # the camera links
    for h in spots:
        cells = [c for c in risk.cells if c.link_id == h.link_id]
        assert h.events == sum(c.events for c in cells) > 0
        assert h.peak_ratio == max(c.risk_ratio for c in cells)
    assert [h.peak_ratio for h in spots] == sorted((h.peak_ratio for h in spots), reverse=True)
    (inc,) = hotspots(run.store, "incident", start, end, limits)
    assert (inc.link_id, inc.events) == (BLOCKED, 1)


def test_congestion_hotspots_are_the_detector_intervals_below_half_the_limit(etle):
    run, start, end, limits = etle
    slow: dict[str, int] = {}
    for o in run.store.observations(run_id=run.run_id):
        speed = o.payload.get("mean_speed_mps") if o.kind == ObservationKind.DETECTOR_INTERVAL \
            else None
        assert o.location is not None or speed is None
        if speed is not None and speed < 0.5 * limits[o.location.link_id]:
            slow[o.location.link_id] = slow.get(o.location.link_id, 0) + 1
    spots = hotspots(run.store, "congestion", start, end, limits)
    assert {h.link_id: h.events for h in spots} == slow
    assert QUEUE in slow  # the queue behind the breakdown


def test_suggested_camera_sites_are_links_with_evidence_and_no_camera(etle):
    run, start, end, limits = etle
    evidence = link_evidence(run.store, start, end, limits)
    cameras = {s.link_id for s in run.sites if s.kind == "camera"}
    assert cameras == {QUEUE, "r1c2-r1c3"}
    # every camera link has the most violations, and is never suggested
    sites = suggest_camera_sites(evidence, cameras)
    assert [(s.link_id, s.incidents, s.rank) for s in sites] == [(BLOCKED, 1, 1)]
    # without the exit speed camera, its link and its violations come first
    sites = suggest_camera_sites(evidence, cameras - {"r1c2-r1c3"})
    assert [s.link_id for s in sites] == ["r1c2-r1c3", BLOCKED]
    risk = risk_map(run.store, "violation", start, end)
    assert sites[0].violations == sum(c.events for c in risk.cells
                                      if c.link_id == "r1c2-r1c3") > 0
    assert all(s.violations or s.speeding or s.incidents for s in sites)
    assert suggest_camera_sites(evidence, set(evidence)) == []


def test_suggested_station_sites_cover_the_slow_responses_greedily(dispatch):
    net = dispatch.network
    responses = slow_responses(dispatch.store)
    assert {r.incident_id for r in responses} == set(dispatch_of_model(dispatch).incidents)
    slow = [r for r in responses if r.travel_s is not None and r.travel_s > 60.0]
    assert slow, "no response slower than a minute to suggest a station for"
    sites = suggest_station_sites(net, responses, target_s=60.0, radius_m=300.0, n=5)
    assert sites and sum(s.covered for s in sites) == len(slow)
    assert [s.covered for s in sites] == sorted((s.covered for s in sites), reverse=True)

    def near(site_link: str) -> int:
        x, y = link_midpoint(net, net.link_index[site_link])
        return sum(1 for r in slow if _m(x, y, *link_midpoint(net, net.link_index[r.link_id]))
                   <= 300.0)

    assert sites[0].covered == max(near(r.link_id) for r in slow)
    assert {s.link_id for s in sites} <= {r.link_id for r in slow}
    assert suggest_station_sites(net, responses, target_s=1e9) == []


def test_area_hulls_enclose_each_areas_incidents(dispatch):
    net = dispatch.network
    responses = slow_responses(dispatch.store)
    hulls = area_hulls(net, responses)
    assert set(hulls) == {r.area for r in responses if r.area}
    for area, ring in hulls.items():
        pts = {link_midpoint(net, net.link_index[r.link_id]) for r in responses if r.area == area}
        assert set(ring) <= pts
        if len(ring) > 3:
            assert ring[0] == ring[-1]
            for p in pts:  # inside or on every edge of a counter-clockwise ring
                assert all(_cross(a, b, p) >= -1e-12 for a, b in zip(ring, ring[1:], strict=False))


def test_convex_hull_drops_inner_points():
    square = [(0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0)]
    assert convex_hull([*square, (0.5, 0.5), (0.2, 0.7)]) == square


def dispatch_of_model(run):
    model = dispatch_of(run).model
    assert model is not None
    return model


def _m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    k = math.cos(math.radians((lat1 + lat2) / 2))
    return 111_195.0 * math.hypot((lon2 - lon1) * k, lat2 - lat1)


def _cross(o, a, b) -> float:
    return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])
