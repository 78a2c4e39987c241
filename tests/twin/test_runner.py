"""A whole run: same scenario and seed give the same records; nothing lost between bus and store."""

from pathlib import Path

import pytest

from twin.observations import ObservationKind
from twin.runner import TwinRun
from twin.scenario import load_scenario

ROOT = Path(__file__).resolve().parents[2]
GRID = ROOT / "scenarios" / "grid_small.toml"


def _run(tmp_path: Path, name: str, scenario_path: Path = GRID) -> tuple[TwinRun, dict]:
    run = TwinRun(load_scenario(scenario_path), store_url=f"sqlite:///{tmp_path / name}")
    result = run.run()
    return run, result.summary


def _records(run: TwinRun) -> list[tuple]:
    """The run's observations, with the run-id scope taken off the event ids."""
    scope = f"{run.run_id}/"
    out = []
    for o in run.store.observations(run_id=run.run_id):
        assert o.event_id.startswith(scope)
        out.append((o.event_id[len(scope):], o.kind.value, o.source_id, o.observed_at,
                    dict(o.payload), o.location))
    return out


def test_same_scenario_and_seed_give_the_same_records(tmp_path):
    first, s1 = _run(tmp_path, "a.db")
    second, s2 = _run(tmp_path, "b.db")
    try:
        assert first.run_id != second.run_id
        records = _records(first)
        assert records and records == _records(second)
        for key in ("trips_total", "trips_completed", "vehicle_steps", "mean_travel_time_s"):
            assert s1[key] == s2[key]
    finally:
        first.close()
        second.close()


def test_another_seed_gives_other_records(tmp_path):
    text = GRID.read_text().replace("seed = 42", "seed = 43")
    other = tmp_path / "other.toml"
    other.write_text(text)
    a, _ = _run(tmp_path, "a.db")
    b, _ = _run(tmp_path, "b.db", other)
    try:
        assert _records(a) != _records(b)
    finally:
        a.close()
        b.close()


def test_every_published_observation_is_stored_once(tmp_path):
    run, summary = _run(tmp_path, "a.db")
    try:
        stored = run.store.observations(run_id=run.run_id)
        published = run.bus.stats().published
        assert len(stored) == published == summary["observations_stored"]
        assert summary["bus_dropped"] == 0 and summary["observations_duplicate"] == 0
        kinds = {o.kind for o in stored}
        assert kinds == {ObservationKind.DETECTOR_INTERVAL, ObservationKind.INCIDENT_REPORT}
        # 5 detectors (1 named + 4 automatic) x 30 one-minute intervals
        detectors = [o for o in stored if o.kind is ObservationKind.DETECTOR_INTERVAL]
        assert len({o.source_id for o in detectors}) == 5
        assert len(run.sensors.detector_ids) == 5
        assert len(detectors) == 5 * 30
        stored_run = run.store.run(run.run_id)
        assert stored_run is not None and stored_run.status == "finished"
    finally:
        run.close()


def _exited_by(scenario_path: Path, link_id: str, until_s: float, db: Path) -> tuple[int, TwinRun]:
    run = TwinRun(load_scenario(scenario_path), store_url=f"sqlite:///{db}")

    def progress(done_s):
        if done_s >= until_s:
            run.stop()

    run.run(progress=progress)
    return int(run.sim.link_exited[run.network.link_index[link_id]]), run


def test_scripted_incident_is_reported_and_holds_traffic_back(tmp_path):
    """The breakdown (600-900 s, the link's only lane) is on the bus and stops the link's outflow."""
    no_incident = tmp_path / "clear.toml"
    text = GRID.read_text()
    no_incident.write_text(text[:text.index("[[incidents]]")])
    blocked, run = _exited_by(GRID, "r2c1-r2c2", 900.0, tmp_path / "a.db")
    clear, other = _exited_by(no_incident, "r2c1-r2c2", 900.0, tmp_path / "b.db")
    try:
        reports = run.store.observations(kind="incident_report", run_id=run.run_id)
        assert len(reports) == 1
        report = reports[0]
        assert report.payload["incident_type"] == "breakdown"
        assert report.location is not None and report.location.link_id == "r2c1-r2c2"
        assert report.observed_at == run.clock.datetime_at(600)
        assert other.store.observations(kind="incident_report", run_id=other.run_id) == []
        assert blocked < clear
    finally:
        run.close()
        other.close()


