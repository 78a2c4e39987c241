"""ETLE running live inside a twin run: the cameras' observations from the run's bus."""

from __future__ import annotations

import pytest

from tests.modules.enforcement.test_engine_feed import GRID
from twin.assemble import build_network
from twin.clock import Clock
from twin.modules.enforcement.enginefeed import add_read_vehicles
from twin.modules.enforcement.live import CAMERA_TOPICS, EnforcementLive
from twin.modules.enforcement.registry import Registry
from twin.modules.enforcement.repository import CaseStore
from twin.modules.enforcement.service import Enforcement
from twin.modules.enforcement.session import demo_keys
from twin.modules.enforcement.settings import enforcement_settings
from twin.modules.enforcement.states import Case, CaseState
from twin.observations import Observation, ObservationKind
from twin.runner import TwinRun
from twin.scenario import Scenario, load_scenario
from twin.store import open_store


def grid_etle(tmp_path) -> Scenario:
    """The engine-feed grid of ``test_engine_feed`` (its red-light camera on the
    approach's signal index)."""
    path = tmp_path / "grid.toml"
    path.write_text(GRID.format(index=0))
    net = build_network(load_scenario(path))
    approach = net.conn_from_link == net.link_index["r1c0-r1c1"]
    path.write_text(GRID.format(index=int(net.conn_signal_index[approach][0])))
    return load_scenario(path)


@pytest.fixture(scope="module")
def scenario(tmp_path_factory) -> Scenario:
    return grid_etle(tmp_path_factory.mktemp("etle-live"))


def _facts(cases: list[Case]) -> set[tuple[object, ...]]:
    """What a case holds from the capture (not what people did with it since)."""
    return {(c.case_id, c.violation_id, c.code, c.camera_id, c.observed_at, c.plate,
             c.plate_token, c.fine_idr, c.points) for c in cases}


def _replayed(scenario: Scenario, stored: list[Observation], fleet, url: str) -> list[Case]:
    """The cases a fresh Enforcement makes of ``stored``, fed in one batch."""
    settings = enforcement_settings(scenario)
    meta = scenario.scenario
    registry = Registry()
    add_read_vehicles(registry, fleet, stored)
    key, secret = demo_keys(meta.seed)
    store = open_store(url)
    try:
        enf = Enforcement(store, Clock(meta.start), registry, settings, pseudonym_key=key,
                          callback_secret=secret)
        enf.ingest(stored)
        return CaseStore.of(store).cases()
    finally:
        store.close()


def _camera_observations(run: TwinRun) -> list[Observation]:
    kinds = {ObservationKind.PLATE_READ, ObservationKind.SIGNAL_STATE}
    return [o for o in run.store.observations(run_id=run.run_id) if o.kind in kinds]


def test_live_cases_equal_the_stored_observations_replayed_and_officers_verify(scenario,
                                                                                tmp_path):
    run = TwinRun(scenario, store_url=f"sqlite:///{tmp_path / 'live.db'}")
    live = run.module("enforcement")
    assert isinstance(live, EnforcementLive)
    try:
        summary = run.run(chunk_s=300.0).summary["modules"]["enforcement"]
        cases = CaseStore.of(run.store).cases()
        by_state = CaseStore.of(run.store).count_by_state()
        stored = _camera_observations(run)
    finally:
        run.close()
    assert summary["cases_created"] == len(cases) > 10
    assert summary["observations"] == len(stored)
    assert summary["simulated_people"] is True
    replayed = _replayed(scenario, stored, run.fleet, f"sqlite:///{tmp_path / 'replay.db'}")
    assert _facts(cases) == _facts(replayed)
    # the simulated officers worked the queue on the run's clock
    verified = [c for c in cases if c.verified_by is not None]
    assert verified and {c.verified_by for c in verified} <= {"penyidik-1", "penyidik-2"}
    assert summary["cases_by_state"] == by_state
    assert any(c.state is not CaseState.PENDING_VERIFICATION for c in cases)
    # owners were resolved from the run's fleet
    owned = [c for c in verified if c.owner_id is not None]
    assert owned and all(run.fleet.vehicle_of(c.plate) is not None for c in owned)


def test_a_watched_run_leaves_verification_to_people(scenario, tmp_path):
    run = TwinRun(scenario, realtime=True, speedup=1e6, view_every_s=600.0,
                  store_url=f"sqlite:///{tmp_path / 'rt.db'}")
    try:
        summary = run.run(chunk_s=600.0).summary["modules"]["enforcement"]
        cases = CaseStore.of(run.store).cases()
    finally:
        run.close()
    assert summary["simulated_people"] is False and summary["bank_callbacks"] == {}
    assert len(cases) == summary["cases_created"] > 10
    assert {c.state for c in cases} == {CaseState.PENDING_VERIFICATION}
    assert all(c.verified_by is None for c in cases)


def test_an_observation_arriving_twice_makes_one_case(scenario, tmp_path):
    run = TwinRun(scenario, store_url=f"sqlite:///{tmp_path / 'twice.db'}")
    echoed: set[str | None] = set()

    def echo(obs: Observation) -> None:  # a bridge redelivering every camera message
        if obs.event_id not in echoed:
            echoed.add(obs.event_id)
            run.bus.publish(obs)

    for topic in CAMERA_TOPICS:
        run.bus.subscribe_callback(topic, echo, name=f"echo/{topic}")
    try:
        result = run.run(chunk_s=300.0)
        cases = CaseStore.of(run.store).cases()
        stored = _camera_observations(run)
    finally:
        run.close()
    summary = result.summary["modules"]["enforcement"]
    assert result.summary["observations_duplicate"] >= len(stored) > 0  # the store kept one
    assert summary["observations"] == 2 * len(stored)
    assert summary["cases_created"] == len(cases) > 10
    assert summary["duplicate_violations"] >= len(cases)
    replayed = _replayed(scenario, stored, run.fleet, f"sqlite:///{tmp_path / 'once.db'}")
    assert _facts(cases) == _facts(replayed)
