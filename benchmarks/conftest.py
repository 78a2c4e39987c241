"""Shared set-up of the benchmark suites (pytest-benchmark).

Run them with ``pytest benchmarks -o python_files='bench_*.py'``. The
project's ``addopts`` disable pytest-benchmark for the normal test run; this
folder exists to time things, so its conftest turns timing back on (as if
``--benchmark-enable`` were given). Groups: ``kernel`` (one engine step),
``dijkstra`` (one-to-all trees), ``scenario`` (a whole run).

Every builder warms the compiled kernels up before it returns, so JIT
compilation is never inside a timed call.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from core_ext.link_model import LinkModelParams, LinkModelState
from twin.demand import random_trips
from twin.importers.grid import grid_network
from twin.simulation import Simulation

REPO = Path(__file__).resolve().parents[1]
JATINEGARA = REPO / "data" / "jakarta" / "jatinegara_drive.graphml.gz"

#: Named benchmark sizes: grid side, lanes, trips, departure window (s), warm-up (s).
#: Tuned so that about 1k / 10k / 100k vehicles are on the road after the warm-up
#: (the benchmarks report the exact number).
SIZES: dict[str, tuple[int, int, int, float, float]] = {
    "1k": (8, 1, 3_300, 300.0, 300.0),
    "10k": (20, 2, 26_700, 600.0, 600.0),
    "100k": (45, 2, 135_000, 600.0, 600.0),
}


def pytest_configure(config: pytest.Config) -> None:
    """Time the benchmarks even though the project's addopts say ``--benchmark-disable``."""
    config.option.benchmark_enable = True


def loaded_state(size: str, seed: int = 1) -> tuple[LinkModelState, LinkModelParams, float]:
    """The engine state of a grid scenario after its warm-up, most trips on the road.

    Returns ``(state, params, time_s)``; the state is a deep copy that the
    benchmark may step freely.
    """
    side, lanes, n_trips, window_s, warm_s = SIZES[size]
    net = grid_network(side, side, block_m=200.0, lanes=lanes)
    trips = random_trips(net, n_trips=n_trips, duration_s=window_s,
                         rng=np.random.default_rng(seed))
    sim = Simulation(net, trips, seed=seed)
    sim.run(warm_s)  # also compiles the kernel
    params = sim.config.link_model_params()
    return sim.snapshot().model, params, sim.time_s


@pytest.fixture(scope="session")
def jatinegara_csr():
    """Jatinegara's CSR arrays and free-flow costs (skipped when the file is missing)."""
    if not JATINEGARA.exists():
        pytest.skip(f"{JATINEGARA} not in this checkout")
    from twin.importers import load_network

    net = load_network(JATINEGARA)
    return (net.out_offsets, net.out_links, net.link_from, net.link_to,
            np.ascontiguousarray(net.free_flow_time_s))


def warm_up() -> None:
    """Compile (or load from the cache) the link-model kernel on a tiny scenario."""
    net = grid_network(2, 2)
    trips = random_trips(net, n_trips=5, duration_s=10.0, rng=np.random.default_rng(0))
    Simulation(net, trips, seed=0).run(5.0)


def pytest_terminal_summary(terminalreporter, exitstatus, config):  # noqa: ARG001
    """Print each benchmark's derived figures (``extra_info``) under the timing tables."""
    session = getattr(config, "_benchmarksession", None)
    benches = [b for b in getattr(session, "benchmarks", []) if getattr(b, "extra_info", None)]
    if not benches:
        return
    terminalreporter.section("benchmark figures (extra_info)")
    for bench in sorted(benches, key=lambda b: b.fullname):
        figures = ", ".join(f"{k}={v:,}" if isinstance(v, int) else f"{k}={v}"
                            for k, v in bench.extra_info.items())
        terminalreporter.write_line(f"{bench.name}: {figures}")
