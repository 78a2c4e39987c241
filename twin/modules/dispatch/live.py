"""The 112 centre running inside a twin run (``[modules.dispatch]`` of ``kota run``).

:class:`DispatchLive` is the live host of :mod:`twin.module_host`: it builds the same
:class:`~.model.DispatchModel` as ``kota dispatch`` (:func:`.run.run_dispatch`) on the
run's own clock and traffic engine. The run's traffic process keeps the engine in step
with the clock; the model advances it to the instant it acts at before reading travel
times (:meth:`DispatchModel.sync`), and the traffic process runs it on from there (see
:meth:`twin.runner.TwinRun._traffic`), so the engine is never advanced twice nor back.

Every ``board_every_s`` simulated seconds the module hands the operators' overrides
recorded in the run's store (:func:`.board.apply_overrides`, from the dashboard's
dispatch page) to the model, then saves the board with the incidents and calls that
changed (:class:`.persist.Progress`) under the run's id, which the page reads; it looks
for new overrides again whenever an incident is handed to dispatch
(:attr:`DispatchModel.before_dispatch`), so a choice made on the board during the
hand-over (``dispatch_decision_s``) decides which unit is sent. At the end it stores the
run's incidents, calls and KPIs (:func:`.persist.save_run`) and returns
:func:`.scenario_run.dispatch_summary`.

Live input: ``emergency_call``, ``incident_report`` and ``unit_position`` Observations on
the run's bus go to :meth:`DispatchModel.receive` as they are published (on the clock's
thread, as every publisher of a twin run does); one it refuses (a location farther than
``max_snap_m`` from every road, an unknown unit ...) is quarantined in the store with
the reason (source ``dispatch/<source id>``). An ``incident_report`` of the scenario
itself (source ``scenario/...``) is not a report to the centre: that incident is the
traffic runner's, blocks its lanes itself, and is not dispatched (as in ``kota
dispatch``). The calls the model generates itself (the section's ``rates``,
``incidents`` and nuisance calls) stay as configured; a section without them runs on
reported calls alone.

Restart: with ``resume`` (the default) a run that starts on a store holding an interrupted
run of the same scenario (its process died: still ``running``, and its run lock free, so
a run of the same scenario still running elsewhere is left alone) takes over that run's open
incidents, calls and busy units (:func:`.resume.resume`), logs ``resumed N open incidents
from run X``, and records the interrupted run as ``interrupted`` with ``resumed_by`` in its
summary (finished at its last saved board), so it is resumed once; this run's summary
names it in ``resumed_from``.
"""

from __future__ import annotations

import json
import logging
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from twin.observations import Observation, ObservationKind

from .board import apply_overrides, load_board, override_log
from .incidents import Incident
from .marks import RouteBook, dispatch_marks
from .model import DispatchModel, Proc
from .persist import Progress, save_run
from .resume import Resumed, claim_interrupted_run, resume, resume_gap_s
from .run import traffic_process
from .scenario_run import dispatch_config, dispatch_summary, start_hour

if TYPE_CHECKING:
    from twin.bus import Subscription
    from twin.map_marks import MapMarks
    from twin.module_host import RunContext

log = logging.getLogger(__name__)

LIVE_KINDS: tuple[ObservationKind, ...] = (
    ObservationKind.EMERGENCY_CALL, ObservationKind.INCIDENT_REPORT, ObservationKind.UNIT_POSITION)
"""The Observations the centre takes from the bus."""


