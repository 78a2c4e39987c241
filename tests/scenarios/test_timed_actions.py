"""The timed scenario sections against the engine's behaviour, on the Jatinegara network.

Rain lowers the speed on a link by about its factor in free flow and the speed comes
back after; a closed link lets nobody in while closed and carries traffic again after;
no car of the banned plate parity enters an odd-even corridor during its hours; an
event adds exactly its trips, leaving its place within its window.
"""

from __future__ import annotations

import tomllib
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from twin import demand
from twin.assemble import build_network, build_trips, run_seeds
from twin.runner import TwinRun
from twin.scenario import Scenario, ScenarioError, check_against_network, load_scenario
from twin.simulation import VEH_ACTIVE

ROOT = Path(__file__).resolve().parents[2]
NET = str(ROOT / "data/jakarta/jatinegara_drive.graphml.gz")
WIB = timezone(timedelta(hours=7))
RADJIMAN = "7046982976-1682844563-0"  # 397 m, two lanes, on the way below
ALONG_RADJIMAN = ["4819866924", "326484330"]  # origin and destination nodes through it


def make(duration_s: float, demand_spec: dict[str, Any], **sections: Any) -> Scenario:
    data: dict[str, Any] = {
        "scenario": {"name": "t", "start": datetime(2026, 3, 2, 6, 0, tzinfo=WIB),
                     "duration_s": duration_s, "seed": 7},
        "network": {"file": NET, "format": "graphml"},
        "demand": demand_spec,
        "store": {"url": "sqlite://"},
    }
    data.update(sections)
    return Scenario.model_validate(data)


def corridor_od(trips: float) -> dict[str, Any]:
    o, d = ALONG_RADJIMAN
    return {"kind": "od", "od": [[o, d, trips]], "vehicle_mix": {"car": 1.0}}


def test_rain_lowers_the_free_flow_speed_by_its_factor_and_it_recovers() -> None:
    cond = {"id": "rain", "links": [RADJIMAN], "start_s": 1200, "end_s": 2400,
            "speed_factor": 0.6}
    run = TwinRun(make(3600, corridor_od(240), conditions=[cond]))
    link = run.network.link_index[RADJIMAN]
    speeds: dict[str, list[float]] = {"before": [], "rain": [], "after": []}
    for t in range(2, 3600, 2):
        run.advance(t)
        if run.sim.link_vehicle_count[link] == 0:
            continue
        phase = "before" if t < 1200 else "rain" if 1300 <= t < 2400 else \
            "after" if t >= 2500 else None
        if phase:
            speeds[phase].append(float(run.sim.link_speed_mps[link]))
    summary = run.finish()
    run.close()
    before, rain, after = (np.mean(speeds[k]) for k in ("before", "rain", "after"))
    assert min(len(v) for v in speeds.values()) > 50
    assert rain / before == pytest.approx(0.6, abs=0.08)
    assert after / before == pytest.approx(1.0, abs=0.08)
    assert summary["conditions"][0]["ended_s"] == 2400.0


def test_a_closed_link_lets_nobody_in_and_carries_traffic_again_after() -> None:
    closure = {"id": "works", "links": [RADJIMAN], "start_s": 900, "end_s": 1800}
    run = TwinRun(make(2700, corridor_od(600), closures=[closure]))
    link = run.network.link_index[RADJIMAN]
    entered = {}
    for t in (900.0, 1800.0, 2700.0):
        run.advance(t)
        entered[t] = int(run.sim.link_entered[link])
        if t == 900.0:
            arrived_at_close = run.sim.n_arrived
        if t == 1800.0:
            arrived_at_reopen = run.sim.n_arrived
    summary = run.finish()
    run.close()
    assert entered[900.0] > 0                       # the link was in use
    assert entered[1800.0] == entered[900.0]        # nobody entered while closed
    assert entered[2700.0] > entered[1800.0] + 20   # traffic back after reopening
    assert arrived_at_reopen > arrived_at_close     # the diverted still arrive
    record = summary["closures"][0]
    assert 0 < record["route_changes"] <= record["trips_affected"]  # one link: once at most


