"""The dispatch board in the store: units and candidate units, calls and incidents, overrides.

:func:`save_board` writes what a running :class:`~.model.DispatchModel` knows *now* and
the stored run tables do not: each unit's status, and for every open incident the
available units that could be sent for each kind it still needs, ranked with the
policy's recommendation first (:func:`save_run` calls it, so ``kota dispatch`` stores a
board). :func:`record_override` keeps an operator's choice of another candidate in
``dispatch_overrides``; :func:`load_overrides` gives them back in the shape of
``[modules.dispatch] overrides`` (incident -> kind -> unit), which a model honours through
:class:`~.policies.OperatorOverride` (:meth:`DispatchModel.override`; :func:`apply_overrides`
hands them all to a running model).

The readers (:func:`load_board`, :func:`load_calls`, :func:`load_incidents`,
:func:`dispatch_runs`) return typed rows for the dashboard; times are seconds since the
run's start, as the model keeps them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, delete, insert, select

from twin.store import Store
from twin.store.schema import (
    DispatchBoardRow,
    DispatchCallRow,
    DispatchCandidateRow,
    DispatchIncidentRow,
    DispatchOverrideRow,
    DispatchUnitRow,
    RunRow,
)

from .model import DispatchModel
from .policies import DispatchPolicy, OperatorOverride

TIMELINE: tuple[tuple[str, str], ...] = (
    ("t_occurred", "occurred"), ("t_ring", "call received"), ("t_answer", "answered"),
    ("t_classified", "classified"), ("t_dispatch", "dispatched"), ("t_enroute", "en route"),
    ("t_onscene", "on scene"), ("t_patient_contact", "patient contact"),
    ("t_transport", "transporting"), ("t_at_facility", "at hospital"),
    ("t_road_reopened", "road reopened"), ("t_clear", "cleared"), ("t_closed", "closed"),
)
"""An incident's timestamps in lifecycle order (DOMAIN.md section 2.2) and their labels."""


class OverrideRefused(ValueError):
    """An override that does not fit the stored board (the reason is the message)."""


@dataclass(frozen=True, slots=True)
class UnitState:
    """One unit as the board last saw it."""

    unit_id: str
    kind: str
    station: str
    status: str
    incident_id: str | None
    link_id: str | None
    busy_s: float


@dataclass(frozen=True, slots=True)
class Candidate:
    """An available unit for one kind of one open incident (``eta_s`` inf: unreachable)."""

    incident_id: str
    kind: str
    unit_id: str
    eta_s: float
    rank: int
    recommended: bool


@dataclass(frozen=True, slots=True)
class Board:
    """The saved board of one run: its clock, policy, units and candidates."""

    run_id: str
    t_now_s: float
    policy: str
    saved_at: datetime
    units: tuple[UnitState, ...]
    candidates: tuple[Candidate, ...]


@dataclass(frozen=True, slots=True)
class CallRecord:
    """One stored call (seconds since the run's start)."""

    call_id: int
    kind: str
    incident_id: str | None
    priority: int
    t_ring_s: float
    t_answer_s: float | None
    t_abandon_s: float | None

    @property
    def state(self) -> str:
        """``answered``, ``abandoned`` or ``waiting``."""
        if self.t_answer_s is not None:
            return "answered"
        return "abandoned" if self.t_abandon_s is not None else "waiting"


@dataclass(frozen=True, slots=True)
class IncidentRecord:
    """One stored incident: its timestamps (name -> seconds or None) and units sent."""

    incident_id: str
    type: str
    injury: str
    priority: int
    link_id: str
    area: str | None
    times_s: dict[str, float | None]
    units: dict[str, dict[str, Any]]
    """Kind -> ``{"unit": id, "t_dispatch": s, "t_enroute": s, "t_onscene": s}``."""
    n_calls: int = 0
    """Calls the incident makes (0: nobody reports it)."""

    @property
    def is_open(self) -> bool:
        """Not closed yet (``t_closed`` unset)."""
        return self.times_s.get("t_closed") is None


@dataclass(frozen=True, slots=True)
class OverrideRecord:
    """One recorded override."""

    run_id: str
    incident_id: str
    kind: str
    unit_id: str
    recommended_unit_id: str | None
    actor: str
    recorded_at: datetime


def base_policy(policy: DispatchPolicy) -> DispatchPolicy:
    """The policy under any operator override (what recommends a unit)."""
    return policy.base if isinstance(policy, OperatorOverride) else policy


