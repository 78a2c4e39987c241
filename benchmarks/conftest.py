"""Shared set-up of the benchmark suites (pytest-benchmark).

Run them with ``make bench``, or ``pytest benchmarks -o python_files='bench_*.py'
--benchmark-enable`` for a subset. The project's ``addopts`` disable pytest-benchmark
for the normal test run, so without ``--benchmark-enable`` each benchmark runs once,
untimed (a smoke test). Groups: ``kernel`` (engine steps),
``dijkstra`` (one-to-all trees), ``scenario`` (a whole run).

Every benchmark warms the compiled kernels up before its timed calls
(:func:`benchmarks.peers.kota_run.warm_up`, or a first untimed call), so JIT
compilation is never inside a timed call.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
JATINEGARA = REPO / "data" / "jakarta" / "jatinegara_drive.graphml.gz"

@pytest.fixture(scope="session")
def jatinegara_csr():
    """Jatinegara's CSR arrays and free-flow costs (skipped when the file is missing)."""
    if not JATINEGARA.exists():
        pytest.skip(f"{JATINEGARA} not in this checkout")
    from twin.importers import load_network

    net = load_network(JATINEGARA)
    return (net.out_offsets, net.out_links, net.link_from, net.link_to,
            np.ascontiguousarray(net.free_flow_time_s))


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