def odd_even_run(enabled: bool, window: tuple[str, str] = ("06:00:00", "06:10:00")
                 ) -> tuple[TwinRun, set[int], set[int]]:
    """A run with the odd-even corridor of the library's scenario open in ``window``;
    the vehicles it bans and those seen on the corridor in the window (not counting
    those already on it when the window opened)."""
    spec = tomllib.loads((ROOT / "scenarios/jakarta_jatinegara_odd_even.toml").read_text())
    corridor = dict(spec["odd_even"][0], enabled=enabled, windows=[list(window)])
    run = TwinRun(make(900, {"kind": "random", "trips_per_hour": 4000,
                             "vehicle_mix": {"car": 0.6, "motorcycle": 0.4}},
                      odd_even=[corridor]))
    links = np.array([run.network.link_index[x] for x in corridor["links"]])
    start = datetime.fromisoformat(f"2026-03-02T{window[0]}+07:00")
    t0 = int((start - run.scenario.scenario.start).total_seconds())
    t1 = t0 + 600

    def on_corridor() -> set[int]:
        on = (run.sim.vehicle_state == VEH_ACTIVE) & np.isin(run.sim.vehicle_link, links)
        return set(np.flatnonzero(on).tolist())

    # 2 March 2026 is an even date: odd plates are banned
    banned = set(run.timed.banned(run.scenario.odd_even[0], False, float(t1)).tolist())
    run.advance(float(t0))
    there = on_corridor()
    seen: set[int] = set()
    for t in range(t0 + 1, t1 + 1):
        run.advance(float(t))
        seen |= on_corridor()
    return run, banned, seen - there


def test_odd_even_keeps_banned_plates_off_the_corridor_during_its_hours() -> None:
    run, banned, seen = odd_even_run(True)
    record = run.finish()["odd_even"][0]
    fleet = run.fleet
    run.close()
    assert banned and all(fleet.is_odd([v])[0] for v in list(banned)[:50])
    assert not banned & seen                   # no banned car on the corridor
    cars = {v for v in seen if fleet.vehicle_class[v] == demand.CLASS_CODE["car"]}
    assert cars and not any(fleet.is_odd([v])[0] for v in cars)  # even cars still drive it
    assert record["trips_affected"] > 0
    assert record["trips_affected"] == (record["rerouted"] + record["postponed"]
                                        + record["no_way_around"])
    assert record["no_way_around"] == 0        # all at the run's start: none on the road yet


def test_odd_even_opening_mid_run_diverts_the_cars_on_the_road_too() -> None:
    run, banned, seen = odd_even_run(True, ("06:05:00", "06:15:00"))
    record = run.finish()["odd_even"][0]
    run.close()
    assert record["start_s"] == 300.0 and record["rerouted"] > 0
    # only a car already on the road with no way around may still enter
    assert len(banned & seen) <= record["no_way_around"]


def test_without_the_policy_banned_plates_use_the_corridor() -> None:
    run, banned, seen = odd_even_run(False)
    summary = run.finish()
    run.close()
    assert banned & seen                       # the check above can fail
    assert summary["odd_even"] == []


