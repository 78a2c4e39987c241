"""The Call centre & dispatch page: builders on a store filled by the real dispatch
module, and its callbacks through Flask (the override for dispatchers only)."""

from __future__ import annotations

import math
from typing import Any

import pytest

from dashboard import dispatch_view as view
from dashboard import ids
from dashboard.app import create_app
from tests.dashboard.logins import PASSWORD, client_login
from tests.modules.dispatch.board_run import CRASH, STARTED, BoardRun, board_run
from twin.accounts import AccountStore
from twin.live import LiveTwin
from twin.modules.dispatch.board import load_board, override_log
from twin.modules.dispatch.persist import save_run
from twin.modules.dispatch.units import STATUSES
from twin.store import Store, open_store


@pytest.fixture
def sqlite_store(tmp_path) -> Any:
    store = open_store(f"sqlite:///{tmp_path / 'kota.db'}")
    yield store
    store.close()


@pytest.fixture
def paused(sqlite_store: Store) -> BoardRun:
    return board_run(sqlite_store)


def test_format_duration_and_clock() -> None:
    assert view.format_duration(45.4) == "45 s"
    assert view.format_duration(185.0) == "3 min 05 s"
    assert view.format_duration(3720.0) == "1 h 02 min"
    assert view.format_duration(None) == view.format_duration(math.nan) == "–"
    assert view.format_at(61.0, STARTED) == "01:01:01"
    assert view.format_at(61.0, None) == "+01:01"


def test_queue_counts_and_waiting_calls_match_the_model(sqlite_store: Store,
                                                        paused: BoardRun) -> None:
    data = view.read_dispatch(sqlite_store, paused.run_id)
    calls = paused.model.calls
    assert view.queue_counts(data.calls) == {
        "waiting": sum(c.t_answer is None and c.t_abandon is None for c in calls),
        "answered": sum(c.t_answer is not None for c in calls),
        "abandoned": sum(c.t_abandon is not None for c in calls)}
    rows = view.waiting_rows(data.calls, data.t_now_s)
    assert rows and len(rows) == view.queue_counts(data.calls)["waiting"]
    assert [r["priority"] for r in rows] == sorted(r["priority"] for r in rows)
    first = min((c for c in calls if c.t_answer is None and c.t_abandon is None),
                key=lambda c: (c.priority, c.t_ring))
    assert rows[0]["call"] == f"#{first.id}"
    assert rows[0]["waited"] == view.format_duration(paused.env.now - first.t_ring)
    assert data.started_at == STARTED


def test_timeline_follows_the_lifecycle(sqlite_store: Store, paused: BoardRun) -> None:
    data = view.read_dispatch(sqlite_store, paused.run_id)
    active = view.active_incidents(data.incidents)
    assert CRASH in [i.incident_id for i in active]
    (crash,) = [i for i in active if i.incident_id == CRASH]
    steps = view.timeline(crash, data.started_at)
    assert [s["label"] for s in steps] == ["occurred", "call received", "answered", "classified"]
    assert [s["at"] for s in steps] == sorted(s["at"] for s in steps)
    # the same incident later, once units are on their way and on scene
    paused.env.run(until=paused.env.now + 1800.0)
    save_run(sqlite_store, paused.run_id, paused.model)
    data = view.read_dispatch(sqlite_store, paused.run_id)
    (crash,) = [i for i in data.incidents if i.incident_id == CRASH]
    labels = [s["label"] for s in view.timeline(crash, data.started_at)]
    core = [x for x in labels if x in ("call received", "answered", "classified", "dispatched",
                                       "en route", "on scene", "cleared", "closed")]
    assert core[:6] == ["call received", "answered", "classified", "dispatched", "en route",
                        "on scene"]
    times = [crash.times_s[s["step"]] for s in view.timeline(crash, data.started_at)]
    assert times == sorted(times)
    assert view.units_sent(crash) == [f"{k}: {v}" for k, v in
                                      sorted(paused.model.incidents[CRASH].units.items())]


def test_unit_board_recommendations_and_kpi_tiles(sqlite_store: Store, paused: BoardRun) -> None:
    data = view.read_dispatch(sqlite_store, paused.run_id)
    assert data.board is not None
    cols = view.unit_columns(data.board)
    assert tuple(cols) == STATUSES
    placed = [u.split(" ")[0] for us in cols.values() for u in us]
    assert sorted(placed) == sorted(paused.model.units)
    assert "a-fire-0 → fire-1" in [u for s in STATUSES if s != "available" for u in cols[s]]
    assert view.override_incident_options(data.board) == [{"label": CRASH, "value": CRASH}]
    kinds = [o["value"] for o in view.override_kind_options(data.board, CRASH)]
    assert sorted(kinds) == sorted(paused.model.incidents[CRASH].needs)
    units = view.override_unit_options(data.board, CRASH, "police")
    assert len(units) == 2 and "recommended" in units[0]["label"]
    assert "recommended" not in units[1]["label"]
    lines = view.recommendation_lines(data.board, CRASH, {CRASH: {"police": units[1]["value"]}})
    assert any(f"operator chose {units[1]['value']}" in line for line in lines)
    tiles = {t["key"]: t["value"] for t in view.kpi_tiles(data.kpis)}
    k = paused.model.kpis()
    assert tiles["answer"] == (f"{view.format_duration(k['calls']['answer_s']['p50'])} / "
                               f"{view.format_duration(k['calls']['answer_s']['p90'])}")
    fire = k["services"]["fire"]["total_response_s"]
    assert tiles["response-fire"] == (f"{view.format_duration(fire['p50'])} / "
                                      f"{view.format_duration(fire['p90'])}")
    assert fire["p50"] is not None  # the fire engine reached the fire


