"""Resume the open incidents of an interrupted run (a restart after the process died).

A live run saves its incidents, calls and board as it goes (:class:`.persist.Progress`,
every ``board_every_s``); a run whose process died keeps the status ``running`` in the
store's ``runs`` table. When a new run of the same scenario starts with ``[modules.dispatch]
resume = true`` (the default), :func:`claim_interrupted_run` finds the latest such run with
a saved board and :func:`resume` reloads its open incidents into the new model.

Dead, not merely running: another run of the same scenario may be running on the same
store at the same time (two ``kota run`` against one PostgreSQL store), with the same
status and a board it saves as it goes. A run is dead when nobody holds its run lock
(:mod:`twin.store.run_lock`): a live run holds its own from its start to its finish, and
the database or the kernel releases it the moment its process dies. A lock rather than
a lease renewed with each board save: the board is saved every ``board_every_s``
*simulated* seconds, which are any number of wall seconds (a run many times faster than
real time, or slower on a big network, or paused between steps), and a dead process's
simulated clock says nothing at all; a lease would have to be long to never expire under
a live but slow run, and then a restart right after a crash could not resume. The lock
asks neither clock. The new run holds the dead run's lock while it takes it over, so two
runs starting at once do not both resume it:


- Incidents not cleared keep their ids, type, injury, priority, link, area, calls count,
  units sent and every timestamp. Times are seconds since the new run's start: each is
  shifted by the same amount, so the interrupted run's last saved instant (plus the wall
  time the process was down, in a real-time run) is the new run's clock when it resumes.
  Every duration (ring to answer, ring to on scene ...) is kept; an incident that occurred
  before the restart has a time before the new clock's, negative when the run resumes at
  its start. A road incident whose lanes were not reopened blocks them again in the
  :class:`~twin.simulation.Simulation` (``lanes_blocked`` of its scripted spec, else 1).
- Incidents that are over (:func:`is_over`: cleared, or never reported and their lanes
  reopened) are not resurrected; no incident id of the interrupted run (open or
  cleared) is opened again: a scripted incident that already occurred does not occur
  twice, and generated incidents take unused ids (:attr:`DispatchModel.taken_ids`).
- Calls of the open incidents are reloaded with their times and state (renumbered in the
  new run). A call still waiting, or answered but not yet classified, rings again at the
  resumption (its ``t_ring`` kept) with a fresh patience: the call taker's conversation
  was lost with the process. An incident not yet classified whose calls had not all rung
  gets its missing calls at the resumption; with none at all, a road incident clears
  itself after ``unreported_self_clear_s`` from the resumption.
- An incident classified with a unit kind still unsent waits in :attr:`DispatchModel.waiting`
  at once (the dispatcher's decision time is not counted again) and is served when a unit
  is free; the operators' overrides recorded for it in the interrupted run still apply.
- Units take their last saved status and position. A unit serving an open incident goes
  on with its trip from the stage it was in (:data:`.model.TRIP_STAGES`), not from the
  exact point of it: ``dispatched`` turns out again; ``en_route`` drives again from its
  last reported position (its station when none), the ETA recomputed on the current
  travel times; ``on_scene`` works until ``t_onscene`` + a freshly drawn work time;
  ``transporting`` drives the whole leg from the scene to the nearest hospital again;
  handing over ends ``HANDOVER_S`` after ``t_at_facility``; ``returning`` drives home from
  its last known position. Units ``out_of_service`` or ``broken`` stay so; any other unit
  is available (at its last reported position). Busy time (utilisation) counts from the
  resumption: it is this run's.

Draws for the resumption (patience, work times) come from a stream of their own, so the
new run's own incidents and calls are the ones a fresh run would have.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np
from sqlalchemy import select

from twin.store import Store
from twin.store.schema import DispatchBoardRow, DispatchCallRow, RunRow

from . import incidents as inc_rules
from .board import IncidentRecord, UnitState, load_board, load_incidents, load_overrides
from .incidents import Call, Incident
from .model import TRIP_STAGES, DispatchModel


@dataclass(frozen=True, slots=True)
class Resumed:
    """What :func:`resume` reloaded from run ``run_id``."""

    run_id: str
    incidents: tuple[str, ...]
    """Ids of the open incidents resumed, in order of occurrence."""
    calls: int
    waiting: int
    """Incidents waiting for a unit right after the resumption."""
    units_busy: int
    shift_s: float
    """Added to every stored time to put it on the new run's clock."""
    saved_at: datetime
    """When the interrupted run last saved its board (its last sign of life)."""


