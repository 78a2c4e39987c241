"""The Service index page: its builders and callbacks on a store filled by the real dispatch
module (``kota dispatch``'s scenario runner), with scores published by the quality module."""

from __future__ import annotations

import sys

import dash
import flask
import pytest
from werkzeug.exceptions import Forbidden

from dashboard import ids
from dashboard import index_view as view
from dashboard.app import create_app
from dashboard.sessions import Session
from tests.dashboard import index_fixtures
from tests.dashboard.logins import PASSWORD, client_login
from twin.accounts import AccountStore
from twin.live import LiveTwin
from twin.modules.quality import (
    INSUFFICIENT,
    SERVICES,
    compute_index,
    history,
    latest_data_time,
    load_config,
    measure_all,
    rolling_window,
)
from twin.store import Store, open_store

dispatch_db = index_fixtures.dispatch_db
dispatch_store = index_fixtures.dispatch_store


def _reference(store: Store, days: float, area: str = "all") -> dict:
    """The index as the quality module computes it from its measurements (not via the page)."""
    cfg = load_config()
    latest = latest_data_time(store)
    assert latest is not None
    window = rolling_window(latest, days)
    return compute_index(measure_all(store, area, window, cfg), cfg, window, area)


def _app(store: Store | None, tiny_network, view_factory, accounts=None):
    app = create_app(LiveTwin(tiny_network, view_factory(tiny_network)), store=store,
                     accounts=accounts)
    app.server.test_client().get("/")  # sets Dash up
    return app


def _page():
    """The page module as Dash imported it (only after an app is built)."""
    (name,) = [p["module"] for p in dash.page_registry.values() if p["path"] == "/index"]
    return sys.modules[name]


# -- builders ----------------------------------------------------------------------------------


def test_gauges_show_what_compute_index_gives(dispatch_store):
    ref = _reference(dispatch_store, 7)
    result = view.compute_view(dispatch_store, 7, "all", "latest")
    assert result["window"] == ref["window"]
    scored = []
    for s in SERVICES:
        want = view.service_record(ref, s)
        fig = view.gauge_figure(view.service_record(result, s))
        (indicator,) = fig.data
        if want["final"] is None:
            assert indicator.value is None and indicator.mode == "gauge"
            assert [a.text for a in fig.layout.annotations] == [INSUFFICIENT]
            assert view.grade_text(want).startswith(INSUFFICIENT)
        else:
            scored.append(s)
            assert indicator.value == pytest.approx(want["final"], abs=1e-12)
            assert indicator.mode == "gauge+number"
            assert view.grade_text(want).startswith(f"{want['grade']} · ")
    # the dispatch run scores security and safety; law (ETLE) has no data in this store
    assert "security" in scored and "safety" in scored and "law" not in scored
    aai = view.gauge_figure(result["aai"], "AAI").data[0]
    assert aai.value == ref["aai"]["aai"]


def test_drilldown_lists_each_kpi_with_target_and_samples(dispatch_store):
    cfg = load_config()
    ref = _reference(dispatch_store, 7)
    result = view.compute_view(dispatch_store, 7, "all", "latest")
    for service in ("security", "safety", "law"):
        rows = view.kpi_rows(result, service)
        kpis = cfg.of_service(service)
        assert [r["kpi"] for r in rows] == [k.id for k in kpis]
        exps = view.service_record(ref, service)["explanations"]
        for row, kpi, e in zip(rows, kpis, exps, strict=True):
            assert row["target"] == view.format_value(kpi.id, kpi.target)
            assert row["worst"] == view.format_value(kpi.id, kpi.worst)
            assert row["samples"] == str(e["samples"])
            assert row["target_source"] == kpi.source
            assert row["window"].endswith(view.window_end(dispatch_store, "latest")
                                          .strftime("%Y-%m-%d %H:%M"))
            if e["available"]:
                assert row["score"] == f"{e['n_k']:.3f}"
                assert row["value"] == view.format_value(kpi.id, e["x"])
    fire = {r["kpi"]: r for r in view.kpi_rows(result, "safety")}
    row = fire["safety.fire_response_15min_share"]
    assert int(row["samples"]) >= cfg.min_samples and row["value"].endswith("%")
    assert "dispatch_incidents" in row["data"]
    nosrc = fire["safety.road_fatalities_yoy_change"]  # no query registered for it
    assert (nosrc["value"], nosrc["score"], nosrc["samples"]) == (view.NO_DATA, view.NO_DATA, "0")
    assert nosrc["note"] == "no source yet"


def test_empty_store_says_no_data_not_zero(tmp_path):
    with open_store(f"sqlite:///{tmp_path / 'empty.db'}") as store:
        result = view.compute_view(store, 30, "all", "latest")
        for s in SERVICES:
            record = view.service_record(result, s)
            assert view.gauge_figure(record).data[0].value is None
            assert view.grade_text(record).startswith(INSUFFICIENT)
            rows = view.kpi_rows(result, s)
            assert {r["value"] for r in rows} == {view.NO_DATA}
            assert {r["score"] for r in rows} == {view.NO_DATA}
            assert {r["samples"] for r in rows} == {"0"}
        assert view.aai_text(result).startswith(f"AAI: {INSUFFICIENT}")
        trend = view.trend_figure(view.trend_rows(history(store), "rolling", 30))
        assert not trend.data and "No published scores" in trend.layout.annotations[0].text