def test_send_override_records_or_says_why_not(sqlite_store: Store, paused: BoardRun) -> None:
    board = load_board(sqlite_store, paused.run_id)
    assert board is not None
    other = view.candidates_by_kind(board, CRASH)["tow"][1]
    text, rec = view.send_override(sqlite_store, paused.run_id, CRASH, "tow", other.unit_id,
                                   "dan")
    assert text.startswith("Override recorded") and other.unit_id in text
    assert rec is not None and rec.recommended_unit_id == view.candidates_by_kind(
        board, CRASH)["tow"][0].unit_id
    refused, none = view.send_override(sqlite_store, paused.run_id, CRASH, "tow", "a-fire-0",
                                       "dan")
    assert refused.startswith("Override refused") and none is None
    assert [(r.unit_id, r.actor) for r in override_log(sqlite_store, paused.run_id)] == [
        (other.unit_id, "dan")]


# ------------------------------------------------------------------ callbacks through Flask
def _body(client: Any, output_id: str, values: dict[str, Any]) -> dict[str, Any]:
    deps = client.get("/_dash-dependencies").get_json()
    (dep,) = [d for d in deps if f"{output_id}." in d["output"]]
    outputs = [{"id": o.split(".")[0], "property": o.split(".")[1]}
               for o in dep["output"].strip(".").split("...")]

    def fill(items: list[dict[str, str]]) -> list[dict[str, Any]]:
        return [{**i, "value": values.get(i["id"])} for i in items]
    inputs, state = fill(dep["inputs"]), fill(dep.get("state", []))
    return {"output": dep["output"], "outputs": outputs if len(outputs) > 1 else outputs[0],
            "inputs": inputs, "state": state,
            "changedPropIds": [f"{inputs[0]['id']}.{inputs[0]['property']}"]}


def test_override_callback_for_dispatchers_only(sqlite_store: Store, paused: BoardRun,
                                                tiny_network, view_factory) -> None:
    accounts = AccountStore.of(sqlite_store)
    accounts.add_user("dan", "dispatcher", PASSWORD)
    accounts.add_user("cat", "call-taker", PASSWORD)
    app = create_app(LiveTwin(tiny_network, view_factory(tiny_network)), accounts=accounts,
                     store=sqlite_store)
    assert app.server.test_client().get("/").status_code == 302  # sets Dash up

    def login(name: str) -> Any:
        return client_login(app, name)

    dispatcher, call_taker = login("dan"), login("cat")
    board = load_board(sqlite_store, paused.run_id)
    assert board is not None
    other = view.candidates_by_kind(board, CRASH)["police"][1].unit_id
    send = _body(dispatcher, ids.DISPATCH_OVR_MESSAGE, {
        ids.DISPATCH_OVR_SEND: 1, ids.DISPATCH_RUN: paused.run_id, ids.DISPATCH_OVR_INCIDENT: CRASH,
        ids.DISPATCH_OVR_KIND: "police", ids.DISPATCH_OVR_UNIT: other, ids.DISPATCH_OVR_DONE: 0})
    assert call_taker.post("/_dash-update-component", json=send).status_code == 403
    assert override_log(sqlite_store, paused.run_id) == []
    response = dispatcher.post("/_dash-update-component", json=send)
    assert response.status_code == 200
    assert "Override recorded" in response.get_data(as_text=True)
    assert [(r.unit_id, r.actor) for r in override_log(sqlite_store, paused.run_id)] == [
        (other, "dan")]
    (entry,) = [e for e in accounts.access_entries("dan") if e.action == "unit.override"]
    assert entry.subject == f"{paused.run_id}/{CRASH}" and entry.details["unit"] == other
    assert [e.action for e in accounts.access_entries("cat")
            if e.action in ("denied", "unit.override")] == ["denied"]
    # the call taker sees the page: the queue and the crash with the operator's choice
    refresh = _body(call_taker, ids.DISPATCH_QUEUE, {ids.DISPATCH_RUN: paused.run_id})
    response = call_taker.post("/_dash-update-component", json=refresh)
    assert response.status_code == 200
    text = response.get_data(as_text=True)
    assert CRASH in text and "call-row" in text and f"operator chose {other}" in text
