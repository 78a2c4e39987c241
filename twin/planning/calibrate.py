"""Calibration: fit scenario parameters so simulated corridor speeds match observed ones.

Method
------
- Measure: per corridor, the space-mean speed over its links during a peak window: every
  minute the engine's ``link_speed_mps`` and ``link_vehicle_count`` are sampled
  (:func:`twin.planning.run_kpis.run_point` with ``window_s``), and the corridor's speed is
  the vehicle-weighted mean over its links, samples and seeds (km/h).
- Objective: RMSE in km/h between simulated and observed speeds across the corridors.
- Search: a grid over the parameter ranges (``grid`` values per parameter, every
  combination), then Nelder-Mead (scipy) from the best grid point for at most ``refine``
  more evaluations, kept inside the ranges. Every evaluation runs the same seeds (common
  random numbers), so the objective is a deterministic function of the parameters; it
  still carries seed noise (another set of seeds gives another value), which each
  evaluation's per-seed speeds show.
- Fitted point: the lowest RMSE; with a tolerance ``tie_kmh`` (about the seed noise), the
  point nearest the scenario's own values among those within it, since fewer corridors
  than parameters leave a ridge of equally good fits.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from twin.planning.corridor_speeds import CalibrationError
from twin.planning.params import check_parameter
from twin.planning.run_kpis import run_point
from twin.scenario import Scenario, load_scenario

__all__ = ["CalibrationProblem", "CalibrationResult", "Evaluation", "ParamRange",
           "RunMany", "calibrate", "corridor_speeds_kmh", "current_value", "evaluate",
           "rmse_kmh", "serial_runs"]

RunMany = Callable[[Sequence[tuple[dict[str, Any], int]]], list[dict[str, Any]]]
"""Runs ``(params, seed)`` pairs and returns :func:`run_point`'s dicts in the same order."""


@dataclass(frozen=True)
class ParamRange:
    """A parameter by its dotted path and the interval searched."""

    name: str
    low: float
    high: float

    def __post_init__(self) -> None:
        if not (math.isfinite(self.low) and math.isfinite(self.high) and self.low < self.high):
            raise CalibrationError(f"parameter {self.name}: need LOW < HIGH, got "
                                   f"{self.low}:{self.high}")


@dataclass(frozen=True)
class CalibrationProblem:
    """What is fitted: a scenario, the corridors' observed speeds and links, the window."""

    scenario_path: Path
    observed_kmh: dict[str, float]
    links: dict[str, NDArray[np.int64]]
    window_s: tuple[float, float]
    seeds: tuple[int, ...]
    duration_s: float | None = None

    def __post_init__(self) -> None:
        if set(self.observed_kmh) != set(self.links) or not self.links:
            raise CalibrationError("every corridor needs an observed speed and links")
        if not self.seeds:
            raise CalibrationError("give at least one seed")
        start, end = self.window_s
        if not 0 <= start < end:
            raise CalibrationError(f"peak window must be 0 <= start < end, got {start}:{end}")


@dataclass(frozen=True)
class Evaluation:
    """One parameter point: its corridor speeds (km/h, mean over seeds) and RMSE."""

    params: dict[str, float]
    simulated_kmh: dict[str, float]
    rmse_kmh: float
    seed_kmh: dict[str, list[float]] = field(default_factory=dict)
    """Each corridor's speed in each seed's run alone (the spread across seeds)."""


@dataclass
class CalibrationResult:
    """Before and after, every point evaluated, and how the search went."""

    before: Evaluation
    after: Evaluation
    history: list[Evaluation] = field(default_factory=list)
    runs: int = 0

    def to_dict(self, problem: CalibrationProblem) -> dict[str, Any]:
        """JSON-ready."""
        def ev(e: Evaluation) -> dict[str, Any]:
            return {"params": e.params, "rmse_kmh": e.rmse_kmh, "simulated_kmh": e.simulated_kmh,
                    "seed_kmh": e.seed_kmh}
        return {"scenario": str(problem.scenario_path), "observed_kmh": problem.observed_kmh,
                "window_s": list(problem.window_s), "seeds": list(problem.seeds),
                "duration_s": problem.duration_s, "before": ev(self.before),
                "after": ev(self.after), "runs": self.runs,
                "history": [ev(e) for e in self.history]}


