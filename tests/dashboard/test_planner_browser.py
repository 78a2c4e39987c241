"""The Planner page in headless Chromium, behind login: start a small sweep, watch it finish
on a real Dask LocalCluster, and compare its two points (``pytest -m browser``)."""

from __future__ import annotations

from pathlib import Path

import pytest
from dash.testing.wait import until
from selenium.webdriver.common.keys import Keys

from dashboard import ids
from dashboard import planner_view as view
from dashboard.app import create_app
from dashboard.planner_jobs import JOBS_CONFIG_KEY
from tests.dashboard.logins import PASSWORD, browser_login
from twin.accounts import AccountStore
from twin.live import LiveTwin
from twin.planning.run_kpis import KPI_NAMES
from twin.store import open_store

pytestmark = [
    pytest.mark.browser,
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),  # selenium 4.2 + urllib3
]

REPO = Path(__file__).resolve().parents[2]
SCREENSHOT = Path("/tmp/kota_planner.png")
FAILURE_SCREENSHOT = Path("/tmp/kota_planner_failure.png")


def _type(dash_duo, element_id: str, text: str) -> None:
    """Replace what the input holds with ``text`` (React sees every key)."""
    box = dash_duo.find_element(f"#{element_id}")
    box.click()
    box.send_keys(Keys.CONTROL, "a")
    box.send_keys(Keys.BACK_SPACE)
    box.send_keys(text)
    until(lambda: box.get_attribute("value") == text, timeout=5)


def test_planner_runs_a_sweep_and_compares_its_two_points(dash_duo, tmp_path, tiny_network,
                                                          view_factory):
    """Log in as a planner; a wrong parameter is explained; start grid_small with
    demand.scale 0.5 and 2.0, one seed, 720 s (600 s is refused): the progress reaches 2 / 2 done, and the
    sweep opens in Compare with the deltas of every KPI and the difference map."""
    accounts = AccountStore.of(open_store(f"sqlite:///{tmp_path / 'accounts.db'}"))
    accounts.add_user("pia", "planner", PASSWORD)
    app = create_app(LiveTwin(tiny_network, view_factory(tiny_network)), accounts=accounts)
    app.server.config[view.SCENARIOS_CONFIG_KEY] = str(REPO / "scenarios")
    app.server.config[view.SWEEPS_CONFIG_KEY] = str(tmp_path / "sweeps")
    app.server.config["KOTA_PLANNER_WORKERS"] = 1
    dash_duo.driver.set_window_size(1400, 1400)
    dash_duo.server(app)  # the login form is not a Dash page: no start_server
    try:
        browser_login(dash_duo, "/planner", "pia")
        dash_duo.wait_for_element(f"#{ids.PLAN_START}", timeout=20)
        assert "Planner" in dash_duo.find_element(f"#{ids.NAV_LINKS}").text
        assert dash_duo.find_element(f"#{ids.PLAN_PROGRESS}").text == "No sweep started yet."

        assert "jakarta_jatinegara.toml" in dash_duo.find_element(f"#{ids.PLAN_SCENARIO}").text
        dash_duo.select_dcc_dropdown(f"#{ids.PLAN_SCENARIO}", value="grid_small.toml")
        until(lambda: "grid_small.toml" in dash_duo.find_element(f"#{ids.PLAN_SCENARIO}").text,
              timeout=10)
        _type(dash_duo, ids.PLAN_PARAM, "demand.scal")
        dash_duo.wait_for_contains_text(f"#{ids.PLAN_PARAM_CHECK}",
                                        "unknown parameter 'demand.scal'", timeout=10)
        _type(dash_duo, ids.PLAN_PARAM, "demand.scale")
        until(lambda: dash_duo.find_element(f"#{ids.PLAN_PARAM_CHECK}").text == "", timeout=10)
        _type(dash_duo, ids.PLAN_VALUES, "0.5, 2.0")
        _type(dash_duo, ids.PLAN_REPLICATIONS, "1")
        _type(dash_duo, ids.PLAN_DURATION, "600")
        _type(dash_duo, ids.PLAN_NAME, "browser")
        dash_duo.find_element(f"#{ids.PLAN_START}").click()
        # grid_small's breakdown starts at 600 s: the scenario refuses so short a run
        dash_duo.wait_for_contains_text(
            f"#{ids.PLAN_MESSAGE}", "Not started: the scenario refuses", timeout=20)
        assert "'breakdown-r2c1' starts at 600.0 s, after the run ends (600.0 s)" in \
            dash_duo.find_element(f"#{ids.PLAN_MESSAGE}").text
        _type(dash_duo, ids.PLAN_DURATION, "720")
        dash_duo.find_element(f"#{ids.PLAN_START}").click()
        dash_duo.wait_for_contains_text(f"#{ids.PLAN_MESSAGE}", "Started browser: 2 runs",
                                        timeout=20)
        dash_duo.wait_for_text_to_equal(f"#{ids.PLAN_PROGRESS}",
                                        "browser: 2 / 2 runs done (done)", timeout=80)

        # the finished sweep opens in Compare: A = 0.5, B = 2.0
        until(lambda: len(dash_duo.find_elements(f"#{ids.PLAN_DELTAS} tr.delta-row"))
              == len(KPI_NAMES), timeout=20)
        dash_duo.wait_for_element(f"#{ids.PLAN_MAP} .scatterlayer .trace", timeout=20)
        rows = [r.text for r in dash_duo.find_elements(f"#{ids.PLAN_DELTAS} tr.delta-row")]
        assert rows[0].startswith("Mean travel time (s)")
        assert all("no interval (one seed)" in r for r in rows)
        assert "B (demand.scale=2.0) against A (demand.scale=0.5)" in dash_duo.find_element(
            f"#{ids.PLAN_MAP}").text
        until(lambda: len(dash_duo.find_elements(f"#{ids.PLAN_KPIS} .js-plotly-plot"))
              == len(KPI_NAMES), timeout=20)
        dash_duo.driver.save_screenshot(str(SCREENSHOT))
        status = app.server.config[JOBS_CONFIG_KEY].status()
        assert status.state == "done" and status.errors == ()
        assert dash_duo.get_logs() == []
    except Exception:
        dash_duo.driver.save_screenshot(str(FAILURE_SCREENSHOT))
        raise
