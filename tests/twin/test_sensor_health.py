"""Sensor health from a store filled with known observations and quarantine rows.

Rows are inserted with chosen ``received_at`` stamps (the store's own writers stamp
the wall clock), so rates, lags and statuses can be computed by hand.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from sqlalchemy import insert

from twin.sensor_health import nearest_rank, sensor_health
from twin.store import Store
from twin.store.schema import ObservationRow, QuarantineRow

NOW = datetime(2026, 3, 2, 1, 0, 0, tzinfo=UTC)


def at(offset_s: float) -> datetime:
    return NOW + timedelta(seconds=offset_s)


def add_obs(store: Store, source: str, observed_s: list[float], lag_s: list[float]) -> None:
    rows = [{"event_id": f"{source}-{o}", "kind": "detector_interval", "source_id": source,
             "observed_at": at(o), "utc_offset_s": 0, "payload": {"count": 1},
             "schema_version": 1, "received_at": at(o + lag)}
            for o, lag in zip(observed_s, lag_s, strict=True)]
    with store.engine.begin() as conn:
        conn.execute(insert(ObservationRow), rows)


def add_quarantine(store: Store, source: str, received_s: float, raw: str = "{bad") -> None:
    with store.engine.begin() as conn:
        conn.execute(insert(QuarantineRow), [{"received_at": at(received_s), "source": source,
                                              "reason": f"mqtt: bad json at {received_s}",
                                              "raw": raw}])


@pytest.fixture
def filled(store: Store) -> Store:
    # loop-a: every 10 s, lags 1,2,3,4,5,8 s; one older observation outside the window
    add_obs(store, "loop-a", [-400.0], [1.0])
    add_obs(store, "loop-a", [-60.0, -50.0, -40.0, -30.0, -20.0, -10.0],
            [1.0, 2.0, 3.0, 4.0, 5.0, 8.0])
    # cam-b: every 30 s, last received 139.5 s ago
    add_obs(store, "cam-b", [-200.0, -170.0, -140.0], [0.5, 0.5, 0.5])
    # loop-c: silent for 999 s
    add_obs(store, "loop-c", [-1000.0], [1.0])
    add_quarantine(store, "cam-b", -500.0)  # before the window
    add_quarantine(store, "cam-b", -100.0)
    add_quarantine(store, "cam-b", -50.0)
    add_quarantine(store, "ghost-d", -30.0, raw="x" * 50)
    return store


def test_rates_lags_statuses_and_quarantine_on_the_wall_clock(filled: Store) -> None:
    health = sensor_health(filled, window_s=300.0, now=NOW, raw_chars=20, rejected_limit=3)
    by = {s.source_id: s for s in health.sources}
    assert list(by) == ["cam-b", "ghost-d", "loop-a", "loop-c"]

    a = by["loop-a"]
    assert (a.messages, a.rate_per_min) == (6, pytest.approx(1.2))
    assert a.lag_median_s == pytest.approx(3.5)       # (3 + 4) / 2
    assert a.lag_p95_s == pytest.approx(8.0)          # rank ceil(0.95 * 6) = 6
    assert a.interval_s == pytest.approx(10.0)
    assert a.age_s == pytest.approx(2.0) and a.status == "online"
    assert a.last_observed_at == at(-10.0) and a.last_received_at == at(-2.0)
    assert a.quarantined == 0

    b = by["cam-b"]
    assert (b.messages, b.rate_per_min) == (3, pytest.approx(0.6))
    assert b.lag_median_s == pytest.approx(0.5) and b.lag_p95_s == pytest.approx(0.5)
    assert b.interval_s == pytest.approx(30.0)
    assert b.age_s == pytest.approx(139.5) and b.status == "stale"  # 60 < 139.5 <= 300
    assert b.quarantined == 2                                        # not the one at -500 s

    c = by["loop-c"]
    assert (c.messages, c.rate_per_min, c.interval_s) == (0, 0.0, 60.0)  # default interval
    assert math.isnan(c.lag_median_s) and math.isnan(c.lag_p95_s)
    assert c.status == "offline" and c.last_received_at == at(-999.0)

    d = by["ghost-d"]  # only ever quarantined
    assert d.status == "offline" and d.last_observed_at is None and d.quarantined == 1

    assert (health.count("online"), health.count("stale"), health.count("offline")) == (1, 1, 2)
    assert health.quarantined == 3
    assert [(r.source, r.received_at) for r in health.rejected] == [
        ("ghost-d", at(-30.0)), ("cam-b", at(-50.0)), ("cam-b", at(-100.0))]
    assert health.rejected[0].raw == "x" * 20 + "…"
    assert health.rejected[1].raw == "{bad" and health.rejected[1].reason.startswith("mqtt:")


def test_status_thresholds_are_inclusive(filled: Store) -> None:
    def status(age_s: float) -> str:  # loop-a was last received at -2 s, interval 10 s
        health = sensor_health(filled, window_s=300.0, now=at(age_s - 2.0))
        return next(s.status for s in health.sources if s.source_id == "loop-a")

    assert status(20.0) == "online"       # 2 x interval
    assert status(20.5) == "stale"
    assert status(100.0) == "stale"       # 10 x interval
    assert status(100.5) == "offline"


def test_data_clock_ends_at_the_newest_observation(store: Store) -> None:
    """A simulated run: observed_at is simulated time, a day before the store's received_at."""
    sim = [-86_400.0 + 5.0 * k for k in range(11)]
    add_obs(store, "sim-loop", sim, [86_400.0 - 5.0 * k for k in range(11)])  # all received at NOW
    add_quarantine(store, "sim-loop", 0.0)
    data = sensor_health(store, window_s=30.0, clock="data")
    assert data.window_end == at(sim[-1])
    (s,) = data.sources
    assert (s.messages, s.interval_s, s.age_s, s.status) == (6, 5.0, 0.0, "online")  # 30 s window
    assert s.quarantined == 1                     # quarantine window ends at its newest row
    wall = sensor_health(store, window_s=30.0, now=NOW)
    (w,) = wall.sources
    assert w.messages == 11 and w.status == "online" and w.lag_p95_s == pytest.approx(86_400.0)


def test_empty_store_and_bad_arguments(store: Store) -> None:
    health = sensor_health(store, now=NOW)
    assert health.sources == () and health.rejected == () and health.quarantined == 0
    with pytest.raises(ValueError, match="clock"):
        sensor_health(store, clock="simulated")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="window_s"):
        sensor_health(store, window_s=0.0)


def test_nearest_rank() -> None:
    values = np.arange(1.0, 21.0)  # 1..20
    assert nearest_rank(values, 95.0) == 19.0   # rank ceil(19.0) = 19
    assert nearest_rank(values, 50.0) == 10.0
    assert nearest_rank(values[:1], 95.0) == 1.0
    assert math.isnan(nearest_rank(values[:0], 95.0))
