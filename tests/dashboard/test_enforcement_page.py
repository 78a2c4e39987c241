"""The Enforcement page: builders, the officer's acts and the TAR lookup, on a store
filled by the real ETLE module (:mod:`tests.dashboard.enforcement_fixtures`)."""

from __future__ import annotations

import sys

import pytest
from werkzeug.exceptions import Forbidden

from dashboard import auth, ids
from dashboard import enforcement_desk as desk_api
from dashboard.app import create_app
from dashboard.enforcement_tar import case_lines, driver_lines, owner_text, tar_panel
from dashboard.enforcement_view import (
    evidence_fields,
    evidence_images,
    evidence_panel,
    payment_rows,
    queue_options,
    status_rows,
)
from tests.dashboard.enforcement_fixtures import fill_etle_store, jpeg_bytes
from tests.dashboard.logins import client_login
from twin.live import LiveTwin
from twin.modules.enforcement import CaseState, load_tariff


@pytest.fixture
def etle(tmp_path):
    filled = fill_etle_store(tmp_path)
    yield filled
    filled.store.close()


@pytest.fixture
def app(etle, tiny_network, view_factory):
    app = create_app(LiveTwin(tiny_network, view_factory(tiny_network)), accounts=etle.accounts,
                     store=etle.store, enforcement=etle.desk)
    assert app.server.test_client().get("/").status_code == 302  # sets Dash up
    return app


def _client(app, name: str):
    return client_login(app, name)


class _As:
    """A request context of the logged-in user ``name`` (the guard has run; on ``/``, which
    every role here may open, so the functions' own checks are what is tested)."""

    def __init__(self, app, name: str) -> None:
        sid = _client(app, name).get_cookie(auth.COOKIE).value
        self.ctx = app.server.test_request_context(
            "/", headers={"Cookie": f"{auth.COOKIE}={sid}"})
        self.app = app

    def __enter__(self):
        self.ctx.__enter__()
        assert self.app.server.preprocess_request() is None
        return self

    def __exit__(self, *exc):
        return self.ctx.__exit__(*exc)


# -- builders ----------------------------------------------------------------------------


def test_queue_is_oldest_first_and_evidence_has_the_facts(etle):
    options = queue_options(etle.pending)
    assert [o["value"] for o in options] == [c.case_id for c in etle.pending]
    assert options[0]["label"].startswith("2026-03-02 07:00:00 WIB · SPEEDING · cam-speed")
    fields = evidence_fields(etle.photo, load_tariff())
    assert (fields["speed"], fields["limit"], fields["article"], fields["fine"]) == (
        "90 km/h", "50 km/h", "Pasal 287(5)", "Rp500.000 (uu22-2009/v1)")
    assert fields["time"] == "2026-03-02 07:02:00 WIB"
    assert fields["place"] == "cam-speed · link L1 · -6.20000, 106.90000"
    assert fields["plate"].startswith(etle.photo.plate) and "95%" in fields["plate"]
    assert fields["rule"].startswith("speeding.point (") and fields["points"].startswith("5 ")


def test_evidence_shows_the_photo_when_held_else_the_plate(etle):
    (uri,) = evidence_images(etle.photo, etle.desk.images)
    assert uri.startswith("data:image/jpeg;base64,") and len(uri) > len(jpeg_bytes())
    no_photo = etle.pending[0]  # its image hash is not in the evidence store
    assert evidence_images(no_photo, etle.desk.images) == []
    text = str(evidence_panel(no_photo, load_tariff(), etle.desk.images))
    assert "enf-plate-text" in text and no_photo.plate in text and "data:image" not in text
    assert "enf-evidence-image" in str(evidence_panel(etle.photo, load_tariff(), etle.desk.images))


def test_status_counts_and_payments(etle):
    counts = etle.enforcement.cases.count_by_state()
    assert status_rows(counts) == [("PENDING_VERIFICATION", "Pending verification", 3),
                                   ("CLOSED", "Closed", 1)]
    assert status_rows({})[0] == ("PENDING_VERIFICATION", "Pending verification", 0)
    (row,) = payment_rows(etle.enforcement.cases.recent_payments())
    assert row == {"time": "2026-03-02 07:00:00 WIB", "case_id": etle.paid.case_id,
                   "amount": "Rp500.000", "bank": "BRI", "ref": "BRI-20260302-000001"}


# -- acts --------------------------------------------------------------------------------


