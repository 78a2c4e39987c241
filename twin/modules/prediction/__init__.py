"""Prediction: short-term forecasts, what-if forks of the twin, and early warnings.

* :mod:`.calendar` maps rows of a history to slot of the day and weekday/weekend;
* :mod:`.profile` is the time-of-day profile (also the historical-average baseline);
* :mod:`.features` builds the regression features of a forecast from rows ``<= t``;
* :mod:`.ridge` solves per-sensor ridge regressions shrunk towards a pooled model;
* :mod:`.forecaster` is :class:`SensorForecaster`: ``fit`` offline, ``update``/``predict`` online;
* :mod:`.baselines`, :mod:`.evaluation` and :mod:`.cli` (``kota evaluate-forecast``) score it
  on the METR-LA week read by :mod:`.sensor_data`;
* :mod:`.whatif` forks the live simulation (:class:`WhatIf`), tries the interventions of
  :mod:`.interventions` over a horizon and ranks them by the KPIs of :mod:`.whatif_kpis`;
  :mod:`.whatif_demo` and :mod:`.whatif_cli` (``kota what-if``) set it up for a scenario;
* :mod:`.alerts` turns forecasts of congestion into FIWARE Alert observations, one per
  episode (:class:`CongestionWarner`), and :mod:`.warning_feed` runs it online on the bus.

Forecasting works arrays in, arrays out: a history is a ``(rows, sensors)`` float matrix with
NaN for a missing value, one row per fixed step from a known local time.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .alerts import CongestionWarner, WarningConfig
    from .baselines import HistoricalAverage, last_value
    from .calendar import RowCalendar
    from .evaluation import ForecastEvaluation, HorizonResult, evaluate_forecasts
    from .features import FeatureSpec
    from .forecaster import FitReport, ForecastConfig, SensorForecaster
    from .interventions import (
        ClearIncidentAt,
        ClearIncidentEarlier,
        CloseLink,
        Combined,
        ExtendGreen,
        Intervention,
        Reroute,
        SetSignalTiming,
        parse_intervention,
    )
    from .profile import TimeOfDayProfile
    from .sensor_data import SensorHistory, load_adjacency, load_sensor_history
    from .warning_feed import ForecastWarningFeed
    from .whatif import FuturePlan, OptionResult, PlannedIncident, WhatIf, WhatIfResult
    from .whatif_kpis import ForkKpis, KpiGain

_EXPORTS = {
    "ClearIncidentAt": "interventions",
    "ClearIncidentEarlier": "interventions",
    "CloseLink": "interventions",
    "Combined": "interventions",
    "CongestionWarner": "alerts",
    "ExtendGreen": "interventions",
    "FeatureSpec": "features",
    "FitReport": "forecaster",
    "ForecastConfig": "forecaster",
    "ForecastEvaluation": "evaluation",
    "ForecastWarningFeed": "warning_feed",
    "ForkKpis": "whatif_kpis",
    "FuturePlan": "whatif",
    "HistoricalAverage": "baselines",
    "HorizonResult": "evaluation",
    "Intervention": "interventions",
    "KpiGain": "whatif_kpis",
    "OptionResult": "whatif",
    "PlannedIncident": "whatif",
    "Reroute": "interventions",
    "RowCalendar": "calendar",
    "SensorForecaster": "forecaster",
    "SensorHistory": "sensor_data",
    "SetSignalTiming": "interventions",
    "TimeOfDayProfile": "profile",
    "WarningConfig": "alerts",
    "WhatIf": "whatif",
    "WhatIfResult": "whatif",
    "evaluate_forecasts": "evaluation",
    "last_value": "baselines",
    "load_adjacency": "sensor_data",
    "load_sensor_history": "sensor_data",
    "parse_intervention": "interventions",
}

__all__ = [
    "ClearIncidentAt",
    "ClearIncidentEarlier",
    "CloseLink",
    "Combined",
    "CongestionWarner",
    "ExtendGreen",
    "FeatureSpec",
    "FitReport",
    "ForecastConfig",
    "ForecastEvaluation",
    "ForecastWarningFeed",
    "ForkKpis",
    "FuturePlan",
    "HistoricalAverage",
    "HorizonResult",
    "Intervention",
    "KpiGain",
    "OptionResult",
    "PlannedIncident",
    "Reroute",
    "RowCalendar",
    "SensorForecaster",
    "SensorHistory",
    "SetSignalTiming",
    "TimeOfDayProfile",
    "WarningConfig",
    "WhatIf",
    "WhatIfResult",
    "evaluate_forecasts",
    "last_value",
    "load_adjacency",
    "load_sensor_history",
    "parse_intervention",
]


def __getattr__(name: str) -> Any:
    """Import the public names lazily, so ``kota --help`` stays fast."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
