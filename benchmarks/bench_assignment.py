"""Static user-equilibrium assignment (bi-conjugate Frank-Wolfe) to relative gap 1e-4.

SiouxFalls (24 zones, 76 links) from ``data/tntp``; Chicago-Sketch (387 zones,
933 nodes, 2,950 links, generalized cost 0.02 min/cent toll + 0.04 min/mile)
from ``data/tntp`` or, when not copied into the repo, ``../shared/data/tntp``.
``extra_info`` records iterations, the reached gap and the objective against
the published best-known objective.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from twin.assignment import assign_tntp

REPO = Path(__file__).resolve().parents[1]
NETWORKS = {
    # name: (directory, toll factor, distance factor, best-known Beckmann objective)
    "SiouxFalls": ("SiouxFalls", 0.0, 0.0, 4_231_335.287),
    "Chicago-Sketch": ("Chicago-Sketch", 0.02, 0.04, 17_313_018.7387),
}


def _network_dir(name: str) -> Path:
    for root in (REPO / "data" / "tntp", REPO.parent / "shared" / "data" / "tntp"):
        if (root / name).is_dir():
            return root / name
    pytest.skip(f"TNTP network {name} is neither in data/tntp nor in ../shared/data/tntp")


@pytest.mark.benchmark(group="assignment")
@pytest.mark.parametrize("name", list(NETWORKS))
def test_assign_ue_gap_1e4(benchmark, name):
    """One full assignment per round, from free flow to relative gap 1e-4."""
    folder, toll, dist, best = NETWORKS[name]
    path = _network_dir(folder)
    assign_tntp(path, gap=0.5, toll_factor=toll, distance_factor=dist)  # JIT warm-up
    run = benchmark.pedantic(
        assign_tntp, args=(path,),
        kwargs={"gap": 1e-4, "toll_factor": toll, "distance_factor": dist},
        rounds=1, iterations=1,
    )
    res = run.result
    assert res.converged
    benchmark.extra_info.update(
        iterations=res.iterations,
        relative_gap=res.relative_gap,
        objective=res.objective,
        objective_rel_excess=(res.objective - best) / best,
    )