class DispatchLive:
    """``[modules.dispatch]`` of a twin run.

    Parameters
    ----------
    ctx : RunContext, the run's parts; the section is validated here (a
        :class:`~twin.scenario.ScenarioError` naming the key), the model is built on
        :meth:`start`.
    """

    name = "dispatch"

    def __init__(self, ctx: RunContext) -> None:
        self.ctx = ctx
        self.config = dispatch_config(ctx.scenario)
        self.model: DispatchModel | None = None
        self.boards_saved = 0
        """How many times the board was saved to the store."""
        self.overrides_seen = 0
        """Overrides recorded in the store for this run that were handed to the model."""
        self.received: dict[str, int] = {k.value: 0 for k in LIVE_KINDS}
        """Observations taken from the bus, by kind."""
        self._subs: list[Subscription] = []
        self._wall0 = 0.0
        self._routes = RouteBook()
        self.progress = Progress(ctx.store, ctx.run_id)
        self.resumed: Resumed | None = None
        """What was resumed from an interrupted run on :meth:`start`, if anything."""

    def start(self) -> None:
        """Build the model on the run's clock, start the board and subscribe to the bus."""
        ctx = self.ctx
        env = ctx.clock.env
        self._wall0 = time.perf_counter()
        self.model = DispatchModel(ctx.sim, env, self.config, start_hour=start_hour(ctx.scenario))
        if self.config.units_in_traffic:  # poll the units' engine vehicles every step
            env.process(traffic_process(env, self.model, ctx.scenario.scenario.step_s))
        self.model.before_dispatch.append(self._before_dispatch)
        if self.config.resume:
            self.resume()
        env.process(self._board())
        self._subs = [ctx.bus.subscribe_callback(f"{k.value}/#", self._receive,
                                                 name=f"dispatch-{k.value}")
                      for k in LIVE_KINDS]

    def resume(self) -> Resumed | None:
        """Take over the open incidents of the latest interrupted run of this scenario
        (:mod:`.resume`), and close that run as ``interrupted``; None when there is none."""
        assert self.model is not None
        ctx = self.ctx
        old = claim_interrupted_run(ctx.store, ctx.scenario.scenario.name, exclude=ctx.run_id)
        if old is None:
            return None
        try:
            board = load_board(ctx.store, old)
            if board is None:
                return None
            gap_s = resume_gap_s(board.saved_at, datetime.now(UTC), ctx.clock.speedup) \
                if ctx.realtime else 0.0
            res = resume(self.model, ctx.store, old, gap_s=gap_s)
            ctx.store.finish_run(old, status="interrupted", finished_at=res.saved_at,
                                 summary={"resumed_by": ctx.run_id,
                                          "resumed_incidents": list(res.incidents)})
        finally:
            ctx.store.run_locks.release(old)
        # a warning: an operator should know the last run died (shown without ``-v``)
        log.warning("resumed %d open incidents from run %s", len(res.incidents), old)
        self.resumed = res
        return res

    def map_marks(self) -> MapMarks:
        """The centre's open incidents and its units with their routes, for the run's live
        view (:class:`twin.map_marks.MarkSource`); nothing before :meth:`start`."""
        from twin.map_marks import MapMarks
        if self.model is None:
            return MapMarks()
        return dispatch_marks(self.model, self._routes)

    def _before_dispatch(self, _incident: Incident) -> None:
        self.take_overrides()

    def _receive(self, obs: Observation) -> None:
        if self.model is None or (obs.kind == ObservationKind.INCIDENT_REPORT
                                  and obs.source_id.startswith("scenario/")):
            return
        self.received[obs.kind.value] += 1
        refused = len(self.model.refused)
        self.model.receive(obs)
        for _event, reason in self.model.refused[refused:]:  # kept for an operator to see
            self.ctx.store.quarantine(f"dispatch/{obs.source_id}", reason,
                                      json.dumps(obs.to_dict(), default=str))

    def _board(self) -> Proc:
        env = self.ctx.clock.env
        while True:
            self.update_board()
            yield env.timeout(self.config.board_every_s)

    def take_overrides(self) -> int:
        """Hand the model the overrides recorded in the store since the last look (all of
        the run's, latest per incident and kind, when any is new); how many are new."""
        assert self.model is not None
        store, run_id = self.ctx.store, self.ctx.run_id
        new = len(override_log(store, run_id)) - self.overrides_seen
        if new > 0:
            apply_overrides(store, run_id, self.model)
            self.overrides_seen += new
        return new

    def update_board(self) -> None:
        """Take the overrides recorded since the last look, then save the board and the
        incidents and calls that changed (what the dashboard's dispatch page shows, and
        what a restart resumes) under the run's id."""
        assert self.model is not None
        self.ctx.store.run_locks.check()  # a lock lost with its connection is taken again
        self.take_overrides()
        self.progress.save(self.model)
        self.boards_saved += 1

    def finish(self) -> dict[str, Any]:
        """Store the run's incidents, calls, KPIs and final board; the dispatch summary."""
        for sub in self._subs:
            self.ctx.bus.unsubscribe(sub)
        self._subs = []
        if self.model is None:
            return {}
        self.model.sync()
        summary = dispatch_summary(self.model, self.ctx.scenario.scenario.name,
                                   run_wall_s=time.perf_counter() - self._wall0)
        # the run's traffic process advances the engine too; the model alone cannot say
        # how much of the wall time was the engine's (the run's summary has sim_wall_s)
        summary["engine_wall_s"] = summary["dispatch_share_of_wall"] = None
        summary["run_id"] = self.ctx.run_id
        summary["stored"] = save_run(self.ctx.store, self.ctx.run_id, self.model)
        summary["boards_saved"] = self.boards_saved + 1
        summary["overrides_applied"] = self.overrides_seen
        summary["received"] = dict(self.received)
        summary["refused"] = len(self.model.refused)
        summary["resumed_from"] = None if self.resumed is None else self.resumed.run_id
        summary["resumed_incidents"] = 0 if self.resumed is None else len(self.resumed.incidents)
        return summary
