"""The Service index page in headless Chromium, behind login, on a store filled by the real
dispatch module (``pytest -m browser``)."""

from __future__ import annotations

from pathlib import Path

import pytest
from dash.testing.wait import until

from dashboard import ids
from dashboard.app import create_app
from tests.dashboard import index_fixtures
from tests.dashboard.logins import PASSWORD, browser_login
from twin.accounts import AccountStore
from twin.live import LiveTwin
from twin.modules.quality import SERVICES, load_config
from twin.store import open_store

pytestmark = [
    pytest.mark.browser,
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),  # selenium 4.2 + urllib3
]

SCREENSHOT = Path("/tmp/kota_index.png")
FAILURE_SCREENSHOT = Path("/tmp/kota_index_failure.png")
dispatch_db = index_fixtures.dispatch_db
dispatch_store = index_fixtures.dispatch_store


def test_analyst_sees_six_gauges_and_a_services_explanation(dash_duo, tmp_path, dispatch_store,
                                                            tiny_network, view_factory):
    """Log in as an analyst, open /index: six gauges; 7 days: the published trend; choose
    Safety: one row per KPI."""
    accounts = AccountStore.of(open_store(f"sqlite:///{tmp_path / 'accounts.db'}"))
    accounts.add_user("ann", "analyst", PASSWORD)
    app = create_app(LiveTwin(tiny_network, view_factory(tiny_network)), accounts=accounts,
                     store=dispatch_store)
    dash_duo.driver.set_window_size(1400, 1200)
    dash_duo.server(app)  # the login form is not a Dash page: no start_server
    try:
        browser_login(dash_duo, "/index", "ann")
        until(lambda: len(dash_duo.find_elements(
            ".index-service .js-plotly-plot .indicatorlayer")) == len(SERVICES), timeout=20)
        assert "Service index" in dash_duo.find_element(f"#{ids.NAV_LINKS}").text
        safety_grade = dash_duo.find_element(f"#{ids.index_grade('safety')}").text
        assert safety_grade[0] in "ABCD" and "coverage" in safety_grade
        assert dash_duo.find_element(f"#{ids.index_grade('law')}").text.startswith(
            "insufficient data")

        # the published points are 7-day windows: choosing 7 days draws their trend
        status = dash_duo.find_element(f"#{ids.INDEX_STATUS}").text
        assert "2026-01-31 01:00 to 2026-03-02 01:00" in status  # 30 days to the newest data
        dash_duo.find_element(f"#{ids.INDEX_WINDOW} input[value='7']").click()
        dash_duo.wait_for_contains_text(f"#{ids.INDEX_STATUS}", "2026-02-23 01:00", timeout=20)
        until(lambda: len(dash_duo.find_elements(f"#{ids.INDEX_TREND} .scatterlayer .trace"))
              == len(SERVICES) + 1, timeout=20)

        dash_duo.find_element(f"#{ids.index_pick('safety')}").click()
        kpis = [k.id for k in load_config().of_service("safety")]
        until(lambda: len(dash_duo.find_elements(f"#{ids.INDEX_DRILL} tr.kpi-row"))
              == len(kpis), timeout=20)
        rows = [r.text for r in dash_duo.find_elements(f"#{ids.INDEX_DRILL} tr.kpi-row")]
        assert [r.split()[0] for r in rows] == kpis
        assert "no data" in rows[kpis.index("safety.road_fatalities_yoy_change")]
        assert "Safety:" in dash_duo.find_element(f"#{ids.INDEX_DRILL} h3").text
        dash_duo.driver.save_screenshot(str(SCREENSHOT))
        assert dash_duo.get_logs() == []
    except Exception:
        dash_duo.driver.save_screenshot(str(FAILURE_SCREENSHOT))
        raise