def test_stop_ends_the_run_early_and_records_it(tmp_path):
    run = TwinRun(load_scenario(GRID), store_url=f"sqlite:///{tmp_path / 'a.db'}")
    try:
        seen = []

        def progress(done_s):
            seen.append(done_s)
            if done_s >= 300:
                run.stop()

        result = run.run(progress=progress)
        assert result.summary["sim_time_s"] == pytest.approx(300.0)
        assert run.store.run(run.run_id).status == "stopped"
        assert run.live.latest().finished
    finally:
        run.close()


def test_two_runs_into_one_store_keep_their_own_records(tmp_path):
    scenario = load_scenario(GRID)
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    runs = [TwinRun(scenario, store_url=url) for _ in range(2)]
    try:
        summaries = [r.run().summary for r in runs]
        assert summaries[0]["observations_stored"] == summaries[1]["observations_stored"] > 0
        assert summaries[1]["observations_duplicate"] == 0
        assert runs[0].store.count_observations() == 2 * summaries[0]["observations_stored"]
    finally:
        for r in runs:
            r.close()


def test_detector_without_position_sits_in_the_middle_of_its_link(tmp_path):
    path = tmp_path / "mid.toml"
    path.write_text(GRID.read_text().replace('link = "r2c2-r2c3"\npos_m = 150.0',
                                             'link = "r2c2-r2c3"'))
    run = TwinRun(load_scenario(path), store_url=f"sqlite:///{tmp_path / 'a.db'}")
    try:
        i = run.sensors.detector_ids.index("loop-r2c2-east")
        link = run.network.link_index["r2c2-r2c3"]
        assert run.sensors.locations[i].pos_m == pytest.approx(run.network.link_length_m[link] / 2)
    finally:
        run.close()


def test_an_existing_sumo_scenario_runs_unchanged(tmp_path):
    """A SUMO network and its route file, named in a scenario, run end to end."""
    sumo = pytest.importorskip("sumo", reason="the eclipse-sumo wheel (dev extra) ships the example")
    cross = Path(sumo.__file__).parent / "tools" / "game" / "cross"
    scenario = tmp_path / "cross.toml"
    scenario.write_text(f"""
[scenario]
name = "sumo-cross"
start = "2026-03-02T07:00:00+07:00"
duration_s = 600
seed = 3

[network]
file = "{cross / 'cross.net.xml'}"

[demand]
kind = "sumo_routes"
file = "{cross / 'cross.rou.xml'}"
""")
    run, summary = _run(tmp_path, "a.db", scenario)
    try:
        assert run.network.signals.n_programs >= 1  # the crossing's traffic light came along
        assert summary["trips_total"] == len(run.trips) > 0
        assert all(run.trips.route_of(i).size > 0 for i in range(len(run.trips)))
        assert summary["trips_completed"] > 0
        assert summary["trips_unroutable"] == 0
    finally:
        run.close()


def test_validate_and_run_draw_the_same_trips(tmp_path, capsys):
    from twin.cli import main

    scenario = ROOT / "scenarios" / "sioux_falls.toml"
    assert main(["validate", str(scenario)]) == 0
    reported = capsys.readouterr().out
    run = TwinRun(load_scenario(scenario), store_url=f"sqlite:///{tmp_path / 'a.db'}")
    try:
        assert f"; {len(run.trips)} trips" in reported
    finally:
        run.close()


def test_automatic_detectors_come_on_top_of_the_named_ones(tmp_path):
    """auto_loop_detectors = N adds N detectors even when a named one sits on a top link."""
    run = TwinRun(load_scenario(ROOT / "scenarios" / "jakarta_jatinegara.toml"),
                  store_url=f"sqlite:///{tmp_path / 'a.db'}")
    try:
        named = len(run.scenario.sensors.loop_detectors)
        assert len(run.sensors.detector_ids) == named + run.scenario.sensors.auto_loop_detectors
        links = [loc.link_id for loc in run.sensors.locations]
        assert len(set(links)) == len(links)
    finally:
        run.close()


def test_the_engine_stands_at_the_time_another_process_acts(tmp_path):
    """The engine runs many steps per kernel call, yet whenever another process acts
    at time T (here every 7 s, off the sensors' interval grid) the engine is at T."""
    run = TwinRun(load_scenario(GRID), store_url=f"sqlite:///{tmp_path / 'a.db'}")
    seen: list[tuple[float, float]] = []

    def watcher():
        while True:
            yield run.clock.env.timeout(7.0)
            seen.append((run.clock.now_s, run.sim.time_s))

    run.clock.process(watcher())
    try:
        run.run()
    finally:
        run.close()
    assert len(seen) > 100
    assert all(abs(clock_s - engine_s) < 1e-6 for clock_s, engine_s in seen), seen[:5]
    assert run.sim.time_s == pytest.approx(run.scenario.scenario.duration_s)
