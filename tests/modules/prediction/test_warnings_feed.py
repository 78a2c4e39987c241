"""The online warning feed: detector records on the bus -> fitted forecaster -> alerts on the bus."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from twin.bus import Bus
from twin.modules.prediction.alerts import CongestionWarner
from twin.modules.prediction.calendar import RowCalendar
from twin.modules.prediction.forecaster import ForecastConfig, SensorForecaster
from twin.modules.prediction.warning_feed import ForecastWarningFeed, reference_speeds
from twin.observations import Observation, ObservationKind

WIB = timezone(timedelta(hours=7))
START = "2026-03-02T00:00"  # a Monday
STEP_S = 300
SENSORS = ["loop-jam-1", "loop-jam-2", "loop-free-1", "loop-free-2"]
DAYS = 7
JAM = (7 * 12 + 6, 8 * 12 + 6)  # rows of the day 07:30-08:30 in which the jam sensors crawl


def _day(rng: np.random.Generator, weekday: bool) -> np.ndarray:
    """One day of 5-minute speeds (m/s): 15 m/s free flow; the first two sensors fall to
    3 m/s over half an hour before 07:30 and recover by 09:00 on weekdays."""
    x = 15.0 + rng.normal(0.0, 0.4, size=(288, len(SENSORS)))
    if weekday:
        ramp = np.interp(np.arange(288), [JAM[0] - 6, JAM[0], JAM[1], JAM[1] + 6],
                         [15.0, 3.0, 3.0, 15.0], left=15.0, right=15.0)
        x[:, :2] = ramp[:, None] + rng.normal(0.0, 0.4, size=(288, 2))
    return x


@pytest.fixture(scope="module")
def fitted() -> tuple[SensorForecaster, np.ndarray, np.ndarray]:
    """A forecaster fitted on a week; the next Monday's speeds."""
    rng = np.random.default_rng(11)
    history = np.vstack([_day(rng, weekday=d % 7 < 5) for d in range(DAYS)])
    forecaster = SensorForecaster(RowCalendar(np.datetime64(START), STEP_S),
                                  config=ForecastConfig(horizons_min=(15, 30, 60)))
    forecaster.fit(history)
    return forecaster, reference_speeds(history), _day(rng, weekday=True)


def _record(sensor: str, row: int, speed: float | None) -> Observation:
    start = datetime.fromisoformat(START).replace(tzinfo=WIB) + timedelta(seconds=row * STEP_S)
    return Observation(ObservationKind.DETECTOR_INTERVAL, sensor, start + timedelta(seconds=STEP_S),
                       {"interval_s": STEP_S, "count": 10, "occupancy": 0.1,
                        "mean_speed_mps": speed}, event_id=f"{sensor}@{row}")


def test_feed_warns_ahead_of_the_jam_once_and_clears_after(fitted):
    """Fed the next Monday through the bus, the feed alerts each jam sensor once, before
    the jam (the forecast sees it coming), clears it once speeds are back, and never
    alerts the free-flowing sensors; the alerts are on the bus."""
    forecaster, reference, monday = fitted
    bus = Bus()
    seen = bus.subscribe("incident_report/#")
    feed = ForecastWarningFeed(bus, forecaster, CongestionWarner(SENSORS, reference, (15, 30, 60)),
                               local_tz=WIB)
    first = DAYS * 288
    alerts = []
    for r in range(11 * 12):  # 00:00 to 11:00
        for j, sensor in enumerate(SENSORS):
            bus.publish(_record(sensor, first + r, float(monday[r, j])))
        alerts += feed.poll()
    raised = [a for a in alerts if a.payload["status"] == "raised"]
    cleared = [a for a in alerts if a.payload["status"] == "cleared"]
    assert sorted(a.payload["sensor_id"] for a in raised) == SENSORS[:2]
    assert sorted(a.payload["sensor_id"] for a in cleared) == SENSORS[:2]
    jam_starts = datetime.fromisoformat(START).replace(tzinfo=WIB) + timedelta(
        days=DAYS, seconds=(JAM[0] - 6) * STEP_S)
    for a in raised:
        assert a.observed_at < jam_starts  # issued before speeds even start to fall
        assert a.payload["predicted_speed_mps"] < a.payload["threshold_speed_mps"]
    for a in cleared:
        assert a.observed_at > jam_starts + timedelta(hours=1)
    assert [o.event_id for o in seen.drain()] == [a.event_id for a in alerts]
    assert feed.published == len(alerts) == 4


def test_missing_and_late_records(fitted):
    """A sensor that does not report leaves its value missing when the next interval
    arrives; records for rows already fed and unknown detectors are ignored."""
    forecaster, reference, monday = fitted
    fc = SensorForecaster(forecaster.calendar, config=forecaster.config)
    rng = np.random.default_rng(3)
    fc.fit(np.vstack([_day(rng, weekday=d % 7 < 5) for d in range(DAYS)]))
    bus = Bus()
    feed = ForecastWarningFeed(bus, fc, CongestionWarner(SENSORS, reference, (15, 30, 60)),
                               local_tz=WIB)
    first = DAYS * 288
    for sensor in SENSORS[:3]:  # the fourth stays silent for row 0
        bus.publish(_record(sensor, first, 15.0))
    feed.poll()
    assert fc.next_row == first  # waiting for the fourth sensor
    bus.publish(_record("other-loop", first + 1, 15.0))
    for sensor in SENSORS:
        bus.publish(_record(sensor, first + 1, None))  # empty interval: missing, not 0
    feed.poll()
    assert fc.next_row == first + 2  # row 0 went in when row 1 arrived, then row 1 (complete)
    bus.publish(_record(SENSORS[0], first, 15.0))  # a late record for a row already fed
    for sensor in SENSORS:
        bus.publish(_record(sensor, first + 2, 15.0))
    feed.poll()
    assert fc.next_row == first + 3
    assert feed.ignored == 2
