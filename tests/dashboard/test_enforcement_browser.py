"""The Enforcement page in headless Chromium: a verifier logs in and verifies a violation.

Run with ``pytest -m browser``. The store is filled by the real ETLE module
(:mod:`tests.dashboard.enforcement_fixtures`); on a failure dash's pytest plugin saves a
screenshot to ``/tmp/dash_artifacts``, and a passing run leaves one of the evidence at
:data:`SCREENSHOT`.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from dash.testing.wait import until

from dashboard import ids
from dashboard.app import create_app
from tests.dashboard.enforcement_fixtures import fill_etle_store
from tests.dashboard.logins import browser_login
from twin.live import LiveTwin
from twin.modules.enforcement import CaseState

pytestmark = [
    pytest.mark.browser,
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),  # selenium 4.2 + urllib3
]

SCREENSHOT = Path("/tmp/kota_enforcement.png")


def test_verifier_verifies_a_violation(dash_duo, tmp_path, tiny_network, view_factory):
    """Log in as a verifier, open the oldest case, verify it: the page says it is now
    Owner resolved, it leaves the queue and the counts move; the store agrees."""
    etle = fill_etle_store(tmp_path)
    oldest = etle.pending[0]
    app = create_app(LiveTwin(tiny_network, view_factory(tiny_network)), accounts=etle.accounts,
                     store=etle.store, enforcement=etle.desk)
    dash_duo.driver.set_window_size(1400, 940)
    dash_duo.server(app)  # not start_server: the login form is not a Dash page
    browser_login(dash_duo, "/enforcement", "vic")

    dash_duo.wait_for_element(f"#{ids.ENF_QUEUE}", timeout=20)
    items = dash_duo.find_elements(f"#{ids.ENF_QUEUE} label")
    assert len(items) == 3 and oldest.case_id in items[0].text
    assert dash_duo.find_element("#enf-count-pending_verification").text == "3"
    assert "Enforcement" in dash_duo.find_element(f"#{ids.NAV_LINKS}").text
    items[0].click()
    dash_duo.wait_for_contains_text(f"#{ids.ENF_EVIDENCE} .enf-fact-case_id", oldest.case_id,
                                    timeout=10)
    assert "80 km/h" in dash_duo.find_element(f"#{ids.ENF_EVIDENCE} .enf-fact-speed").text
    assert dash_duo.find_element(f"#{ids.ENF_EVIDENCE} .enf-plate-text").text == oldest.plate
    dash_duo.driver.save_screenshot(str(SCREENSHOT))

    dash_duo.find_element(f"#{ids.ENF_VERIFY}").click()
    dash_duo.wait_for_contains_text(f"#{ids.ENF_MESSAGE}",
                                    f"{oldest.case_id} verified by vic: now Owner resolved",
                                    timeout=10)
    until(lambda: len(dash_duo.find_elements(f"#{ids.ENF_QUEUE} label")) == 2, timeout=10)
    assert oldest.case_id not in dash_duo.find_element(f"#{ids.ENF_QUEUE}").text
    dash_duo.wait_for_text_to_equal("#enf-count-owner_resolved", "1", timeout=10)
    assert dash_duo.find_element("#enf-count-pending_verification").text == "2"
    case = etle.enforcement.cases.case(oldest.case_id)
    assert case is not None and case.state is CaseState.OWNER_RESOLVED
    assert case.verified_by == "vic"
    assert dash_duo.get_logs() == []
    etle.store.close()
