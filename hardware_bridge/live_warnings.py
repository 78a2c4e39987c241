"""Early warnings in live mode: the fitted forecaster runs on the readings the replay plays.

``kota live metr-la --warnings`` fits the prediction module's
:class:`~twin.modules.prediction.forecaster.SensorForecaster` on METR-LA's fit rows
(0-1611, the protocol of ``kota evaluate-forecast``) and runs a
:class:`~twin.modules.prediction.warning_feed.ForecastWarningFeed` on the live bus: after
every tick the replay plays, the feed takes the tick's detector readings, updates the
forecaster and publishes congestion alerts on the bus (where the twin's alert log, the
dashboard and an :class:`~hardware_bridge.alert_publisher.AlertPublisher` see them).

Honest forecasts
----------------
The fit rows end with the interval 2012-03-06 14:15-14:20 (Los Angeles time), so the
replay of a run with warnings starts by default at :data:`HELD_OUT_START`, the reading of
the first held-out interval (14:20-14:25). Rows between the fit rows and a later start are
given to the forecaster before the run, as the recent past a live system has; they raise
no alerts. Readings of fit rows (a start before 14:20 on 6 March) are ignored by the feed:
no alert is raised before the first held-out interval.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np

from twin.bus import Bus
from twin.observations import Location

from .replay_datasets import MetrLa

__all__ = ["HELD_OUT_START", "LiveWarnings", "held_out_start", "metr_la_warnings"]


def held_out_start(recording: MetrLa) -> datetime:
    """``observed_at`` of the first held-out row of METR-LA (2012-03-06 14:25 LA time)."""
    from twin.modules.prediction.sensor_data import METR_LA_FIT_ROWS

    return recording.interval_start(METR_LA_FIT_ROWS) + timedelta(seconds=recording.INTERVAL_S)


HELD_OUT_START = "2012-03-06T14:25:00-08:00"
"""The default ``--start`` of ``kota live metr-la --warnings``: the reading that closes the
first held-out interval, row 1612 (14:20-14:25 on Tuesday 6 March 2012, Los Angeles)."""


@dataclass
class LiveWarnings:
    """A warning feed on a live bus and what it raised.

    Parameters
    ----------
    feed : ForecastWarningFeed, fitted, listening on the live bus
    first_held_out : datetime, the end of the first interval the forecaster was not fit on
    """

    feed: Any  # ForecastWarningFeed: imported lazily, so ``kota --help`` stays fast
    first_held_out: datetime
    raised: int = 0
    cleared: int = 0

    def poll(self) -> int:
        """Take the readings published since the last call; publish their alerts on the bus;
        how many alerts."""
        alerts = self.feed.poll()
        for a in alerts:
            if a.payload.get("status") == "cleared":
                self.cleared += 1
            else:
                self.raised += 1
        return len(alerts)

    def totals(self) -> dict[str, Any]:
        """JSON-ready counts."""
        return {"raised": self.raised, "cleared": self.cleared,
                "active": len(self.feed.warner.active),
                "forecast_rows": int(self.feed.forecaster.next_row),
                "first_held_out": self.first_held_out.isoformat()}

    def close(self) -> None:
        """Stop listening to the bus."""
        self.feed.close()


def metr_la_warnings(bus: Bus, recording: MetrLa, *, start: datetime | None = None,
                     event_scope: str = "") -> LiveWarnings:
    """Fit the forecaster on METR-LA's fit rows and start a warning feed on ``bus``.

    Parameters
    ----------
    bus : Bus, where the live replay publishes the readings
    recording : MetrLa, the recording being played
    start : datetime or None, ``observed_at`` of the first reading the replay plays; the
        held-out rows before it are given to the forecaster as its recent past
    event_scope : str, prefix of the alerts' event ids (the run id)
    """
    from twin.modules.prediction.alerts import CongestionWarner, WarningConfig
    from twin.modules.prediction.calendar import RowCalendar
    from twin.modules.prediction.forecaster import SensorForecaster
    from twin.modules.prediction.sensor_data import (
        METR_LA_FIT_ROWS,
        METR_LA_START,
        adjacency_beside,
        load_adjacency,
    )
    from twin.modules.prediction.warning_feed import (
        MPS_PER_MPH,
        ForecastWarningFeed,
        reference_speeds,
    )

    history = recording.speed_mph
    fit = history[:METR_LA_FIT_ROWS]
    adj_path = adjacency_beside(recording.folder / "los_speed.csv.gz")
    adjacency = None if adj_path is None else load_adjacency(adj_path, history.shape[1])
    forecaster = SensorForecaster(RowCalendar(np.datetime64(METR_LA_START), 300), adjacency)
    forecaster.fit(fit)
    first = recording.row_of(start) if start is not None else METR_LA_FIT_ROWS
    for row in range(METR_LA_FIT_ROWS, min(first, recording.n_intervals)):
        forecaster.update(history[row])
    warner = CongestionWarner(
        recording.source_ids, reference_speeds(fit) * MPS_PER_MPH,
        forecaster.config.horizons_min, WarningConfig(event_scope=event_scope),
        locations={sid: Location(float(lon), float(lat))
                   for sid, (lon, lat) in zip(recording.source_ids, recording.lonlat, strict=True)})
    feed = ForecastWarningFeed(bus, forecaster, warner, local_tz=recording.TIME_ZONE,
                               mps_per_unit=MPS_PER_MPH)
    return LiveWarnings(feed, held_out_start(recording))
