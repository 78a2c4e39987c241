"""Service modules hosted by a twin run: found by section, started on the run's clock,
fed by its bus, summarised at the end."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from twin import module_host
from twin.module_host import RunContext
from twin.observations import ObservationKind
from twin.runner import TwinRun
from twin.scenario import load_scenario

GRID = Path(__file__).resolve().parents[2] / "scenarios" / "grid_small.toml"


class DetectorTally:
    """A minimal service module: counts what the run's bus carries, by kind."""

    name = "tally"

    def __init__(self, ctx: RunContext) -> None:
        self.ctx = ctx
        self.seen: list[tuple[float, str]] = []
        self.started_at_s: float | None = None

    def start(self) -> None:
        self.started_at_s = float(self.ctx.clock.env.now)
        self.ctx.bus.subscribe_callback(
            "#", lambda o: self.seen.append((self.ctx.clock.now_s, o.kind.value)))

    def finish(self) -> dict[str, Any]:
        return {"observations": len(self.seen), "section": dict(self.ctx.scenario.modules["tally"])}


@pytest.fixture
def tally_registered(monkeypatch):
    monkeypatch.setitem(module_host.LIVE_MODULES, "tally", f"{__name__}:DetectorTally")


def _scenario(with_section: bool):
    s = load_scenario(GRID)
    s = s.model_copy(update={"scenario": s.scenario.model_copy(update={"duration_s": 900.0})})
    return s.model_copy(update={"modules": {**s.modules, "tally": {"note": "x"}}}) if with_section else s


def test_a_scenario_section_runs_its_module_on_the_runs_clock_and_bus(tally_registered):
    run = TwinRun(_scenario(True), store_url="sqlite://")
    tally = run.module("tally")
    assert isinstance(tally, DetectorTally) and tally.started_at_s is None
    result = run.run(chunk_s=300.0)
    run.close()
    assert tally.started_at_s == 0.0
    stored = result.summary["observations_stored"]
    assert len(tally.seen) == stored  # what the store took, each once, as it happened
    kinds = [k for _t, k in tally.seen]
    assert kinds.count(ObservationKind.DETECTOR_INTERVAL.value) > 0
    times = [t for t, _k in tally.seen]
    assert times == sorted(times) and 0 < times[-1] <= 900.0
    assert result.summary["modules"] == {"tally": {"observations": stored,
                                                   "section": {"note": "x"}}}


def test_without_the_section_or_when_left_out_no_module_runs(tally_registered):
    plain = TwinRun(_scenario(False), store_url="sqlite://")
    assert plain.modules == [] and plain.module("tally") is None
    plain.close()
    off = TwinRun(_scenario(True), store_url="sqlite://", modules=())
    assert off.modules == []
    assert "modules" not in off.run(chunk_s=900.0).summary
    off.close()


def test_asking_for_a_module_that_cannot_run_live_says_so(tally_registered):
    with pytest.raises(ValueError, match="has no \\[modules.tally\\] section"):
        TwinRun(_scenario(False), store_url="sqlite://", modules=["tally"])
    with pytest.raises(ValueError, match="module 'nope' cannot run inside a twin run"):
        TwinRun(_scenario(True), store_url="sqlite://", modules=["nope"])
