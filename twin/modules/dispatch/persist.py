"""Write a dispatch run's incidents, calls, KPIs and board to the store: at its end
(:func:`save_run`), or as it goes (:class:`Progress`)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from sqlalchemy import delete, insert, select

from twin.store import Store
from twin.store.schema import DispatchCallRow, DispatchIncidentRow, DispatchKpiRow

from .board import board_rows, save_board, write_board
from .incidents import Call, Incident
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


def incident_rows(run_id: str, model: DispatchModel,
                  incidents: Iterable[Incident]) -> list[dict[str, Any]]:
    """The ``dispatch_incidents`` rows of ``incidents``."""
    links = model.sim.network.link_ids
    rows = []
    for inc in incidents:
        row: dict[str, Any] = {"run_id": run_id, "incident_id": inc.id, "type": inc.type,
                               "injury": inc.injury, "priority": inc.priority,
                               "link_id": links[inc.link], "n_calls": inc.n_calls,
                               "area": inc.area or None,
                               "units": {k: {"unit": inc.units[k], **inc.kind_times.get(k, {})}
                                         for k in inc.units}}
        for name in _T:
            row[f"{name}_s"] = getattr(inc, name)
        rows.append(row)
    return rows


def call_rows(run_id: str, calls: Iterable[Call]) -> list[dict[str, Any]]:
    """The ``dispatch_calls`` rows of ``calls``."""
    return [{"run_id": run_id, "call_id": c.id, "kind": c.kind, "incident_id": c.incident_id,
             "priority": c.priority, "duplicate": c.duplicate, "t_ring_s": c.t_ring,
             "t_answer_s": c.t_answer, "t_classified_s": c.t_classified,
             "t_abandon_s": c.t_abandon} for c in calls]


def save_run(store: Store, run_id: str, model: DispatchModel) -> dict[str, int]:
    """Replace what the store holds for ``run_id`` with the model's state (incidents, calls,
    KPIs and the board of :func:`.board.save_board`); return row counts."""
    incidents = incident_rows(run_id, model, model.incidents.values())
    calls = call_rows(run_id, model.calls)
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


class Progress:
    """The incidents, calls and board of a running model, saved as it goes (a live run),
    so a dashboard sees the queue and a restart can resume the open incidents
    (:mod:`.resume`).

    Each :meth:`save` writes, in one transaction with the board, only the rows that may
    have changed since the last: new incidents and calls, and those not yet final (an
    incident until cleared, a call until abandoned or classified); final rows never
    change again.
    """

    def __init__(self, store: Store, run_id: str) -> None:
        self.store = store
        self.run_id = run_id
        self._open_incidents: set[str] = set()
        self._incidents_seen = 0
        self._open_calls: set[int] = set()
        self._calls_seen = 0

    def save(self, model: DispatchModel) -> dict[str, int]:
        """Write what changed and the board; row counts written."""
        incs = list(model.incidents.values())
        fresh_incs = incs[self._incidents_seen:] + [
            model.incidents[i] for i in sorted(self._open_incidents) if i in model.incidents]
        fresh_calls = [model.calls[c] for c in sorted(self._open_calls)] + \
            model.calls[self._calls_seen:]
        inc_rows = incident_rows(self.run_id, model, fresh_incs)
        c_rows = call_rows(self.run_id, fresh_calls)
        board = board_rows(self.run_id, model)
        with self.store.engine.begin() as conn:
            for table, key, ids, rows in (
                    (DispatchIncidentRow, DispatchIncidentRow.incident_id,
                     [i.id for i in fresh_incs], inc_rows),
                    (DispatchCallRow, DispatchCallRow.call_id, [c.id for c in fresh_calls],
                     c_rows)):
                for k in range(0, len(ids), 500):
                    conn.execute(delete(table).where(table.run_id == self.run_id,
                                                     key.in_(ids[k:k + 500])))
                if rows:
                    conn.execute(insert(table), rows)
            write_board(conn, self.run_id, board)
        self._incidents_seen, self._calls_seen = len(incs), len(model.calls)
        self._open_incidents = {i.id for i in fresh_incs if i.t_clear is None}
        self._open_calls = {c.id for c in fresh_calls
                            if c.t_abandon is None and c.t_classified is None}
        return {"incidents": len(inc_rows), "calls": len(c_rows), "units": len(board[1]),
                "candidates": len(board[2])}


def load_kpis(store: Store, run_id: str) -> dict[tuple[str, str], float | None]:
    """(scope, metric) -> value of a stored run."""
    query = select(DispatchKpiRow.scope, DispatchKpiRow.metric,
                   DispatchKpiRow.value).where(DispatchKpiRow.run_id == run_id)
    return store.read(lambda conn: {(r[0], r[1]): r[2] for r in conn.execute(query)})
