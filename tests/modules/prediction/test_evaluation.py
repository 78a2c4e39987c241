"""The evaluation protocol on the real METR-LA week: baselines reproduced, the model beats them."""

from __future__ import annotations

import numpy as np
import pytest

from twin.modules.prediction.evaluation import HISTORICAL_AVERAGE, LAST_VALUE, MODEL, ForecastEvaluation

from .conftest import MetrLa

# issue 7: last value on rows 1612.. of METR-LA, in mph
LAST_VALUE_MAE = {15: 3.544, 30: 4.344, 60: 5.769}
LAST_VALUE_RMSE = {15: 6.403, 30: 8.174, 60: 10.859}


@pytest.mark.parametrize("minutes", [15, 30, 60])
def test_last_value_baseline_matches_the_issue(metr_la_evaluation: ForecastEvaluation, minutes: int) -> None:
    """Reproducing the issue's figures to 3 decimals checks the split and the issue rows."""
    h = metr_la_evaluation.horizon(minutes)
    assert round(h.mae[LAST_VALUE], 3) == LAST_VALUE_MAE[minutes]
    assert round(h.rmse[LAST_VALUE], 3) == LAST_VALUE_RMSE[minutes]
    steps = minutes // 5
    assert h.issue_rows == 2016 - steps - 1612  # t = 1612 .. 2015 - steps
    assert h.scored == h.pairs == h.issue_rows * 207
    assert h.targets_missing == 0


def test_model_beats_last_value_at_30_and_60_minutes(metr_la_evaluation: ForecastEvaluation) -> None:
    """Measured: 16.0% lower MAE at 30 min, 27.4% at 60 min (the issue's target is 15% at both).

    Asserted with a margin below the measurement, so that a small numerical change does not
    fail the test but a broken model does.
    """
    assert metr_la_evaluation.horizon(30).improvement_pct(MODEL, LAST_VALUE) >= 12.0
    assert metr_la_evaluation.horizon(60).improvement_pct(MODEL, LAST_VALUE) >= 22.0
    assert metr_la_evaluation.horizon(15).improvement_pct(MODEL, LAST_VALUE) >= 8.0  # measured 11.7%
    for h in metr_la_evaluation.horizons:
        assert h.rmse[MODEL] < h.rmse[LAST_VALUE]


def test_model_beats_the_historical_average(metr_la_evaluation: ForecastEvaluation) -> None:
    """Measured: 30.9% / 19.3% / 6.9% lower MAE at 15 / 30 / 60 min."""
    gains = [h.improvement_pct(MODEL, HISTORICAL_AVERAGE) for h in metr_la_evaluation.horizons]
    assert gains[0] >= 25.0 and gains[1] >= 14.0 and gains[2] >= 3.0


def test_historical_average_is_the_weekday_mean_of_the_fit_rows(
        metr_la: MetrLa, metr_la_evaluation: ForecastEvaluation) -> None:
    """Recompute the historical-average MAE at 60 min with a plain loop over the fit days.

    The test rows (Tuesday afternoon, Wednesday) are weekdays; the fit rows' weekdays are
    Thursday 1, Friday 2, Monday 5 and Tuesday 6 March up to 14:15 (rows 0-1611).
    """
    x = metr_la.speeds_mph
    weekday_starts = [0, 288, 1152, 1440]  # Thu, Fri, Mon, Tue; Sat 576 and Sun 864 are weekend
    errors = []
    for t in range(1612, 2016 - 12):
        target_row = t + 12
        slot = target_row % 288
        samples = [x[d + slot] for d in weekday_starts if d + slot < 1612]
        forecast = np.mean(samples, axis=0)
        errors.append(np.abs(forecast - x[target_row]))
    mae = float(np.mean(errors))
    assert metr_la_evaluation.horizon(60).mae[HISTORICAL_AVERAGE] == pytest.approx(mae, rel=1e-12)


def test_summary_is_json_ready(metr_la_evaluation: ForecastEvaluation) -> None:
    """The --json summary has the three horizons with both gains and the fit choices."""
    import json

    d = json.loads(json.dumps(metr_la_evaluation.to_dict()))
    assert [h["horizon_min"] for h in d["horizons"]] == [15, 30, 60]
    assert d["fit_rows"] == 1612 and d["sensors"] == 207
    assert d["fit"]["smoothing_slots"] in (2, 4, 6, 9)
    h30 = d["horizons"][1]
    assert h30["mae_gain_vs_last_value_pct"] == pytest.approx(
        100 * (1 - h30["mae"]["model"] / h30["mae"]["last value"]))
