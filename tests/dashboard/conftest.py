"""Fixtures for the dashboard tests: a tiny network and views of it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from twin.alert_log import AlertRecord
from twin.live import TwinView
from twin.network import Network


@pytest.fixture(scope="session", autouse=True)
def dask_threads_before_any_dash_server() -> None:
    """Start Dask's process-wide offload thread before any browser test serves an app.

    When a browser test ends, Dash's test runner raises ``SystemExit`` in every thread
    started after its server (``dash.testing.application_runners.KillerThread``). A Dask
    client first used during such a test (the Planner page runs sweeps) starts
    ``distributed.utils._offload_executor``'s one thread then; killed, every later Dask
    client in the process waits on it forever.
    """
    from distributed.utils import _offload_executor
    from tqdm import tqdm

    _offload_executor.submit(lambda: None).result(timeout=30)
    tqdm.monitor_interval = 0  # no tqdm monitor thread for the runner to kill either


WIB = timezone(timedelta(hours=7), "WIB")
START = datetime(2026, 3, 2, 7, 0, 0, tzinfo=WIB)


def grid_network(rows: int = 3, cols: int = 4, block_m: float = 200.0) -> Network:
    """A two-way street grid near Jatinegara, ``rows`` x ``cols`` junctions."""
    lat0, lon0 = -6.215, 106.87
    dlat = block_m / 111_195.0
    dlon = dlat / np.cos(np.radians(lat0))
    node_ids, lon, lat = [], [], []
    for r in range(rows):
        for c in range(cols):
            node_ids.append(f"r{r}c{c}")
            lon.append(lon0 + c * dlon)
            lat.append(lat0 - r * dlat)
    links: list[tuple[int, int, str]] = []
    for r in range(rows):
        for c in range(cols):
            a = r * cols + c
            if c + 1 < cols:
                links += [(a, a + 1, f"Jl. Baris {r}"), (a + 1, a, f"Jl. Baris {r}")]
            if r + 1 < rows:
                links += [(a, a + cols, f"Jl. Lajur {c}"), (a + cols, a, f"Jl. Lajur {c}")]
    n = len(links)
    return Network.from_arrays(
        name="test-grid", node_ids=node_ids, node_lon=lon, node_lat=lat,
        link_ids=[f"{node_ids[a]}-{node_ids[b]}" for a, b, _ in links],
        link_from=[a for a, _, _ in links], link_to=[b for _, b, _ in links],
        link_length_m=[block_m] * n, link_lanes=[1] * n,
        link_speed_limit_mps=[13.89] * n, link_capacity_vph=[900.0] * n,
        link_name=[name for _, _, name in links],
    )


@pytest.fixture
def tiny_network() -> Network:
    """Four links: a bent two-way street, a one-way link and an unnamed link."""
    return Network.from_arrays(
        name="tiny",
        node_ids=["a", "b", "c", "d"],
        node_lon=[106.870, 106.872, 106.872, 106.874],
        node_lat=[-6.215, -6.215, -6.217, -6.217],
        link_ids=["ab", "ba", "bc", "cd"],
        link_from=[0, 1, 1, 2],
        link_to=[1, 0, 2, 3],
        link_length_m=[230.0, 230.0, 221.0, 221.0],
        link_lanes=[2, 2, 1, 1],
        link_speed_limit_mps=[10.0, 10.0, 12.5, 8.0],
        link_capacity_vph=[3600.0, 3600.0, 1800.0, 1800.0],
        link_name=["Jl. Matraman Raya", "Jl. Matraman Raya", "Jl. Pisangan", ""],
        link_road_class=["primary", "primary", "residential", "service"],
        # ab bends through one interior point; the others are straight
        link_geometry_lonlat=[([106.871, 106.872], [-6.2148, -6.215]), None, None, None],
    )


def make_view(
    network: Network,
    speed_mps: np.ndarray | None = None,
    count: np.ndarray | None = None,
    *,
    time_s: float = 0.0,
    duration_s: float = 3600.0,
    n_waiting: int = 0,
    n_active: int = 0,
    n_arrived: int = 0,
    n_total: int = 0,
    finished: bool = False,
    alerts: tuple[AlertRecord, ...] = (),
) -> TwinView:
    """A :class:`TwinView` of ``network`` (free flow, no vehicles by default)."""
    speed = network.link_speed_limit_mps.copy() if speed_mps is None else speed_mps
    veh = np.zeros(network.n_links, np.int64) if count is None else count
    return TwinView(
        scenario_name=network.name, time_s=time_s, clock_time=START + timedelta(seconds=time_s),
        duration_s=duration_s, n_waiting=n_waiting, n_active=n_active, n_arrived=n_arrived,
        n_total=n_total, link_speed_mps=np.asarray(speed, np.float64),
        link_vehicle_count=np.asarray(veh, np.int64), finished=finished, alerts=alerts,
    )


@pytest.fixture
def view_factory() -> Callable[..., TwinView]:
    """:func:`make_view`, for tests that build views."""
    return make_view


@pytest.fixture
def grid_factory() -> Callable[..., Network]:
    """:func:`grid_network`, for tests that need a bigger network."""
    return grid_network