def save_board(store: Store, run_id: str, model: DispatchModel) -> dict[str, int]:
    """Replace the stored board of ``run_id`` with the model's units and candidates now.

    Candidates are listed for every incident the centre has classified and not cleared,
    for each kind it needs that no unit was sent for yet: the available units of that
    kind with their ETA, the base policy's choice first (``recommended``), then by ETA.
    """
    rows = board_rows(run_id, model)
    with store.engine.begin() as conn:
        write_board(conn, run_id, rows)
    return {"units": len(rows[1]), "candidates": len(rows[2])}


BoardRows = tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]]
"""The board's head row, unit rows and candidate rows (:func:`board_rows`)."""


def board_rows(run_id: str, model: DispatchModel) -> BoardRows:
    """The rows :func:`save_board` writes: head, units, candidates."""
    links = model.sim.network.link_ids
    now = float(model.env.now)
    units = [{"run_id": run_id, "unit_id": u.name, "kind": u.kind, "station": u.station,
              "status": u.status, "incident_id": u.incident_id,
              "link_id": None if u.link is None else links[u.link], "busy_s": u.busy_until_now_s(now)}
             for u in model.units.values()]
    policy = base_policy(model.policy)
    candidates = []
    for inc in model.incidents.values():
        if inc.t_classified is None or inc.t_clear is not None:
            continue
        for kind in inc.needs:
            if kind in inc.units:
                continue
            cands = model.available(kind)
            if not cands:
                continue
            eta = {u.name: model.eta_s(u, inc.link) for u in cands}
            best = policy.choose(inc, kind, cands, eta, model.available())
            order = sorted(cands, key=lambda u: (u is not best, eta[u.name], u.name))
            candidates += [{"run_id": run_id, "incident_id": inc.id, "kind": kind,
                            "unit_id": u.name, "rank": i, "recommended": u is best,
                            "eta_s": eta[u.name] if math.isfinite(eta[u.name]) else None}
                           for i, u in enumerate(order)]
    board = {"run_id": run_id, "t_now_s": now, "policy": model.policy.name,
             "saved_at": datetime.now(UTC)}
    return board, units, candidates


def write_board(conn: Connection, run_id: str, rows: BoardRows) -> None:
    """Replace the board of ``run_id`` with ``rows``, in the caller's transaction."""
    board, units, candidates = rows
    for table, table_rows in ((DispatchBoardRow, [board]), (DispatchUnitRow, units),
                              (DispatchCandidateRow, candidates)):
        conn.execute(delete(table).where(table.run_id == run_id))
        if table_rows:
            conn.execute(insert(table), table_rows)


def load_board(store: Store, run_id: str) -> Board | None:
    """The saved board of ``run_id`` (None when none was saved)."""
    def work(conn: Connection) -> tuple[Any, Sequence[Any], Sequence[Any]] | None:
        head = conn.execute(select(DispatchBoardRow).where(
            DispatchBoardRow.run_id == run_id)).first()
        if head is None:
            return None
        units = conn.execute(select(DispatchUnitRow).where(DispatchUnitRow.run_id == run_id)
                             .order_by(DispatchUnitRow.unit_id)).all()
        cands = conn.execute(select(DispatchCandidateRow)
                             .where(DispatchCandidateRow.run_id == run_id)
                             .order_by(DispatchCandidateRow.incident_id, DispatchCandidateRow.kind,
                                       DispatchCandidateRow.rank)).all()
        return head, units, cands
    found = store.read(work)
    if found is None:
        return None
    head, units, cands = found
    return Board(
        run_id=run_id, t_now_s=head.t_now_s, policy=head.policy, saved_at=head.saved_at,
        units=tuple(UnitState(r.unit_id, r.kind, r.station, r.status, r.incident_id, r.link_id,
                              r.busy_s) for r in units),
        candidates=tuple(Candidate(r.incident_id, r.kind, r.unit_id,
                                   math.inf if r.eta_s is None else r.eta_s, r.rank,
                                   bool(r.recommended)) for r in cands))