def corridor_speeds_kmh(runs: Sequence[Mapping[str, Any]],
                        links: Mapping[str, NDArray[np.int64]]) -> dict[str, float]:
    """Per corridor, the vehicle-weighted mean speed over its links and the runs' window
    samples (km/h); NaN for a corridor no vehicle drove during the window.

    Each run is a :func:`run_point` result made with ``window_s``.
    """
    out: dict[str, float] = {}
    for name, idx in links.items():
        num = den = 0.0
        for run in runs:
            speed = np.asarray([np.nan if v is None else v for v in run["window_link_speed_mps"]],
                               dtype=np.float64)[idx]
            samples = np.asarray(run["window_link_vehicle_samples"], dtype=np.float64)[idx]
            driven = samples > 0
            num += float((speed[driven] * samples[driven]).sum())
            den += float(samples[driven].sum())
        out[name] = num / den * 3.6 if den > 0 else math.nan
    return out


def rmse_kmh(simulated: Mapping[str, float], observed: Mapping[str, float]) -> float:
    """Root mean square of simulated - observed over the observed corridors (km/h).

    Raises
    ------
    CalibrationError : a corridor has no simulated speed (nobody drove it in the window).
    """
    empty = [k for k in observed if not math.isfinite(simulated.get(k, math.nan))]
    if empty:
        raise CalibrationError(f"no vehicle drove corridor(s) {', '.join(empty)} in the peak "
                               f"window: no simulated speed to compare")
    err = np.array([simulated[k] - observed[k] for k in observed])
    return float(np.sqrt(np.mean(err ** 2)))


def current_value(scenario: Scenario, name: str) -> float:
    """The scenario's value of a numeric dotted parameter (``demand.scale``).

    Raises
    ------
    ParameterError : an unknown parameter.
    CalibrationError : the value is not a number.
    """
    check_parameter(scenario, name)
    node: Any = scenario
    for part in name.split("."):
        node = node[int(part)] if isinstance(node, list) else getattr(node, part)
    if isinstance(node, bool) or not isinstance(node, int | float):
        raise CalibrationError(f"parameter {name} is not a number ({node!r})")
    return float(node)


def serial_runs(problem: CalibrationProblem) -> RunMany:
    """Run each ``(params, seed)`` here, one after the other."""
    def run(jobs: Sequence[tuple[dict[str, Any], int]]) -> list[dict[str, Any]]:
        return [run_point(str(problem.scenario_path), p, s, problem.duration_s,
                          window_s=problem.window_s) for p, s in jobs]
    return run


def _rounded(params: Mapping[str, float]) -> dict[str, float]:
    return {k: round(float(v), 4) for k, v in params.items()}


class _Evaluator:
    """Evaluates parameter points with all seeds, remembering points already run."""

    def __init__(self, problem: CalibrationProblem, run_many: RunMany) -> None:
        self.problem, self.run_many = problem, run_many
        self.cache: dict[tuple[tuple[str, float], ...], Evaluation] = {}
        self.history: list[Evaluation] = []
        self.runs = 0

    def many(self, points: Sequence[Mapping[str, float]]) -> list[Evaluation]:
        rounded = [_rounded(p) for p in points]
        new: list[dict[str, float]] = []
        for p in rounded:
            key = tuple(sorted(p.items()))
            if key not in self.cache and p not in new:
                new.append(p)
        jobs = [(p, s) for p in new for s in self.problem.seeds]
        results = self.run_many(jobs) if jobs else []
        self.runs += len(jobs)
        k = len(self.problem.seeds)
        for i, p in enumerate(new):
            runs = results[i * k:(i + 1) * k]
            sim = corridor_speeds_kmh(runs, self.problem.links)
            per_seed = [corridor_speeds_kmh([r], self.problem.links) for r in runs]
            ev = Evaluation(p, {c: round(v, 3) for c, v in sim.items()},
                            rmse_kmh(sim, self.problem.observed_kmh),
                            {c: [round(d[c], 3) for d in per_seed] for c in sim})
            self.cache[tuple(sorted(p.items()))] = ev
            self.history.append(ev)
        return [self.cache[tuple(sorted(p.items()))] for p in rounded]


def evaluate(problem: CalibrationProblem, points: Sequence[Mapping[str, float]],
             run_many: RunMany | None = None) -> list[Evaluation]:
    """Each point's corridor speeds and RMSE with ``problem``'s seeds (e.g. fresh seeds, to
    check a fit on runs it was not fitted to)."""
    return _Evaluator(problem, run_many or serial_runs(problem)).many(points)


