"""The city as a ``mesa.Model``, so ``mesa.batch_run`` sweeps it as it would any Mesa model.

Each :meth:`CityModel.step` advances the twin by ``step_s`` simulated seconds; its
``DataCollector`` records the traffic KPIs of :func:`~twin.planning.run_kpis.traffic_kpis`
(travel time, delay, throughput) and the vehicles on the road. Scenario parameters are
keyword arguments with ``__`` for the dots (``demand__scale=1.2`` sets ``demand.scale``),
since ``batch_run`` passes them by name::

    import mesa
    from twin.planning.mesa_city import CityModel
    results = mesa.batch_run(CityModel, {"scenario_file": "scenarios/grid_small.toml",
                                         "demand__scale": [0.5, 1.0]},
                             rng=[1, 2, 3], max_steps=12, number_processes=1)

``kota sweep`` does the same on Dask, with confidence intervals and resumable output.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import mesa

from twin.planning.params import apply_parameters
from twin.planning.run_kpis import traffic_kpis
from twin.scenario import load_scenario

__all__ = ["CityModel", "REPORTED"]

REPORTED = ("mean_travel_time_s", "mean_delay_s", "trips_completed", "completed_share",
            "vehicles_on_road")
"""What the model's DataCollector records at each collection."""


class CityModel(mesa.Model):
    """One scenario run stepped by Mesa.

    Parameters
    ----------
    scenario_file : path of the scenario file (``scenario`` is Mesa's own word for a
        model's inputs, so it is not used here).
    step_s : simulated seconds per Mesa step.
    rng : the scenario's seed for this run (default: the file's); ``batch_run``'s
        ``rng`` values arrive here, and seed Mesa's own generator too.
    **params : scenario parameters, dotted path with ``__`` for each dot.
    """

    def __init__(self, scenario_file: str | Path = "scenarios/grid_small.toml", step_s: float = 300.0,
                 rng: int | None = None, **params: Any) -> None:
        super().__init__(rng=rng)
        from twin.runner import TwinRun

        if not step_s > 0:
            raise ValueError(f"step_s must be > 0, got {step_s}")
        values = {name.replace("__", "."): value for name, value in params.items()}
        if rng is not None:
            values["scenario.seed"] = int(rng)
        self.city = apply_parameters(load_scenario(scenario_file), values)
        self.step_s = float(step_s)
        self.twin = TwinRun(self.city, store_url="sqlite://")
        self.datacollector = mesa.DataCollector(
            model_reporters={name: (lambda m, n=name: m.kpis()[n]) for name in REPORTED})

    def kpis(self) -> dict[str, Any]:
        """The traffic KPIs now, plus ``vehicles_on_road``."""
        out = traffic_kpis(self.twin.sim)
        out["vehicles_on_road"] = self.twin.sim.n_active
        return out

    def step(self) -> None:
        """Advance ``step_s`` simulated seconds; stop running at the scenario's end."""
        reached = self.twin.advance(self.twin.time_s + self.step_s)
        self.datacollector.collect(self)
        if reached >= self.city.scenario.duration_s:
            self.running = False
            self.twin.finish()
            self.twin.close()
