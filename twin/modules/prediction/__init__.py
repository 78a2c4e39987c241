"""Short-term forecasting of sensor speeds and flows (15, 30 and 60 minutes ahead).

* :mod:`.calendar` maps rows of a history to slot of the day and weekday/weekend;
* :mod:`.profile` is the time-of-day profile (also the historical-average baseline);
* :mod:`.features` builds the regression features of a forecast from rows ``<= t``;
* :mod:`.ridge` solves per-sensor ridge regressions shrunk towards a pooled model;
* :mod:`.forecaster` is :class:`SensorForecaster`: ``fit`` offline, ``update``/``predict`` online;
* :mod:`.baselines`, :mod:`.evaluation` and :mod:`.cli` (``kota evaluate-forecast``) score it
  on the METR-LA week read by :mod:`.sensor_data`.

Arrays in, arrays out: a history is a ``(rows, sensors)`` float matrix with NaN for a
missing value, one row per fixed step from a known local time.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .baselines import HistoricalAverage, last_value
    from .calendar import RowCalendar
    from .evaluation import ForecastEvaluation, HorizonResult, evaluate_forecasts
    from .features import FeatureSpec
    from .forecaster import FitReport, ForecastConfig, SensorForecaster
    from .profile import TimeOfDayProfile
    from .sensor_data import SensorHistory, load_adjacency, load_sensor_history

_EXPORTS = {
    "FeatureSpec": "features",
    "FitReport": "forecaster",
    "ForecastConfig": "forecaster",
    "ForecastEvaluation": "evaluation",
    "HistoricalAverage": "baselines",
    "HorizonResult": "evaluation",
    "RowCalendar": "calendar",
    "SensorForecaster": "forecaster",
    "SensorHistory": "sensor_data",
    "TimeOfDayProfile": "profile",
    "evaluate_forecasts": "evaluation",
    "last_value": "baselines",
    "load_adjacency": "sensor_data",
    "load_sensor_history": "sensor_data",
}

__all__ = [
    "FeatureSpec",
    "FitReport",
    "ForecastConfig",
    "ForecastEvaluation",
    "HistoricalAverage",
    "HorizonResult",
    "RowCalendar",
    "SensorForecaster",
    "SensorHistory",
    "TimeOfDayProfile",
    "evaluate_forecasts",
    "last_value",
    "load_adjacency",
    "load_sensor_history",
]


def __getattr__(name: str) -> Any:
    """Import the public names lazily, so ``kota --help`` stays fast."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
