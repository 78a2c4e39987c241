"""Early warnings: predicted congestion becomes FIWARE Alert observations, one per episode.

:class:`CongestionWarner` takes, at each forecast issue time, every sensor's current
speed and its forecasts at a few horizons (m/s; from :class:`~.forecaster.SensorForecaster`
through :class:`~.warning_feed.ForecastWarningFeed`, or any other source) and decides per
sensor:

- **raise** when a forecast falls below the *threshold*, ``congested_share`` (0.5) of the
  sensor's reference (free-flow) speed: one ``incident_report`` observation, the alert;
- nothing more while the episode lasts (no repeat every 5 minutes);
- **clear** once every forecast and the current speed have stayed at or above
  ``clear_share`` (0.6, above the threshold so a speed hovering at it does not flap) of
  the reference for ``clear_after`` (2) issues in a row: a second observation with
  ``status = "cleared"``.

A sensor without a finite forecast (stale) or reference keeps its state.

Severity (FIWARE Alert ``severity``) of a raised alert, from the lowest forecast as a
share ``r`` of the reference speed: ``critical`` below 0.2, ``high`` below 0.3,
``medium`` below 0.4, ``low`` below the threshold 0.5 (:data:`DEFAULT_SEVERITY_SHARES`).
The clear is ``informational``.

Payload (what the bridge's NGSI-LD mapping, :mod:`hardware_bridge.ngsi_ld`, exports as an
``Alert``): ``incident_type = "congestion"`` (the mapping's table gives category
``traffic``, subCategory ``trafficJam``; the same type the CCTV congestion alerts use,
told apart by ``basis = "forecast"``), ``category``, ``subCategory``, ``status``
(``raised``/``cleared``), ``severity``, ``description``, ``sensor_id``, ``validFrom``
(issue time plus the first horizon below the threshold: when the jam is expected) and
``validTo`` (issue time plus the longest horizon; at a clear, the clear time), and the
forecast that triggered it: ``horizon_min``, ``predicted_speed_mps`` (at that horizon),
``current_speed_mps``, ``threshold_speed_mps``, ``reference_speed_mps`` and
``forecast_speed_mps`` (every horizon, keyed by minutes). The mapping keeps
``severity`` and ``description`` as Alert attributes and the rest in the Alert's ``data``.
Event ids are ``{scope}/congestion-warning/{sensor}@{episode start}`` (``/cleared``
appended for the clear), so a restarted feed raises the same ids again and the store
keeps one of each.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
from numpy.typing import NDArray

from twin.observations import Location, Observation, ObservationKind

__all__ = [
    "DEFAULT_SEVERITY_SHARES",
    "SEVERITIES",
    "CongestionWarner",
    "WarningConfig",
    "severity_of",
]

SEVERITIES = ("informational", "low", "medium", "high", "critical")
"""FIWARE Alert severities, mildest first."""

DEFAULT_SEVERITY_SHARES = (0.4, 0.3, 0.2)
"""Forecast speed shares of the reference below which an alert is medium, high, critical."""

KMH_PER_MPS = 3.6


def severity_of(share: float, congested_share: float = 0.5,
                severity_shares: Sequence[float] = DEFAULT_SEVERITY_SHARES) -> str | None:
    """The severity of a forecast at ``share`` of the reference speed; None when not below
    the threshold ``congested_share``."""
    if not share < congested_share:
        return None
    medium, high, critical = severity_shares
    if share < critical:
        return "critical"
    if share < high:
        return "high"
    if share < medium:
        return "medium"
    return "low"


@dataclass(frozen=True)
class WarningConfig:
    """Thresholds of :class:`CongestionWarner` (shares of each sensor's reference speed).

    Parameters
    ----------
    congested_share : a forecast below this share raises an alert
    clear_share : every forecast and the current speed at or above it count towards a clear
    clear_after : issues in a row that must count towards a clear
    severity_shares : (medium, high, critical) share bounds, decreasing, below ``congested_share``
    source_id : the alerts' source (the Alert's ``alertSource`` device)
    event_scope : prefix of the event ids (e.g. a run id)
    """

    congested_share: float = 0.5
    clear_share: float = 0.6
    clear_after: int = 2
    severity_shares: tuple[float, float, float] = DEFAULT_SEVERITY_SHARES
    source_id: str = "prediction-congestion-warning"
    event_scope: str = ""

    def __post_init__(self) -> None:
        medium, high, critical = self.severity_shares
        if not 0 < critical < high < medium < self.congested_share <= self.clear_share:
            raise ValueError("need 0 < critical < high < medium < congested_share <= clear_share, "
                             f"got {self.severity_shares}, {self.congested_share}, "
                             f"{self.clear_share}")
        if self.clear_after < 1:
            raise ValueError(f"clear_after must be >= 1, got {self.clear_after}")


@dataclass
class _Episode:
    started: datetime
    event_id: str
    valid_from: str
    peak: str
    recovered: int = 0


def _iso(dt: datetime) -> str:
    return dt.isoformat()


class CongestionWarner:
    """Per-sensor congestion warnings from speed forecasts (see the module docstring).

    Parameters
    ----------
    sensor_ids : the sensors, in the column order of the arrays given to :meth:`update`
    reference_speed_mps : (sensors,) free-flow speed of each sensor, m/s (NaN: no warnings)
    horizons_min : the forecast horizons, minutes, in the row order of the forecasts
    config : WarningConfig
    locations : optional sensor id -> Location of its alerts
    """

    def __init__(
        self,
        sensor_ids: Sequence[str],
        reference_speed_mps: Sequence[float] | NDArray[np.float64],
        horizons_min: Sequence[int],
        config: WarningConfig | None = None,
        locations: Mapping[str, Location] | None = None,
    ) -> None:
        self.sensor_ids = tuple(sensor_ids)
        self.reference_speed_mps = np.asarray(reference_speed_mps, dtype=np.float64)
        if self.reference_speed_mps.shape != (len(self.sensor_ids),):
            raise ValueError(f"{len(self.sensor_ids)} sensors but "
                             f"{self.reference_speed_mps.shape} reference speeds")
        self.horizons_min = tuple(int(h) for h in horizons_min)
        if not self.horizons_min or list(self.horizons_min) != sorted(set(self.horizons_min)):
            raise ValueError(f"horizons_min must be increasing, got {horizons_min}")
        self.config = config or WarningConfig()
        self.locations = dict(locations or {})
        self._episodes: dict[int, _Episode] = {}

    @property
    def active(self) -> dict[str, str]:
        """Sensors with an alert raised and not yet cleared -> the alert's event id."""
        return {self.sensor_ids[i]: e.event_id for i, e in self._episodes.items()}

    def update(
        self,
        issued_at: datetime,
        current_speed_mps: Sequence[float] | NDArray[np.float64],
        forecast_speed_mps: NDArray[np.float64],
    ) -> list[Observation]:
        """Alerts (raised and cleared) for the forecasts issued at ``issued_at``.

        Parameters
        ----------
        issued_at : tz-aware time the forecasts were issued (the end of the last interval)
        current_speed_mps : (sensors,) latest observed speed, NaN when unknown
        forecast_speed_mps : (horizons, sensors) forecasts, NaN when unavailable

        Returns
        -------
        list of Observation, ``incident_report`` alerts, in sensor order
        """
        current = np.asarray(current_speed_mps, dtype=np.float64)
        fc = np.asarray(forecast_speed_mps, dtype=np.float64)
        n = len(self.sensor_ids)
        if current.shape != (n,) or fc.shape != (len(self.horizons_min), n):
            raise ValueError(f"expected current ({n},) and forecasts ({len(self.horizons_min)}, "
                             f"{n}), got {current.shape} and {fc.shape}")
        cfg = self.config
        out: list[Observation] = []
        for i in range(n):
            ref = float(self.reference_speed_mps[i])
            column = fc[:, i]
            if not (math.isfinite(ref) and ref > 0) or not np.isfinite(column).any():
                continue
            threshold = cfg.congested_share * ref
            below = np.flatnonzero(np.isfinite(column) & (column < threshold))
            episode = self._episodes.get(i)
            if below.size:
                worst = float(np.nanmin(column)) / ref
                severity = severity_of(worst, cfg.congested_share, cfg.severity_shares)
                assert severity is not None
                if episode is None:
                    out.append(self._raise(i, issued_at, current[i], column, int(below[0]),
                                           severity))
                else:
                    episode.recovered = 0
                    if SEVERITIES.index(severity) > SEVERITIES.index(episode.peak):
                        episode.peak = severity
                continue
            if episode is None:
                continue
            clear = cfg.clear_share * ref
            recovered = bool(np.isfinite(column).all() and np.all(column >= clear)
                             and math.isfinite(current[i]) and current[i] >= clear)
            episode.recovered = episode.recovered + 1 if recovered else 0
            if episode.recovered >= cfg.clear_after:
                out.append(self._clear(i, issued_at, current[i], column))
        return out

    def _payload(self, i: int, current: float, column: NDArray[np.float64]) -> dict[str, Any]:
        ref = float(self.reference_speed_mps[i])
        return {
            "incident_type": "congestion", "category": "traffic", "subCategory": "trafficJam",
            "basis": "forecast", "sensor_id": self.sensor_ids[i],
            "current_speed_mps": round(float(current), 3) if math.isfinite(current) else None,
            "threshold_speed_mps": round(self.config.congested_share * ref, 3),
            "reference_speed_mps": round(ref, 3),
            "forecast_speed_mps": {str(h): (round(float(v), 3) if math.isfinite(v) else None)
                                   for h, v in zip(self.horizons_min, column, strict=True)},
        }

    def _raise(self, i: int, issued_at: datetime, current: float, column: NDArray[np.float64],
               k: int, severity: str) -> Observation:
        sensor = self.sensor_ids[i]
        scope = f"{self.config.event_scope}/" if self.config.event_scope else ""
        event_id = f"{scope}congestion-warning/{sensor}@{_iso(issued_at)}"
        horizon = self.horizons_min[k]
        valid_from = _iso(issued_at + timedelta(minutes=horizon))
        self._episodes[i] = _Episode(issued_at, event_id, valid_from, severity)
        payload = self._payload(i, current, column)
        predicted = float(column[k])
        now = "unknown" if payload["current_speed_mps"] is None \
            else f"{payload['current_speed_mps'] * KMH_PER_MPS:.0f} km/h"
        payload.update({
            "status": "raised", "severity": severity,
            "description": (f"Congestion expected at {sensor} in {horizon} min: "
                            f"{predicted * KMH_PER_MPS:.0f} km/h forecast (now {now}, "
                            f"threshold {payload['threshold_speed_mps'] * KMH_PER_MPS:.0f} km/h)"),
            "validFrom": valid_from,
            "validTo": _iso(issued_at + timedelta(minutes=self.horizons_min[-1])),
            "horizon_min": horizon, "predicted_speed_mps": round(predicted, 3),
        })
        return Observation(ObservationKind.INCIDENT_REPORT, self.config.source_id, issued_at,
                           payload, self.locations.get(sensor), event_id=event_id)

    def _clear(self, i: int, issued_at: datetime, current: float,
               column: NDArray[np.float64]) -> Observation:
        sensor = self.sensor_ids[i]
        episode = self._episodes.pop(i)
        payload = self._payload(i, current, column)
        payload.update({
            "status": "cleared", "severity": "informational",
            "description": (f"Congestion warning at {sensor} cleared: forecasts back above "
                            f"{self.config.clear_share:.0%} of free flow"),
            "validFrom": episode.valid_from, "validTo": _iso(issued_at),
            "raised_event_id": episode.event_id, "peak_severity": episode.peak,
        })
        return Observation(ObservationKind.INCIDENT_REPORT, self.config.source_id, issued_at,
                           payload, self.locations.get(sensor),
                           event_id=f"{episode.event_id}/cleared")
