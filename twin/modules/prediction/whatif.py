"""What-if forks of the twin: try interventions on copies of its current state and rank them.

:class:`WhatIf` takes a snapshot of the live :class:`~twin.simulation.Simulation`
(:meth:`~twin.simulation.Simulation.snapshot`, a deep copy) and restores it into a
*second* simulation built from the same network, trips, seed and engine settings, the
fork. The live twin is only read (one snapshot), never stepped or restored, so it is
not disturbed; and since the snapshot holds the random generator's state too, a fork
is deterministic: the do-nothing fork is exactly the live twin's own continuation.

Each candidate runs in its own fork from the same snapshot for ``horizon_s``
simulated seconds (30-60 minutes), with :class:`FuturePlan` (what the operators
expect to happen anyway: when each open incident will be cleared, incidents
scheduled to open) applied to every fork alike. The KPIs of each fork
(:mod:`.whatif_kpis`) are compared with the do-nothing fork's; the candidates are
ranked by vehicle-hours of delay saved (ties: more trips completed, then fewer
vehicles stuck), and the best one is recommended when it saves any delay.
"""

from __future__ import annotations

import heapq
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from twin.simulation import Simulation, SimulationState

from .interventions import ForkContext, Intervention
from .whatif_kpis import ForkKpis, KpiGain, KpiSampler

__all__ = ["FuturePlan", "OptionResult", "PlannedIncident", "WhatIf", "WhatIfResult"]


@dataclass(frozen=True)
class PlannedIncident:
    """An incident expected to open at ``start_s`` and last ``duration_s`` (scenario schedule)."""

    link: str
    start_s: float
    duration_s: float
    lanes_blocked: int = 1


@dataclass(frozen=True)
class FuturePlan:
    """What happens in every fork unless an intervention changes it.

    Attributes
    ----------
    clearances : mapping, open incident id -> time (s) it is expected to be cleared
        (an open incident not named stays open through the window)
    incidents : incidents expected to open in the window
    """

    clearances: dict[int, float] = field(default_factory=dict)
    incidents: tuple[PlannedIncident, ...] = ()


