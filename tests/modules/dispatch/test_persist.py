"""KPIs, incidents and calls of a run land in the store (SQLite and PostgreSQL)."""

from __future__ import annotations

from sqlalchemy import select

from twin.modules.dispatch import parse_config, run_dispatch
from twin.modules.dispatch.persist import load_kpis, save_run
from twin.store import Store
from twin.store.schema import DispatchCallRow, DispatchIncidentRow

from .conftest import make_sim


def test_run_is_stored_and_saving_again_replaces_it(store: Store) -> None:
    cfg = parse_config({
        "seed": 1, "rates": [{"type": "medical", "per_hour": 6.0}, {"type": "crash",
                                                                     "per_hour": 6.0}],
        "stations": [{"id": "a", "node": "r0c0",
                      "units": {"police": 1, "ambulance": 1, "tow": 1}}]})
    model = run_dispatch(make_sim(), cfg, 3600.0)
    counts = save_run(store, "r1", model)
    assert counts == save_run(store, "r1", model)  # idempotent
    assert counts["incidents"] == len(model.incidents) > 0
    k = load_kpis(store, "r1")
    assert k[("calls", "offered")] == len(model.calls)
    want = model.kpis()["services"]["ambulance"]["total_response_s"]["p90"]
    assert k[("ambulance", "total_response_s.p90")] == want
    assert ("utilisation", "police") in k
    assert k[("area:a", "incidents")] == len(model.incidents)
    assert k[("shift:00.00-24.00h", "offered")] == len(model.calls)
    with store.engine.connect() as conn:
        n_inc = len(conn.execute(select(DispatchIncidentRow.incident_id)).all())
        rings = conn.execute(select(DispatchCallRow.t_ring_s)).scalars().all()
    assert n_inc == counts["incidents"]
    assert sorted(rings) == sorted(c.t_ring for c in model.calls)
