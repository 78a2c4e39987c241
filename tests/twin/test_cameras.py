"""Virtual cameras driven by the engine: what they report against what the vehicles did."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from twin.bus import Bus
from twin.cameras import VirtualCameras
from twin.cameras.plate_reading import read_plate
from twin.demand import TripRecord, Trips
from twin.importers.grid import grid_network
from twin.network import Network
from twin.observations import Observation, ObservationKind
from twin.scenario import CameraSpec, PlateReadSpec
from twin.simulation import Simulation, Trajectories
from twin.vehicles import Fleet, parse_plate

WIB = timezone(timedelta(hours=7))
START = datetime(2026, 3, 2, 7, 0, tzinfo=WIB)
ROUTE = ["r1c0-r1c1", "r1c1-r1c2", "r1c2-r1c3"]  # through the signals at r1c1 and r1c2
EXACT = PlateReadSpec(misread_share=0.0, unreadable_share=0.0, low_confidence_share=0.0)
ASPECT = {"G": "green", "g": "green_yield", "y": "amber", "r": "red"}


@dataclass
class World:
    net: Network
    sim: Simulation
    cams: VirtualCameras
    fleet: Fleet
    seen: list[Observation]
    traj: Trajectories | None = None

    def reads(self, camera: str) -> list[Observation]:
        return [o for o in self.seen if o.kind is ObservationKind.PLATE_READ
                and o.source_id == camera]

    def alerts(self, camera: str) -> list[Observation]:
        return [o for o in self.seen if o.kind is ObservationKind.INCIDENT_REPORT
                and o.source_id == camera]

    def run(self, until_s: float, chunk_s: float = 60.0) -> None:
        while self.sim.time_s < until_s - 1e-9:
            self.sim.run(min(until_s, self.sim.time_s + chunk_s))
            self.cams.sample()


def corridor_trips(net: Network, headway_s: float, until_s: float, seed: int) -> Trips:
    """Cars (and a fifth motorcycles) along ROUTE, Poisson arrivals."""
    rng = np.random.default_rng(seed)
    records, t, i = [], 0.0, 0
    while t < until_s:
        cls = "car" if rng.random() < 0.8 else "motorcycle"
        records.append(TripRecord(f"t{i}", cls, t, route=ROUTE))
        t += float(rng.exponential(headway_s))
        i += 1
    return Trips.from_records(net, records)


def world(cameras: list[CameraSpec], *, headway_s: float = 2.0, until_s: float = 1200.0,
          seed: int = 1, reads: PlateReadSpec = EXACT, scope: str = "",
          trace: bool = False) -> World:
    net = grid_network(3, 4, lanes=2)
    trips = corridor_trips(net, headway_s, until_s, seed)
    sim = Simulation(net, trips, seed=seed)
    if trace:
        sim.trace(range(len(trips)))
    bus = Bus()
    seen: list[Observation] = []
    bus.subscribe_callback("#", seen.append)
    fleet = Fleet(trips.vehicle_class, seed=seed)
    cams = VirtualCameras(sim, net, bus, START, cameras, fleet=fleet, plate_reads=reads,
                          seed=seed, event_scope=scope)
    return World(net, sim, cams, fleet, seen)


@pytest.fixture(scope="module")
def corridor() -> World:
    """Heavy traffic along the corridor for 25 minutes, every vehicle traced."""
    w = world([
        CameraSpec(id="speed-a", type="speed", link="r1c0-r1c1", pos_m=100.0,
                   section_exit="speed-b"),
        CameraSpec(id="speed-b", type="speed", link="r1c2-r1c3", pos_m=100.0,
                   speed_limit_kmh=40.0),
        CameraSpec(id="red", type="red_light", link="r1c0-r1c1"),
        CameraSpec(id="anpr-kerb", type="anpr", link="r1c1-r1c2", pos_m=150.0, lanes=[0]),
    ], trace=True)
    w.run(1500.0)
    w.traj = w.sim.take_trajectories()
    assert w.sim.n_arrived == w.sim.n_vehicles
    return w


def passing(w: World, vehicle: int, link: str, pos_m: float) -> tuple[float, float]:
    """When ``vehicle``'s front passed ``pos_m`` on ``link`` and how fast, from its
    trajectory (end-of-step samples, interpolated as the engine's loops do)."""
    tr = w.traj
    assert tr is not None
    k = w.net.link_index[link]
    rows = np.flatnonzero((tr.vehicle == vehicle) & (tr.link == k))
    pos, t, v = tr.pos_m[rows], tr.time_s[rows], tr.speed_mps[rows]
    j = int(np.flatnonzero(pos >= pos_m)[0])
    assert j > 0, "the vehicle entered the link beyond the camera"
    f = (pos_m - pos[j - 1]) / (pos[j] - pos[j - 1])
    return float(t[j - 1] + f * (t[j] - t[j - 1])), float(v[j - 1] + f * (v[j] - v[j - 1]))


def sim_s(obs: Observation) -> float:
    return (obs.observed_at - START).total_seconds()


def test_speed_camera_reports_the_speed_on_the_vehicles_trajectory(corridor):
    reads = corridor.reads("speed-a")
    assert len(reads) == corridor.sim.n_vehicles  # everyone passed, everyone was read
    speeds = []
    for obs in reads:
        v = corridor.fleet.vehicle_of(obs.payload["plate"])
        assert v is not None
        t, speed = passing(corridor, v, "r1c0-r1c1", 100.0)
        assert sim_s(obs) == pytest.approx(t, abs=1e-6)
        assert speed - 1e-3 <= obs.payload["speed_mps"] <= speed  # cut to mm/s, never up
        assert obs.payload["speed_limit_mps"] == pytest.approx(13.89)  # the grid's limit
        assert obs.payload["vehicle_class"] in ("car", "motorcycle")
        assert obs.location.link_id == "r1c0-r1c1" and obs.location.pos_m == 100.0
        speeds.append(obs.payload["speed_mps"])
    assert max(speeds) - min(speeds) > 2.0  # the speeds differ: they are the vehicles'
    limits = {o.payload["speed_limit_mps"] for o in corridor.reads("speed-b")}
    assert limits == {round(40 / 3.6, 3)}


def test_section_average_is_length_over_travel_time_between_gantries(corridor):
    entries = {o.event_id: o for o in corridor.reads("speed-a")}
    exits = [o for o in corridor.reads("speed-b") if "section_avg_speed_mps" in o.payload]
    assert len(exits) == corridor.sim.n_vehicles
    for obs in exits:
        p = obs.payload
        entry = entries[p["section_entry_event_id"]]
        assert entry.payload["plate"] == p["plate"] and p["section_id"] == "speed-a>speed-b"
        assert p["section_length_m"] == 400.0  # 100 m left of the first block, 200, then 100
        v = corridor.fleet.vehicle_of(p["plate"])
        t_in, _ = passing(corridor, v, "r1c0-r1c1", 100.0)
        t_out, _ = passing(corridor, v, "r1c2-r1c3", 100.0)
        assert p["section_travel_s"] == pytest.approx(t_out - t_in, abs=1e-3)
        assert p["section_avg_speed_mps"] == pytest.approx(400.0 / (t_out - t_in), abs=1e-3)
    assert not any("section_avg_speed_mps" in o.payload for o in corridor.reads("speed-a"))


def test_red_light_camera_reports_the_signal_the_engine_showed_at_the_crossing(corridor):
    """Each read's signal state is the program's state in the step the vehicle moved
    from the camera's link onto the next one; every such move is read once."""
    net, tr = corridor.net, corridor.traj
    assert tr is not None
    a, b = net.link_index["r1c0-r1c1"], net.link_index["r1c1-r1c2"]
    program = net.signals.program_ids.index("r1c1")
    reads = corridor.reads("red")
    assert len(reads) == corridor.sim.n_vehicles
    aspects = set()
    for obs in reads:
        p = obs.payload
        v = corridor.fleet.vehicle_of(p["plate"])
        rows = np.flatnonzero(tr.vehicle == v)
        j = next(int(r) for r, q in zip(rows[1:], rows[:-1], strict=True)
                 if tr.link[q] == a and tr.link[r] == b)
        step_start = float(tr.time_s[j]) - 1.0
        assert step_start < sim_s(obs) <= float(tr.time_s[j]) + 1e-9
        state = net.signals.state_at(program, step_start)
        assert p["signal_id"] == "r1c1" and p["signal_state"] == state
        assert p["signal_aspect"] == ASPECT[state[p["signal_index"]]]
        aspects.add(p["signal_aspect"])
        if p["signal_aspect"] == "red":
            onset = sim_s(obs) - p["red_elapsed_s"]
            assert net.signals.state_at(program, onset + 1e-3)[p["signal_index"]] == "r"
            assert net.signals.state_at(program, onset - 1e-3)[p["signal_index"]] != "r"
        else:
            assert p["red_elapsed_s"] is None
        assert obs.location.link_id == "r1c0-r1c1" and obs.location.pos_m == 200.0
    assert {"green", "amber", "red"} <= aspects  # heavy traffic: some are caught by the amber
    states = [o for o in corridor.seen if o.kind is ObservationKind.SIGNAL_STATE]
    assert {o.source_id for o in states} == {"r1c1"}
    for o in states:
        assert o.payload["state"] == net.signals.state_at(program, sim_s(o) + 1e-6)
    starts = sorted(sim_s(o) for o in states)  # a change every green (30 s) and amber (3 s)
    assert starts[0] == 0.0 and starts[-1] > 1400.0
    assert np.allclose(np.diff(starts), np.resize([30.0, 3.0], len(starts) - 1))


def test_lane_filter_reads_only_the_watched_lane(corridor):
    reads = corridor.reads("anpr-kerb")
    assert reads and {o.payload["lane"] for o in reads} == {0}
    assert all(o.location.lane == 0 and "speed_limit_mps" not in o.payload for o in reads)
    assert all(o.payload["heading_deg"] == 90.0 for o in reads)  # the grid's row runs east


def test_reads_are_reproducible_by_seed_and_two_runs_are_two_worlds():
    cams = [CameraSpec(id="anpr", type="anpr", link="r1c0-r1c1", pos_m=150.0)]
    noisy = PlateReadSpec(misread_share=0.1, unreadable_share=0.1, low_confidence_share=0.1)
    runs = []
    for scope, seed in (("run-1", 4), ("run-2", 4), ("run-3", 5)):
        w = world(cams, headway_s=4.0, until_s=600.0, reads=noisy, scope=scope, seed=seed)
        w.run(700.0)
        runs.append(w.reads("anpr"))
    one, two, other = runs

    def seen(reads: list[Observation]) -> list[dict]:  # the image hash names the run's event
        return [{k: v for k, v in o.payload.items() if k != "image_sha256"} for o in reads]

    assert seen(one) == seen(two)  # same seed, same reads
    assert len({o.payload["image_sha256"] for o in one + two}) == 2 * len(one)
    assert [o.event_id.split("/", 1)[1] for o in one] == [f"anpr:{n}" for n in
                                                          range(1, len(one) + 1)]
    assert not {o.event_id for o in one} & {o.event_id for o in two}  # scoped per run
    assert [o.payload["plate"] for o in one] != [o.payload["plate"] for o in other]


def test_read_error_shares_hold_on_the_cameras():
    """Misread, unreadable and low-confidence reads at the configured shares (binomial
    bounds), each of its kind."""
    shares = PlateReadSpec(misread_share=0.08, unreadable_share=0.05, low_confidence_share=0.12)
    cams = [CameraSpec(id=f"anpr-{k}", type="anpr", link=ROUTE[k], pos_m=50.0)
            for k in range(3)]
    w = world(cams, headway_s=1.5, until_s=1200.0, reads=shares)
    w.run(1500.0)
    n = sum(w.cams.read_outcomes.values())
    assert n == sum(len(w.reads(c.id)) for c in cams) > 2000
    for outcome, p in (("misread", 0.08), ("unreadable", 0.05), ("low_confidence", 0.12)):
        k = w.cams.read_outcomes[outcome]
        assert abs(k - n * p) <= 4.5 * np.sqrt(n * p * (1 - p)), (outcome, k, n)
    reads = [o.payload for cam in cams for o in w.reads(cam.id)]
    unreadable = [p for p in reads if p["plate"] is None]
    assert len(unreadable) == w.cams.read_outcomes["unreadable"]
    assert all(p["confidence"] == 0.0 for p in unreadable)
    low = [p for p in reads if p["plate"] is not None and p["confidence"] < 0.8]
    assert len(low) == w.cams.read_outcomes["low_confidence"]
    assert all(0.3 <= p["confidence"] <= 0.7 and w.fleet.vehicle_of(p["plate"]) is not None
               for p in low)
    # a misread is one character off a plate of the fleet, so (with a few hundred plates
    # among 127 million) it names no vehicle of the fleet
    wrong = [p for p in reads if p["plate"] is not None and w.fleet.vehicle_of(p["plate"]) is None]
    assert len(wrong) == w.cams.read_outcomes["misread"]
    plates = w.fleet.plates(np.arange(w.sim.n_vehicles))
    for p in wrong:
        assert 0.86 <= p["confidence"] <= 0.995
        assert any(len(t) == len(p["plate"]) and sum(x != y for x, y in zip(t, p["plate"],
                                                                             strict=True)) == 1
                   for t in plates)


def test_read_plate_outcomes_and_their_shares():
    spec = PlateReadSpec(misread_share=0.1, unreadable_share=0.05, low_confidence_share=0.2)
    rng = np.random.default_rng(3)
    n = 20_000
    reads = [read_plate("B 1234 XYZ", spec, rng) for _ in range(n)]
    for outcome, p in (("misread", 0.1), ("unreadable", 0.05), ("low_confidence", 0.2),
                       ("good", 0.65)):
        k = sum(r.outcome == outcome for r in reads)
        assert abs(k - n * p) <= 4.5 * np.sqrt(n * p * (1 - p)), (outcome, k)
    for r in reads:
        if r.outcome == "misread":
            assert r.plate is not None and r.plate != "B 1234 XYZ"
            assert parse_plate(r.plate).text == r.plate  # still a well-formed plate
        elif r.outcome == "unreadable":
            assert r.plate is None and r.confidence == 0.0
        else:
            assert r.plate == "B 1234 XYZ"
    again = [read_plate("B 1234 XYZ", spec, np.random.default_rng(3)) for _ in range(1)]
    assert again[0] == reads[0]


def test_cameras_refuse_a_simulation_restored_to_before_they_stood_there():
    net = grid_network(3, 4, lanes=2)
    trips = corridor_trips(net, 5.0, 100.0, seed=2)
    sim = Simulation(net, trips, seed=2)
    before = sim.snapshot()
    cams = VirtualCameras(sim, net, Bus(), START, [
        CameraSpec(id="anpr", type="anpr", link="r1c0-r1c1", pos_m=50.0)],
        fleet=Fleet(trips.vehicle_class, seed=2))
    sim.run(60.0)
    assert cams.sample()
    sim.restore(before)
    with pytest.raises(RuntimeError, match="no longer has the cameras' loops"):
        cams.sample()


def test_a_new_signal_timing_is_what_the_red_light_camera_and_the_controller_report():
    """After ``set_signal_timing`` the camera judges by the new plan, as the engine
    drives by it; ``network.signals`` keeps the old plan and would be wrong."""
    w = world([CameraSpec(id="red", type="red_light", link="r1c0-r1c1")], headway_s=3.0,
              until_s=1500.0, trace=True)
    program = w.net.signals.program_ids.index("r1c1")
    w.run(600.0)
    old_durations, offset = w.sim.signal_timing("r1c1")
    new_durations = np.where(old_durations > 5.0, 47.0, old_durations)  # greens 30 -> 47 s
    w.sim.set_signal_timing("r1c1", new_durations)
    switched_at = len(w.seen)
    w.run(1700.0)
    traj = w.sim.take_trajectories()
    now = w.sim.signal_programs()
    assert np.array_equal(now.phase_duration_s[now.phase_offsets[program]:
                                               now.phase_offsets[program + 1]], new_durations)
    assert now.offset_s[program] == offset
    after = w.seen[switched_at:]
    states = [o for o in after if o.kind is ObservationKind.SIGNAL_STATE]
    starts = [sim_s(o) for o in states]
    assert starts[0] == 600.0  # the switch, seen at the first sample after it
    assert np.allclose(np.diff(starts[1:]), np.resize([3.0, 47.0], len(starts) - 2)) or \
        np.allclose(np.diff(starts[1:]), np.resize([47.0, 3.0], len(starts) - 2))
    for o in states:
        assert o.payload["state"] == now.state_at(program, sim_s(o) + 1e-6)
    a, b = w.net.link_index["r1c0-r1c1"], w.net.link_index["r1c1-r1c2"]
    reads = [o for o in after if o.source_id == "red"]
    assert len(reads) > 100
    differs = 0
    for obs in reads:
        v = w.fleet.vehicle_of(obs.payload["plate"])
        rows = np.flatnonzero(traj.vehicle == v)
        j = next(int(r) for r, q in zip(rows[1:], rows[:-1], strict=True)
                 if traj.link[q] == a and traj.link[r] == b)
        step_start = float(traj.time_s[j]) - 1.0
        assert obs.payload["signal_state"] == now.state_at(program, step_start)
        differs += obs.payload["signal_state"] != w.net.signals.state_at(program, step_start)
    assert differs > 0  # the old plan would have given other states
