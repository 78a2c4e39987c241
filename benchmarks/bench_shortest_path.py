"""One-to-all Dijkstra on Jatinegara (722 nodes, 1680 links): Cython vs the heapq reference."""

from __future__ import annotations

import pytest

from core_ext.reference import dijkstra_reference
from core_ext.shortest_path import shortest_path_tree

N_SOURCES = 50


def _sources(n_nodes: int) -> list[int]:
    return [int(i * n_nodes / N_SOURCES) for i in range(N_SOURCES)]


@pytest.mark.benchmark(group="dijkstra")
@pytest.mark.parametrize("check", [True, False], ids=["checked", "unchecked"])
def test_dijkstra_cython(benchmark, jatinegara_csr, check):
    """Cython kernel, 50 one-to-all trees per round (``check``: wrapper validation on/off)."""
    out_offsets, out_links, _link_from, link_to, cost = jatinegara_csr
    sources = _sources(out_offsets.shape[0] - 1)

    def trees() -> None:
        for s in sources:
            shortest_path_tree(out_offsets, out_links, link_to, cost, s, check=check)

    benchmark(trees)
    if benchmark.stats is not None:
        benchmark.extra_info["per_tree_us"] = round(benchmark.stats.stats.mean / N_SOURCES * 1e6, 1)


@pytest.mark.benchmark(group="dijkstra")
def test_dijkstra_reference(benchmark, jatinegara_csr):
    """Pure-Python heapq reference, the same 50 trees per round."""
    out_offsets, out_links, _link_from, link_to, cost = jatinegara_csr
    sources = _sources(out_offsets.shape[0] - 1)

    def trees() -> None:
        for s in sources:
            dijkstra_reference(out_offsets, out_links, link_to, cost, s)

    benchmark(trees)
    if benchmark.stats is not None:
        benchmark.extra_info["per_tree_us"] = round(benchmark.stats.stats.mean / N_SOURCES * 1e6, 1)