@dataclass(frozen=True)
class OptionResult:
    """One candidate's fork: its KPIs, its gain over doing nothing, or why it could not run."""

    intervention: Intervention
    kpis: ForkKpis | None
    gain: KpiGain | None
    error: str | None = None
    wall_s: float = 0.0

    @property
    def label(self) -> str:
        """The intervention's name."""
        return self.intervention.label

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready result."""
        return {
            "label": self.label,
            "intervention": self.intervention.to_dict(),
            "kpis": None if self.kpis is None else self.kpis.to_dict(),
            "gain": None if self.gain is None else self.gain.to_dict(),
            "error": self.error,
            "wall_s": round(self.wall_s, 4),
        }


def _rank_key(option: OptionResult) -> tuple[float, float, float]:
    g = option.gain
    assert g is not None
    return (-g.delay_saved_veh_h, -float(g.extra_trips_completed), -float(g.fewer_stuck_veh))


@dataclass(frozen=True)
class WhatIfResult:
    """The do-nothing fork and every candidate, best first (see the module docstring).

    Attributes
    ----------
    start_s, horizon_s : the window, simulation seconds
    baseline : KPIs of the do-nothing fork
    ranked : candidates that ran, best first
    failed : candidates that could not be applied (with the reason)
    sim_s_per_wall_s : simulated seconds per wall second over all forks (real-time factor)
    """

    start_s: float
    horizon_s: float
    baseline: ForkKpis
    ranked: tuple[OptionResult, ...]
    failed: tuple[OptionResult, ...] = ()
    sim_s_per_wall_s: float = math.nan

    @property
    def best(self) -> OptionResult | None:
        """The recommended intervention: the top one if it saves delay, else None (do nothing)."""
        if self.ranked and self.ranked[0].gain is not None \
                and self.ranked[0].gain.delay_saved_veh_h > 0:
            return self.ranked[0]
        return None

    @property
    def recommendation(self) -> str:
        """One sentence for the operator."""
        best = self.best
        minutes = self.horizon_s / 60
        if best is None or best.gain is None:
            return f"Do nothing: no candidate lowers the delay over the next {minutes:g} min."
        g = best.gain
        tt = "" if g.travel_time_saved_s is None else (
            f", mean trip {abs(g.travel_time_saved_s):.0f} s "
            f"{'shorter' if g.travel_time_saved_s >= 0 else 'longer'}")
        return (f"Recommended: {best.label}: saves {g.delay_saved_veh_h:.1f} vehicle-hours of "
                f"delay over the next {minutes:g} min ({g.extra_trips_completed:+d} trips "
                f"completed{tt}).")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready result (sign convention: every gain is positive when better)."""
        best = self.best
        return {
            "start_s": self.start_s,
            "horizon_s": self.horizon_s,
            "baseline": self.baseline.to_dict(),
            "ranked": [o.to_dict() for o in self.ranked],
            "failed": [o.to_dict() for o in self.failed],
            "recommended": None if best is None else best.label,
            "recommendation": self.recommendation,
            "sim_s_per_wall_s": round(self.sim_s_per_wall_s, 1),
            "sign_convention": "gains are improvements over doing nothing: positive = better",
        }

    def format_table(self) -> str:
        """The ranked table, KPIs in planner units (minutes, km/h, vehicle-hours)."""
        def fmt(x: float | None, scale: float = 1.0, spec: str = ".1f") -> str:
            return "-" if x is None else format(x * scale, spec)

        head = (f"{'rank':>4}  {'intervention':<48} {'delay h':>8} {'saved h':>8} "
                f"{'trips':>6} {'mean min':>8} {'stuck':>6} {'km/h':>6}")
        lines = [f"what-if from t={self.start_s:g} s over {self.horizon_s / 60:g} min "
                 f"(gains vs do nothing; positive = better)", head, "-" * len(head)]

        def row(rank: str, label: str, k: ForkKpis, saved: float | None) -> str:
            return (f"{rank:>4}  {label[:48]:<48} {k.total_delay_veh_h:>8.1f} "
                    f"{fmt(saved):>8} {k.trips_completed:>6d} "
                    f"{fmt(k.mean_travel_time_s, 1 / 60):>8} {k.stuck_veh_end:>6d} "
                    f"{fmt(k.mean_speed_mps, 3.6):>6}")

        lines.append(row("-", "do nothing", self.baseline, 0.0))
        for i, o in enumerate(self.ranked, 1):
            assert o.kpis is not None and o.gain is not None
            lines.append(row(str(i), o.label, o.kpis, o.gain.delay_saved_veh_h))
        for o in self.failed:
            lines.append(f"{'x':>4}  {o.label}: not applicable: {o.error}")
        lines.append(self.recommendation)
        if math.isfinite(self.sim_s_per_wall_s):
            lines.append(f"forks ran at {self.sim_s_per_wall_s:,.0f}x real time")
        return "\n".join(lines)