def test_an_event_adds_its_trips_from_its_place_within_its_window() -> None:
    base = {"kind": "random", "trips_per_hour": 600}
    event = {"id": "concert", "origin": "325812388", "trips": 400, "start_s": 300,
             "end_s": 900}
    with_event = make(1500, base, events=[event])
    without = make(1500, base)
    net = build_network(with_event)
    trips = build_trips(with_event, net, run_seeds(7)[0])
    plain = build_trips(without, net, run_seeds(7)[0])
    mine = np.array([t.startswith("event-concert-") for t in trips.trip_ids])
    assert mine.sum() == 400 and len(trips) == len(plain) + 400
    assert (trips.origin_node[mine] == net.node_index["325812388"]).all()
    assert ((trips.depart_s[mine] >= 300) & (trips.depart_s[mine] < 900)).all()
    assert len(np.unique(trips.destination_node[mine])) > 100  # spread over the network
    assert sorted(trips.select(~mine).trip_ids) == sorted(plain.trip_ids)  # demand unchanged
    run = TwinRun(with_event)
    run.advance(1500)
    summary = run.finish()
    inserted = run.sim.insert_s[:len(trips)][mine]
    run.close()
    rec = summary["events"]["concert"]
    assert rec["trips"] == 400 and rec["departed"] > 300 and rec["arrived"] > 0
    assert np.nanmin(inserted) >= 300


def test_evening_peak_averages_one_and_is_later_and_flatter_than_the_morning() -> None:
    ev, mo = demand.EVENING_PEAK, demand.MORNING_PEAK
    assert ev.mean_multiplier(14400) == pytest.approx(1.0)
    t = np.arange(0, 14400, 1800) + 900.0
    assert (t * ev.multiplier(t)).sum() > (t * mo.multiplier(t)).sum()  # the later centre
    assert (ev.multiplier(t) == ev.multiplier(t).max()).sum() == 2  # two peak half hours


@pytest.mark.parametrize(("section", "item", "message"), [
    ("conditions", {"id": "c", "links": ["x"], "start_s": 0, "end_s": 60},
     "changes nothing"),
    ("conditions", {"id": "c", "links": ["x"], "start_s": 60, "end_s": 30,
                    "speed_factor": 0.7}, "must come after start_s"),
    ("conditions", {"id": "c", "links": ["x"], "start_s": 0, "end_s": 60, "closed": True,
                    "lanes_blocked": 1}, "not both"),
    ("closures", {"id": "w", "links": ["x"], "start_s": 7200, "end_s": 9000},
     "after the run ends"),
    ("odd_even", {"id": "o", "links": ["x"], "windows": [["10:00:00", "06:00:00"]]},
     "end must come after the start"),
    ("events", {"id": "e", "origin": "n", "trips": 10, "start_s": 0, "end_s": 7200},
     "its trips must depart within the run"),
])
def test_bad_sections_are_refused_naming_the_key(tmp_path: Path, section: str,
                                                 item: dict[str, Any], message: str) -> None:
    path = tmp_path / "s.toml"
    body = "\n".join(f"{k} = {_toml(v)}" for k, v in item.items())
    path.write_text(f'[scenario]\nname = "t"\nstart = 2026-03-02T06:00:00+07:00\n'
                    f'duration_s = 3600\n[network]\nformat = "grid"\n'
                    f'grid = {{ rows = 3, cols = 3 }}\n[demand]\ntrips_per_hour = 10\n'
                    f'[[{section}]]\n{body}\n')
    with pytest.raises(ScenarioError) as err:
        load_scenario(path)
    assert message in str(err.value) and section in str(err.value)


def _toml(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return f'"{v}"'
    if isinstance(v, list):
        return "[" + ", ".join(_toml(x) for x in v) + "]"
    return str(v)


def test_unknown_links_and_nodes_and_too_many_lanes_are_named() -> None:
    s = make(3600, {"kind": "random", "trips_per_hour": 10},
             conditions=[{"id": "c", "links": [RADJIMAN], "start_s": 0, "end_s": 60,
                          "lanes_blocked": 3}],
             closures=[{"id": "w", "links": ["nope"], "start_s": 0, "end_s": 60}],
             events=[{"id": "e", "origin": "nowhere", "trips": 1, "start_s": 0,
                      "end_s": 60}])
    with pytest.raises(ScenarioError) as err:
        check_against_network(s, build_network(s))
    text = str(err.value)
    assert "conditions.0.lanes_blocked" in text and "closures.0.links: no link 'nope'" in text
    assert "events.0.origin: node 'nowhere'" in text