def load_calls(store: Store, run_id: str) -> list[CallRecord]:
    """The run's calls in ring order."""
    query = (select(DispatchCallRow).where(DispatchCallRow.run_id == run_id)
             .order_by(DispatchCallRow.t_ring_s, DispatchCallRow.call_id))
    rows = store.read(lambda conn: conn.execute(query).all())
    return [CallRecord(r.call_id, r.kind, r.incident_id, r.priority, r.t_ring_s, r.t_answer_s,
                       r.t_abandon_s) for r in rows]


def load_incidents(store: Store, run_id: str) -> list[IncidentRecord]:
    """The run's incidents, in order of occurrence."""
    query = (select(DispatchIncidentRow)
             .where(DispatchIncidentRow.run_id == run_id)
             .order_by(DispatchIncidentRow.t_occurred_s, DispatchIncidentRow.incident_id))
    rows = store.read(lambda conn: conn.execute(query).all())
    return [IncidentRecord(r.incident_id, r.type, r.injury, r.priority, r.link_id, r.area,
                           {name: getattr(r, f"{name}_s") for name, _ in TIMELINE},
                           dict(r.units), r.n_calls) for r in rows]


def dispatch_runs(store: Store) -> list[tuple[str, str | None, datetime]]:
    """(run id, scenario name or None, board saved at) of the runs with a saved board,
    the latest saved first."""
    query = (select(DispatchBoardRow.run_id, RunRow.scenario, DispatchBoardRow.saved_at)
             .outerjoin(RunRow, RunRow.run_id == DispatchBoardRow.run_id)
             .order_by(DispatchBoardRow.saved_at.desc(), DispatchBoardRow.run_id))
    rows = store.read(lambda conn: conn.execute(query).all())
    return [(r[0], r[1], r[2]) for r in rows]


def record_override(store: Store, run_id: str, incident_id: str, kind: str, unit_id: str, *,
                    actor: str) -> OverrideRecord:
    """Record that ``actor`` chose ``unit_id`` for ``kind`` of ``incident_id``.

    The unit must be one of the board's candidates for that incident and kind (so
    available, of that kind, and the kind not yet served).

    Raises
    ------
    OverrideRefused
        No saved board, or the unit is not a candidate (the message says why).
    """
    board = load_board(store, run_id)
    if board is None:
        raise OverrideRefused(f"run {run_id!r} has no saved dispatch board")
    cands = [c for c in board.candidates if c.incident_id == incident_id and c.kind == kind]
    if not cands:
        raise OverrideRefused(f"incident {incident_id!r} has no {kind} unit to choose "
                              "(closed, already served, or none available)")
    if unit_id not in {c.unit_id for c in cands}:
        raise OverrideRefused(f"unit {unit_id!r} is not an available {kind} unit for "
                              f"incident {incident_id!r}")
    rec = OverrideRecord(run_id, incident_id, kind, unit_id,
                         next((c.unit_id for c in cands if c.recommended), None), actor,
                         datetime.now(UTC))
    with store.engine.begin() as conn:
        conn.execute(insert(DispatchOverrideRow).values(
            run_id=run_id, incident_id=incident_id, kind=kind, unit_id=unit_id,
            recommended_unit_id=rec.recommended_unit_id, actor=actor,
            recorded_at=rec.recorded_at))
    return rec


def override_log(store: Store, run_id: str) -> list[OverrideRecord]:
    """Every override recorded for ``run_id``, oldest first."""
    query = (select(DispatchOverrideRow).where(DispatchOverrideRow.run_id == run_id)
             .order_by(DispatchOverrideRow.id))
    rows = store.read(lambda conn: conn.execute(query).all())
    return [OverrideRecord(r.run_id, r.incident_id, r.kind, r.unit_id, r.recommended_unit_id,
                           r.actor, r.recorded_at) for r in rows]


def load_overrides(store: Store, run_id: str) -> dict[str, dict[str, str]]:
    """The latest override per incident and kind, as ``[modules.dispatch] overrides``."""
    out: dict[str, dict[str, str]] = {}
    for rec in override_log(store, run_id):
        out.setdefault(rec.incident_id, {})[rec.kind] = rec.unit_id
    return out


def apply_overrides(store: Store, run_id: str, model: DispatchModel) -> int:
    """Hand the run's recorded overrides to ``model`` (:meth:`DispatchModel.override`),
    so its next decisions send the operators' units; returns how many were handed over."""
    n = 0
    for incident_id, chosen in load_overrides(store, run_id).items():
        for kind, unit in chosen.items():
            model.override(incident_id, kind, unit)
            n += 1
    return n
