"""Run the dispatch model beside a traffic simulation on a plain SimPy clock."""

from __future__ import annotations

import simpy

from twin.simulation import Simulation

from .config import DispatchConfig
from .model import DispatchModel, Proc
from .policies import DispatchPolicy


def traffic_process(env: simpy.Environment, model: DispatchModel, step_s: float) -> Proc:
    """Keep the traffic engine in step with the clock every ``step_s`` seconds."""
    while True:
        model.sync()
        yield env.timeout(step_s)


def run_dispatch(sim: Simulation, config: DispatchConfig, until_s: float, *,
                 step_s: float = 1.0, start_hour: float = 0.0,
                 policy: DispatchPolicy | None = None) -> DispatchModel:
    """Build a :class:`DispatchModel` on a new clock and run both to ``until_s``.

    Parameters
    ----------
    sim : Simulation at time 0
    config : DispatchConfig
    until_s : float, seconds to simulate
    step_s : float, how often the traffic engine is advanced between dispatch events
    start_hour : float, hour of day at time 0
    policy : DispatchPolicy, optional, overrides the configured one
    """
    env = simpy.Environment()
    model = DispatchModel(sim, env, config, start_hour=start_hour, policy=policy)
    env.process(traffic_process(env, model, step_s))
    env.run(until=until_s)
    model.sync()
    return model
