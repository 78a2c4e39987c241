"""Fixtures of the forecasting tests: the real METR-LA week and one evaluation of it.

The data is read from the repository's ``data/sensors/metr-la/`` or, until it is
copied there, from ``../shared/data/sensors/metr-la/``; the tests that need it are
skipped when neither exists.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from twin.modules.prediction.calendar import RowCalendar
from twin.modules.prediction.evaluation import ForecastEvaluation, evaluate_forecasts
from twin.modules.prediction.sensor_data import (
    METR_LA_FIT_ROWS,
    METR_LA_START,
    adjacency_beside,
    default_metr_la_speed_path,
    load_adjacency,
    load_sensor_history,
)


@dataclass(frozen=True)
class MetrLa:
    """The METR-LA week: speeds (rows, sensors) in mph, adjacency, calendar."""

    speed_path: Path
    speeds_mph: np.ndarray
    adjacency: np.ndarray
    calendar: RowCalendar


@pytest.fixture(scope="session")
def metr_la() -> MetrLa:
    """The METR-LA speed matrix and its adjacency (skipped when the files are missing)."""
    path = default_metr_la_speed_path()
    adj = adjacency_beside(path)
    if not path.exists() or adj is None:
        pytest.skip(f"METR-LA data not found at {path}")
    history = load_sensor_history(path)
    return MetrLa(path, history.values, load_adjacency(adj, history.values.shape[1]),
                  RowCalendar(np.datetime64(METR_LA_START)))


@pytest.fixture(scope="session")
def metr_la_evaluation(metr_la: MetrLa) -> ForecastEvaluation:
    """The issue-7 protocol on the full week (one fit on rows 0-1611, a few seconds)."""
    return evaluate_forecasts(metr_la.speeds_mph, metr_la.calendar, metr_la.adjacency,
                              fit_rows=METR_LA_FIT_ROWS)
