"""ETLE inside a twin run: the cameras' observations from the run's bus, on its clock.

A scenario with ``[modules.enforcement]`` and ``[[cameras]]`` run by
:class:`~twin.runner.TwinRun` hosts :class:`EnforcementLive`
(:mod:`twin.module_host`). It takes the ``plate_read`` and ``signal_state`` observations
the cameras publish on the bus (the same ones a live camera sends through the hardware
bridge), and every ``batch_s`` of the run's clock feeds what arrived, in time order, to
:class:`~.service.Enforcement` in one transaction: the same :class:`~.session.EtleSession`
``kota enforce`` runs over the whole stream, so the cases are the same whether the
observations are fed live or replayed from the store. The registration data holds the
run's :class:`~twin.vehicles.Fleet` records of every vehicle whose plate was read
(:func:`~.enginefeed.add_read_vehicles`), added as the reads arrive.

The workflow's timers (letter, confirmation and payment deadlines) run on the run's
clock. Only in a batch run (``realtime`` False) do simulated officers verify, owners
answer and the simulated bank pay; in a watched run people verify on the dashboard, and
a case they verify there is picked up at the next batch so its letter is posted on time.
:meth:`EnforcementLive.desk` gives what the dashboard's verification desk needs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from twin.clock import ProcessGenerator
from twin.module_host import RunContext
from twin.observations import Observation

from .enginefeed import add_read_vehicles
from .pseudonym import PlateTokenizer
from .registry import Registry
from .session import EtleSession
from .settings import enforcement_settings
from .states import Case, CaseState
from .tariff import Tariff

__all__ = ["DeskData", "EnforcementLive"]

CAMERA_TOPICS = ("plate_read/#", "signal_state/#")
"""What the detector reads from the bus."""


@dataclass(frozen=True)
class DeskData:
    """What an officer's verification desk needs besides the store.

    Attributes
    ----------
    registry : Registry, the registration data owners are resolved from (grows during the run)
    tokenizer : PlateTokenizer, the run's plate pseudonymiser (its key)
    tariff : Tariff, the fines and points the cases carry
    now : callable, the run's clock (simulated time)
    notice_delay_s : seconds from verification until the letter is due
    """

    registry: Registry
    tokenizer: PlateTokenizer
    tariff: Tariff
    now: Callable[[], datetime]
    notice_delay_s: float


class EnforcementLive:
    """The ETLE module hosted by a twin run (``LIVE_MODULES["enforcement"]``).

    Parameters
    ----------
    ctx : RunContext, the run's parts

    Attributes
    ----------
    session : EtleSession, the module over the run's store and clock
    registry : Registry, the registration data built from the run's fleet
    observations : int, camera observations taken from the bus so far
    """

    name = "enforcement"

    def __init__(self, ctx: RunContext) -> None:
        self.ctx = ctx
        self.settings = enforcement_settings(ctx.scenario)
        self.registry = Registry()
        self.session = EtleSession(ctx.store, ctx.clock, self.registry, self.settings,
                                   seed=ctx.scenario.scenario.seed,
                                   consumer=f"etle-detector/{ctx.run_id}")
        self.observations = 0
        self._arrived: list[Observation] = []
        self._scheduled: set[tuple[str, CaseState]] = set()

    def start(self) -> None:
        """Subscribe to the cameras' topics, start the feeder, the workflow's timers and,
        in a batch run, the simulated people."""
        for topic in CAMERA_TOPICS:
            self.ctx.bus.subscribe_callback(topic, self._arrived.append, name=f"etle-live/{topic}")
        workflow = self.session.enf.workflow
        workflow.listeners.append(self._note_scheduled)
        self.ctx.clock.process(self._feeder())
        if not self.ctx.realtime:
            self.session.start_people()
        for case in self.session.enf.cases.waiting():
            self._note_scheduled(case)
        workflow.start()

    def _note_scheduled(self, case: Case) -> None:
        self._scheduled.add((case.case_id, case.state))

    def _feeder(self) -> ProcessGenerator:
        while True:
            yield self.ctx.clock.env.timeout(self.settings.batch_s)
            self._ingest_arrived()
            self._schedule_desk_decisions()

    def _ingest_arrived(self) -> None:
        batch, self._arrived[:] = list(self._arrived), []
        if not batch:
            return
        batch.sort(key=lambda o: o.observed_at)
        self.observations += len(batch)
        add_read_vehicles(self.registry, self.ctx.fleet, batch)
        self.session.ingest(batch)

    def _schedule_desk_decisions(self) -> None:
        """Start the timers of cases decided outside this process (on the dashboard)."""
        workflow = self.session.enf.workflow
        for case in self.session.enf.cases.waiting():
            if (case.case_id, case.state) not in self._scheduled:
                self._note_scheduled(case)
                workflow.schedule(case)

    def desk(self) -> DeskData:
        """What the dashboard's verification desk needs to verify this run's cases."""
        enf, clock = self.session.enf, self.ctx.clock
        return DeskData(self.registry, enf.tokenizer, enf.tariff, lambda: clock.now,
                        self.settings.notice_delay_s)

    def finish(self) -> dict[str, Any]:
        """Ingest what arrived since the last batch; the module's summary."""
        try:
            self._ingest_arrived()
        finally:
            self.session.close()
        summary = self.session.summary()
        summary.update({"feed": "bus", "observations": self.observations,
                        "registry_vehicles": len(self.registry.vehicles),
                        "simulated_people": not self.ctx.realtime})
        return summary
