"""What-if forks: isolation from the live twin, determinism, and interventions that act as theory says."""

from __future__ import annotations

import numpy as np
import numpy.testing as npt
import pytest

from twin.demand import od_trips, random_trips
from twin.importers.grid import grid_network
from twin.modules.prediction.interventions import (
    ClearIncidentAt,
    ClearIncidentEarlier,
    CloseLink,
    Combined,
    ExtendGreen,
    Reroute,
)
from twin.modules.prediction.whatif import FuturePlan, PlannedIncident, WhatIf
from twin.modules.prediction.whatif_kpis import KpiSampler
from twin.network import Network
from twin.simulation import Simulation

CARS = {"car": 1.0}


@pytest.fixture(scope="module")
def grid() -> Network:
    """A 3 x 4 two-lane grid with signals at its four-way junctions."""
    return grid_network(3, 4, block_m=150.0, lanes=2)


def _grid_sim(grid: Network) -> Simulation:
    trips = random_trips(grid, n_trips=1200, duration_s=1200.0, rng=np.random.default_rng(7),
                         vehicle_mix=CARS)
    sim = Simulation(grid, trips, seed=7)
    sim.add_loop_detector("loop", "r1c1-r1c2", 100.0)
    return sim


def _corridor() -> tuple[Simulation, int]:
    """A 900 m two-lane road loaded at 2,400 veh/h; at 300 s a crash blocks one lane of
    its middle link. Returns the simulation at 400 s and the incident id."""
    line = grid_network(1, 4, block_m=300.0, lanes=2, signals=False)
    trips = od_trips(line, {("r0c0", "r0c3"): 1200.0}, duration_s=1800.0,
                     rng=np.random.default_rng(1), vehicle_mix=CARS)
    sim = Simulation(line, trips, seed=1)
    sim.run(300.0)
    incident = sim.open_incident("r0c1-r0c2", 1)
    sim.run(400.0)
    return sim, incident


def _records(sim: Simulation) -> tuple[np.ndarray, ...]:
    cross = sim.take_crossings()
    counts = sim.take_detector_counts()
    return (np.array(sim.arrive_s), np.array(sim.vehicle_pos_m), np.array(sim.link_entered),
            cross.vehicle, cross.time_s, cross.speed_mps, counts.count, counts.speed_sum_mps)


def test_forks_leave_the_live_twin_untouched(grid):
    """Forking and trying every kind of intervention changes nothing in the live twin: its
    records from then on equal those of the same twin that never forked."""
    live, plain = _grid_sim(grid), _grid_sim(grid)
    for sim in (live, plain):
        sim.run(300.0)
        sim.open_incident("r1c1-r1c2", 1)
        sim.run(400.0)
    config, incidents = live.config, live.open_incidents
    candidates = [CloseLink("r1c1-r1c2"), Reroute(0.5, 60.0), ClearIncidentAt(0, 500.0),
                  ExtendGreen("r1c0-r1c1", 10.0)]
    result = WhatIf(live).evaluate(candidates, 600.0, FuturePlan({0: 900.0}))
    assert len(result.ranked) == len(candidates)
    assert live.time_s == 400.0 and live.config == config and live.open_incidents == incidents
    assert live.closed_links == ()
    for sim in (live, plain):
        sim.run(1500.0)
    for a, b in zip(_records(live), _records(plain), strict=True):
        npt.assert_array_equal(a, b)


def test_do_nothing_fork_is_the_plain_continuation():
    """The do-nothing fork's KPIs (with the planned clearance) equal those of the live twin
    simply run on with the same clearance, to the bit."""
    sim, incident = _corridor()
    fork = WhatIf(sim, sample_s=10.0).run_fork(sim.snapshot(), None, 1200.0,
                                               FuturePlan({incident: 900.0}))
    sampler = KpiSampler(sim)
    for t in np.arange(410.0, 1601.0, 10.0):
        sim.run(float(t))
        sampler.sample()
        if t == 900.0:
            sim.clear_incident(incident)
    assert sampler.result() == fork
    assert fork.trips_completed > 0 and fork.total_delay_veh_h > 0


def test_closing_the_only_road_to_a_destination_lowers_throughput():
    """On a line every trip needs the last link: closing it completes far fewer trips,
    leaves vehicles stuck, and ranks below doing nothing."""
    sim, _ = _corridor()
    result = WhatIf(sim).evaluate([CloseLink("r0c2-r0c3")], 1200.0)
    (option,) = result.ranked
    assert option.kpis is not None and option.gain is not None
    assert option.kpis.trips_completed < result.baseline.trips_completed / 2
    assert option.gain.extra_trips_completed < 0 and option.gain.fewer_stuck_veh < 0
    assert option.gain.delay_saved_veh_h < 0
    assert result.best is None and result.recommendation.startswith("Do nothing")