def _unfinished_runs(store: Store, scenario: str, exclude: str | None,
                     only: str | None = None) -> list[str]:
    """Runs of ``scenario`` with status ``running`` and a saved dispatch board, latest
    board first."""
    q = (select(RunRow.run_id)
         .join(DispatchBoardRow, DispatchBoardRow.run_id == RunRow.run_id)
         .where(RunRow.status == "running", RunRow.scenario == scenario)
         .order_by(DispatchBoardRow.saved_at.desc(), RunRow.started_at.desc()))
    if exclude is not None:
        q = q.where(RunRow.run_id != exclude)
    if only is not None:
        q = q.where(RunRow.run_id == only)
    return store.read(lambda conn: [str(r[0]) for r in conn.execute(q)])


def claim_interrupted_run(store: Store, scenario: str, *,
                          exclude: str | None = None) -> str | None:
    """The latest run of ``scenario`` that died unfinished (status ``running``, its run
    lock free) and saved a dispatch board, other than ``exclude``; None when there is none.

    Runs still live (their lock held by their process, or by another run taking them
    over) are passed over. The run returned has its lock held by ``store``: release it
    (``store.run_locks.release``) once the run is closed as ``interrupted``.
    """
    for run_id in _unfinished_runs(store, scenario, exclude):
        if not store.run_locks.acquire(run_id):
            continue
        # another run may have taken it over and released it since the query above
        if _unfinished_runs(store, scenario, exclude, only=run_id):
            return run_id
        store.run_locks.release(run_id)
    return None


def is_over(rec: IncidentRecord) -> bool:
    """Whether a stored incident needs nothing more: cleared, or nobody ever calls about
    it and its lanes, if any, reopened (drivers cleared it themselves)."""
    if rec.times_s.get("t_clear") is not None:
        return True
    road = rec.type in inc_rules.ROAD_TYPES
    return rec.n_calls == 0 and (not road or rec.times_s.get("t_road_reopened") is not None)


def _shift(t: float | None, shift_s: float) -> float | None:
    return None if t is None else t + shift_s


def _stage(status: str, inc: Incident, kind: str) -> str:
    """The trip stage a unit of ``kind`` with ``status`` resumes at."""
    if status == "transporting":
        return "at_facility" if inc.t_at_facility is not None else "transporting"
    if status in TRIP_STAGES:
        return status
    times = inc.kind_times.get(kind, {})  # a live report re-stated the unit mid-trip
    return "on_scene" if "t_onscene" in times else (
        "en_route" if "t_enroute" in times else "dispatched")


def _incident(model: DispatchModel, rec: IncidentRecord, shift_s: float) -> Incident:
    net = model.sim.network
    times = {k: _shift(v, shift_s) for k, v in rec.times_s.items()}
    t_occurred = times.pop("t_occurred")
    assert t_occurred is not None
    inc = Incident(id=rec.incident_id, type=rec.type, link=int(net.link_index[rec.link_id]),
                   t_occurred=t_occurred, injury=rec.injury,  # type: ignore[arg-type]
                   priority=rec.priority, needs=inc_rules.needs(rec.type, rec.injury),
                   area=rec.area or "")
    for name, value in times.items():
        setattr(inc, name, value)
    for kind, sent in rec.units.items():
        inc.units[kind] = str(sent["unit"])
        inc.kind_times[kind] = {k: float(v) + shift_s for k, v in sent.items() if k != "unit"}
        if "t_onscene" in inc.kind_times[kind]:
            inc.arrivals[kind] = inc.kind_times[kind]["t_onscene"]
    spec = next((s for s in model.config.incidents if s.id == inc.id), None)
    inc.lanes_blocked = spec.lanes_blocked if spec is not None else 1
    return inc


def resume(model: DispatchModel, store: Store, run_id: str, *, gap_s: float = 0.0) -> Resumed:
    """Reload the open incidents of the interrupted run ``run_id`` into ``model`` (built
    on the same network, not yet run past its start); see the module's docstring.

    Parameters
    ----------
    gap_s : float, simulated seconds the process was down after the last saved board
        (counted in the incidents' times: it is when nobody could act on them)

    Raises
    ------
    ValueError
        When ``run_id`` has no saved board.
    """
    board = load_board(store, run_id)
    if board is None:
        raise ValueError(f"run {run_id!r} has no saved dispatch board to resume from")
    env, net = model.env, model.sim.network
    now = float(env.now)
    shift_s = now - (board.t_now_s + gap_s)
    draw = np.random.default_rng([model.config.seed, 2])
    records = load_incidents(store, run_id)
    model.taken_ids |= {r.incident_id for r in records}
    model.resumed_from = run_id
    opened: dict[str, Incident] = {}
    for rec in records:
        if is_over(rec):
            continue
        if rec.link_id not in net.link_index:
            model.refused.append((rec.incident_id, f"resumed incident on unknown link "
                                                   f"{rec.link_id!r}"))
            continue
        inc = _incident(model, rec, shift_s)
        model.incidents[inc.id] = inc
        model._arrived[inc.id] = env.event()
        if len(inc.arrivals) == len(inc.needs):
            model._arrived[inc.id].succeed()
        if inc.is_road and inc.t_road_reopened is None:
            model.sync()
            inc.lanes_blocked = min(inc.lanes_blocked, int(net.link_lanes[inc.link]))
            inc.engine_incident = model.sim.open_incident(inc.link, inc.lanes_blocked,
                                                          speed_factor=0.5)
        opened[inc.id] = inc
    n_calls = _resume_calls(model, store, run_id, opened, shift_s, draw)
    busy = _resume_units(model, board.units, opened)
    for inc in opened.values():
        pending = [k for k in inc.needs if k not in inc.units]
        if inc.t_classified is not None and pending:
            model._pending[inc.id] = pending
            model.waiting.append(inc)
    for iid, chosen in load_overrides(store, run_id).items():
        if iid in opened:
            for kind, unit in chosen.items():
                model.override(iid, kind, unit)
    model._serve_waiting()
    return Resumed(run_id, tuple(opened), n_calls, len(model.waiting), busy, shift_s,
                   board.saved_at)


