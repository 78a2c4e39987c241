"""Ridge regression per sensor, shrunk towards one model pooled over all sensors.

With a few days of history a sensor has ~1,600 samples; a model fitted to it alone is
noisy, one model for all sensors ignores their differences. The per-sensor weights
here minimise ``|y_i - Z_i w|^2 + lam * n_i * |w - w_pooled|^2``: a small ``lam`` is
nearly a separate least-squares fit per sensor (``lam`` must be > 0: a sensor may have
no samples), ``lam = inf`` the pooled model. The pooled model is itself a ridge fit
on standardised features (intercept not penalised).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

__all__ = ["NormalEquations", "Standardizer", "solve_pooled", "solve_shrunk"]

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]


@dataclass(frozen=True)
class Standardizer:
    """Per-feature centre and scale; column 0 (the intercept) is left as it is."""

    mean: FloatArray
    scale: FloatArray

    @classmethod
    def from_samples(cls, features: FloatArray, mask: BoolArray) -> Standardizer:
        """Mean and standard deviation of each feature over the masked samples.

        Parameters
        ----------
        features : (rows, sensors, k) float array
        mask : (rows, sensors) bool, which samples count
        """
        sel = features[mask]
        if len(sel) == 0:
            raise ValueError("no training samples")
        mean, scale = sel.mean(axis=0), sel.std(axis=0)
        mean[0], scale[0] = 0.0, 1.0
        scale[scale < 1e-12] = 1.0
        return cls(mean, scale)

    def apply(self, features: FloatArray) -> FloatArray:
        """Standardised copy of ``features`` (last axis = features)."""
        return (features - self.mean) / self.scale


@dataclass(frozen=True)
class NormalEquations:
    """Per-sensor ``Z'Z``, ``Z'y`` and sample counts."""

    gram: FloatArray
    """(sensors, k, k)"""
    rhs: FloatArray
    """(sensors, k)"""
    n: FloatArray
    """(sensors,) samples per sensor"""

    @classmethod
    def build(cls, z: FloatArray, y: FloatArray, mask: BoolArray,
              sample_weight: FloatArray | None = None) -> NormalEquations:
        """Accumulate masked samples; sensor-major ``z`` (sensors, rows, k), ``y``, ``mask`` (sensors, rows).

        ``sample_weight`` (sensors, rows) weighs each sample (robust re-weighting); ``n`` stays the count.
        """
        m = mask.astype(np.float64)
        count = m.sum(axis=1)
        if sample_weight is not None:
            m = m * sample_weight
        zw = np.where(mask[:, :, None], z, 0.0) * np.sqrt(m)[:, :, None]  # masked features may be NaN
        gram = zw.transpose(0, 2, 1) @ zw
        rhs = (zw.transpose(0, 2, 1) @ (np.sqrt(m) * np.where(mask, y, 0.0))[:, :, None])[:, :, 0]
        return cls(gram, rhs, count)


def solve_pooled(eq: NormalEquations, penalty: float) -> FloatArray:
    """Weights of one model for all sensors; ``penalty`` per sample on all but the intercept."""
    n_total = float(eq.n.sum())
    k = eq.gram.shape[1]
    reg = np.full(k, penalty * n_total)
    reg[0] = 0.0
    return np.linalg.solve(eq.gram.sum(axis=0) + np.diag(reg), eq.rhs.sum(axis=0))


def solve_shrunk(eq: NormalEquations, pooled: FloatArray, lam: float) -> FloatArray:
    """Per-sensor weights (sensors, k) shrunk towards ``pooled`` with strength ``lam``.

    Sensors without samples, and ``lam = inf``, get the pooled weights.
    """
    n_sensors, k = eq.rhs.shape
    if not lam > 0:
        raise ValueError(f"shrinkage must be > 0, got {lam}")
    if math.isinf(lam):
        return np.tile(pooled, (n_sensors, 1))
    reg = (lam * np.maximum(eq.n, 1.0))[:, None, None] * np.eye(k)
    w = np.linalg.solve(eq.gram + reg, (eq.rhs + (lam * np.maximum(eq.n, 1.0))[:, None] * pooled)[..., None])
    out = w[..., 0]
    out[eq.n == 0] = pooled
    return out
