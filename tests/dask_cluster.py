"""A real Dask LocalCluster of worker processes for the tests that fan runs out, as
``kota sweep`` starts one (quiet logs, any free port for its HTTP server)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import dask
from distributed import Client, LocalCluster

from twin.planning.sweep import worker_env


@contextmanager
def local_client(n_workers: int = 1, **config: Any) -> Iterator[Client]:
    """A client of a new LocalCluster of ``n_workers`` one-thread processes; closed after.

    ``config`` entries are Dask settings in effect while the cluster starts, e.g.
    ``{"distributed.scheduler.allowed-failures": 0}``.
    """
    with dask.config.set({"logging.distributed": "warning", **config}):
        cluster = LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True,
                               dashboard_address=":0", env=worker_env(n_workers))
        client = Client(cluster)
    try:
        yield client
    finally:
        client.close()
        cluster.close()
