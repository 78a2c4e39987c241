"""Intervention records: the command-line form, signal arithmetic, JSON form."""

from __future__ import annotations

import numpy as np
import pytest

from twin.demand import Trips
from twin.importers.grid import grid_network
from twin.modules.prediction.interventions import (
    ClearIncidentAt,
    ClearIncidentEarlier,
    CloseLink,
    Combined,
    ExtendGreen,
    Reroute,
    SetSignalTiming,
    approach_green_phases,
    parse_intervention,
)
from twin.simulation import Simulation


@pytest.mark.parametrize(("text", "expected"), [
    ("close:r1c1-r1c2", CloseLink("r1c1-r1c2")),
    ("reroute:30%", Reroute(0.3, 300.0)),
    ("reroute:0.5:120", Reroute(0.5, 120.0)),
    ("green:r1c0-r1c1:+10", ExtendGreen("r1c0-r1c1", 10.0)),
    ("green:r1c0-r1c1:15:cycle", ExtendGreen("r1c0-r1c1", 15.0, keep_cycle=False)),
    ("signal:r1c1:40,3,20,3", SetSignalTiming("r1c1", (40.0, 3.0, 20.0, 3.0))),
    ("clear-earlier:0:900", ClearIncidentEarlier(0, 900.0)),
    ("clear-at:2:4000", ClearIncidentAt(2, 4000.0)),
    ("close:a & reroute:10%", Combined((CloseLink("a"), Reroute(0.1, 300.0)))),
])
def test_parse_intervention(text, expected):
    """Each command-line form gives its record."""
    assert parse_intervention(text) == expected


@pytest.mark.parametrize(("text", "message"), [
    ("teleport:x", "is not one of"),
    ("reroute:150%", "share must be in"),
    ("reroute:0.3:-5", "period_s must be > 0"),
    ("green:l:abc", "must be a number"),
    ("green:l:-3", "extra green must be > 0"),
    ("clear-earlier:x:10", "clear-earlier:x:10"),
    ("close", "is not one of"),
])
def test_parse_intervention_refuses_bad_forms(text, message):
    """A malformed form raises ValueError naming the problem."""
    with pytest.raises(ValueError, match=message):
        parse_intervention(text)


@pytest.fixture(scope="module")
def sim() -> Simulation:
    """A 3 x 3 grid: one signal, at r1c1, with phases 30/3/30/3 s."""
    return Simulation(grid_network(3, 3), Trips.empty(), seed=0)


def test_extend_green_keeps_the_cycle_by_taking_from_the_other_green(sim):
    """The approach's green grows by the extra seconds, the crossing green shrinks by
    as much, amber phases stay, the cycle stays."""
    program, green = approach_green_phases(sim, "r1c0-r1c1")
    assert sim.network.signals.program_ids[program] == "r1c1" and len(green) == 1
    before, _ = sim.signal_timing(program)
    _, after = ExtendGreen("r1c0-r1c1", 10.0).timing(sim)
    other = 2 - green[0]
    assert after[green[0]] == before[green[0]] + 10.0
    assert after[other] == before[other] - 10.0
    assert list(after[[1, 3]]) == list(before[[1, 3]])
    assert after.sum() == pytest.approx(before.sum())
    _, longer = ExtendGreen("r1c0-r1c1", 10.0, keep_cycle=False).timing(sim)
    assert longer.sum() == pytest.approx(before.sum() + 10.0)


def test_extend_green_refuses_what_the_plan_cannot_give(sim):
    """Taking more than the other green has above the minimum is refused, as is a link
    without a signal."""
    with pytest.raises(ValueError, match="to give"):
        ExtendGreen("r1c0-r1c1", 25.0, min_green_s=7.0).timing(sim)
    with pytest.raises(ValueError, match="no signal controls"):
        ExtendGreen("r0c0-r0c1", 5.0).timing(sim)


def test_to_dict_is_json_ready():
    """Records describe themselves with their type and fields, nested ones included."""
    combined = Combined((CloseLink("a"), SetSignalTiming("p", (30.0, 3.0))))
    assert combined.to_dict() == {
        "type": "Combined",
        "parts": [{"type": "CloseLink", "link": "a"},
                  {"type": "SetSignalTiming", "program": "p", "phase_duration_s": [30.0, 3.0],
                   "offset_s": None}],
    }
    assert np.isclose(Reroute(0.3).to_dict()["share"], 0.3)
