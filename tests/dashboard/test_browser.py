"""The Operations page in headless Chromium, fed by a running twin.

Run with ``pytest -m browser``. The twin is the demo scenario run exactly as
``kota run scenarios/jakarta_jatinegara.toml --dashboard`` runs it: a
:class:`~twin.runner.TwinRun` on a wall-paced clock in a background thread,
publishing views to the :class:`~twin.live.LiveTwin` the page reads; with one
CCTV camera added on Jl. Radjiman, where a vehicle breaks down (both lanes blocked)
a minute in, so the camera reports a stopped vehicle for the alert feed.
"""

from __future__ import annotations

import re
import threading
from pathlib import Path

import pytest
from dash.testing.wait import until

from dashboard import ids, live_layers, sensor_table
from dashboard.app import create_app
from dashboard.figures import SPEED_BANDS
from tests.dashboard.logins import browser_login
from twin.accounts import AccountStore
from twin.live import LiveTwin
from twin.runner import TwinRun
from twin.scenario import CameraSpec, IncidentSpec, load_scenario
from twin.store import open_store

pytestmark = [
    pytest.mark.browser,
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),  # selenium 4.2 + urllib3
]

REPO = Path(__file__).resolve().parents[2]
DEMO = REPO / "scenarios" / "jakarta_jatinegara.toml"
SCREENSHOT = Path("/tmp/kota_dashboard.png")
SENSORS_SCREENSHOT = Path("/tmp/kota_sensors.png")
RADJIMAN_NORTH = "1336960567-1709501112-0"  # two lanes


@pytest.fixture
def running_run(tmp_path):
    """The demo scenario running at 120x real time in a background thread, plus a CCTV
    camera that sees a breakdown at 06:00:30 (for an hour: 30 s of wall time, so a slow
    page load still finds it open); its store is a SQLite file."""
    demo = load_scenario(DEMO)
    cctv = CameraSpec(id="cctv-radjiman-north", type="cctv", link=RADJIMAN_NORTH, pos_m=50.0,
                      stopped_after_s=20.0)
    stall = IncidentSpec(id="breakdown-radjiman", type="breakdown", link=RADJIMAN_NORTH,
                         start_s=30.0, duration_s=3600.0, lanes_blocked=2)
    scenario = demo.model_copy(update={"cameras": [*demo.cameras, cctv],
                                       "incidents": [*demo.incidents, stall]})
    run = TwinRun(scenario, realtime=True, speedup=120.0,
                  store_url=f"sqlite:///{tmp_path / 'kota.db'}")
    worker = threading.Thread(target=run.run, kwargs={"chunk_s": 5.0}, daemon=True)
    worker.start()
    yield run
    run.stop()
    worker.join(timeout=30)
    run.close()


@pytest.fixture
def running_twin(running_run):
    """The running demo's :class:`~twin.live.LiveTwin`."""
    return running_run.live


def test_operations_page_shows_the_live_twin(dash_duo, running_twin):
    """The map draws, the clock tile advances with the twin, no browser errors."""
    app = create_app(running_twin)
    dash_duo.driver.set_window_size(1400, 940)
    dash_duo.start_server(app)

    dash_duo.wait_for_element(f"#{ids.OPS_MAP} .js-plotly-plot .scatterlayer", timeout=20)
    until(lambda: len(dash_duo.find_elements(
        f"#{ids.OPS_MAP} .scatterlayer path.js-line")) >= 3, timeout=20)
    legend = dash_duo.find_elements(f"#{ids.OPS_MAP} .legend .traces")
    assert len(legend) == len(SPEED_BANDS) + len(live_layers.LAYERS)

    clock = dash_duo.find_element(f"#{ids.ops_kpi('clock')}")
    first_clock = clock.text
    assert len(first_clock) == 8 and first_clock.count(":") == 2
    until(lambda: clock.text > first_clock, timeout=15)
    # the map was patched too: the last tick's view is drawn, with every band trace
    vehicles = dash_duo.find_element(f"#{ids.ops_kpi('vehicles')}")
    until(lambda: vehicles.text not in ("", "0"), timeout=10)
    n_traces = len(SPEED_BANDS) + len(live_layers.LAYERS)
    assert len(dash_duo.find_elements(f"#{ids.OPS_MAP} .scatterlayer .trace")) == n_traces
    # the bands are redrawn in the browser (assets/ops_map.js): a busy link's hover text
    band_texts = dash_duo.driver.execute_script(
        f"return document.querySelector('#{ids.OPS_MAP} .js-plotly-plot').data"
        f".slice(1, {len(SPEED_BANDS)}).flatMap(t => t.hovertext.filter(h => h));")
    busy = re.compile(r"<b>[^<]+</b><br>\d+ km/h · \d+ veh<br>limit \d+ km/h")
    assert band_texts and all(busy.fullmatch(text) for text in band_texts)
    # the breakdown (30 s in) is drawn as an incident marker, with its type and lanes
    incidents = live_layers.trace_index("incidents")
    until(lambda: len(dash_duo.find_elements(
        f"#{ids.OPS_MAP} .scatterlayer .trace:nth-child({incidents + 1}) path.point")) == 1,
        timeout=15)
    hover = dash_duo.driver.execute_script(
        f"return document.querySelector('#{ids.OPS_MAP} .js-plotly-plot').data[{incidents}]"
        ".hovertext;")
    assert len(hover) == 1 and "breakdown" in hover[0] and "2 lane(s) blocked" in hover[0]

    dash_duo.driver.save_screenshot(str(SCREENSHOT))
    assert dash_duo.get_logs() == []