def test_verifier_verifies_as_themselves_and_rejects_only_with_a_reason(app, etle):
    first, second = etle.pending[0], etle.pending[1]
    with _As(app, "vic"):
        assert [c.case_id for c in desk_api.pending(etle.store, etle.desk, "vic")] == [
            c.case_id for c in etle.pending]
        assert desk_api.claim(etle.store, etle.desk, first.case_id).claimed_by == "vic"
        done = desk_api.verify(etle.store, etle.desk, first.case_id)
        with pytest.raises(ValueError, match="needs a reason"):
            desk_api.reject(etle.store, etle.desk, second.case_id, "  ")
        assert etle.enforcement.cases.case(second.case_id).state is CaseState.PENDING_VERIFICATION
        rejected = desk_api.reject(etle.store, etle.desk, second.case_id, "ambulance on duty")
    owner = etle.registry.owner_of(first.plate)
    assert done.state is CaseState.OWNER_RESOLVED and done.verified_by == "vic"
    assert done.owner_name == owner.name
    assert rejected.state is CaseState.REJECTED
    moves = etle.enforcement.cases.transitions_of(second.case_id)
    assert moves[-1][1:] == ("REJECTED", moves[-1][2], "officer:vic", "ambulance on duty")
    assert etle.enforcement.cases.verify_audit().ok


def test_a_role_without_the_action_is_refused_and_nothing_changes(app, etle):
    case = etle.pending[0]
    with _As(app, "ann"):
        for act in (lambda: desk_api.verify(etle.store, etle.desk, case.case_id),
                    lambda: desk_api.reject(etle.store, etle.desk, case.case_id, "looks wrong")):
            with pytest.raises(Forbidden):
                act()
    assert etle.enforcement.cases.case(case.case_id).state is CaseState.PENDING_VERIFICATION
    denied = [e.subject for e in etle.accounts.access_entries("ann") if e.action == "denied"]
    assert denied == ["action:violation.verify"] * 2


def _decide_body(client, case_id: str, button: str = ids.ENF_VERIFY, reason: str = "") -> dict:
    deps = client.get("/_dash-dependencies").get_json()
    (dep,) = [d for d in deps if ids.ENF_MESSAGE in d["output"]]
    outputs = [{"id": o.split(".")[0], "property": o.split(".")[1]}
               for o in dep["output"].strip(".").split("...")]
    return {"output": dep["output"], "outputs": outputs,
            "inputs": [{"id": ids.ENF_VERIFY, "property": "n_clicks", "value": 1},
                       {"id": ids.ENF_REJECT, "property": "n_clicks", "value": 1}],
            "state": [{"id": ids.ENF_QUEUE, "property": "value", "value": case_id},
                      {"id": ids.ENF_REASON, "property": "value", "value": reason}],
            "changedPropIds": [f"{button}.n_clicks"]}


def test_verify_callback_over_http_checks_the_role_on_the_server(app, etle):
    """The page's own callback: a dispatcher's request is refused, a verifier's verifies."""
    case = etle.pending[0]
    vic, dan = _client(app, "vic"), _client(app, "dan")
    body = _decide_body(vic, case.case_id)
    assert dan.post("/_dash-update-component", json=body).status_code == 403
    assert dan.get("/enforcement").status_code == 403
    assert etle.enforcement.cases.case(case.case_id).state is CaseState.PENDING_VERIFICATION
    response = vic.post("/_dash-update-component", json=body)
    assert response.status_code == 200
    assert f"{case.case_id} verified by vic: now Owner resolved" in response.get_data(as_text=True)
    assert etle.enforcement.cases.case(case.case_id).verified_by == "vic"


def test_reject_callback_needs_a_reason(app, etle):
    """Reject without a reason: the page says why and the case still waits; with one, it
    is rejected by the logged-in officer."""
    case = etle.pending[1]
    vic = _client(app, "vic")
    response = vic.post("/_dash-update-component",
                        json=_decide_body(vic, case.case_id, ids.ENF_REJECT, "   "))
    assert "Not done: a rejection needs a reason" in response.get_data(as_text=True)
    assert etle.enforcement.cases.case(case.case_id).state is CaseState.PENDING_VERIFICATION
    response = vic.post("/_dash-update-component",
                        json=_decide_body(vic, case.case_id, ids.ENF_REJECT, "fire engine"))
    assert f"{case.case_id} rejected by vic: now Rejected" in response.get_data(as_text=True)
    assert etle.enforcement.cases.transitions_of(case.case_id)[-1][3:] == (
        "officer:vic", "fire engine")


