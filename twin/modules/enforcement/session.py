"""The ETLE module of one run, batch (``kota enforce``) or live (inside a ``kota run``).

:class:`EtleSession` wires :class:`~.service.Enforcement` to a run's store and clock with
the scenario's ``[modules.enforcement]`` settings and the run's demo keys, counts what
each ingested batch did, and, when asked, puts the simulated people on the clock:
officers working the verification queue, owners answering letters, an officer reviewing
disputes, and the simulated bank paying through the bridge's HTTP callback endpoint (or
directly). Both :func:`~.scenario_run.run_enforcement` and
:class:`~.live.EnforcementLive` use it, so the two paths run the same code.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

from twin.clock import Clock
from twin.observations import Observation
from twin.plugins import ADAPTERS, load_plugin
from twin.store import Store

from .bank import SimulatedBank, direct_delivery, http_delivery
from .people import officer, owners
from .registry import Registry
from .service import Enforcement
from .settings import ScenarioEnforcement

__all__ = ["EtleSession", "demo_keys"]


def demo_keys(seed: int) -> tuple[bytes, bytes]:
    """The demo pseudonym key and bank callback secret of a run with ``seed``."""
    return f"kota-demo-pseudonym-{seed}".encode(), f"kota-demo-callback-{seed}".encode()


class EtleSession:
    """Enforcement over one run's store and clock, with its batch counts.

    Parameters
    ----------
    store : Store, the run's store
    clock : Clock, the run's clock (timers, transition times, simulated people)
    registry : Registry, the registration data (may grow while the run goes on)
    settings : ScenarioEnforcement, the scenario's validated section
    seed : int, the scenario's seed (demo keys, simulated people)
    consumer : str, name of the detector's stream checkpoint

    Attributes
    ----------
    enf : Enforcement
    cases_created, duplicates : counts over every batch ingested
    bank : SimulatedBank or None, once :meth:`start_people` ran
    """

    def __init__(self, store: Store, clock: Clock, registry: Registry,
                 settings: ScenarioEnforcement, *, seed: int, consumer: str) -> None:
        key, self._secret = demo_keys(seed)
        self.settings = settings
        self.seed = seed
        self.enf = Enforcement(store, clock, registry, settings, pseudonym_key=key,
                               callback_secret=self._secret, consumer=consumer)
        self.cases_created = 0
        self.duplicates = 0
        self.bank: SimulatedBank | None = None
        self._server: Any = None

    def ingest(self, observations: Sequence[Observation]) -> None:
        """Run one batch through detection into cases and count it."""
        if observations:
            r = self.enf.ingest(observations)
            self.cases_created += r.new_cases
            self.duplicates += r.duplicates

    def start_people(self) -> None:
        """Put the simulated officers, owners and bank on the clock (callback server
        started when ``callback = "http"``; :meth:`close` stops it)."""
        enf, settings, clock = self.enf, self.settings, self.enf.clock
        if settings.callback == "http":  # the bridge's endpoint, found by name (DESIGN.md arrows)
            self._server = load_plugin(ADAPTERS, "bank_callback")(enf.gateway).start()
            deliver = http_delivery(self._server.url)
        else:
            deliver = direct_delivery(enf.gateway)
        rng = random.Random(self.seed)
        self.bank = SimulatedBank(clock, self._secret, deliver, settings.bank, seed=self.seed)
        enf.workflow.listeners.append(self.bank.on_case)
        enf.workflow.listeners.append(owners(enf, settings.owners, settings.officers, rng))
        for k in range(settings.officers.count):
            clock.process(officer(enf, settings.officers, f"penyidik-{k + 1}",
                                  random.Random(rng.random())))

    def summary(self) -> dict[str, Any]:
        """The module's counts, the batches' counts and the bank's callbacks (JSON-ready)."""
        enf = self.enf
        summary = enf.summary()
        summary.update({
            "cases_created": self.cases_created, "duplicate_violations": self.duplicates,
            "bank_callbacks": dict(sorted(self.bank.results.items())) if self.bank else {},
            "drivers_in_penalty": enf.tar.drivers_in_penalty(enf.clock.now),
            "callback": self.settings.callback if self.bank else None,
            "feed": self.settings.feed.source,
        })
        return summary

    def close(self) -> None:
        """Stop the callback server, if one runs."""
        if self._server is not None:
            self._server.stop()
            self._server = None
