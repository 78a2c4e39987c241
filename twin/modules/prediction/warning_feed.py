"""Online early warnings: detector speeds from the bus -> forecaster -> alerts on the bus.

:class:`ForecastWarningFeed` subscribes to ``detector_interval`` observations, gathers
the mean speeds of its sensors into one row per interval (row ``r`` is the interval
starting at ``calendar.start + r * step_s``, local time), and for every completed row
feeds the fitted :class:`~.forecaster.SensorForecaster`
(:meth:`~.forecaster.SensorForecaster.update`), asks it for its forecasts
(:meth:`~.forecaster.SensorForecaster.predict`) and hands them, with the row's speeds,
to :class:`~.alerts.CongestionWarner`, whose alerts it publishes on the bus.

A row is complete when every sensor has reported for it, or when a later interval
arrives (the sensors that did not report are missing, NaN; an interval nobody reported
is a whole NaN row, as the forecaster expects). An interval empty of vehicles
(``mean_speed_mps`` None) is missing too, not a speed of 0. Records for rows already
fed, or of other detectors, are counted and ignored.
"""

from __future__ import annotations

from datetime import datetime, timedelta, tzinfo

import numpy as np

from twin.bus import Bus
from twin.observations import Observation, ObservationKind

from .alerts import CongestionWarner
from .forecaster import SensorForecaster

__all__ = ["MPS_PER_MPH", "ForecastWarningFeed", "reference_speeds"]

MPS_PER_MPH = 0.44704


class ForecastWarningFeed:
    """Turns detector records into congestion alerts (see the module docstring).

    Parameters
    ----------
    bus : Bus, read (``detector_interval/#``) and written (the alerts)
    forecaster : SensorForecaster, fitted on the history up to the row before the
        first one this feed will see (its ``next_row``)
    warner : CongestionWarner, with the forecaster's sensors in its column order and
        its horizons
    local_tz : time zone of the forecaster's calendar (Asia/Jakarta: UTC+7)
    mps_per_unit : metres per second in one unit of the forecaster's data (1 for m/s,
        :data:`MPS_PER_MPH` for mph)
    """

    def __init__(
        self,
        bus: Bus,
        forecaster: SensorForecaster,
        warner: CongestionWarner,
        *,
        local_tz: tzinfo,
        mps_per_unit: float = 1.0,
    ) -> None:
        if tuple(warner.horizons_min) != tuple(forecaster.config.horizons_min):
            raise ValueError(f"warner horizons {warner.horizons_min} differ from the "
                             f"forecaster's {forecaster.config.horizons_min}")
        self.bus = bus
        self.forecaster = forecaster
        self.warner = warner
        self.local_tz = local_tz
        self.mps_per_unit = float(mps_per_unit)
        self._index = {s: i for i, s in enumerate(warner.sensor_ids)}
        self._sub = bus.subscribe(f"{ObservationKind.DETECTOR_INTERVAL.value}/#",
                                  name="prediction-warnings")
        self._pending: dict[int, dict[int, float]] = {}
        self.ignored = 0
        """Records ignored: other detectors, or rows already fed."""
        self.published = 0

    def _row_of(self, obs: Observation) -> int:
        start = obs.observed_at - timedelta(seconds=float(obs.payload["interval_s"]))
        local = start.astimezone(self.local_tz).replace(tzinfo=None)
        seconds = (np.datetime64(local, "s") - self.forecaster.calendar.start).astype(np.int64)
        return int(round(int(seconds) / self.forecaster.calendar.step_s))

    def poll(self) -> list[Observation]:
        """Take the detector records published since the last call; return (and publish)
        the alerts of the rows they completed."""
        for obs in self._sub.drain():
            i = self._index.get(obs.source_id)
            row = self._row_of(obs) if i is not None else -1
            if i is None or row < self.forecaster.next_row:
                self.ignored += 1
                continue
            speed = obs.payload.get("mean_speed_mps")
            self._pending.setdefault(row, {})[i] = (
                float(speed) / self.mps_per_unit if speed is not None else np.nan)
        alerts: list[Observation] = []
        n = len(self.warner.sensor_ids)
        while self._pending:
            nxt = self.forecaster.next_row
            got = self._pending.get(nxt, {})
            later = any(r > nxt for r in self._pending)
            if len(got) < n and not later:
                break
            self._pending.pop(nxt, None)
            values = np.full(n, np.nan)
            for i, v in got.items():
                values[i] = v
            alerts += self._feed(values)
        for a in alerts:
            self.bus.publish(a)
        self.published += len(alerts)
        return alerts

    def _feed(self, row: np.ndarray) -> list[Observation]:
        r = self.forecaster.next_row
        self.forecaster.update(row)
        cal = self.forecaster.calendar
        end_local = (cal.start + np.timedelta64((r + 1) * cal.step_s, "s")).astype(datetime)
        issued = end_local.replace(tzinfo=self.local_tz)
        forecast = self.forecaster.predict(self.warner.horizons_min) * self.mps_per_unit
        return self.warner.update(issued, row * self.mps_per_unit, forecast)

    def close(self) -> None:
        """Stop listening to the bus."""
        self.bus.unsubscribe(self._sub)


def reference_speeds(history: np.ndarray, quantile: float = 0.85) -> np.ndarray:
    """Free-flow reference speed per sensor from a history (rows, sensors): the
    ``quantile`` of its observed values (NaN for a sensor that never reported)."""
    x = np.asarray(history, dtype=np.float64)
    out = np.full(x.shape[1], np.nan)
    for j in range(x.shape[1]):
        col = x[:, j][np.isfinite(x[:, j])]
        if col.size:
            out[j] = float(np.quantile(col, quantile))
    return out