def test_opening_a_case_shows_its_evidence_and_reserves_it(app, etle):
    page = sys.modules["dashboard.pages.enforcement"]
    with _As(app, "vic"):
        drawn = str(page.show_case(etle.photo.case_id))
        assert str(page.show_case(None)) == page.NO_CASE
    assert etle.photo.case_id in drawn and "data:image/jpeg;base64," in drawn
    assert "Reserved for you until 2026-03-02 07:15:00 WIB" in drawn
    assert etle.enforcement.cases.case(etle.photo.case_id).claimed_by == "vic"
    with _As(app, "sue"):  # another officer no longer sees it in the queue
        assert etle.photo.case_id not in [c.case_id for c in desk_api.pending(
            etle.store, etle.desk, "sue")]


# -- personal data -----------------------------------------------------------------------


def test_tar_lookup_is_logged_for_a_verifier(app, etle):
    paid = etle.paid
    owner = etle.registry.owner_of(paid.plate)
    with _As(app, "vic"):
        by_plate = desk_api.tar_lookup(etle.store, etle.desk, paid.plate.replace(" ", ""),
                                       "owner asked about case")
        by_driver = desk_api.tar_lookup(etle.store, etle.desk, owner.driver_id, "SIM renewal desk")
        page = sys.modules["dashboard.pages.enforcement"]
        assert page.TAR_TITLE in str(page.layout())
    assert owner_text(by_plate) == f"{owner.name}, {owner.address}"
    assert [c.case_id for c in by_plate.cases] == [paid.case_id]
    assert "Closed" in case_lines(by_plate)[0]
    drawn = str(tar_panel(by_plate))
    assert owner.name in drawn and owner.driver_id in drawn and "Registered owner" in drawn
    (view,) = by_driver.drivers
    lines = driver_lines(view)
    assert owner.name in lines[0] and "5 points in the window, TAR balance 7 of 12" in lines[1]
    views = [e for e in etle.accounts.access_entries("vic") if e.action == "personal_data.view"]
    assert [(e.subject, e.reason) for e in views] == [
        (f"plate:{paid.plate}", "owner asked about case"),
        (f"driver:{owner.driver_id}", "SIM renewal desk")]


def test_personal_data_is_hidden_from_others_and_in_demo_mode(app, etle, tiny_network,
                                                             view_factory):
    page = sys.modules["dashboard.pages.enforcement"]
    owner = etle.registry.owner_of(etle.paid.plate)
    with _As(app, "ann"):
        with pytest.raises(Forbidden):
            desk_api.tar_lookup(etle.store, etle.desk, etle.paid.plate, "curious")
        assert not desk_api.can_see_personal_data()
        drawn = str(page.layout())
    assert page.TAR_TITLE not in drawn and "enf-no-tar" in drawn and owner.name not in drawn
    assert not [e for e in etle.accounts.access_entries("ann") if e.action == "personal_data.view"]
    with _As(app, "vic"):
        drawn = str(page.layout())  # the queue and payments show no owner either
    assert owner.name not in drawn and owner.address not in drawn

    demo = create_app(LiveTwin(tiny_network, view_factory(tiny_network)), store=etle.store,
                      enforcement=etle.desk)
    assert demo.server.test_client().get("/enforcement").status_code == 200
    with demo.server.test_request_context("/enforcement"):
        assert page.TAR_TITLE not in str(page.layout())
        with pytest.raises(Forbidden):
            desk_api.tar_lookup(etle.store, etle.desk, etle.paid.plate, "demo")
        case = desk_api.verify(etle.store, etle.desk, etle.pending[0].case_id)
    assert case.verified_by == "demo"


def test_without_a_desk_the_queue_is_read_only(etle, tiny_network, view_factory):
    app = create_app(LiveTwin(tiny_network, view_factory(tiny_network)), store=etle.store)
    assert app.server.test_client().get("/enforcement").status_code == 200
    page = sys.modules["dashboard.pages.enforcement"]
    with app.server.test_request_context("/enforcement"):
        assert len(desk_api.pending(etle.store, None, desk_api.current_officer())) == 3
        assert page.READ_ONLY in str(page.layout())
        with pytest.raises(desk_api.NoDesk):
            desk_api.verify(etle.store, None, etle.pending[0].case_id)
    assert etle.enforcement.cases.case(etle.pending[0].case_id).state is (
        CaseState.PENDING_VERIFICATION)
