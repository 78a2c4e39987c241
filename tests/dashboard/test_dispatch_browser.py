"""The Call centre & dispatch page in headless Chromium, on a store filled by the real
dispatch module (:mod:`tests.modules.dispatch.board_run`).

Run with ``pytest -m browser``. A dispatcher logs in, opens /dispatch, sees the call
queue and the crash's timeline, and sends another police unit than the recommended one.
A screenshot is saved to ``/tmp/kota_dispatch.png`` (also when the test fails).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from dash.testing.wait import until

from dashboard import ids
from dashboard.app import create_app
from tests.dashboard.logins import PASSWORD, browser_login
from tests.modules.dispatch.board_run import CRASH, board_run
from twin.accounts import AccountStore
from twin.live import LiveTwin
from twin.modules.dispatch.board import load_board, load_overrides
from twin.store import open_store

pytestmark = [
    pytest.mark.browser,
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),  # selenium 4.2 + urllib3
]

SCREENSHOT = Path("/tmp/kota_dispatch.png")


def test_dispatcher_sees_queue_and_timeline_and_overrides_a_unit(dash_duo, tmp_path,
                                                                  tiny_network, view_factory):
    store = open_store(f"sqlite:///{tmp_path / 'kota.db'}")
    run = board_run(store)
    board = load_board(store, run.run_id)
    assert board is not None
    police = [c.unit_id for c in board.candidates if c.incident_id == CRASH and c.kind == "police"]
    accounts = AccountStore.of(store)
    accounts.add_user("dan", "dispatcher", PASSWORD)
    app = create_app(LiveTwin(tiny_network, view_factory(tiny_network)), accounts=accounts,
                     store=store)
    dash_duo.driver.set_window_size(1400, 1200)
    dash_duo.server(app)  # not start_server: the login form is not a Dash page
    try:
        browser_login(dash_duo, "/dispatch", "dan")
        dash_duo.wait_for_element(f"#{ids.DISPATCH_QUEUE} li.call-row", timeout=20)
        assert dash_duo.find_element(f"#{ids.dispatch_queue('waiting')}").text not in ("", "0", "–")
        card = dash_duo.wait_for_element(f"#incident-{CRASH}", timeout=10)
        steps = [s.text for s in card.find_elements("css selector", "li .timeline-label")]
        assert steps == ["occurred", "call received", "answered", "classified"]
        assert f"recommended {police[0]}" in card.text
        assert "Call centre & dispatch" in dash_duo.find_element(f"#{ids.NAV_LINKS}").text

        dash_duo.select_dcc_dropdown(f"#{ids.DISPATCH_OVR_INCIDENT}", value=CRASH)
        until(lambda: "police" in dash_duo.find_element(f"#{ids.DISPATCH_OVR_KIND}").text
              or _options_ready(dash_duo, ids.DISPATCH_OVR_KIND), timeout=10)
        dash_duo.select_dcc_dropdown(f"#{ids.DISPATCH_OVR_KIND}", value="police")
        until(lambda: _options_ready(dash_duo, ids.DISPATCH_OVR_UNIT), timeout=10)
        dash_duo.select_dcc_dropdown(f"#{ids.DISPATCH_OVR_UNIT}", index=1)
        dash_duo.find_element(f"#{ids.DISPATCH_OVR_SEND}").click()
        dash_duo.wait_for_contains_text(f"#{ids.DISPATCH_OVR_MESSAGE}", "Override recorded",
                                        timeout=10)
        assert load_overrides(store, run.run_id) == {CRASH: {"police": police[1]}}
        dash_duo.wait_for_contains_text(f"#incident-{CRASH}", f"operator chose {police[1]}",
                                        timeout=10)
        assert dash_duo.get_logs() == []
    finally:
        dash_duo.driver.save_screenshot(str(SCREENSHOT))
        store.close()


def _options_ready(dash_duo, dropdown_id: str) -> bool:
    """Whether the dropdown has options to choose (opens and closes it to look)."""
    dash_duo.find_element(f"#{dropdown_id}").click()
    found = dash_duo.find_elements(".dash-dropdown-options .dash-dropdown-option")
    dash_duo.find_element(f"#{dropdown_id}").click()
    return len(found) > 0
