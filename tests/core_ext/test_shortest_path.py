"""The compiled Dijkstra against the heapq reference, and the wrappers' checks."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import numpy.testing as npt
import pytest

from core_ext import config
from core_ext.reference import dijkstra_reference
from core_ext.shortest_path import (
    check_graph,
    path_from_tree,
    paths_from_tree,
    shortest_path,
    shortest_path_tree,
)

REPO = Path(__file__).resolve().parents[2]
JATINEGARA = REPO / "data" / "jakarta" / "jatinegara_drive.graphml.gz"


def random_graph(seed: int, n_nodes: int = 60, n_links: int = 200, zero_cost_frac: float = 0.05):
    """A random directed multigraph in CSR form, some links of cost 0, some nodes unreachable."""
    rng = np.random.default_rng(seed)
    link_from = rng.integers(0, n_nodes, n_links).astype(np.int32)
    link_to = rng.integers(0, n_nodes, n_links).astype(np.int32)
    cost = rng.uniform(1.0, 60.0, n_links)
    cost[rng.random(n_links) < zero_cost_frac] = 0.0
    # integer costs make ties (several shortest paths) common
    ties = rng.random(n_links) < 0.3
    cost[ties] = rng.integers(1, 4, int(ties.sum()))
    out_links = np.argsort(link_from, kind="stable").astype(np.int32)
    out_offsets = np.zeros(n_nodes + 1, np.int64)
    np.cumsum(np.bincount(link_from, minlength=n_nodes), out=out_offsets[1:])
    return out_offsets, out_links, link_from, link_to, np.ascontiguousarray(cost)


@pytest.fixture(scope="module")
def jatinegara():
    """The real Jatinegara (East Jakarta) drive network, as CSR arrays."""
    if not JATINEGARA.exists():
        pytest.skip(f"{JATINEGARA} is not in this checkout")
    from twin.importers import load_network

    net = load_network(JATINEGARA)
    return (net.out_offsets, net.out_links, net.link_from, net.link_to,
            np.ascontiguousarray(net.free_flow_time_s))


def assert_valid_tree(dist, pred, out_offsets, link_from, link_to, cost, source):
    """``pred`` is a shortest-path tree for ``dist``: every tree link is tight."""
    n_nodes = out_offsets.shape[0] - 1
    assert dist[source] == 0.0 and pred[source] == -1
    reached = np.isfinite(dist)
    assert np.all((pred >= 0) == (reached & (np.arange(n_nodes) != source)))
    tree = np.flatnonzero(pred >= 0)
    links = pred[tree]
    npt.assert_array_equal(link_to[links], tree)
    npt.assert_allclose(dist[tree], dist[link_from[links]] + cost[links],
                        rtol=config.TEST_RTOL, atol=config.TEST_ATOL)
    # no link can improve any distance (Bellman optimality)
    ok = ~np.isfinite(dist[link_from]) | (dist[link_to] <= dist[link_from] + cost + 1e-9)
    assert ok.all()


def graphs():
    """Random graphs of several sizes and densities."""
    yield from (random_graph(seed, n, m) for seed, n, m in
                [(0, 10, 20), (1, 60, 200), (2, 200, 500), (3, 50, 600), (4, 1, 0), (5, 5, 3)])


@pytest.mark.parametrize("graph", list(graphs()), ids=lambda g: f"n{g[0].shape[0] - 1}")
def test_tree_matches_reference_on_random_graphs(graph):
    """Distances equal the heapq reference and the predecessor tree is tight, from every source."""
    out_offsets, out_links, link_from, link_to, cost = graph
    for source in range(out_offsets.shape[0] - 1):
        dist, pred = shortest_path_tree(out_offsets, out_links, link_to, cost, source)
        ref_dist, _ = dijkstra_reference(out_offsets, out_links, link_to, cost, source)
        npt.assert_allclose(dist, ref_dist, rtol=config.TEST_RTOL, atol=config.TEST_ATOL)
        assert_valid_tree(dist, pred, out_offsets, link_from, link_to, cost, source)


def test_tree_matches_reference_on_jatinegara(jatinegara):
    """On the real Jatinegara network, 100+ sources: same distances, valid trees."""
    out_offsets, out_links, link_from, link_to, cost = jatinegara
    n_nodes = out_offsets.shape[0] - 1
    for source in range(0, n_nodes, 7):
        dist, pred = shortest_path_tree(out_offsets, out_links, link_to, cost, source)
        ref_dist, _ = dijkstra_reference(out_offsets, out_links, link_to, cost, source)
        npt.assert_allclose(dist, ref_dist, rtol=config.TEST_RTOL, atol=config.TEST_ATOL)
        assert_valid_tree(dist, pred, out_offsets, link_from, link_to, cost, source)
        assert np.isfinite(dist).sum() > 1  # a real street network reaches somewhere


def test_point_to_point_paths_are_optimal(jatinegara):
    """``shortest_path`` (early exit) costs exactly the tree distance and is connected."""
    out_offsets, out_links, link_from, link_to, cost = jatinegara
    n_nodes = out_offsets.shape[0] - 1
    rng = np.random.default_rng(7)
    for source, target in rng.integers(0, n_nodes, (200, 2)):
        dist, pred = shortest_path_tree(out_offsets, out_links, link_to, cost, int(source))
        path = shortest_path(out_offsets, out_links, link_to, link_from, cost, int(source),
                             int(target))
        assert path.dtype == np.int32
        if source == target or not np.isfinite(dist[target]):
            assert path.size == 0
            continue
        assert link_from[path[0]] == source and link_to[path[-1]] == target
        npt.assert_array_equal(link_to[path[:-1]], link_from[path[1:]])
        npt.assert_allclose(cost[path].sum(), dist[target], rtol=1e-9)
        npt.assert_array_equal(path, path_from_tree(pred, link_from, int(target)))


def test_paths_from_tree_batch_equals_single():
    """The batch walk gives the same paths as one-by-one, and flags unreachable targets."""
    out_offsets, out_links, link_from, link_to, cost = random_graph(11, 80, 160)
    for source in (0, 5, 40):
        dist, pred = shortest_path_tree(out_offsets, out_links, link_to, cost, source)
        targets = np.arange(80, dtype=np.int32)
        off, links, reachable = paths_from_tree(pred, link_from, targets, source)
        npt.assert_array_equal(reachable, np.isfinite(dist))
        for t in range(80):
            single = path_from_tree(pred, link_from, t, source=source)
            npt.assert_array_equal(links[off[t]:off[t + 1]], single)
        assert off[source + 1] == off[source]  # the source itself: empty path


def test_unreachable_and_same_node_give_empty_paths():
    """Unreachable targets and source == target give empty int32 paths."""
    # 0 -> 1, node 2 isolated
    off = np.array([0, 1, 1, 1], np.int64)
    links = np.array([0], np.int32)
    to = np.array([1], np.int32)
    frm = np.array([0], np.int32)
    cost = np.array([5.0])
    assert shortest_path(off, links, to, frm, cost, 0, 2).size == 0
    assert shortest_path(off, links, to, frm, cost, 1, 0).size == 0
    same = shortest_path(off, links, to, frm, cost, 1, 1)
    assert same.size == 0 and same.dtype == np.int32
    dist, pred = shortest_path_tree(off, links, to, cost, 0)
    assert path_from_tree(pred, frm, 2).size == 0
    assert np.isinf(dist[2]) and pred[2] == -1


def test_infinite_cost_closes_a_link():
    """A link of cost +inf is never used."""
    # 0 -> 1 directly (closed) or 0 -> 2 -> 1
    off = np.array([0, 2, 2, 3], np.int64)
    links = np.array([0, 1, 2], np.int32)
    frm = np.array([0, 0, 2], np.int32)
    to = np.array([1, 2, 1], np.int32)
    cost = np.array([np.inf, 1.0, 1.0])
    assert shortest_path(off, links, to, frm, cost, 0, 1).tolist() == [1, 2]
    cost[2] = np.inf
    assert shortest_path(off, links, to, frm, cost, 0, 1).size == 0


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda g: g.update(out_offsets=g["out_offsets"].astype(np.int32)), "dtype int64"),
        (lambda g: g.update(out_links=g["out_links"].astype(np.int64)), "out_links must have"),
        (lambda g: g.update(link_cost_s=g["link_cost_s"].astype(np.float32)), "float64"),
        (lambda g: g.update(link_cost_s=list(g["link_cost_s"])), "numpy array"),
        (lambda g: g.update(link_to=np.repeat(g["link_to"], 2)[::2]), "C-contiguous"),
        (lambda g: g["link_cost_s"].__setitem__(3, np.nan), "NaN"),
        (lambda g: g["link_cost_s"].__setitem__(4, -1.0), "negative"),
        (lambda g: g.update(link_to=g["link_to"][:-1].copy()), "n_links"),
        (lambda g: g["link_to"].__setitem__(0, 999), "not a node"),
        (lambda g: g["out_links"].__setitem__(0, 999), "not a link"),
        (lambda g: g["out_offsets"].__setitem__(-1, 3), "end at"),
        (lambda g: g.update(source=99), "source = 99"),
        (lambda g: g.update(source=1.5), "integer node index"),
    ],
)
def test_bad_inputs_raise_helpful_errors(mutate, message):
    """Each malformed input raises ValueError saying what is wrong."""
    out_offsets, out_links, _frm, link_to, cost = random_graph(3, 10, 30)
    g = {"out_offsets": out_offsets, "out_links": out_links, "link_to": link_to,
         "link_cost_s": cost.copy(), "source": 0}
    mutate(g)
    with pytest.raises(ValueError, match=message):
        shortest_path_tree(g["out_offsets"], g["out_links"], g["link_to"], g["link_cost_s"],
                           g["source"])


def test_check_graph_returns_node_count():
    """``check_graph`` accepts a valid graph and reports its node count."""
    out_offsets, out_links, _frm, link_to, cost = random_graph(3, 10, 30)
    assert check_graph(out_offsets, out_links, link_to, cost) == 10


def test_path_from_tree_rejects_a_cycle():
    """A predecessor array with a cycle is not a tree: ValueError, not an endless loop."""
    pred = np.array([1, 0], np.int32)  # node 0 <- link 1 from node 1 <- link 0 from node 0
    link_from = np.array([0, 1], np.int32)
    with pytest.raises(ValueError, match="not a tree"):
        path_from_tree(pred, link_from, 0, source=0)


def test_missing_extension_raises_import_error_with_build_hint():
    """Without the compiled module the import fails loudly and says how to build it."""
    code = (
        "import sys\n"
        "sys.modules['core_ext._shortest_path_cy'] = None\n"
        "try:\n"
        "    import core_ext.shortest_path\n"
        "except ImportError as exc:\n"
        "    print(exc)\n"
        "else:\n"
        "    print('imported')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=REPO, check=True).stdout
    assert "not built" in out
    assert "pip install -e ." in out and "build_ext --inplace" in out
