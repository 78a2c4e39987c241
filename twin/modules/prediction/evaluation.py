"""The evaluation protocol of issue 7 on a sensor history such as the METR-LA week.

Model parameters (forecaster and historical average) come from rows ``0 .. fit_rows-1``
only. For each horizon ``h``, a forecast is issued at every row ``t`` from ``fit_rows`` up
to the last row minus ``h``, using observations up to row ``t``; it is scored against row
``t + h``. MAE and RMSE are taken over the (issue row, sensor) pairs where the target was
observed *and* every method produced a forecast, so the methods are compared on the same
pairs; the pairs left out, and why, are counted.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass

import numpy as np
from numpy.typing import NDArray

from .baselines import HistoricalAverage, last_value
from .calendar import RowCalendar
from .forecaster import FitReport, ForecastConfig, SensorForecaster

__all__ = ["MODEL", "HISTORICAL_AVERAGE", "LAST_VALUE", "ForecastEvaluation", "HorizonResult",
           "evaluate_forecasts"]

MODEL = "model"
LAST_VALUE = "last value"
HISTORICAL_AVERAGE = "historical average"
METHODS = (MODEL, LAST_VALUE, HISTORICAL_AVERAGE)


@dataclass(frozen=True)
class HorizonResult:
    """Scores of every method at one horizon, on the same pairs."""

    horizon_min: int
    issue_rows: int
    """Forecast issue rows ``t`` (from ``fit_rows`` to ``last row - h``)."""
    pairs: int
    """``issue_rows x sensors``."""
    targets_missing: int
    """Pairs whose target row ``t + h`` was not observed (left out)."""
    forecasts_missing: dict[str, int]
    """Pairs with an observed target but no forecast from this method (left out for all)."""
    scored: int
    mae: dict[str, float]
    rmse: dict[str, float]

    def improvement_pct(self, method: str, baseline: str) -> float:
        """How much lower ``method``'s MAE is than ``baseline``'s, in percent."""
        return 100.0 * (1.0 - self.mae[method] / self.mae[baseline])


@dataclass(frozen=True)
class ForecastEvaluation:
    """The whole evaluation: per-horizon results and what the data held."""

    sensors: int
    rows: int
    fit_rows: int
    missing_fit_values: int
    missing_test_values: int
    horizons: tuple[HorizonResult, ...]
    fit: FitReport
    fit_wall_s: float
    forecast_wall_s: float
    forecaster: SensorForecaster
    """The fitted model (left in its state at the end of the fit rows)."""

    def horizon(self, minutes: int) -> HorizonResult:
        """The result at ``minutes``."""
        return next(h for h in self.horizons if h.horizon_min == minutes)

    def to_dict(self) -> dict[str, object]:
        """JSON-ready summary (validation scores left out)."""
        fit = asdict(self.fit)  # (the forecaster itself is not part of the summary)
        fit.pop("validation_mae")
        return {
            "sensors": self.sensors, "rows": self.rows, "fit_rows": self.fit_rows,
            "missing_fit_values": self.missing_fit_values, "missing_test_values": self.missing_test_values,
            "fit_wall_s": round(self.fit_wall_s, 3), "forecast_wall_s": round(self.forecast_wall_s, 3),
            "fit": {k: ({str(kk): vv for kk, vv in v.items()} if isinstance(v, dict) else v)
                    for k, v in fit.items()},
            "horizons": [{**asdict(h),
                          "mae_gain_vs_last_value_pct": h.improvement_pct(MODEL, LAST_VALUE),
                          "mae_gain_vs_historical_average_pct": h.improvement_pct(MODEL, HISTORICAL_AVERAGE)}
                         for h in self.horizons],
        }

    def format_table(self) -> str:
        """The table ``kota evaluate-forecast`` prints."""
        lines = [
            f"{self.sensors} sensors, {self.rows} rows; fit on rows 0-{self.fit_rows - 1} "
            f"({self.fit_wall_s:.1f} s), forecasts issued at rows {self.fit_rows}..last-h "
            f"using rows <= t ({self.forecast_wall_s:.2f} s)",
            f"missing values: {self.missing_fit_values} in the fit rows, "
            f"{self.missing_test_values} after",
            "",
            f"{'horizon':>7}  {'method':<18} {'MAE':>7} {'RMSE':>7}  {'MAE gain vs':>12} "
            f"{'MAE gain vs':>12}  {'pairs':>7}",
            f"{'':>7}  {'':<18} {'':>7} {'':>7}  {'last value':>12} {'hist. avg':>12}  {'scored':>7}",
        ]
        for h in self.horizons:
            for i, m in enumerate(METHODS):
                gain_lv = f"{h.improvement_pct(m, LAST_VALUE):+.1f}%" if m != LAST_VALUE else ""
                gain_ha = (f"{h.improvement_pct(m, HISTORICAL_AVERAGE):+.1f}%"
                           if m != HISTORICAL_AVERAGE else "")
                lines.append(f"{f'{h.horizon_min} min' if i == 0 else '':>7}  {m:<18} {h.mae[m]:7.3f} "
                             f"{h.rmse[m]:7.3f}  {gain_lv:>12} {gain_ha:>12}  "
                             f"{h.scored if i == 0 else '':>7}")
            left = ", ".join(f"{m} {n}" for m, n in h.forecasts_missing.items() if n)
            lines.append(f"{'':>7}  {h.issue_rows} issue rows x {self.sensors} sensors = {h.pairs} pairs; "
                         f"left out: {h.targets_missing} missing targets"
                         + (f", no forecast from {left}" if left else ""))
        lines.append("")
        lines.append(f"model: profile smoothing {self.fit.smoothing_slots} slots, shrinkage "
                     + ", ".join(f"{m} min {v:g}" for m, v in self.fit.shrinkage.items())
                     + " (chosen on the last fit rows)")
        return "\n".join(lines)


def evaluate_forecasts(history: NDArray[np.float64], calendar: RowCalendar,
                       adjacency: NDArray[np.float64] | None = None, *, fit_rows: int,
                       config: ForecastConfig | None = None) -> ForecastEvaluation:
    """Fit on ``history[:fit_rows]`` and score forecasts issued at every later row.

    Parameters
    ----------
    history : (rows, sensors), row 0 at the calendar's start, NaN = missing
    calendar : RowCalendar
    adjacency : (sensors, sensors) weights or None
    fit_rows : rows used to fit
    config : ForecastConfig (default: the forecaster's defaults)

    Returns
    -------
    ForecastEvaluation
    """
    x = np.array(history, dtype=np.float64)
    x[~np.isfinite(x)] = np.nan
    n_rows, n_sensors = x.shape
    if not 0 < fit_rows < n_rows:
        raise ValueError(f"fit_rows must lie in 1..{n_rows - 1}, got {fit_rows}")
    forecaster = SensorForecaster(calendar, adjacency, config)
    t0 = time.perf_counter()
    fit = forecaster.fit(x[:fit_rows])
    fit_wall_s = time.perf_counter() - t0
    average = HistoricalAverage(x[:fit_rows], calendar)
    results = []
    forecast_wall_s = 0.0
    for minutes in forecaster.config.horizons_min:
        h = forecaster.steps_of(minutes)
        issue = np.arange(fit_rows, n_rows - h)
        if len(issue) == 0:
            raise ValueError(f"no row after the fit rows leaves room for a {minutes}-min horizon")
        t0 = time.perf_counter()
        model = forecaster.forecast(x, issue, (minutes,))[0]
        forecast_wall_s += time.perf_counter() - t0
        preds = {MODEL: model, LAST_VALUE: last_value(x, issue),
                 HISTORICAL_AVERAGE: average.forecast(issue, h)}
        target = x[issue + h]
        observed = np.isfinite(target)
        scored = observed.copy()
        for p in preds.values():
            scored &= np.isfinite(p)
        n = int(scored.sum())
        if n == 0:
            raise ValueError(f"no forecast at {minutes} min can be scored (every pair is missing)")
        err = {m: p[scored] - target[scored] for m, p in preds.items()}
        results.append(HorizonResult(
            horizon_min=minutes, issue_rows=len(issue), pairs=target.size,
            targets_missing=int((~observed).sum()),
            forecasts_missing={m: int((observed & ~np.isfinite(p)).sum()) for m, p in preds.items()},
            scored=n,
            mae={m: float(np.abs(e).mean()) for m, e in err.items()},
            rmse={m: float(np.sqrt((e**2).mean())) for m, e in err.items()},
        ))
    return ForecastEvaluation(
        sensors=n_sensors, rows=n_rows, fit_rows=fit_rows,
        missing_fit_values=int(np.isnan(x[:fit_rows]).sum()),
        missing_test_values=int(np.isnan(x[fit_rows:]).sum()),
        horizons=tuple(results), fit=fit, fit_wall_s=fit_wall_s, forecast_wall_s=forecast_wall_s,
        forecaster=forecaster)
