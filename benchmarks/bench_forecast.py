"""Short-term forecaster on the METR-LA week (207 sensors): fit time and forecasts per second.

* ``fit``: one :meth:`SensorForecaster.fit` on rows 0-1611, including the hyper-parameter
  search (4 profile smoothings x 4 shrinkages x 3 horizons, fit then validated on the last
  288 rows) and the final refit.
* ``online``: :meth:`update` with one new row then :meth:`predict` at 15, 30 and 60 min;
  a forecast is one sensor at one horizon, so one call makes 207 x 3 = 621.
* ``batch``: :meth:`forecast` of the 404 test issue rows at the three horizons at once
  (the path the evaluation uses).

Skipped when the METR-LA files are not found (see ``twin.modules.prediction.sensor_data``).
"""

from __future__ import annotations

import copy

import numpy as np
import pytest

from twin.modules.prediction.calendar import RowCalendar
from twin.modules.prediction.forecaster import SensorForecaster
from twin.modules.prediction.sensor_data import (
    METR_LA_FIT_ROWS,
    METR_LA_START,
    adjacency_beside,
    default_metr_la_speed_path,
    load_adjacency,
    load_sensor_history,
)


@pytest.fixture(scope="module")
def metr_la() -> tuple[np.ndarray, np.ndarray, RowCalendar]:
    path = default_metr_la_speed_path()
    adj = adjacency_beside(path)
    if not path.exists() or adj is None:
        pytest.skip(f"METR-LA data not found at {path}")
    x = load_sensor_history(path).values
    return x, load_adjacency(adj, x.shape[1]), RowCalendar(np.datetime64(METR_LA_START))


@pytest.fixture(scope="module")
def fitted(metr_la) -> SensorForecaster:
    x, adjacency, calendar = metr_la
    forecaster = SensorForecaster(calendar, adjacency)
    forecaster.fit(x[:METR_LA_FIT_ROWS])
    return forecaster


@pytest.mark.benchmark(group="forecast")
def test_fit_metr_la(benchmark, metr_la) -> None:
    """Fit with the hyper-parameter search, 1,612 rows x 207 sensors."""
    x, adjacency, calendar = metr_la
    benchmark.pedantic(lambda: SensorForecaster(calendar, adjacency).fit(x[:METR_LA_FIT_ROWS]),
                       rounds=3, iterations=1)
    benchmark.extra_info["rows"] = METR_LA_FIT_ROWS
    benchmark.extra_info["sensors"] = int(x.shape[1])


@pytest.mark.benchmark(group="forecast")
def test_online_update_predict(benchmark, metr_la, fitted) -> None:
    """One update(row) + predict() of 207 sensors at 3 horizons."""
    x = metr_la[0]
    forecaster = copy.deepcopy(fitted)
    rows = iter(range(METR_LA_FIT_ROWS, 10**9))

    def step() -> None:
        t = next(rows)
        forecaster.update(x[METR_LA_FIT_ROWS + (t - METR_LA_FIT_ROWS) % (x.shape[0] - METR_LA_FIT_ROWS)])
        forecaster.predict()

    benchmark.pedantic(step, rounds=200, iterations=1, warmup_rounds=5)
    per_call = int(x.shape[1]) * len(forecaster.config.horizons_min)
    benchmark.extra_info["forecasts_per_call"] = per_call
    if benchmark.stats is not None:
        benchmark.extra_info["forecasts_per_s"] = round(per_call / benchmark.stats.stats.mean)


@pytest.mark.benchmark(group="forecast")
def test_batch_forecast_test_rows(benchmark, metr_la, fitted) -> None:
    """forecast() of every test issue row (1612-2015) at 3 horizons."""
    x = metr_la[0]
    issue = np.arange(METR_LA_FIT_ROWS, x.shape[0])
    benchmark.pedantic(lambda: fitted.forecast(x, issue), rounds=5, iterations=1)
    n = len(issue) * int(x.shape[1]) * len(fitted.config.horizons_min)
    benchmark.extra_info["forecasts_per_call"] = n
    if benchmark.stats is not None:
        benchmark.extra_info["forecasts_per_s"] = round(n / benchmark.stats.stats.mean)
