"""Write a dispatch run's incidents, calls, KPIs and board to the store."""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from typing import Any

from sqlalchemy import delete, insert, select

from twin.store import Store
from twin.store.schema import DispatchCallRow, DispatchIncidentRow, DispatchKpiRow

from .board import save_board
from .model import DispatchModel

_T = ("t_occurred", "t_ring", "t_answer", "t_classified", "t_dispatch", "t_enroute",
      "t_onscene", "t_patient_contact", "t_transport", "t_at_facility", "t_road_reopened",
      "t_clear", "t_closed")


def flatten_kpis(kpis: Mapping[str, Any]) -> Iterator[tuple[str, str, float | None]]:
    """(scope, dotted metric, value) for every number of :meth:`DispatchModel.kpis`."""
    def walk(scope: str, prefix: str, value: Any) -> Iterator[tuple[str, str, float | None]]:
        if isinstance(value, Mapping):
            for k, v in value.items():
                yield from walk(scope, f"{prefix}.{k}" if prefix else str(k), v)
        elif value is None or (isinstance(value, int | float) and not isinstance(value, bool)):
            v = None if value is None or not math.isfinite(float(value)) else float(value)
            yield scope, prefix, v
    yield from walk("calls", "", kpis["calls"])
    yield from walk("overall", "", kpis["overall"])
    for kind, values in kpis["services"].items():
        yield from walk(kind, "", values)
    for area, values in kpis["areas"].items():
        yield from walk(f"area:{area}", "", values)
    for band, values in kpis["shifts"].items():
        yield from walk(f"shift:{band}", "", values)
    yield from walk("utilisation", "", kpis["utilisation"])
    yield "overall", "waiting_at_end", float(len(kpis["waiting"]))


def save_run(store: Store, run_id: str, model: DispatchModel) -> dict[str, int]:
    """Replace what the store holds for ``run_id`` with the model's state (incidents, calls,
    KPIs and the board of :func:`.board.save_board`); return row counts."""
    links = model.sim.network.link_ids
    incidents = []
    for inc in model.incidents.values():
        row: dict[str, Any] = {"run_id": run_id, "incident_id": inc.id, "type": inc.type,
                               "injury": inc.injury, "priority": inc.priority,
                               "link_id": links[inc.link], "n_calls": inc.n_calls,
                               "area": inc.area or None,
                               "units": {k: {"unit": inc.units[k], **inc.kind_times.get(k, {})}
                                         for k in inc.units}}
        for name in _T:
            row[f"{name}_s"] = getattr(inc, name)
        incidents.append(row)
    calls = [{"run_id": run_id, "call_id": c.id, "kind": c.kind, "incident_id": c.incident_id,
              "priority": c.priority, "duplicate": c.duplicate, "t_ring_s": c.t_ring,
              "t_answer_s": c.t_answer, "t_classified_s": c.t_classified,
              "t_abandon_s": c.t_abandon} for c in model.calls]
    kpis = [{"run_id": run_id, "scope": s, "metric": m, "value": v}
            for s, m, v in flatten_kpis(model.kpis())]
    with store.engine.begin() as conn:
        for table, rows in ((DispatchIncidentRow, incidents), (DispatchCallRow, calls),
                            (DispatchKpiRow, kpis)):
            conn.execute(delete(table).where(table.run_id == run_id))
            if rows:
                conn.execute(insert(table), rows)
    return {"incidents": len(incidents), "calls": len(calls), "kpis": len(kpis),
            **save_board(store, run_id, model)}


def load_kpis(store: Store, run_id: str) -> dict[tuple[str, str], float | None]:
    """(scope, metric) -> value of a stored run."""
    with store.engine.connect() as conn:
        rows = conn.execute(select(DispatchKpiRow.scope, DispatchKpiRow.metric,
                                   DispatchKpiRow.value).where(DispatchKpiRow.run_id == run_id))
        return {(r[0], r[1]): r[2] for r in rows}
