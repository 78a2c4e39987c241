"""The map layers as plain functions on real runs: the Operations map's marker layers and
its one-second update, and the Map page's hot spots, suggested sites, areas and switcher."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from dashboard import ids, link_state, live_layers, map_layers
from dashboard.app import create_app
from dashboard.figures import SPEED_BANDS
from tests.dashboard.logins import PASSWORD, client_login
from tests.dashboard.map_fixtures import BLOCKED, dispatch_run, etle_run
from twin.accounts import AccountStore
from twin.runner import TwinRun
from twin.scenario import CameraSpec, load_scenario

GRID = Path(__file__).resolve().parents[2] / "scenarios" / "grid_small.toml"


@pytest.fixture(scope="module")
def grid_views():
    """Views of grid_small with an ANPR camera: before, just after and 10 s after its
    breakdown (600 s) blocks r2c1-r2c2."""
    base = load_scenario(GRID)
    cam = CameraSpec(id="anpr-1", type="anpr", link="r0c0-r0c1")
    run = TwinRun(base.model_copy(update={"cameras": [cam]}), store_url="sqlite://")
    views = []
    for t in (590.0, 605.0, 615.0):
        run.advance(t)
        views.append(run.live.latest())
    run.close()
    return run.network, views


@pytest.fixture(scope="module")
def etle(tmp_path_factory):
    run = etle_run(tmp_path_factory.mktemp("etle-layers"))
    yield run
    run.close()


def _sent(update) -> set[tuple[int, str]]:
    return {(index, key) for index, data in update["layers"] for key in data}


def test_operations_figure_draws_bands_then_every_layer(grid_views):
    network, (_, during, _) = grid_views
    fig = live_layers.operations_figure(network, during)
    names = [t.name for t in fig.data]
    assert names == [b.label for b in SPEED_BANDS] + [layer.label for layer in live_layers.LAYERS]
    incidents = fig.data[live_layers.trace_index("incidents")]
    (text,) = incidents.hovertext
    assert "breakdown" in text and "1 lane(s) blocked" in text and "scenario" in text
    (inc,) = during.incidents
    assert (incidents.x[0], incidents.y[0]) == (round(inc.lon, 6), round(inc.lat, 6))
    cameras = fig.data[live_layers.trace_index("cameras")]
    assert len(cameras.x) == 1 and "anpr-1" in cameras.hovertext[0]
    assert len(fig.data[live_layers.trace_index("detectors")].x) == 5
    assert fig.data[live_layers.trace_index("units")].x == (None,)  # no dispatch module


def test_the_tick_update_sends_the_links_and_only_the_layers_that_changed(grid_views):
    network, (before, during, later) = grid_views
    drawn = live_layers.layer_digests(before)
    update, digests = live_layers.live_update(network, during, drawn)
    assert update["links"] == link_state.link_state(network, during.link_speed_mps,
                                                    during.link_vehicle_count)
    incidents = live_layers.trace_index("incidents")
    assert _sent(update) == {(incidents, k) for k in ("x", "y", "hovertext")}
    (index, data), = update["layers"]
    assert data == live_layers.layer_data(during, "incidents")
    update, again = live_layers.live_update(network, later, digests)
    assert update["layers"] == [] and again == digests  # the incident did not change
    busy = [i for i, n in enumerate(later.link_vehicle_count) if n > 0]
    assert update["links"]["link"] == busy and update["links"]["vehicles"] == [
        later.link_vehicle_count[i] for i in busy]


def test_units_and_routes_are_patched_when_the_dispatch_units_move(tmp_path):
    run = dispatch_run(tmp_path)  # finished: every unit back at its station
    try:
        view = run.live.latest()
    finally:
        run.close()
    assert len(view.units) == 6
    data = live_layers.unit_data(view.units)
    assert data["marker.color"] == [live_layers.UNIT_COLOURS[u.status] for u in view.units]
    update, _ = live_layers.live_update(run.network, view, {})
    units = live_layers.trace_index("units")
    assert (units, "marker") in _sent(update) and (units, "x") in _sent(update)
    (marker,) = [data["marker"] for index, data in update["layers"] if index == units]
    assert marker == {"color": data["marker.color"]}  # merged into the trace's marker style


def test_problem_map_layers_on_a_real_store(etle):
    cameras = {s.link_id for s in etle.sites if s.kind == "camera"}
    pm = map_layers.load_problem_map(etle.store, etle.network, cameras)
    assert {h.link_id for h in pm.hotspots["violation"]} == cameras
    assert [s.link_id for s in pm.camera_sites] == [BLOCKED]
    assert pm.notes["areas"] == "no station areas stored"
    fig = map_layers.problem_figure(etle.network, pm, ["violation", "camera_sites"])
    assert len(fig.data) == 1 + len(map_layers.MAP_LAYERS)
    assert [t.visible for t in fig.data[1:]] == [k in ("violation", "camera_sites")
                                                 for k in map_layers.LAYER_KEYS]
    violation = fig.data[1 + map_layers.LAYER_KEYS.index("violation")]
    assert len(violation.x) == 2 and all("violation record(s)" in t for t in violation.hovertext)
    events = [h.events for h in pm.hotspots["violation"]]
    assert events[0] != events[1]  # the link with more records has the bigger marker
    assert (violation.marker.size[0] > violation.marker.size[1]) == (events[0] > events[1])


def test_the_layer_switcher_shows_the_ticked_layers_only():
    patch = map_layers.visibility_patch(["congestion", "areas"])
    ops = {op["location"][1]: op["params"]["value"] for op in patch.to_plotly_json()["operations"]}
    assert ops == {1 + i: key in ("congestion", "areas") for i, key in enumerate(map_layers.LAYER_KEYS)}


def test_map_page_and_switcher_for_the_roles_that_see_operations(etle):
    accounts = AccountStore.of(etle.store)
    accounts.add_user("dan", "dispatcher", PASSWORD)
    accounts.add_user("pat", "planner", PASSWORD)
    app = create_app(etle.live, accounts=accounts, store=etle.store)
    assert app.server.test_client().get("/").status_code == 302  # sets Dash up
    dispatcher, planner = client_login(app, "dan"), client_login(app, "pat")
    assert dispatcher.get("/map").status_code == 200
    assert '"Map"' in dispatcher.get("/_dash-layout").get_data(as_text=True)
    assert planner.get("/map").status_code == 403
    body = {"output": f"{ids.MAP_GRAPH}.figure",
            "outputs": {"id": ids.MAP_GRAPH, "property": "figure"},
            "inputs": [{"id": ids.MAP_LAYERS, "property": "value", "value": ["incident"]}],
            "changedPropIds": [f"{ids.MAP_LAYERS}.value"]}
    response = dispatcher.post("/_dash-update-component", json=body)
    assert response.status_code == 200 and '"visible"' in response.get_data(as_text=True)
    assert planner.post("/_dash-update-component", json=body).status_code == 403
    page = sys.modules["dashboard.pages.map"]
    with app.server.test_request_context():
        layout = str(page.layout().to_plotly_json())
    assert "Violation hot spots: 2 link(s) with violation records" in layout
