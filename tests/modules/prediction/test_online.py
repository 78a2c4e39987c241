"""Online use gives the batch forecasts, and no forecast looks past its issue row."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from twin.modules.prediction.evaluation import ForecastEvaluation

from .conftest import MetrLa

FIT = 1612


def test_online_update_predict_equals_batch_forecasts(metr_la: MetrLa,
                                                      metr_la_evaluation: ForecastEvaluation) -> None:
    """Feed the test rows one by one; every predict() equals forecast() at that row."""
    forecaster = copy.deepcopy(metr_la_evaluation.forecaster)
    x = metr_la.speeds_mph
    issue = np.arange(FIT, x.shape[0])
    batch = forecaster.forecast(x, issue)  # (3, rows, sensors)
    assert forecaster.next_row == FIT
    for i, t in enumerate(issue):
        forecaster.update(x[t])
        online = forecaster.predict()
        np.testing.assert_allclose(online, batch[:, i, :], rtol=0, atol=1e-9)
    assert forecaster.next_row == x.shape[0]
    assert np.isfinite(batch).all()


def test_predict_accepts_a_subset_of_horizons(metr_la_evaluation: ForecastEvaluation) -> None:
    forecaster = copy.deepcopy(metr_la_evaluation.forecaster)
    both = forecaster.predict((15, 60))
    assert both.shape == (2, 207)
    np.testing.assert_array_equal(both[1], forecaster.predict((60,))[0])
    with pytest.raises(ValueError, match="no model for 45 min"):
        forecaster.predict((45,))


@pytest.mark.parametrize("t", [FIT - 1, FIT, 1700, 1900, 2003])
def test_forecasts_at_t_ignore_every_row_after_t(metr_la: MetrLa, metr_la_evaluation: ForecastEvaluation,
                                                 t: int) -> None:
    """Overwrite rows t+1.. with garbage (jams, NaN, huge values): the forecasts at t do not move."""
    forecaster = metr_la_evaluation.forecaster
    x = metr_la.speeds_mph
    clean = forecaster.forecast(x, np.array([t]))
    corrupted = x.copy()
    rng = np.random.default_rng(t)
    corrupted[t + 1:] = rng.uniform(1.0, 300.0, size=corrupted[t + 1:].shape)
    corrupted[t + 1::7] = np.nan
    np.testing.assert_array_equal(forecaster.forecast(corrupted, np.array([t])), clean)
    # the same corruption one row earlier reaches row t and must change the forecasts
    corrupted[t] = 5.0
    assert not np.allclose(forecaster.forecast(corrupted, np.array([t])), clean)


def test_fit_sees_only_the_rows_it_is_given(metr_la: MetrLa, metr_la_evaluation: ForecastEvaluation) -> None:
    """The evaluation's model is the one fit on rows 0-1611 alone (no test row reaches the fit)."""
    from twin.modules.prediction.forecaster import SensorForecaster

    x = metr_la.speeds_mph
    alone = SensorForecaster(metr_la.calendar, metr_la.adjacency)
    alone.fit(x[:FIT].copy())
    issue = np.arange(FIT, x.shape[0] - 12)
    np.testing.assert_array_equal(alone.forecast(x, issue), metr_la_evaluation.forecaster.forecast(x, issue))
