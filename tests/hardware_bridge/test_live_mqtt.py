"""Live mode on MQTT devices: a real Mosquitto (TLS), the bridge into the gate, the twin in real time.

The twin is ``scenarios/grid_small.toml``; its loop detectors are the devices.
"""

from __future__ import annotations

import argparse
import json
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest

from hardware_bridge import cli_live
from hardware_bridge.devices import DeviceRegistry
from hardware_bridge.ingest import Ingest
from hardware_bridge.live_feed import open_mqtt_live
from hardware_bridge.live_sources import LiveSource, scenario_source
from hardware_bridge.mqtt_adapter import MqttBridge
from hardware_bridge.mqtt_device import DevicePublisher
from tests.mqtt_broker import MosquittoBroker
from twin.bus import Bus
from twin.observations import Observation, ObservationKind
from twin.runner import TwinRun
from twin.scenario import load_scenario

REPO = Path(__file__).resolve().parents[2]
SCENARIO = REPO / "scenarios" / "grid_small.toml"
SLOW_MPS = 3.0


@pytest.fixture(scope="module")
def grid() -> LiveSource:
    return scenario_source(SCENARIO)


def _registry(source: LiveSource) -> DeviceRegistry:
    return DeviceRegistry.generate(source.sensor_links, kinds=[ObservationKind.DETECTOR_INTERVAL])


def _reading(device_id: str, i: int) -> Observation:
    """A slow reading observed now (devices report their present)."""
    return Observation(ObservationKind.DETECTOR_INTERVAL, device_id, datetime.now(UTC),
                       {"interval_s": 60.0, "count": 3, "occupancy": 0.4,
                        "mean_speed_mps": SLOW_MPS}, event_id=f"{device_id}:{i}")


def _publish(broker: MosquittoBroker, registry: DeviceRegistry, device_id: str, n: int) -> None:
    device = registry.get(device_id)
    assert device is not None
    with DevicePublisher(broker.bridge_config(), device).start() as pub:
        for i in range(n):
            pub.publish([_reading(device_id, i)])
        assert pub.flush(10)


def test_scenario_detectors_are_the_ones_a_run_places(grid: LiveSource, tmp_path: Path) -> None:
    """The sensor -> link map has the ids and links of ``kota run``'s loop detectors (which
    ``kota emulate`` publishes as devices)."""
    run = TwinRun(load_scenario(SCENARIO), store_url=f"sqlite:///{tmp_path / 'k.db'}")
    try:
        placed = {d: (loc.link_id,) for d, loc in zip(run.sensors.detector_ids,
                                                      run.sensors.locations, strict=True)}
    finally:
        run.close()
    assert grid.sensor_links == placed
    assert "loop-r2c2-east" in placed and len(placed) == 5


def test_readings_over_mqtt_steer_the_twin_in_real_time(grid: LiveSource, mosquitto) -> None:
    """Two detectors report 3 m/s; the twin takes the readings between steps, at most a few
    seconds after they were observed, and its drivers on those links slow down to match."""
    registry = _registry(grid)
    broker = mosquitto(registry)
    devices = sorted(grid.sensor_links)[:2]
    taken: list[tuple[float, datetime, list[Observation]]] = []
    got_all = threading.Event()

    def on_assimilate(sim_time_s: float, now: datetime, batch: list[Observation]) -> None:
        taken.append((sim_time_s, now, batch))
        if sum(len(b) for _, _, b in taken) >= 6:
            got_all.set()

    running = threading.Event()  # the bridge subscribed: the twin's steps have begun
    feed = open_mqtt_live(grid, broker.bridge_config(), registry, duration_s=120.0,
                          on_assimilate=on_assimilate, wall_step_s=0.2,
                          progress=lambda _: running.set())
    result: dict[str, dict] = {}
    worker = threading.Thread(target=lambda: result.update(totals=feed.run()), daemon=True)
    worker.start()
    try:
        assert running.wait(30)
        for device_id in devices:
            _publish(broker, registry, device_id, 3)
        assert got_all.wait(30), f"the twin took {taken}"
    finally:
        feed.stop()
        worker.join(timeout=15)
    assert not worker.is_alive()
    totals = result["totals"]
    assert totals["stopped"] is True
    assert totals["observations"]["accepted"] == 6
    assert totals["observations"]["taken_by_twin"] == 6
    assert totals["mirror"]["assimilated"] == 6
    origin = feed.twin.origin
    assert origin is not None
    for sim_time_s, now, batch in taken:
        assert (now - origin).total_seconds() == pytest.approx(sim_time_s, abs=1e-5)
        for obs in batch:  # taken after it was observed, within a few wall steps
            assert -0.5 < sim_time_s - (obs.observed_at - origin).total_seconds() < 5.0
    assert totals["clock_skew_max_s"] < 5.0
    sim = feed.twin.sim
    for device_id in devices:
        (link,) = grid.sensor_links[device_id]
        limit = float(grid.network.link_speed_limit_mps[sim.resolve_link(link)])
        factor = feed.twin.mirror.factor(device_id)  # type: ignore[union-attr]
        assert factor is not None and factor * limit == pytest.approx(SLOW_MPS, rel=0.3)
        assert sim.link_speed_factor[sim.resolve_link(link)] == pytest.approx(factor)


def test_kota_live_mqtt_json_totals(grid: LiveSource, mosquitto, tmp_path: Path,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    """The command line: ``kota live mqtt`` runs for --duration and prints its totals; readings
    the broker kept for the live bridge's session while it was away are taken on connect."""
    registry = _registry(grid)
    broker = mosquitto(registry)
    MqttBridge(broker.bridge_config(), Ingest(Bus(), registry=registry),
               client_id="kota-live").start().stop()  # the broker now keeps a session for it
    device_id = sorted(grid.sensor_links)[0]
    _publish(broker, registry, device_id, 2)
    registry_file = tmp_path / "devices.toml"
    registry_file.write_text(registry.to_toml(), encoding="utf-8")
    password_file = tmp_path / "bridge.pw"
    password_file.write_text(broker.bridge_password, encoding="utf-8")
    parser = argparse.ArgumentParser(prog="kota")
    cli_live.add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args([
        "live", "mqtt", "--scenario", str(SCENARIO), "--registry", str(registry_file),
        "--broker", broker.url, "--ca", str(broker.ca.ca_cert), "--password-file",
        str(password_file), "--duration", "3s", "--json"])
    assert cli_live.run(args) == 0
    totals = json.loads(capsys.readouterr().out)
    assert totals["source"] == load_scenario(SCENARIO).scenario.name
    assert totals["stopped"] is False and totals["sim_time_s"] == 3.0
    assert totals["observations"]["accepted"] == totals["observations"]["taken_by_twin"] == 2
    assert totals["mirror"]["assimilated"] == 2


def test_mqtt_and_metr_la_options_do_not_mix() -> None:
    parser = argparse.ArgumentParser(prog="kota")
    cli_live.add_parser(parser.add_subparsers(dest="command"))
    for argv, message in ((["mqtt", "--registry", "r.toml"], "--scenario"),
                          (["mqtt", "--scenario", "s.toml", "--registry", "r.toml",
                            "--speedup", "60"], "real time"),
                          (["metr-la", "--scenario", "s.toml"], "only for kota live mqtt")):
        with pytest.raises(ValueError, match=message):
            cli_live.run(parser.parse_args(["live", *argv]))
