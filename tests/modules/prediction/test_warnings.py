"""Congestion warnings: raised on a forecast crossing the threshold, one per episode,
cleared on recovery, severity bands, and the NGSI-LD Alert the bridge exports."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from hardware_bridge.ngsi_ld import from_entity, to_entity
from twin.modules.prediction.alerts import (
    SEVERITIES,
    CongestionWarner,
    WarningConfig,
    severity_of,
)
from twin.observations import Location, ObservationKind

T0 = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)
FREE = 15.0  # m/s reference speed of both sensors
HORIZONS = (15, 30, 60)


def _warner() -> CongestionWarner:
    return CongestionWarner(["loop-a", "loop-b"], [FREE, FREE], HORIZONS,
                            WarningConfig(event_scope="run-1"),
                            locations={"loop-a": Location(106.9, -6.2, link_id="L1")})


def _issue(w: CongestionWarner, k: int, a: tuple[float, float, float],
           b: tuple[float, float, float] = (FREE, FREE, FREE), now_a: float = FREE) -> list:
    fc = np.array([a, b], dtype=np.float64).T
    return w.update(T0 + timedelta(minutes=5 * k), np.array([now_a, FREE]), fc)


def test_one_alert_per_episode_and_a_clear_when_it_ends():
    """A forecast below half the free speed raises one alert; the episode's later issues
    raise nothing; two issues in a row back above 60 % clear it; the next crossing
    raises a new alert with a new id."""
    w = _warner()
    assert _issue(w, 0, (14.0, 13.0, 12.0)) == []
    (alert,) = _issue(w, 1, (12.0, 7.0, 5.0))
    p = alert.payload
    assert alert.kind is ObservationKind.INCIDENT_REPORT
    assert (p["status"], p["incident_type"], p["basis"]) == ("raised", "congestion", "forecast")
    assert (p["category"], p["subCategory"]) == ("traffic", "trafficJam")
    assert p["horizon_min"] == 30 and p["predicted_speed_mps"] == 7.0
    assert p["threshold_speed_mps"] == 7.5 and p["current_speed_mps"] == FREE
    assert p["forecast_speed_mps"] == {"15": 12.0, "30": 7.0, "60": 5.0}
    assert p["validFrom"] == (T0 + timedelta(minutes=5 + 30)).isoformat()
    assert p["validTo"] == (T0 + timedelta(minutes=5 + 60)).isoformat()
    assert p["severity"] == "medium"  # worst forecast 5 / 15 = 0.33
    assert alert.event_id == f"run-1/congestion-warning/loop-a@{(T0 + timedelta(minutes=5)).isoformat()}"
    assert alert.location is not None and alert.location.link_id == "L1"
    assert w.active == {"loop-a": alert.event_id}
    for k in range(2, 8):  # the jam lasts: no repeat
        assert _issue(w, k, (4.0, 4.0, 6.0), now_a=4.0) == []
    assert _issue(w, 8, (8.5, 9.0, 10.0), now_a=8.5) == []  # above threshold, below 60 %: no count
    assert _issue(w, 9, (10.0, 11.0, 12.0), now_a=10.0) == []  # first recovered issue
    (clear,) = _issue(w, 10, (11.0, 12.0, 13.0), now_a=11.0)
    assert clear.payload["status"] == "cleared" and clear.payload["severity"] == "informational"
    assert clear.payload["peak_severity"] == "high"  # grew from medium: 4 / 15 = 0.27
    assert clear.event_id == alert.event_id + "/cleared"
    assert clear.payload["raised_event_id"] == alert.event_id
    assert clear.payload["validTo"] == (T0 + timedelta(minutes=50)).isoformat()
    assert w.active == {}
    (again,) = _issue(w, 11, (6.0, 6.0, 6.0))
    assert again.event_id != alert.event_id and again.payload["horizon_min"] == 15


def test_recovery_must_last_and_stale_sensors_keep_their_state():
    """A single good issue between two bad ones does not clear; NaN forecasts (a stale
    sensor) neither raise, clear nor count."""
    w = _warner()
    assert len(_issue(w, 0, (5.0, 5.0, 5.0))) == 1
    assert _issue(w, 1, (12.0, 12.0, 12.0)) == []
    assert _issue(w, 2, (np.nan, np.nan, np.nan)) == []
    assert _issue(w, 3, (5.0, 12.0, 12.0)) == []  # bad again: the count restarts
    assert _issue(w, 4, (12.0, 12.0, 12.0)) == []
    assert _issue(w, 5, (np.nan, np.nan, np.nan)) == []
    assert [a.payload["status"] for a in _issue(w, 6, (12.0, 12.0, 12.0))] == ["cleared"]
    w2 = _warner()
    assert _issue(w2, 0, (np.nan, np.nan, np.nan)) == []
    assert w2.active == {}


def test_only_the_congested_sensor_is_alerted():
    """Sensors are independent: b's jam does not touch a's state."""
    w = _warner()
    alerts = _issue(w, 0, (FREE, FREE, FREE), b=(3.0, 2.0, 2.0))
    assert [a.payload["sensor_id"] for a in alerts] == ["loop-b"]
    assert alerts[0].payload["severity"] == "critical" and alerts[0].location is None


@pytest.mark.parametrize(("share", "severity"), [
    (0.55, None), (0.5, None), (0.49, "low"), (0.4, "low"), (0.39, "medium"),
    (0.3, "medium"), (0.29, "high"), (0.2, "high"), (0.19, "critical"), (0.0, "critical"),
])
def test_severity_bands(share, severity):
    """Severity by the lowest forecast's share of free speed: < 0.2 critical, < 0.3 high,
    < 0.4 medium, < 0.5 low; at or above the threshold no alert."""
    assert severity_of(share) == severity
    assert severity is None or severity in SEVERITIES


def test_config_refuses_inconsistent_bands():
    """Bands must decrease below the threshold, which must not exceed the clear share."""
    with pytest.raises(ValueError, match="critical < high"):
        WarningConfig(congested_share=0.3)
    with pytest.raises(ValueError, match="clear_after"):
        WarningConfig(clear_after=0)


def test_alert_exports_as_a_valid_fiware_alert_and_round_trips():
    """The bridge's NGSI-LD mapping makes the alert an Alert entity with the model's
    category, subCategory, severity, description, dateIssued and alertSource, the
    forecast in ``data``; reading the entity back gives the same observation."""
    w = _warner()
    (alert,) = _issue(w, 1, (12.0, 7.0, 5.0))
    e = to_entity(alert)
    assert e["type"] == "Alert" and e["id"].startswith("urn:ngsi-ld:Alert:")
    assert e["category"]["value"] == "traffic" and e["subCategory"]["value"] == "trafficJam"
    assert e["severity"]["value"] == "medium"
    assert e["description"]["value"].startswith("Congestion expected at loop-a in 30 min")
    assert e["dateIssued"]["value"]["@type"] == "DateTime"
    assert e["alertSource"]["type"] == "Relationship"
    assert e["refRoadSegment"]["object"] == "urn:ngsi-ld:RoadSegment:L1"
    data = e["data"]["value"]
    assert data["forecast_speed_mps"] == {"15": 12.0, "30": 7.0, "60": 5.0}
    for key in ("validFrom", "validTo"):
        assert datetime.fromisoformat(data[key]).tzinfo is not None
    assert from_entity(e) == alert
    (clear,) = [a for k in (2, 3) for a in _issue(w, k, (FREE, FREE, FREE))]
    ce = to_entity(clear)
    assert ce["severity"]["value"] == "informational" and from_entity(ce) == clear