def test_trend_rows_are_the_published_points(dispatch_store):
    rows = view.trend_rows(history(dispatch_store), "rolling", 7)
    assert len(rows) == 2 * (len(SERVICES) + 1)  # two publications, six services and the AAI
    assert view.trend_rows(history(dispatch_store), "rolling", 30) == []
    assert view.trend_rows(history(dispatch_store), "month", 7) == []
    fig = view.trend_figure(rows)
    safety = next(t for t in fig.data if t.name == "Safety")
    published = [r["score"] for r in rows if r["service"] == "safety"]
    assert list(safety.y) == published and published[-1] is not None  # scored after an hour
    law = next(t for t in fig.data if t.name == "Law")
    assert list(law.y) == [None, None]  # insufficient data: a gap, not a zero


def test_format_value_units():
    assert view.format_value("x.a_share", 0.905) == "90.5%"
    assert view.format_value("x.b_change", -0.1) == "-10.0%"
    assert view.format_value("x.c_p90_min", 8.983) == "8.98 min"
    assert view.format_value("x.d_p90_s", 80.0) == "80.00 s"
    assert view.format_value("x.e_days", 1.0) == "1.00 d"
    assert view.format_value("x.f_share", None) == view.NO_DATA


# -- callbacks -----------------------------------------------------------------------------------


def test_refresh_callback_follows_the_area_and_explains_the_chosen_service(dispatch_store, tiny_network,
                                                       view_factory):
    """Through the page's callbacks (demo mode): the area filter offers the dispatch areas,
    and the gauges for one area are the module's index of that area."""
    app = _app(dispatch_store, tiny_network, view_factory)
    page = _page()
    with app.server.test_request_context("/index"):
        out = page.refresh(7, "latest", "west", "rolling")
        options = page.layout().children[0].children[2].children[1].options
        chosen = page.refresh(7, "latest", "west", "rolling", "safety")
        drill = chosen[-1]
    assert out[-1] == page.CHOOSE
    assert chosen[:-1] == out[:-1]  # the same computation draws the gauges and the explanation
    assert [o["value"] for o in options] == ["all", "east", "west"]
    ref = _reference(dispatch_store, 7, "west")
    for i, s in enumerate(SERVICES):
        assert out[i].data[0].value == view.service_record(ref, s)["final"]
    assert "area west" in out[2 * len(SERVICES) + 2]
    west = view.service_record(ref, "safety")["explanations"]
    everywhere = view.service_record(_reference(dispatch_store, 7), "safety")["explanations"]
    assert west[0]["samples"] < everywhere[0]["samples"]
    table = str(drill[2])
    for e in west:
        assert e["kpi"] in table and f"'{e['samples']}'" in table


def test_select_maps_a_button_to_its_service():
    assert view.picked_service(ids.index_pick("law")) == "law"
    assert view.picked_service("something-else") is None


def test_a_role_without_the_index_page_is_refused(tmp_path, dispatch_store, tiny_network,
                                                   view_factory):
    accounts = AccountStore.of(open_store(f"sqlite:///{tmp_path / 'accounts.db'}"))
    accounts.add_user("ann", "analyst", PASSWORD)
    accounts.add_user("dan", "dispatcher", PASSWORD)
    app = _app(dispatch_store, tiny_network, view_factory, accounts)
    page = _page()

    def login(name: str):
        return client_login(app, name)

    deps = login("ann").get("/_dash-dependencies").get_json()
    (dep,) = [d for d in deps if ids.INDEX_TREND in d["output"]]
    outputs = [{"id": o.split(".")[0], "property": o.split(".")[1]}
               for o in dep["output"].strip(".").split("...")]
    body = {"output": dep["output"], "outputs": outputs,
            "inputs": [{"id": ids.INDEX_WINDOW, "property": "value", "value": 7},
                       {"id": ids.INDEX_END, "property": "value", "value": "latest"},
                       {"id": ids.INDEX_AREA, "property": "value", "value": "all"},
                       {"id": ids.INDEX_TREND_KIND, "property": "value", "value": "rolling"},
                       {"id": ids.INDEX_SELECTED, "property": "data", "value": None}],
            "changedPropIds": [f"{ids.INDEX_WINDOW}.value"]}
    ok = login("ann").post("/_dash-update-component", json=body)
    assert ok.status_code == 200 and "Index 2026.1" in ok.get_data(as_text=True)
    assert login("dan").post("/_dash-update-component", json=body).status_code == 403
    assert login("dan").get("/index").status_code == 403
    # the callbacks check the permission themselves too, not only the request guard
    for call in (lambda: page.refresh(7, "latest", "all", "rolling"),
                 lambda: page.refresh(7, "latest", "all", "rolling", "law"),
                 lambda: page.select(1)):
        with app.server.test_request_context("/_dash-update-component"):
            flask.g.kota_session = Session("dan", "dispatcher", 0.0)
            with pytest.raises(Forbidden):
                call()
    denied = [(e.actor, e.action, e.subject) for e in accounts.access_entries("dan")]
    assert ("dan", "denied", "page:/index") in denied


def test_page_without_a_store_says_so(tiny_network, view_factory):
    app = _app(None, tiny_network, view_factory)
    page = _page()
    with app.server.test_request_context("/index"):
        out = page.refresh(30, "latest", "all", "rolling")
        assert page.refresh(30, "latest", "all", "rolling", "law")[-1] == page.NO_STORE
    assert out[2 * len(SERVICES) + 2] == page.NO_STORE
