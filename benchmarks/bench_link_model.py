"""One step of the link-model engine: Numba kernel at 1k/10k/100k vehicles, reference at 1k.

``extra_info`` carries ``active_vehicles`` and ``vehicle_updates_per_s``
(active vehicles / mean step time). The 1k pair shows the kernel's speed-up
over the pure-Python reference on the same state. Steps run with
``check=False``, as :class:`twin.simulation.Simulation` runs them: the state
is checked once when built, not on every step.
"""

from __future__ import annotations

import pytest

from benchmarks.conftest import loaded_state
from core_ext import config, link_model
from core_ext.reference import advance_reference

DT_S = 1.0
ROUNDS = {"1k": 300, "10k": 100, "100k": 30}


def _bench_step(benchmark, advance, size: str, rounds: int) -> None:
    """Time one step from the same loaded state each round (a fresh copy, made untimed)."""
    state, params, t0 = loaded_state(size)
    link_model.check_state(state)
    advance(state.copy(), params, t0, DT_S, 1, check=False)  # warm the JIT and caches, untimed
    active = int((state.veh_state == config.VEH_ACTIVE).sum())

    def setup():
        return (state.copy(), params, t0, DT_S, 1), {"check": False}

    benchmark.pedantic(advance, setup=setup, rounds=rounds, iterations=1)
    benchmark.extra_info["active_vehicles"] = active
    benchmark.extra_info["queued_vehicles"] = int(state.link_queue.sum())
    benchmark.extra_info["links"] = state.n_links
    if benchmark.stats is not None:
        mean = benchmark.stats.stats.mean
        benchmark.extra_info["vehicle_updates_per_s"] = round(active / mean)


@pytest.mark.benchmark(group="kernel")
@pytest.mark.parametrize("size", ["1k", "10k", "100k"])
def test_kernel_step(benchmark, size):
    """Numba kernel, one step of 1 s."""
    _bench_step(benchmark, link_model.advance, size, ROUNDS[size])


@pytest.mark.benchmark(group="kernel")
def test_reference_step_1k(benchmark):
    """Pure-Python reference, one step of 1 s, same 1k state as the kernel's."""
    _bench_step(benchmark, advance_reference, "1k", 20)