def test_operations_page_shows_the_cameras_alert(dash_duo, running_twin):
    """The CCTV camera's stopped-vehicle report appears in the alert feed, newest first."""
    app = create_app(running_twin)
    dash_duo.driver.set_window_size(1400, 940)
    dash_duo.start_server(app)
    dash_duo.wait_for_element(f"#{ids.OPS_ALERTS}", timeout=20)
    until(lambda: len(dash_duo.find_elements(f"#{ids.OPS_ALERTS} li.alert-row")) >= 1,
          timeout=20)
    rows = [r.text for r in dash_duo.find_elements(f"#{ids.OPS_ALERTS} li.alert-row")]
    stopped = [r for r in rows if "stopped vehicle on Jalan Dokter KRT Radjiman" in r]
    assert stopped and "cctv-radjiman-north" in stopped[-1] and "unrated" in stopped[-1].lower()
    times = [r.split()[0] for r in rows]  # HH:MM:SS first
    assert times == sorted(times, reverse=True)
    assert dash_duo.get_logs() == []


def test_login_then_operations_page(dash_duo, tmp_path, tiny_network, view_factory):
    """Behind login: the browser lands on the login form, logs in, sees Operations and its user."""
    store = open_store(f"sqlite:///{tmp_path / 'kota.db'}")
    accounts = AccountStore.of(store)
    accounts.add_user("dan", "dispatcher", "correct horse battery staple")
    app = create_app(LiveTwin(tiny_network, view_factory(tiny_network)), accounts=accounts)
    dash_duo.server(app)  # not start_server: that waits for Dash's page, the login form is not one
    browser_login(dash_duo, "/", "dan")
    dash_duo.wait_for_element(f"#{ids.OPS_MAP} .js-plotly-plot .scatterlayer", timeout=20)
    dash_duo.wait_for_contains_text(f"#{ids.USER_BADGE}", "dan (dispatcher)", timeout=10)
    assert [el.text for el in dash_duo.find_elements(f"#{ids.NAV_LINKS} a.nav-link")] == [
        "Operations", "Map", "Call centre & dispatch", "Log out"]
    assert dash_duo.get_logs() == []
    store.close()


def test_sensors_page_shows_sources_and_a_rejected_payload(dash_duo, running_run):
    """The run's store, as ``kota run --dashboard`` hands it over: the loop detectors appear
    as source rows, and a payload quarantined in the same store is listed as rejected."""
    running_run.store.quarantine("cam-broken", "mqtt: not JSON", b"{oops")
    app = create_app(running_run.live, store=running_run.store, sensors_clock="data")
    dash_duo.driver.set_window_size(1400, 940)
    dash_duo.start_server(app)
    dash_duo.driver.get(f"{dash_duo.server_url}/sensors")
    dash_duo.wait_for_element(f"#{ids.SENSORS_TABLE}", timeout=20)
    until(lambda: len(dash_duo.find_elements(f"#{ids.SENSORS_TABLE} tr.sensor-row")) >= 2,
          timeout=20)
    headers = [th.text for th in dash_duo.find_elements(".sensors-table th")]
    assert headers == [label for _, label in sensor_table.SOURCE_COLUMNS]
    rejected = dash_duo.find_elements(f"#{ids.SENSORS_REJECTED} li.rejected-row")
    assert len(rejected) == 1 and "cam-broken" in rejected[0].text and "{oops" in rejected[0].text
    assert dash_duo.find_element(f"#{ids.sensors_tile('quarantined')}").text == "1"
    until(lambda: dash_duo.find_element(f"#{ids.sensors_tile('online')}").text not in ("", "0"),
          timeout=20)
    assert "Sensors" in dash_duo.find_element(f"#{ids.NAV_LINKS}").text
    dash_duo.driver.save_screenshot(str(SENSORS_SCREENSHOT))
    assert dash_duo.get_logs() == []
