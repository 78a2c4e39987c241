"""Quality and dispatch reads on a real PostgreSQL server that drops the connection a read
is using: they go through :meth:`twin.store.Store.read`, so they reconnect and run again
like the store's own reads, and return what they return without the drop."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import psycopg
import pytest
from sqlalchemy import event

from tests.modules.dispatch.board_run import STARTED, board_run
from tests.pg_server import libpq_conninfo
from twin.modules.dispatch.board import (
    dispatch_runs,
    load_board,
    load_calls,
    load_incidents,
    override_log,
)
from twin.modules.dispatch.persist import load_kpis
from twin.modules.quality import ALL_AREAS, Window, areas, latest_data_time, load_config
from twin.modules.quality import history as score_history
from twin.modules.quality.potential import link_evidence, slow_responses
from twin.modules.quality.queries import measure, measure_all
from twin.modules.quality.queries_dispatch import incidents, latest_time, nuisance_calls, run_spans
from twin.modules.quality.risk import risk_map
from twin.sensor_health import sensor_health
from twin.store import Store, open_store


@contextmanager
def dropping_first_query(store: Store, url: str) -> Iterator[list[int]]:
    """While open, the first query that reads a table kills its own connection's server
    process before it runs (``pg_terminate_backend``), as a server restart would; yields
    the killed process ids."""
    killed: list[int] = []

    def kill(conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        if killed or "FROM" not in statement.upper().split():
            return
        pid = conn.connection.dbapi_connection.info.backend_pid
        with psycopg.connect(libpq_conninfo(url), autocommit=True) as admin:
            # with a timeout (PostgreSQL 14+) it returns once the backend is gone
            admin.execute("SELECT pg_terminate_backend(%s, 10000)", (pid,))
        killed.append(pid)

    event.listen(store.engine, "before_cursor_execute", kill)
    try:
        yield killed
    finally:
        event.remove(store.engine, "before_cursor_execute", kill)


@pytest.mark.postgres
def test_module_reads_survive_a_dropped_connection(postgres_url: str) -> None:
    with open_store(postgres_url) as store:
        run_id = board_run(store).run_id
        window = Window(STARTED - timedelta(hours=1), STARTED + timedelta(hours=2))
        cfg = load_config()
        reads: dict[str, Callable[[], Any]] = {
            "board": lambda: load_board(store, run_id),
            "calls": lambda: load_calls(store, run_id),
            "incidents": lambda: load_incidents(store, run_id),
            "runs": lambda: dispatch_runs(store),
            "overrides": lambda: override_log(store, run_id),
            "kpis": lambda: load_kpis(store, run_id),
            "run_spans": lambda: run_spans(store, window),
            "kpi_incidents": lambda: list(incidents(store, ALL_AREAS, window)),
            "nuisance": lambda: nuisance_calls(store, window),
            "latest_time": lambda: latest_time(store),
            "police_answered": lambda: measure("dispatch.police_calls_answered_15s_share", store,
                                               ALL_AREAS, window, cfg),
            "measure_all": lambda: measure_all(store, ALL_AREAS, window, cfg),
            "evidence": lambda: link_evidence(store, window.start, window.end, {}),
            "slow_responses": lambda: slow_responses(store),
            "sensor_health": lambda: sensor_health(store, now=window.end),
            "areas": lambda: areas(store),
            "latest": lambda: latest_data_time(store),
            "history": lambda: score_history(store),
            "risk": lambda: risk_map(store, "incident", window.start, window.end),
        }
        undisturbed = {name: read() for name, read in reads.items()}
        assert undisturbed["board"] is not None and undisturbed["run_spans"]
        assert undisturbed["kpi_incidents"] and undisturbed["nuisance"][1] > 0
        assert undisturbed["police_answered"].samples > 0
        for name, read in reads.items():
            with dropping_first_query(store, postgres_url) as killed:
                got = read()
            assert killed, name  # the read did lose its connection ...
            assert got == undisturbed[name], name  # ... and still answered the same