def calibrate(problem: CalibrationProblem, ranges: Sequence[ParamRange], *, grid: int = 3,
              refine: int = 12, tie_kmh: float = 0.0, run_many: RunMany | None = None,
              log: Callable[[str], None] | None = None) -> CalibrationResult:
    """Fit ``ranges``' parameters: the scenario's own values (before), a grid, then
    Nelder-Mead from the grid's best (after = the best point evaluated, see ``tie_kmh``).

    Parameters
    ----------
    problem : the scenario, the observed corridors and the window.
    ranges : the parameters and their intervals.
    grid : values per parameter on the grid (>= 2), evenly spaced, ends included.
    refine : at most this many Nelder-Mead evaluations after the grid (0: grid only).
    tie_kmh : points whose RMSE is within this of the lowest count as fitting equally well
        (e.g. the seed noise); of those, "after" is the one nearest the scenario's own
        values (distance in units of each range's width): the smallest change that fits.
        0: simply the lowest RMSE.
    run_many : how runs are executed (default :func:`serial_runs`; a Dask client's map
        in the CLI).
    log : called with a line of progress per evaluation batch.

    Raises
    ------
    CalibrationError, ParameterError : bad ranges or parameters.
    """
    from scipy.optimize import minimize

    if not ranges:
        raise CalibrationError("give at least one parameter to fit")
    if grid < 2:
        raise CalibrationError(f"grid needs at least 2 values per parameter, got {grid}")
    if refine < 0:
        raise CalibrationError(f"refine must be >= 0, got {refine}")
    if not (math.isfinite(tie_kmh) and tie_kmh >= 0):
        raise CalibrationError(f"tie_kmh must be >= 0, got {tie_kmh}")
    scenario = load_scenario(problem.scenario_path)
    names = [r.name for r in ranges]
    if len(set(names)) != len(names):
        raise CalibrationError("a parameter is given twice")
    start = {r.name: current_value(scenario, r.name) for r in ranges}
    ev = _Evaluator(problem, run_many or serial_runs(problem))
    say = log or (lambda _line: None)

    before = ev.many([start])[0]
    say(f"before: {before.params} rmse {before.rmse_kmh:.2f} km/h")
    axes = [np.linspace(r.low, r.high, grid) for r in ranges]
    mesh = np.meshgrid(*axes, indexing="ij")
    points = [dict(zip(names, (float(m.flat[i]) for m in mesh), strict=True))
              for i in range(mesh[0].size)]
    grid_evals = ev.many(points)
    best = min(grid_evals, key=lambda e: e.rmse_kmh)
    say(f"grid ({len(points)} points): best {best.params} rmse {best.rmse_kmh:.2f} km/h")

    if refine > 0:
        lo = np.array([r.low for r in ranges])
        hi = np.array([r.high for r in ranges])
        x0 = np.array([best.params[n] for n in names])
        step = (hi - lo) / (grid - 1) / 2
        simplex = [x0] + [np.clip(x0 + np.eye(len(names))[i] * step[i] *
                                  (1 if x0[i] + step[i] <= hi[i] else -1), lo, hi)
                          for i in range(len(names))]

        def objective(x: NDArray[np.float64]) -> float:
            return ev.many([dict(zip(names, np.clip(x, lo, hi), strict=True))])[0].rmse_kmh

        minimize(objective, x0, method="Nelder-Mead", bounds=list(zip(lo, hi, strict=True)),
                 options={"initial_simplex": np.array(simplex), "maxfev": refine,
                          "xatol": 1e-3, "fatol": 0.05})
    lowest = min(e.rmse_kmh for e in ev.history)
    width = {r.name: r.high - r.low for r in ranges}

    def change(e: Evaluation) -> float:
        return math.hypot(*((e.params[n] - start[n]) / width[n] for n in names))
    after = min((e for e in ev.history if e.rmse_kmh <= lowest + tie_kmh),
                key=lambda e: (change(e), e.rmse_kmh))
    say(f"after: {after.params} rmse {after.rmse_kmh:.2f} km/h ({ev.runs} runs)")
    return CalibrationResult(before, after, list(ev.history), ev.runs)
