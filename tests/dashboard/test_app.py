"""The app shell and the Operations callback, through Flask (no browser)."""

from __future__ import annotations

import sys
from datetime import timedelta

import numpy as np
import pytest
from dash import dcc
from dash.exceptions import PreventUpdate

from dashboard import ids, link_state, live_layers
from dashboard.app import create_app, serve
from dashboard.figures import SPEED_BANDS
from dashboard.state import LIVE_CONFIG_KEY, current_live
from twin.alert_log import UNRATED, AlertRecord
from twin.live import LiveTwin


@pytest.fixture
def app_and_live(tiny_network, view_factory):
    live = LiveTwin(tiny_network, view_factory(tiny_network))
    app = create_app(live, title="Kota Twin test")
    client = app.server.test_client()
    assert client.get("/").status_code == 200  # first request: pages and callbacks set up
    return app, live, client


def test_app_keeps_the_live_twin_in_its_config(app_and_live):
    """Pages find the twin through the Flask config, not a module global."""
    app, live, _ = app_and_live
    assert app.server.config[LIVE_CONFIG_KEY] is live
    with app.server.test_request_context():
        assert current_live() is live


def test_current_live_outside_a_request_says_what_to_do():
    """Calling the accessor outside an app is a clear error."""
    with pytest.raises(RuntimeError, match="create_app"):
        current_live()


def test_shell_serves_layout_assets_and_one_operations_callback(app_and_live):
    """The index, the shell layout, the local CSS and the page's callback are served."""
    _, _, client = app_and_live
    layout = client.get("/_dash-layout").get_data(as_text=True)
    assert ids.NAVBAR in layout and "Operations" in layout
    css = client.get("/assets/kota.css")
    assert css.status_code == 200 and b".kpi-tile" in css.data
    index = client.get("/").get_data(as_text=True)
    assert "kota.css" in index
    assert "cdn" not in index.lower()
    deps = client.get("/_dash-dependencies").get_json()
    (tick,) = [d for d in deps if f"{ids.OPS_TICK}.data" in d["output"]]
    assert "clientside_function" not in tick or tick["clientside_function"] is None
    # the map figure is drawn in the browser, from the tick's data and the link geometry
    (draw,) = [d for d in deps if ids.OPS_MAP in d["output"]]
    assert draw["clientside_function"] == {"namespace": "kota_ops", "function_name": "draw"}
    assert [i["id"] for i in draw["inputs"]] == [ids.OPS_TICK]
    assert "ops_map.js" in index
    js = client.get("/assets/ops_map.js")
    assert js.status_code == 200 and b"kota_ops" in js.data


def test_the_page_sends_the_geometry_once_and_the_links_for_the_browser_to_draw(
        app_and_live, tiny_network, view_factory):
    """The page's figure has styled but empty band traces; the link geometry and the first
    update (the links of the view, no marker layer: the figure has them) come with it."""
    app, live, _ = app_and_live
    speed = tiny_network.link_speed_limit_mps * np.array([1.0, 0.6, 0.3, 0.1])
    live.publish_view(view_factory(tiny_network, speed, np.array([1, 2, 0, 1])))
    page = sys.modules["dashboard.pages.operations"]
    with app.server.test_request_context():
        stores = {c.id: c.data for c in _components(page.layout()) if isinstance(c, dcc.Store)}
        (graph,) = [c for c in _components(page.layout()) if isinstance(c, dcc.Graph)]
    bands = graph.figure.data[:len(SPEED_BANDS)]
    assert [t.name for t in bands] == [b.label for b in SPEED_BANDS]
    assert all(list(t.x) == [None] and list(t.hovertext) == [None] for t in bands)
    view = live.latest()
    assert stores[ids.OPS_TICK] == {"layers": [], "links": link_state.link_state(
        tiny_network, view.link_speed_mps, view.link_vehicle_count)}
    assert stores[ids.OPS_LINK_GEOMETRY] == link_state.link_geometry(tiny_network)


def _components(component) -> list:
    children = getattr(component, "children", None)
    kids = children if isinstance(children, list) else [] if children is None else [children]
    return [component, *(c for kid in kids if hasattr(kid, "to_plotly_json")
                         for c in _components(kid))]


def test_refresh_sends_the_links_state_and_tiles(app_and_live, tiny_network, view_factory):
    """A newer view gives the links' bands, speeds and vehicles plus the tile texts."""
    app, live, _ = app_and_live
    page = sys.modules["dashboard.pages.operations"]
    with app.server.test_request_context():
        page.layout()
        first_key = page._view_key(live.latest())
        drawn = live_layers.layer_digests(live.latest())
        with pytest.raises(PreventUpdate):
            page.refresh(1, first_key, drawn)
        speed = tiny_network.link_speed_limit_mps * np.array([1.0, 0.6, 0.3, 0.1])
        alert = AlertRecord(live.latest().clock_time + timedelta(seconds=60), "cctv-1", UNRATED,
                            "congestion on bc", "raised")
        live.publish_view(view_factory(
            tiny_network, speed, np.ones(4, np.int64), time_s=65.0, n_active=4, n_total=10,
            alerts=(alert,),
        ))
        update, key, digests, status, feed, *tiles = page.refresh(2, first_key, drawn)
    # no incident or unit moved: the marker layers are not sent again
    assert update["layers"] == []
    assert update["links"] == {"link": [0, 1, 2, 3], "band": [1, 2, 3, 4],
                               "speed_kmh": [36, 22, 14, 3], "vehicles": [1, 1, 1, 1]}
    assert [SPEED_BANDS[b].key for b in update["links"]["band"]] == [
        "free", "slow", "heavy", "jam"]
    assert digests == drawn
    assert key == [65.0, False]
    assert tiles[0] == "07:01:05"
    assert tiles[1] == "4"
    assert "tiny" in status
    (item,) = feed
    assert "alert-raised" in item.className and "congestion on bc" in str(item.to_plotly_json())


def test_serve_hands_the_flask_app_to_waitress(monkeypatch, tiny_network, view_factory):
    """``serve`` runs the app's WSGI server under waitress on the given address."""
    waitress = pytest.importorskip("waitress")
    calls = {}
    monkeypatch.setattr(waitress, "serve", lambda app, **kw: calls.update(app=app, **kw))
    live = LiveTwin(tiny_network, view_factory(tiny_network))
    serve(live, host="127.0.0.1", port=8123)
    assert calls["host"] == "127.0.0.1" and calls["port"] == 8123
    assert calls["app"].config[LIVE_CONFIG_KEY] is live
    # let the app set itself up, so the next app starts from a clean callback list
    assert calls["app"].test_client().get("/").status_code == 200


def test_a_second_app_in_one_process_serves_each_callback_once(tiny_network, view_factory):
    """Dash runs the pages again for every app; each app must still list each callback once."""
    for _ in range(2):
        app = create_app(LiveTwin(tiny_network, view_factory(tiny_network)))
    client = app.server.test_client()
    assert client.get("/").status_code == 200
    outputs = [d["output"] for d in client.get("/_dash-dependencies").get_json()]
    assert outputs and len(outputs) == len(set(outputs))