class WhatIf:
    """Forks of a live simulation, to compare interventions over a horizon.

    Parameters
    ----------
    live : Simulation, the twin's simulation; only :meth:`~Simulation.snapshot` is
        called on it.
    sample_s : float, seconds between KPI samples in a fork (delay, mean speed).

    Notes
    -----
    The fork simulation is built once, on first use (routes, movement graph: about a
    quarter of a second for the Jatinegara network), and reused for every fork.
    """

    def __init__(self, live: Simulation, *, sample_s: float = 10.0) -> None:
        if not (math.isfinite(sample_s) and sample_s > 0):
            raise ValueError(f"sample_s must be a finite number > 0, got {sample_s!r}")
        self.live = live
        self.sample_s = float(sample_s)
        self._fork: Simulation | None = None

    def _fork_sim(self) -> Simulation:
        if self._fork is None:
            live = self.live
            self._fork = Simulation(live.network, live.trips, seed=live.seed, config=live.config)
            self._fork.load_kernels()
        return self._fork

    def run_fork(
        self,
        state: SimulationState,
        intervention: Intervention | None,
        horizon_s: float,
        plan: FuturePlan | None = None,
    ) -> ForkKpis:
        """Restore ``state`` into the fork, apply ``intervention`` (None: do nothing) and
        the ``plan``, run ``horizon_s`` seconds and return the KPIs.

        Raises
        ------
        ValueError
            When the intervention cannot be applied (unknown link, no signal, ...).
        """
        if not (math.isfinite(horizon_s) and horizon_s > 0):
            raise ValueError(f"horizon_s must be a finite number > 0, got {horizon_s!r}")
        plan = plan or FuturePlan()
        sim = self._fork_sim()
        sim.config = self.live.config
        sim.restore(state)
        start = float(sim.time_s)
        end = start + float(horizon_s)
        ctx = ForkContext(sim, start, end, dict(plan.clearances))
        for spec in plan.incidents:
            if start <= spec.start_s < end:
                ctx.at(spec.start_s, _opener(spec, ctx))
        if intervention is not None:
            intervention.apply(ctx)
        for incident_id, at_s in ctx.clearances.items():
            if at_s < end:
                ctx.at(at_s, _clearer(incident_id))
        return self._advance(ctx)

    def _advance(self, ctx: ForkContext) -> ForkKpis:
        sim, end = ctx.sim, ctx.end_s
        sampler = KpiSampler(sim)
        next_sample = ctx.start_s + self.sample_s
        while True:
            while ctx.actions and ctx.actions[0][0] <= sim.time_s + 1e-9:
                heapq.heappop(ctx.actions)[2](sim)
            if sim.time_s >= end - 1e-9:
                break
            target = min(next_sample, end, ctx.actions[0][0] if ctx.actions else math.inf)
            sim.run(target)
            if sim.time_s >= min(next_sample, end) - 1e-9:
                sampler.sample()
                next_sample += self.sample_s
        return sampler.result()

    def evaluate(
        self,
        candidates: Sequence[Intervention],
        horizon_s: float,
        plan: FuturePlan | None = None,
        *,
        state: SimulationState | None = None,
    ) -> WhatIfResult:
        """Fork the live twin's current state (or ``state``) once per candidate and rank them.

        A candidate that cannot be applied is reported in ``failed`` with the reason.
        """
        state = self.live.snapshot() if state is None else state
        wall0 = time.perf_counter()
        forks = 1
        baseline = self.run_fork(state, None, horizon_s, plan)
        ok: list[OptionResult] = []
        failed: list[OptionResult] = []
        for c in candidates:
            t0 = time.perf_counter()
            try:
                kpis = self.run_fork(state, c, horizon_s, plan)
            except ValueError as exc:
                failed.append(OptionResult(c, None, None, str(exc), time.perf_counter() - t0))
                continue
            forks += 1
            ok.append(OptionResult(c, kpis, kpis.gain_over(baseline), None,
                                   time.perf_counter() - t0))
        wall = time.perf_counter() - wall0
        ranked = tuple(sorted(ok, key=_rank_key))
        return WhatIfResult(
            start_s=float(state.time_s), horizon_s=float(horizon_s), baseline=baseline,
            ranked=ranked, failed=tuple(failed),
            sim_s_per_wall_s=forks * float(horizon_s) / wall if wall > 0 else math.inf,
        )


def _opener(spec: PlannedIncident, ctx: ForkContext) -> Callable[[Simulation], None]:
    def act(sim: Simulation) -> None:
        incident_id = sim.open_incident(spec.link, spec.lanes_blocked)
        ctx.at(spec.start_s + spec.duration_s, _clearer(incident_id))
    return act


def _clearer(incident_id: int) -> Callable[[Simulation], None]:
    def act(sim: Simulation) -> None:
        if incident_id in sim.open_incidents:
            sim.clear_incident(incident_id)
    return act
