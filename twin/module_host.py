"""Service modules running inside a twin run, on its clock, bus and store.

A scenario's ``[modules.<name>]`` section switches a service module on. :class:`~twin.runner.TwinRun`
builds a :class:`LiveModule` for each section whose name is in :data:`LIVE_MODULES`, hands it
the run's parts in a :class:`RunContext`, and calls :meth:`LiveModule.start` once the run's own
processes are on the clock and :meth:`LiveModule.finish` at the end. A live module reads the
same Observations from the bus that live devices would put there (through the hardware
bridge), so it runs identically on live and on simulated data; it writes to the run's store,
which the dashboard's pages read.

A module is found by a ``"package.module:factory"`` path, imported only when a scenario
asks for it; the factory takes a :class:`RunContext` and returns the :class:`LiveModule`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from twin.bus import Bus
    from twin.clock import Clock
    from twin.live import LiveTwin
    from twin.network import Network
    from twin.scenario import Scenario
    from twin.simulation import Simulation
    from twin.store import Store
    from twin.vehicles import Fleet

__all__ = ["LIVE_MODULES", "LiveModule", "RunContext", "build_live_modules"]

LIVE_MODULES: dict[str, str] = {
    "enforcement": "twin.modules.enforcement.live:EnforcementLive",
    "dispatch": "twin.modules.dispatch.live:DispatchLive",
}
"""Scenario section name -> ``"package.module:factory"`` of the module's live host."""


@dataclass(frozen=True)
class RunContext:
    """The parts of a run a live module may use (all on the run's one clock)."""

    scenario: Scenario
    network: Network
    sim: Simulation
    bus: Bus
    clock: Clock
    store: Store
    run_id: str
    fleet: Fleet
    live: LiveTwin
    realtime: bool
    """Paced to the wall (watched on the dashboard): people, not simulated officers or
    operators, act in the modules' work queues."""


class LiveModule(Protocol):
    """A service module hosted by a run."""

    name: str

    def start(self) -> None:
        """Put the module's processes on the clock and subscribe to the bus."""

    def finish(self) -> dict[str, Any]:
        """Store what is pending; the module's part of the run summary (JSON-ready)."""


def _factory(path: str) -> Callable[[RunContext], LiveModule]:
    module_name, _, attr = path.partition(":")
    factory: Callable[[RunContext], LiveModule] = getattr(importlib.import_module(module_name), attr)
    return factory


def build_live_modules(ctx: RunContext, names: Iterable[str] | None = None) -> list[LiveModule]:
    """The live modules of ``ctx.scenario``'s ``[modules.*]`` sections, in
    :data:`LIVE_MODULES` order; only ``names`` of them when given.

    Raises
    ------
    ValueError : ``names`` asks for a module the scenario has no section for, or that
        has no live host.
    """
    sections = ctx.scenario.modules
    wanted = [n for n in LIVE_MODULES if n in sections] if names is None else list(names)
    for name in wanted:
        if name not in LIVE_MODULES:
            raise ValueError(f"module {name!r} cannot run inside a twin run (live modules: "
                             f"{', '.join(LIVE_MODULES) or 'none'})")
        if name not in sections:
            raise ValueError(f"the scenario has no [modules.{name}] section")
    return [_factory(LIVE_MODULES[name])(ctx) for name in wanted]
