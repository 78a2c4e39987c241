"""Gaps and NaNs: forecasts where the inputs allow, NaN targets left out, every exclusion counted."""

from __future__ import annotations

import numpy as np
import pytest

from twin.modules.prediction.evaluation import LAST_VALUE, METHODS, MODEL, evaluate_forecasts
from twin.modules.prediction.forecaster import SensorForecaster
from twin.modules.prediction.sensor_data import load_adjacency, load_sensor_history

from .conftest import MetrLa

FIT = 1612
N = 40  # a subset of sensors keeps these fits under a second
STALE = 6  # FeatureSpec.max_stale_steps


@pytest.fixture(scope="module")
def gappy(metr_la: MetrLa) -> tuple[np.ndarray, np.ndarray]:
    """The first 40 sensors with 3% random NaNs, a sensor dead for 5 hours and a lost interval."""
    x = metr_la.speeds_mph[:, :N].copy()
    rng = np.random.default_rng(7)
    x[rng.random(x.shape) < 0.03] = np.nan
    x[1700:1760, 5] = np.nan  # 5 hours: stale after 30 minutes
    x[300:330, 9] = np.nan  # a gap in the fit rows too
    x[1800] = np.nan  # a whole interval lost
    return x, metr_la.adjacency[:N, :N]


def _stale(x: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Naive reference: no observation in rows t-STALE .. t."""
    return np.array([[not np.isfinite(x[max(0, t - STALE):t + 1, i]).any() for i in range(x.shape[1])]
                     for t in rows])


def test_evaluation_leaves_out_and_counts_missing_pairs(metr_la: MetrLa, gappy) -> None:
    x, adjacency = gappy
    result = evaluate_forecasts(x, metr_la.calendar, adjacency, fit_rows=FIT)
    assert result.missing_fit_values == int(np.isnan(x[:FIT]).sum()) > 0
    assert result.missing_test_values == int(np.isnan(x[FIT:]).sum()) > 0
    assert result.fit.missing_values == result.missing_fit_values
    for h in result.horizons:
        steps = h.horizon_min // 5
        issue = np.arange(FIT, x.shape[0] - steps)
        target_ok = np.isfinite(x[issue + steps])
        assert h.targets_missing == int((~target_ok).sum())
        # last value has no forecast where row t is missing; the model only where the sensor is stale
        lv_missing = target_ok & np.isnan(x[issue])
        model_missing = target_ok & _stale(x, issue)
        assert h.forecasts_missing[LAST_VALUE] == int(lv_missing.sum())
        assert h.forecasts_missing[MODEL] == int(model_missing.sum()) > 0
        assert h.forecasts_missing[MODEL] < h.forecasts_missing[LAST_VALUE]
        scored = target_ok & ~lv_missing & ~model_missing
        assert h.scored == int(scored.sum())
        # the metric is over observed targets only: recompute last value's MAE directly
        direct = np.abs(x[issue] - x[issue + steps])[scored].mean()
        assert h.mae[LAST_VALUE] == pytest.approx(direct, rel=1e-12)
        assert all(np.isfinite(h.mae[m]) and np.isfinite(h.rmse[m]) for m in METHODS)


def test_forecasts_are_made_through_short_gaps_only(metr_la: MetrLa, gappy) -> None:
    x, adjacency = gappy
    forecaster = SensorForecaster(metr_la.calendar, adjacency)
    forecaster.fit(x[:FIT])
    issue = np.arange(1690, 1770)
    f = forecaster.forecast(x, issue)
    dead = f[:, :, 5]
    for k, t in enumerate(issue):
        # sensor 5 stopped at row 1700: forecasts go on for 6 rows from its last reading, then stop
        last = max(r for r in range(t + 1) if np.isfinite(x[r, 5]))
        assert np.isfinite(dead[:, k]).all() == (t - last <= STALE), t
    # row t missing but the sensor fresh: a forecast exists although last value has none
    gaps = np.isnan(x[issue]) & ~_stale(x, issue)
    assert gaps.sum() > 0
    assert np.isfinite(f[:, gaps]).all()


def test_online_forecasts_survive_lost_intervals(metr_la: MetrLa, gappy) -> None:
    x, adjacency = gappy
    forecaster = SensorForecaster(metr_la.calendar, adjacency)
    forecaster.fit(x[:FIT])
    nan_row = np.full(N, np.nan)
    for _ in range(STALE):
        forecaster.update(nan_row)
        assert np.isfinite(forecaster.predict()).any()
    forecaster.update(nan_row)  # 7 intervals without data: every sensor is stale
    assert np.isnan(forecaster.predict()).all()
    forecaster.update(x[FIT + STALE + 1])
    assert np.isfinite(forecaster.predict()[:, np.isfinite(x[FIT + STALE + 1])]).all()
    with pytest.raises(ValueError, match="row has 3 values"):
        forecaster.update(np.zeros(3))


def test_a_sensor_never_observed_gets_no_forecast(metr_la: MetrLa) -> None:
    x = metr_la.speeds_mph[:, :N].copy()
    x[:, 3] = np.nan
    forecaster = SensorForecaster(metr_la.calendar, metr_la.adjacency[:N, :N])
    forecaster.fit(x[:FIT])
    f = forecaster.forecast(x, np.arange(FIT, 1700))
    assert np.isnan(f[:, :, 3]).all()
    assert np.isfinite(np.delete(f, 3, axis=2)).all()


def test_loader_reads_gaps_as_missing_and_counts_them(tmp_path) -> None:
    p = tmp_path / "speed.csv"
    p.write_text("a,b,c\n60,55.5,\n0,abc,61\n-1,50,nan\n62,51,63\n", encoding="utf-8")
    h = load_sensor_history(p)
    assert h.sensor_ids == ("a", "b", "c")
    assert h.values.shape == (4, 3)
    assert h.missing_fields == 3  # empty, "abc", "nan"
    assert h.nonpositive_values == 2  # 0 and -1: METR-LA's "no reading"
    np.testing.assert_array_equal(np.isnan(h.values), [[0, 0, 1], [1, 1, 0], [1, 0, 1], [0, 0, 0]])
    flows = load_sensor_history(p, nonpositive_is_missing=False)
    assert flows.values[1, 0] == 0.0 and flows.nonpositive_values == 0


def test_loader_reads_gzipped_files(tmp_path) -> None:
    import gzip

    p = tmp_path / "speed.csv.gz"
    with gzip.open(p, "wt", encoding="utf-8") as f:
        f.write("a,b\n60,\n61,50\n")
    h = load_sensor_history(p)
    assert h.sensor_ids == ("a", "b") and h.missing_fields == 1
    np.testing.assert_array_equal(h.values[1], [61, 50])


def test_loader_rejects_ragged_rows_and_wrong_adjacency(tmp_path) -> None:
    p = tmp_path / "speed.csv"
    p.write_text("a,b\n60,55\n61\n", encoding="utf-8")
    with pytest.raises(ValueError):
        load_sensor_history(p)
    with pytest.raises(FileNotFoundError):
        load_sensor_history(tmp_path / "absent.csv")
    adj = tmp_path / "adj.csv"
    adj.write_text("a,b\n1,0.5\n0.5,1\n", encoding="utf-8")
    np.testing.assert_array_equal(load_adjacency(adj, 2), [[1, 0.5], [0.5, 1]])  # header skipped
    with pytest.raises(ValueError, match="expected \\(3, 3\\)"):
        load_adjacency(adj, 3)