def test_clearing_the_incident_earlier_lowers_the_delay():
    """Theory: the queue behind a lane-blocking crash grows at demand minus the reduced
    capacity while it stays and dissolves once cleared, so clearing it 15 minutes earlier
    must save delay, shorten trips and be the recommendation."""
    sim, incident = _corridor()
    result = WhatIf(sim).evaluate([ClearIncidentEarlier(incident, 900.0)], 1800.0,
                                  FuturePlan({incident: 1500.0}))
    (option,) = result.ranked
    assert option.gain is not None and option.gain.travel_time_saved_s is not None
    assert option.gain.delay_saved_veh_h > 0.2 * result.baseline.total_delay_veh_h
    assert option.gain.travel_time_saved_s > 0
    assert option.gain.speed_gain_mps is not None and option.gain.speed_gain_mps > 0
    assert result.best is option
    assert option.label in result.recommendation


def test_ranking_follows_the_kpis(grid):
    """Ranked best first by delay saved; each gain is the do-nothing KPI minus the option's
    (the sign convention); a candidate that cannot apply is listed as failed."""
    sim = _grid_sim(grid)
    sim.run(300.0)
    incident = sim.open_incident("r1c1-r1c2", 2)
    sim.run(400.0)
    candidates = [CloseLink("r1c0-r1c1"), ClearIncidentEarlier(incident, 300.0),
                  Reroute(0.3, 120.0), ExtendGreen("r1c0-r1c1", 10.0),
                  ExtendGreen("r0c0-r0c1", 10.0),  # a corner: no signal
                  Combined((ClearIncidentEarlier(incident, 300.0), Reroute(0.3, 120.0)))]
    result = WhatIf(sim).evaluate(candidates, 900.0, FuturePlan({incident: 1000.0}))
    saved = [o.gain.delay_saved_veh_h for o in result.ranked if o.gain is not None]
    assert len(saved) == 5 and saved == sorted(saved, reverse=True)
    base = result.baseline
    for o in result.ranked:
        assert o.kpis is not None and o.gain is not None
        assert o.gain.delay_saved_veh_h == pytest.approx(base.total_delay_veh_h
                                                         - o.kpis.total_delay_veh_h)
        assert o.gain.extra_trips_completed == o.kpis.trips_completed - base.trips_completed
        assert o.gain.fewer_stuck_veh == base.stuck_veh_end - o.kpis.stuck_veh_end
    assert [o.label for o in result.failed] == ["+10 s green for r0c0-r0c1 (same cycle)"]
    assert "no signal" in (result.failed[0].error or "")
    assert (result.best is result.ranked[0]) == (saved[0] > 0)
    rows = result.format_table().splitlines()[4:4 + len(result.ranked)]
    for rank, (row, o) in enumerate(zip(rows, result.ranked, strict=True), 1):
        assert row.split()[0] == str(rank) and o.label[:40] in row
    as_dict = result.to_dict()
    assert [o["label"] for o in as_dict["ranked"]] == [o.label for o in result.ranked]


def test_planned_incident_opens_and_clears_inside_the_fork():
    """A scheduled incident in the plan opens in every fork at its time and is cleared
    after its duration: it costs delay against a fork without it."""
    line = grid_network(1, 4, block_m=300.0, lanes=2, signals=False)
    trips = od_trips(line, {("r0c0", "r0c3"): 800.0}, duration_s=1800.0,
                     rng=np.random.default_rng(4), vehicle_mix=CARS)
    sim = Simulation(line, trips, seed=4)
    sim.run(200.0)
    whatif = WhatIf(sim)
    state = sim.snapshot()
    without = whatif.run_fork(state, None, 1200.0)
    crash = FuturePlan(incidents=(PlannedIncident("r0c1-r0c2", 400.0, 600.0, 2),))
    with_crash = whatif.run_fork(state, None, 1200.0, crash)
    assert with_crash.total_delay_veh_h > 2 * without.total_delay_veh_h
    assert with_crash.trips_completed < without.trips_completed
    assert sim.open_incidents == {}


def test_clear_earlier_needs_a_planned_clearance():
    """Without a planned clearance "earlier" means nothing: the candidate fails, saying so."""
    sim, incident = _corridor()
    result = WhatIf(sim).evaluate([ClearIncidentEarlier(incident, 600.0)], 600.0)
    assert result.ranked == () and "no planned clearance" in (result.failed[0].error or "")
    with pytest.raises(ValueError, match="horizon_s"):
        WhatIf(sim).run_fork(sim.snapshot(), None, 0.0)
