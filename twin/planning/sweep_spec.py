"""A sweep: one scenario, a grid of parameter values, and seed replications of each point.

Every combination of the parameters' values (their Cartesian product) is run once per
seed. A run is named by a key hashed from the scenario file's content, the duration, the
parameter values and the seed, so a finished run is recognised when the sweep is run again.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from twin.planning.params import ParameterError, apply_parameters, check_parameter
from twin.scenario import Scenario, load_scenario

__all__ = ["SweepPoint", "SweepSpec"]


@dataclass(frozen=True)
class SweepPoint:
    """One run of a sweep: parameter values and a seed, and the key naming the run."""

    params: dict[str, Any]
    seed: int
    key: str

    @property
    def label(self) -> str:
        """The parameter values as text (``demand.scale=1.2``), or ``baseline``."""
        return ", ".join(f"{k}={v}" for k, v in self.params.items()) or "baseline"


@dataclass(frozen=True)
class SweepSpec:
    """A scenario, the values of each parameter to try, and the seeds of every point.

    Attributes
    ----------
    scenario_path : the scenario file (workers load it themselves, so on a real cluster
        it and the files it names must be at the same path on every worker).
    parameters : dotted parameter -> the values to try (:mod:`twin.planning.params`).
    seeds : the seeds each point is run with (they replace ``scenario.seed``).
    duration_s : overrides ``scenario.duration_s`` when given.
    """

    scenario_path: Path
    parameters: dict[str, list[Any]] = field(default_factory=dict)
    seeds: tuple[int, ...] = (0,)
    duration_s: float | None = None

    @classmethod
    def build(cls, scenario_path: str | Path, parameters: Mapping[str, Sequence[Any]] | None = None,
              *, seeds: Sequence[int] | None = None, replications: int | None = None,
              duration_s: float | None = None) -> SweepSpec:
        """A checked sweep.

        ``seeds`` names the seeds; or ``replications`` runs the scenario's own seed and
        the ones after it (``seed, seed + 1, ...``); default one run per point.

        Raises
        ------
        ScenarioError : the scenario file cannot be read or is invalid.
        ParameterError : an unknown parameter, an empty list of values, seeds given
            both ways or as a parameter, or a value the scenario refuses.
        """
        scenario = load_scenario(scenario_path)
        params = {k: list(v) for k, v in (parameters or {}).items()}
        for name, values in params.items():
            if name == "scenario.seed":
                raise ParameterError("seeds are not a parameter: give them with seeds "
                                     "(--seeds) or replications (--replications)")
            check_parameter(scenario, name)
            if not values:
                raise ParameterError(f"parameter {name!r} has no values to try")
        if seeds is not None and replications is not None:
            raise ParameterError("give seeds or replications, not both")
        if replications is not None and replications < 1:
            raise ParameterError(f"replications must be at least 1, got {replications}")
        if seeds is not None and not seeds:
            raise ParameterError("the list of seeds is empty")
        chosen = tuple(int(s) for s in seeds) if seeds is not None else tuple(
            scenario.scenario.seed + i for i in range(replications or 1))
        if len(set(chosen)) != len(chosen):
            raise ParameterError(f"seeds repeat: {list(chosen)}")
        spec = cls(Path(scenario_path).resolve(), params, chosen, duration_s)
        for point in spec.points(scenario):  # every value, checked before anything runs
            spec.scenario_for(point, scenario)
        return spec

    def points(self, scenario: Scenario | None = None) -> list[SweepPoint]:
        """Every run, grid point by grid point, seeds innermost."""
        digest = (scenario or load_scenario(self.scenario_path)).sha256
        names = list(self.parameters)
        out = []
        for combo in itertools.product(*(self.parameters[n] for n in names)):
            values = dict(zip(names, combo, strict=True))
            for seed in self.seeds:
                text = json.dumps([digest, self.duration_s, sorted(values.items()), seed],
                                  sort_keys=True, default=str)
                key = hashlib.sha256(text.encode()).hexdigest()[:16]
                out.append(SweepPoint(values, seed, key))
        return out

    def scenario_for(self, point: SweepPoint, scenario: Scenario | None = None) -> Scenario:
        """The scenario of one run: the parameters, the seed and the duration applied."""
        base = scenario or load_scenario(self.scenario_path)
        values: dict[str, Any] = {**point.params, "scenario.seed": point.seed}
        if self.duration_s is not None:
            values["scenario.duration_s"] = self.duration_s
        return apply_parameters(base, values)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: what ``sweep.json`` records next to the runs."""
        return {"scenario": str(self.scenario_path), "parameters": self.parameters,
                "seeds": list(self.seeds), "duration_s": self.duration_s}
