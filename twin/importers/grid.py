"""A synthetic Manhattan grid, for tests, benchmarks and demos.

Node ``r{i}c{j}`` sits at row ``i`` (0 = southernmost) and column ``j``
(0 = westernmost); rows are ``block_m`` apart north-south and columns
``block_m`` apart east-west, and the grid is centred on ``origin_lonlat``.
Every pair of neighbouring nodes is joined by a two-way street: two directed
links ``r{i}c{j}-r{k}c{l}`` and ``r{k}c{l}-r{i}c{j}``. Junctions with four
neighbours get the default fixed-time program of
:func:`twin.importers.signals.default_signal_programs` when ``signals`` is True.
"""

from __future__ import annotations

import numpy as np

from twin.importers._xml import DEFAULT_ORIGIN_LONLAT
from twin.importers.signals import build_connections, default_signal_programs
from twin.network import IntArray, Network, NetworkError, SignalPrograms, unproject_xy


def grid_network(
    rows: int,
    cols: int,
    block_m: float = 200.0,
    lanes: int = 1,
    speed_limit_mps: float = 13.89,
    capacity_per_lane_vph: float = 1800.0,
    signals: bool = True,
    origin_lonlat: tuple[float, float] = DEFAULT_ORIGIN_LONLAT,
    name: str | None = None,
) -> Network:
    """Build a ``rows`` x ``cols`` lattice of two-way streets.

    Parameters
    ----------
    rows, cols : int, >= 1 each and at least two nodes in all.
    block_m : float, metres between neighbouring nodes (> 0); also each
        link's length.
    lanes : int, lanes per direction (>= 1).
    speed_limit_mps : float, metres per second (default 13.89 = 50 km/h).
    capacity_per_lane_vph : float, vehicles per hour per lane; a link's
        capacity is ``lanes * capacity_per_lane_vph``.
    signals : bool, give every four-way junction a default fixed-time program.
    origin_lonlat : (lon, lat) in degrees of the grid's centre.
    name : str, default ``"grid {rows}x{cols}"``.

    Returns
    -------
    Network with ``rows * cols`` nodes and ``2 * (rows * (cols - 1) + cols *
    (rows - 1))`` links.

    Raises
    ------
    NetworkError
        When a size or value is out of range.

    Examples
    --------
    >>> net = grid_network(3, 4)
    >>> net.n_nodes, net.n_links, net.signals.n_programs
    (12, 34, 2)
    """
    if rows < 1 or cols < 1 or rows * cols < 2:
        raise NetworkError(f"grid_network: rows={rows}, cols={cols}: need rows, cols >= 1 "
                           f"and at least 2 nodes")
    if not block_m > 0:
        raise NetworkError(f"grid_network: block_m={block_m} must be > 0 m")
    if lanes < 1:
        raise NetworkError(f"grid_network: lanes={lanes} must be >= 1")
    if not (speed_limit_mps > 0 and capacity_per_lane_vph > 0):
        raise NetworkError(
            f"grid_network: speed_limit_mps={speed_limit_mps} and "
            f"capacity_per_lane_vph={capacity_per_lane_vph} must be > 0"
        )
    origin_lon, origin_lat = origin_lonlat
    node_ids = [f"r{i}c{j}" for i in range(rows) for j in range(cols)]
    ii, jj = np.divmod(np.arange(rows * cols), cols)
    x_m = (jj - (cols - 1) / 2.0) * block_m
    y_m = (ii - (rows - 1) / 2.0) * block_m
    node_lon, node_lat = unproject_xy(x_m, y_m, origin_lon, origin_lat)

    link_from: list[int] = []
    link_to: list[int] = []
    for i in range(rows):
        for j in range(cols):
            here = i * cols + j
            for di, dj in ((0, 1), (1, 0)):
                k, m = i + di, j + dj
                if k < rows and m < cols:
                    there = k * cols + m
                    link_from += [here, there]
                    link_to += [there, here]
    link_ids = [f"{node_ids[a]}-{node_ids[b]}" for a, b in zip(link_from, link_to, strict=True)]
    n_links = len(link_ids)
    link_lanes = np.full(n_links, lanes, np.int32)
    connections = build_connections(link_from, link_to, link_lanes, rows * cols)
    sig: SignalPrograms | None = None
    conn_program: IntArray | None = None
    conn_signal: IntArray | None = None
    if signals:
        interior = [i * cols + j for i in range(1, rows - 1) for j in range(1, cols - 1)]
        sig, conn_program, conn_signal = default_signal_programs(
            interior, link_from, link_to, node_lon, node_lat, connections, node_ids=node_ids
        )
    return Network.from_arrays(
        name=name if name is not None else f"grid {rows}x{cols}",
        node_ids=node_ids,
        node_lon=node_lon,
        node_lat=node_lat,
        link_ids=link_ids,
        link_from=link_from,
        link_to=link_to,
        link_length_m=np.full(n_links, float(block_m)),
        link_lanes=link_lanes,
        link_speed_limit_mps=np.full(n_links, float(speed_limit_mps)),
        link_capacity_vph=np.full(n_links, lanes * float(capacity_per_lane_vph)),
        link_name=[""] * n_links,
        link_road_class=["grid"] * n_links,
        connections=connections,
        origin_lonlat=(origin_lon, origin_lat),
        source=name or f"grid {rows}x{cols}",
        conn_program=conn_program,
        conn_signal_index=conn_signal,
        signals=sig,
    )