def _resume_calls(model: DispatchModel, store: Store, run_id: str,
                  opened: dict[str, Incident], shift_s: float, draw: np.random.Generator) -> int:
    """Reload the calls of the resumed incidents; ring again those not through."""
    env, cfg = model.env, model.config.calls
    query = (select(DispatchCallRow)
             .where(DispatchCallRow.run_id == run_id,
                    DispatchCallRow.incident_id.in_(list(opened) or [""]))
             .order_by(DispatchCallRow.t_ring_s, DispatchCallRow.call_id))
    rows = store.read(lambda conn: conn.execute(query).all())
    stored: dict[str, int] = {}
    n = 0
    for r in rows:
        inc = opened[str(r.incident_id)]
        call = Call(id=len(model.calls), kind=r.kind, t_ring=r.t_ring_s + shift_s,
                    incident_id=inc.id, priority=r.priority,
                    patience_s=float(draw.exponential(cfg.patience_mean_s)),
                    t_answer=_shift(r.t_answer_s, shift_s),
                    t_classified=_shift(r.t_classified_s, shift_s),
                    t_abandon=_shift(r.t_abandon_s, shift_s), duplicate=bool(r.duplicate))
        model.calls.append(call)
        n += 1
        stored[inc.id] = stored.get(inc.id, 0) + 1
        if call.t_abandon is None and call.t_classified is None:
            call.t_answer = None  # the conversation was lost: it is answered again
            inc.calls_open += 1
            env.process(model._answer(call, inc))
    for inc in opened.values():
        if inc.t_classified is not None:
            continue
        for _ in range(max(inc.n_calls - stored.get(inc.id, 0), 0)):
            call = Call(id=len(model.calls), kind="normal", t_ring=float(env.now),
                        incident_id=inc.id, priority=inc.priority,
                        patience_s=float(draw.exponential(cfg.patience_mean_s)))
            model.calls.append(call)
            n += 1
            if inc.t_ring is None:
                inc.t_ring = call.t_ring
            inc.calls_open += 1
            env.process(model._answer(call, inc))
        if inc.calls_open == 0:
            env.process(model._unreported(inc))
    return n


def _resume_units(model: DispatchModel, units: tuple[UnitState, ...], opened: dict[str, Incident]) -> int:
    """Restore the units' statuses and positions; resume the trips for open incidents."""
    env, net = model.env, model.sim.network
    now = float(env.now)
    busy = 0
    on_trip: dict[str, set[str]] = {}
    for state in units:
        unit = model.units.get(state.unit_id)
        if unit is None:
            continue
        unit.link = int(net.link_index[state.link_id]) \
            if state.link_id in net.link_index else None
        inc = opened.get(state.incident_id or "")
        if inc is not None and state.status != "available" and \
                inc.units.get(unit.kind) == unit.name:
            stage = _stage(state.status, inc, unit.kind)
            unit.set_status(state.status if state.status in ("out_of_service", "broken")
                            else ("transporting" if stage == "at_facility" else stage), now)
            unit.incident_id = inc.id
            model._on_trip.add(unit.name)
            on_trip.setdefault(inc.id, set()).add(unit.kind)
            env.process(model._trip(unit, inc, stage))
            busy += 1
        elif state.status in ("out_of_service", "broken"):
            unit.set_status(state.status, now)
        elif state.status != "available" and inc is None:
            unit.link = None  # its incident is not resumed: back at its station
    for inc in opened.values():
        inc.units_done = sum(1 for k in inc.units if k not in on_trip.get(inc.id, set()))
    return busy


def resume_gap_s(saved_at: datetime, now: datetime, speedup: float) -> float:
    """Simulated seconds a real-time run was down: wall seconds since ``saved_at`` times
    ``speedup`` (never negative)."""
    return max((now - saved_at).total_seconds(), 0.0) * speedup
