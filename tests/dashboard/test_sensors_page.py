"""The Sensors page: its pure builders, and its callback through Flask with a real store."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest

from dashboard import ids
from dashboard import sensor_table as sensors
from dashboard.app import create_app
from dashboard.sensor_table import (
    SOURCE_COLUMNS,
    format_seconds,
    rejected_rows,
    source_rows,
    tile_values,
    window_text,
)
from tests.dashboard.logins import PASSWORD, client_login
from twin.accounts import AccountStore
from twin.live import LiveTwin
from twin.observations import Observation, ObservationKind
from twin.sensor_health import RejectedPayload, SensorHealth, SourceHealth
from twin.store import open_store

END = datetime(2026, 3, 2, 1, 0, 0, tzinfo=UTC)


def source(source_id: str, status: str, age_s: float, quarantined: int = 0) -> SourceHealth:
    seen = None if math.isinf(age_s) else END - timedelta(seconds=age_s)
    return SourceHealth(source_id=source_id, status=status, last_observed_at=seen,
                        last_received_at=seen, age_s=age_s, messages=6, rate_per_min=1.2,
                        lag_median_s=3.5, lag_p95_s=8.0, interval_s=10.0,
                        quarantined=quarantined)


HEALTH = SensorHealth(
    window_end=END, window_s=300.0, clock="wall",
    sources=(source("a-loop", "online", 2.0), source("b-cam", "stale", 139.5, 2),
             source("c-loop", "offline", 999.0), source("d-ghost", "offline", math.inf, 1)),
    rejected=(RejectedPayload(END, "d-ghost", "mqtt: not JSON", "{bad…"),),
)


def test_rows_sort_by_status_problems_first_or_by_last_seen():
    by_status = [r["source_id"] for r in source_rows(HEALTH, "status")]
    assert by_status == ["c-loop", "d-ghost", "b-cam", "a-loop"]
    by_seen = [r["source_id"] for r in source_rows(HEALTH, "last_seen")]
    assert by_seen == ["a-loop", "b-cam", "c-loop", "d-ghost"]  # never seen: last
    with pytest.raises(ValueError, match="sort_by"):
        source_rows(HEALTH, "name")


def test_row_texts_tiles_and_rejected():
    (b,) = [r for r in source_rows(HEALTH) if r["source_id"] == "b-cam"]
    assert set(b) == {key for key, _ in SOURCE_COLUMNS}
    assert b["last_received"] == "2026-03-02 00:57:40"  # 139.5 s before 01:00 UTC, to the second
    assert (b["age"], b["rate"], b["lag_median"], b["lag_p95"], b["quarantined"]) == (
        "2 min", "1.2", "3.5 s", "8.0 s", "2")
    (d,) = [r for r in source_rows(HEALTH) if r["source_id"] == "d-ghost"]
    assert d["last_observed"] == "–" and d["age"] == "–"
    assert tile_values(HEALTH) == {"online": "1", "stale": "1", "offline": "2", "quarantined": "3"}
    assert rejected_rows(HEALTH) == [{"time": "2026-03-02 01:00:00", "source": "d-ghost",
                                      "reason": "mqtt: not JSON", "raw": "{bad…"}]
    assert "5 min" in window_text(HEALTH) and "wall clock" in window_text(HEALTH)
    assert format_seconds(7200.0) == "2.0 h" and format_seconds(math.nan) == "–"


def test_data_clock_hides_the_lag():
    """On simulated time received_at - observed_at measures nothing: the lag shows a dash."""
    data = SensorHealth(END, 300.0, "data", HEALTH.sources, HEALTH.rejected)
    assert {(r["lag_median"], r["lag_p95"]) for r in source_rows(data)} == {("–", "–")}
    assert "no lag" in window_text(data)


def test_table_rows_carry_the_status_class():
    rows = sensors.table_rows(HEALTH, "status")
    assert [r.className for r in rows] == ["sensor-row status-offline"] * 2 + [
        "sensor-row status-stale", "sensor-row status-online"]
    empty = SensorHealth(END, 300.0, "wall", (), ())
    assert sensors.table_rows(empty, "status")[0].className == "sensor-empty"
    assert sensors.rejected_items(empty)[0].className == "rejected-empty"


def _refresh_body(client) -> dict:
    deps = client.get("/_dash-dependencies").get_json()
    (dep,) = [d for d in deps if ids.SENSORS_TABLE in d["output"]]
    outputs = [{"id": o.split(".")[0], "property": o.split(".")[1]}
               for o in dep["output"].strip(".").split("...")]
    return {"output": dep["output"], "outputs": outputs,
            "inputs": [{"id": ids.SENSORS_INTERVAL, "property": "n_intervals", "value": 1},
                       {"id": ids.SENSORS_SORT, "property": "value", "value": "status"}],
            "changedPropIds": [f"{ids.SENSORS_INTERVAL}.n_intervals"]}


def test_refresh_reads_the_store_and_is_for_permitted_roles(tmp_path, tiny_network, view_factory):
    """An analyst's refresh shows the store's source and quarantine row; a dispatcher gets 403."""
    store = open_store(f"sqlite:///{tmp_path / 'kota.db'}")
    store.add_observations([Observation(kind=ObservationKind.DETECTOR_INTERVAL,
                                        source_id="loop-7", observed_at=datetime.now(UTC),
                                        payload={"interval_s": 60.0, "count": 3, "occupancy": 0.1,
                                                 "mean_speed_mps": 9.0})])
    store.quarantine("cam-9", "mqtt: not JSON", b"\xff{")
    accounts = AccountStore.of(store)
    accounts.add_user("ann", "analyst", PASSWORD)
    accounts.add_user("dan", "dispatcher", PASSWORD)
    app = create_app(LiveTwin(tiny_network, view_factory(tiny_network)), accounts=accounts,
                     store=store)
    assert app.server.test_client().get("/").status_code == 302  # sets Dash up

    def login(name: str):
        return client_login(app, name)

    analyst, dispatcher = login("ann"), login("dan")
    body = _refresh_body(analyst)
    response = analyst.post("/_dash-update-component", json=body)
    assert response.status_code == 200
    text = response.get_data(as_text=True)
    assert "loop-7" in text and "online" in text and "cam-9" in text and "\\\\xff{" in text
    assert "Sensors" in analyst.get("/_dash-layout").get_data(as_text=True)
    assert dispatcher.post("/_dash-update-component", json=body).status_code == 403
    assert dispatcher.get("/sensors").status_code == 403
    store.close()
