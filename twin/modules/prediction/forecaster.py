"""Short-term forecaster of sensor speeds (or flows) at several horizons, fit offline, run online.

Direct multi-horizon regression: one linear model per horizon ``h`` predicts the
deviation from the time-of-day profile at ``t + h`` from features of rows ``<= t``
(:mod:`.features`): the sensor's own recent deviations, its graph neighbours' and the
profile's expected change. Each sensor has its own weights, shrunk towards a model
pooled over all sensors (:mod:`.ridge`).

:meth:`SensorForecaster.fit` chooses the profile smoothing and the per-horizon
shrinkage by validation on the *last* ``validation_rows`` of the history it is given
(fit on the rows before, score the forecasts issued inside the held-out block), then
refits on the whole history. Nothing outside that history is ever looked at.

Online use: after :meth:`~SensorForecaster.fit`, call
:meth:`~SensorForecaster.update` with each new row (NaN for a missing value, a whole
NaN row for a missing interval) and :meth:`~SensorForecaster.predict` for forecasts
from the rows seen so far. :meth:`~SensorForecaster.forecast` computes the same
forecasts for many issue rows of a history at once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from .calendar import RowCalendar
from .features import (
    FeatureSpec,
    NeighbourTable,
    build_features,
    imputed_deviations,
    neighbour_deviations,
    neighbour_tables,
)
from .profile import TimeOfDayProfile
from .ridge import NormalEquations, Standardizer, solve_pooled, solve_shrunk

__all__ = ["FitReport", "ForecastConfig", "SensorForecaster"]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


@dataclass(frozen=True)
class ForecastConfig:
    """Horizons, features and the hyper-parameter grid searched by :meth:`SensorForecaster.fit`.

    Parameters
    ----------
    horizons_min : forecast horizons in minutes (multiples of the row step)
    features : FeatureSpec
    smoothing_grid : candidate profile smoothing, in slots on each side
    shrinkage_grid : candidate per-sensor shrinkage towards the pooled model (> 0; ``inf`` = pooled only)
    neighbour_directions : ``"both"``, ``"rows"`` or ``"split"``: how a directed adjacency
        becomes neighbour sets (:func:`.features.neighbour_tables`); on METR-LA's DCRNN graph
        the three scored within 0.01 mph of each other in validation, so the simplest is the default
    pooled_penalty : ridge penalty per sample of the pooled model, on standardised features
    validation_rows : rows at the end of the fit history held out to choose the hyper-parameters
    huber_delta : residual (in the data's unit, e.g. mph) beyond which a training sample is
        down-weighted (Huber loss by iterative re-weighting; ``inf`` = plain least squares)
    robust_iterations : re-weighting passes

    The grids and ``huber_delta`` were settled on the validation block of the METR-LA fit rows.
    """

    horizons_min: tuple[int, ...] = (15, 30, 60)
    features: FeatureSpec = field(default_factory=FeatureSpec)
    smoothing_grid: tuple[int, ...] = (2, 4, 6, 9)
    shrinkage_grid: tuple[float, ...] = (0.003, 0.01, 0.03, 0.1)
    neighbour_directions: str = "both"
    pooled_penalty: float = 1e-3
    validation_rows: int = 288
    huber_delta: float = 3.0
    robust_iterations: int = 3


@dataclass(frozen=True)
class FitReport:
    """What :meth:`SensorForecaster.fit` saw and chose."""

    rows: int
    sensors: int
    missing_values: int
    smoothing_slots: int
    shrinkage: dict[int, float]
    """Chosen shrinkage per horizon (minutes)."""
    training_samples: dict[int, int]
    """Samples (issue row x sensor) per horizon in the final fit."""
    validation_mae: dict[tuple[int, int, float], float]
    """Validation MAE per (smoothing, horizon min, shrinkage); empty when the history was too short."""


@dataclass(frozen=True)
class _BlockInputs:
    first_row: int
    profile: FloatArray
    deviation: FloatArray
    fresh: NDArray[np.bool_]
    neighbours: tuple[FloatArray, ...]


@dataclass(frozen=True)
class _HorizonModel:
    steps: int
    standardizer: Standardizer
    weights: FloatArray  # (sensors, k)


class SensorForecaster:
    """Forecasts of every sensor at fixed horizons from its history and its neighbours'.

    Parameters
    ----------
    calendar : RowCalendar, local time of row 0 and the row step
    adjacency : (sensors, sensors) non-negative weights or None (no neighbour features)
    config : ForecastConfig
    """

    def __init__(self, calendar: RowCalendar, adjacency: FloatArray | None = None,
                 config: ForecastConfig | None = None) -> None:
        self.calendar = calendar
        self.config = config or ForecastConfig()
        self._adjacency = None if adjacency is None else np.asarray(adjacency, dtype=np.float64)
        for m in self.config.horizons_min:
            if m <= 0 or (m * 60) % calendar.step_s:
                raise ValueError(f"horizon {m} min is not a positive multiple of the "
                                 f"{calendar.step_s} s step")
        self._neighbours: tuple[NeighbourTable, ...] | None = None
        self._profile: TimeOfDayProfile | None = None
        self._models: dict[int, _HorizonModel] = {}
        self._clip = (-math.inf, math.inf)
        self._buffer: FloatArray | None = None
        self._next_row = 0
        self.report: FitReport | None = None

    # ------------------------------------------------------------------ fitting

    def steps_of(self, horizon_min: int) -> int:
        """Rows ahead of a horizon in minutes."""
        return horizon_min * 60 // self.calendar.step_s

    def fit(self, history: FloatArray) -> FitReport:
        """Fit on ``history`` (rows from the calendar's row 0, sensors as columns, NaN = missing).

        Chooses the hyper-parameters on the last ``validation_rows`` rows, refits on
        all rows and leaves the online state at the end of ``history``.

        Returns
        -------
        FitReport
        """
        x = self._as_history(history)
        n_rows, n_sensors = x.shape
        cfg, spec = self.config, self.config.features
        self._neighbours = neighbour_tables(self._adjacency, n_sensors, cfg.neighbour_directions)
        finite = x[np.isfinite(x)]
        if finite.size == 0:
            raise ValueError("history has no observation")
        self._clip = (float(finite.min()), float(finite.max()))
        horizons = [self.steps_of(m) for m in cfg.horizons_min]
        inner = n_rows - cfg.validation_rows
        validation: dict[tuple[int, int, float], float] = {}
        min_inner = self.calendar.slots_per_day + spec.window_rows + max(horizons)
        if cfg.validation_rows > 0 and inner >= min_inner:
            best_s, best_lam = self._select(x, inner, horizons, validation)
        else:
            best_s = cfg.smoothing_grid[0]
            best_lam = {h: cfg.shrinkage_grid[0] for h in horizons}
        self._profile = TimeOfDayProfile.fit(x, self.calendar, best_s)
        eqs = self._training_equations(x, self._profile, horizons)
        self._models = {}
        samples: dict[int, int] = {}
        for h, (std, eq) in eqs.items():
            pooled = solve_pooled(eq, cfg.pooled_penalty)
            self._models[h] = _HorizonModel(h, std, solve_shrunk(eq, pooled, best_lam[h]))
            samples[self._minutes(h)] = int(eq.n.sum())
        self._buffer = np.full((spec.buffer_rows, n_sensors), np.nan)
        tail = x[-spec.buffer_rows:]
        self._buffer[-len(tail):] = tail
        self._next_row = n_rows
        self.report = FitReport(
            rows=n_rows, sensors=n_sensors, missing_values=int((~np.isfinite(x)).sum()),
            smoothing_slots=best_s, shrinkage={self._minutes(h): best_lam[h] for h in horizons},
            training_samples=samples, validation_mae=validation)
        return self.report

    def _minutes(self, steps: int) -> int:
        return steps * self.calendar.step_s // 60

    def _select(self, x: FloatArray, inner: int, horizons: list[int],
                scores: dict[tuple[int, int, float], float]) -> tuple[int, dict[int, float]]:
        """Best smoothing and per-horizon shrinkage: fit on rows < inner, score issue rows >= inner."""
        cfg = self.config
        best: tuple[float, int, dict[int, float]] | None = None
        for s in cfg.smoothing_grid:
            profile = TimeOfDayProfile.fit(x[:inner], self.calendar, s)
            eqs = self._training_equations(x[:inner], profile, horizons)
            inputs = self._inputs(x, 0, profile)
            lam_of: dict[int, float] = {}
            total = 0.0
            for h, (std, eq) in eqs.items():
                issue = np.arange(inner, x.shape[0] - h)
                z, base, ok = self._design(inputs, profile, std, issue, h)
                target = x[issue + h]
                ok &= np.isfinite(target)
                pooled = solve_pooled(eq, cfg.pooled_penalty)
                best_h = (math.inf, cfg.shrinkage_grid[0])
                for lam in cfg.shrinkage_grid:
                    w = solve_shrunk(eq, pooled, lam)
                    pred = np.clip(base + np.einsum("tnk,nk->tn", z, w), *self._clip)
                    mae = float(np.abs(pred - target)[ok].mean())
                    scores[(s, self._minutes(h), lam)] = mae
                    best_h = min(best_h, (mae, lam))
                lam_of[h] = best_h[1]
                total += best_h[0]
            if best is None or total < best[0]:
                best = (total, s, lam_of)
        assert best is not None
        return best[1], best[2]

    def _training_equations(self, x: FloatArray, profile: TimeOfDayProfile,
                            horizons: list[int]) -> dict[int, tuple[Standardizer, NormalEquations]]:
        """Normal equations per horizon on ``x``, with the leave-own-day-out profile."""
        spec = self.config.features
        rows = np.arange(x.shape[0])
        p_loo = profile.leave_day_out(rows)
        dev, fresh = imputed_deviations(x, p_loo, spec.max_stale_steps)
        nbr = self._neighbour_means(dev, fresh)
        out = {}
        for h in horizons:
            issue = np.arange(spec.window_rows - 1, x.shape[0] - h)
            if len(issue) == 0:
                raise ValueError(f"history of {x.shape[0]} rows is too short for a {h}-row horizon")
            f = build_features(dev, nbr, p_loo[issue], p_loo[issue + h], issue, spec)
            y = x[issue + h] - p_loo[issue + h]
            mask = fresh[issue] & np.isfinite(y)
            std = Standardizer.from_samples(f, mask)
            z = np.ascontiguousarray(std.apply(f).transpose(1, 0, 2))  # sensor-major
            y, mask = np.ascontiguousarray(y.T), np.ascontiguousarray(mask.T)
            eq = NormalEquations.build(z, y, mask)
            delta = self.config.huber_delta
            for _ in range(self.config.robust_iterations if math.isfinite(delta) else 0):
                # Huber re-weighting (the metric is the absolute error), around a mid-grid fit
                w = solve_shrunk(eq, solve_pooled(eq, self.config.pooled_penalty), 1.0)
                r = np.abs(np.where(mask, y - (z @ w[:, :, None])[:, :, 0], 0.0))
                eq = NormalEquations.build(z, y, mask, np.minimum(1.0, delta / np.maximum(r, 1e-12)))
            out[h] = (std, eq)
        return out

    def _inputs(self, block: FloatArray, first_row: int, profile: TimeOfDayProfile) -> _BlockInputs:
        """Profile, imputed deviations and neighbour means of a block of consecutive rows."""
        p_block = profile.values(first_row + np.arange(block.shape[0]))
        dev, fresh = imputed_deviations(block, p_block, self.config.features.max_stale_steps)
        return _BlockInputs(first_row, p_block, dev, fresh,
                            self._neighbour_means(dev, fresh))

    def _design(self, inputs: _BlockInputs, profile: TimeOfDayProfile, std: Standardizer,
                issue: IntArray, h: int) -> tuple[FloatArray, FloatArray, NDArray[np.bool_]]:
        """Standardised features, profile at the targets and availability for block rows ``issue``."""
        p_target = profile.values(inputs.first_row + issue + h)
        f = build_features(inputs.deviation, inputs.neighbours, inputs.profile[issue], p_target, issue,
                           self.config.features)
        ok = inputs.fresh[issue] & np.isfinite(p_target)
        return std.apply(f), p_target, ok

    def _neighbour_means(self, dev: FloatArray, fresh: NDArray[np.bool_]) -> tuple[FloatArray, ...]:
        return tuple(neighbour_deviations(dev, fresh, t) for t in self._require_neighbours())

    def _require_neighbours(self) -> tuple[NeighbourTable, ...]:
        if self._neighbours is None:
            raise RuntimeError("call fit() first")
        return self._neighbours

    # --------------------------------------------------------------- forecasting

    def _forecast_block(self, block: FloatArray, first_row: int, issue: IntArray,
                        horizons_min: tuple[int, ...]) -> FloatArray:
        if self._profile is None:
            raise RuntimeError("call fit() first")
        out = np.full((len(horizons_min), len(issue), block.shape[1]), np.nan)
        inputs = self._inputs(block, first_row, self._profile)
        for i, m in enumerate(horizons_min):
            model = self._models.get(self.steps_of(m))
            if model is None:
                raise ValueError(f"no model for {m} min; fitted horizons: {self.config.horizons_min}")
            z, base, ok = self._design(inputs, self._profile, model.standardizer, issue, model.steps)
            pred = np.clip(base + np.einsum("tnk,nk->tn", z, model.weights), *self._clip)
            out[i] = np.where(ok, pred, np.nan)
        return out

    def forecast(self, history: FloatArray, issue_rows: IntArray,
                 horizons_min: tuple[int, ...] | None = None) -> FloatArray:
        """Forecasts issued at many rows of ``history`` at once (each uses rows ``<= t`` only).

        Parameters
        ----------
        history : (rows, sensors), row 0 at the calendar's start
        issue_rows : int array, rows ``t`` the forecasts are issued at
        horizons_min : horizons in minutes (default: all fitted)

        Returns
        -------
        (len(horizons), len(issue_rows), sensors) forecasts of rows ``t + h``; NaN for a stale sensor.
        """
        x = self._as_history(history)
        issue = np.asarray(issue_rows, dtype=np.int64)
        if issue.size and (issue.min() < 0 or issue.max() >= x.shape[0]):
            raise ValueError("issue rows must lie inside the history")
        hs = self.config.horizons_min if horizons_min is None else tuple(horizons_min)
        return self._forecast_block(x, 0, issue, hs)

    def update(self, row: FloatArray) -> None:
        """Append the next row of observations (NaN = missing; a whole NaN row for a missing interval)."""
        if self._buffer is None:
            raise RuntimeError("call fit() first")
        r = np.asarray(row, dtype=np.float64).reshape(-1)
        if r.shape[0] != self._buffer.shape[1]:
            raise ValueError(f"row has {r.shape[0]} values, expected {self._buffer.shape[1]}")
        r = np.where(np.isfinite(r), r, np.nan)
        self._buffer = np.vstack([self._buffer[1:], r[None, :]])
        self._next_row += 1

    @property
    def next_row(self) -> int:
        """Absolute index of the row :meth:`update` expects next."""
        return self._next_row

    def predict(self, horizons_min: tuple[int, ...] | None = None) -> FloatArray:
        """Forecasts issued at the last row seen, (len(horizons), sensors); NaN for a stale sensor."""
        if self._buffer is None:
            raise RuntimeError("call fit() first")
        hs = self.config.horizons_min if horizons_min is None else tuple(horizons_min)
        n = self._buffer.shape[0]
        first = self._next_row - n
        block, start = (self._buffer, first) if first >= 0 else (self._buffer[-first:], 0)
        return self._forecast_block(block, start, np.array([block.shape[0] - 1]), hs)[:, 0, :]

    def _as_history(self, history: FloatArray) -> FloatArray:
        x = np.array(history, dtype=np.float64)
        if x.ndim != 2 or x.shape[0] == 0 or x.shape[1] == 0:
            raise ValueError(f"history must be a non-empty (rows, sensors) matrix, got shape {x.shape}")
        if self._neighbours is not None and x.shape[1] != self._neighbours[0].index.shape[0]:
            raise ValueError(f"history has {x.shape[1]} sensors, the model "
                             f"{self._neighbours[0].index.shape[0]}")
        x[~np.isfinite(x)] = np.nan
        return x
