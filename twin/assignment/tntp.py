"""User-equilibrium assignment of a TNTP network directory, and the TNTP flow-file reader.

A network directory holds ``<name>_net.tntp`` and ``<name>_trips.tntp``
(and optionally ``<name>_flow.tntp``, the best-known equilibrium). Costs stay
in the file's units (SiouxFalls: 0.01 h; Chicago-Sketch: minutes). TNTP nodes
are numbered ``1..N``; node ``k`` is index ``k - 1``. Zones below
``<FIRST THRU NODE>`` may not be passed through.

Generalized cost: ``toll_factor * toll + distance_factor * length`` is added to
each link's BPR time (Chicago-Sketch's README: 0.02 min/cent and 0.04
min/mile); both default to 0.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from twin.assignment.solver import AssignmentResult, IterationInfo, build_graph, solve_ue
from twin.demand.tntp import read_tntp_trips
from twin.importers.tntp import TntpLinks, read_tntp_bpr

__all__ = ["TntpAssignment", "assign_tntp", "find_tntp_files", "read_tntp_flows"]


@dataclass
class TntpAssignment:
    """An assignment of a TNTP network: its links (file order) and the result."""

    links: TntpLinks
    result: AssignmentResult


def find_tntp_files(network_dir: str | Path) -> tuple[Path, Path, Path | None]:
    """Return the ``(net, trips, flow or None)`` files of a TNTP network directory.

    Raises
    ------
    ValueError
        When the directory has no single ``*_net.tntp`` or ``*_trips.tntp``.
    """
    root = Path(network_dir)
    found = []
    for kind in ("net", "trips", "flow"):
        files = sorted(root.glob(f"*_{kind}.tntp"))
        if len(files) > 1 or (not files and kind != "flow"):
            raise ValueError(f"{root}: expected one *_{kind}.tntp file, found {len(files)}")
        found.append(files[0] if files else None)
    return found[0], found[1], found[2]  # type: ignore[return-value]


def read_tntp_flows(path: str | Path) -> dict[tuple[int, int], tuple[float, float]]:
    """Read a TNTP ``*_flow.tntp`` file: ``(from, to) -> (volume, cost)``.

    One header line (``From To Volume Cost``), then whitespace-separated rows.

    Raises
    ------
    ValueError
        On a malformed row or a repeated link.
    """
    path = Path(path)
    out: dict[tuple[int, int], tuple[float, float]] = {}
    lines = path.read_text().splitlines()
    for line_no, line in enumerate(lines[1:], start=2):
        fields = line.replace(";", " ").split()
        if not fields:
            continue
        try:
            key = (int(fields[0]), int(fields[1]))
            value = (float(fields[2]), float(fields[3]))
        except (ValueError, IndexError) as exc:
            raise ValueError(f"{path} line {line_no}: expected 'from to volume cost'") from exc
        if key in out:
            raise ValueError(f"{path} line {line_no}: link {key} repeated")
        out[key] = value
    return out


def assign_tntp(
    network_dir: str | Path,
    *,
    gap: float = 1e-4,
    max_iterations: int = 2000,
    method: str = "bfw",
    toll_factor: float = 0.0,
    distance_factor: float = 0.0,
    demand_scale: float = 1.0,
    progress: Callable[[IterationInfo], None] | None = None,
) -> TntpAssignment:
    """Solve the user equilibrium of a TNTP network directory.

    Parameters
    ----------
    network_dir : directory with ``*_net.tntp`` and ``*_trips.tntp``.
    gap, max_iterations, method, progress : as in :func:`solve_ue`.
    toll_factor, distance_factor : generalized-cost weights (cost units per toll
        and per length unit).
    demand_scale : multiplies the trip table.

    Returns
    -------
    TntpAssignment, link flows in the net file's link order.
    """
    net_path, trips_path, _ = find_tntp_files(network_dir)
    links = read_tntp_bpr(net_path)
    from_num = np.array([int(n) for n in links.init_node], np.int64)
    to_num = np.array([int(n) for n in links.term_node], np.int64)
    trips = read_tntp_trips(trips_path)
    od = np.array([(int(o), int(d)) for o, d in trips], np.int64).reshape(-1, 2)
    demand = np.array(list(trips.values()), np.float64) * demand_scale
    n_nodes = int(max(from_num.max(), to_num.max(), od.max(initial=0)))
    numbers = np.arange(1, n_nodes + 1)
    graph = build_graph(from_num - 1, to_num - 1, n_nodes, od[:, 0] - 1, od[:, 1] - 1, demand,
                        no_thru=numbers < links.first_thru_node)
    const = toll_factor * links.toll + distance_factor * links.length
    result = solve_ue(graph, links.free_flow_time, links.capacity_vph, links.b, links.power,
                      const=const, gap=gap, max_iterations=max_iterations, method=method,
                      progress=progress)
    return TntpAssignment(links=links, result=result)
