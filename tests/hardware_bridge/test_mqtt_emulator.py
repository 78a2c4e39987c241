"""The device emulator: a scenario's virtual sensors reach the twin's bus through the real broker."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from hardware_bridge.devices import Device, DeviceRegistry
from hardware_bridge.emulator import DeviceEmulator, emulate_scenario, registry_for, scenario_sources
from hardware_bridge.http_ingest import EVENTS_PATH
from hardware_bridge.signing import DEVICE_HEADER, SIGNATURE_HEADER, sign
from tests.hardware_bridge.mqtt_setup import rig, settle
from twin.cli import main as kota
from twin.observations import Observation, ObservationKind
from twin.runner import TwinRun
from twin.scenario import load_scenario
from twin.store import open_store

REPO = Path(__file__).resolve().parents[2]
GRID = REPO / "scenarios" / "grid_small.toml"


def _canon(observations) -> list[str]:
    return sorted(json.dumps(o.to_dict(), sort_keys=True) for o in observations)


def test_emulated_scenario_arrives_as_the_sensors_made_it(mosquitto):
    run = TwinRun(load_scenario(GRID), store_url="sqlite://")
    direct = run.bus.subscribe("#", name="direct")
    registry = registry_for(scenario_sources(run))
    assert len(registry) == len(run.sensors.detector_ids) == 5
    try:
        with rig(mosquitto, registry) as r:
            emulator = DeviceEmulator(r.broker.bridge_config(), registry, batch_size=3)
            emulate_scenario(run, emulator)
            emulator.close()
            settle(r.bridge, taken=150)
            sent = direct.drain()
            from_devices = [o for o in sent if o.source_id in registry]
            assert len(from_devices) == 150 and emulator.counts().skipped == len(sent) - 150 == 1
            received = r.feed.drain()
            assert _canon(received) == _canon(from_devices)
            assert r.bridge.counts().duplicates == 0
            assert all(link.online is False for link in r.bridge.links().values())  # said goodbye
    finally:
        run.close()


def test_kota_emulate_and_kota_bridge_from_the_command_line(mosquitto, tmp_path, capsys):
    registry_file = tmp_path / "emu" / "devices.toml"
    assert kota(["emulate", str(GRID), "--registry", str(registry_file), "--init-only"]) == 0
    written = DeviceRegistry.load(registry_file)
    assert {d.device_id for d in written} >= {"loop-r2c2-east"}
    assert (tmp_path / "emu" / "acl").exists() and (tmp_path / "emu" / "passwd").exists()
    secret = (tmp_path / "emu" / "bridge.secret").read_text().strip()
    broker = mosquitto(written, bridge_password=secret)
    db = tmp_path / "kota.db"
    http_port = _free_port()
    bridge = subprocess.Popen(
        [sys.executable, "-c", "from twin.cli import main; raise SystemExit(main())", "bridge",
         "--broker", broker.url, "--ca", str(broker.ca.ca_cert), "--registry", str(registry_file),
         "--store", f"sqlite:///{db}", "--password-file", str(tmp_path / "emu" / "bridge.secret"),
         "--http-port", str(http_port), "--evidence-dir", str(tmp_path / "evidence"), "--json"],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)})
    try:
        # devices publish once the bridge has its session (the broker keeps messages only for sessions)
        first = bridge.stderr.readline() if bridge.stderr else ""
        assert first.startswith("bridge (connected)"), first + (bridge.stderr.read() if bridge.stderr else "")
        capsys.readouterr()
        assert kota(["emulate", str(GRID), "--broker", broker.url, "--ca", str(broker.ca.ca_cert),
                     "--registry", str(registry_file), "--json"]) == 0
        totals = json.loads(capsys.readouterr().out)
        assert totals["emulator"]["observations"] == 150
        assert totals["emulator"]["acked"] == totals["emulator"]["messages"] == 150
        seq = json.loads(registry_file.with_name("devices.toml.seq.json").read_text())
        assert seq["loop-r2c2-east"] == 30
        with open_store(f"sqlite:///{db}") as store:
            deadline = time.monotonic() + 20
            while store.count_observations() < 150 and time.monotonic() < deadline:
                time.sleep(0.05)
            assert store.count_observations() == 150
            # the same bridge takes the device's signed HTTP push on --http-port; the device's
            # sequence numbers continue across transports (one replay window per device)
            assert _push(http_port, written.get("loop-r2c2-east"), seq=seq["loop-r2c2-east"]) == 200
            assert store.count_observations() == 151
    finally:
        bridge.send_signal(signal.SIGINT)  # Ctrl-C: a clean stop with totals
        out, err = bridge.communicate(timeout=30)
    assert bridge.returncode == 0, err
    totals = json.loads(out)
    assert totals["bridge"]["accepted"] == 150 and totals["bridge"]["quarantined"] == 0
    assert totals["gate"]["accepted"] == 151  # MQTT and the HTTP push, one gate
    assert totals["devices"]["loop-r2c2-east"]["accepted"] == 31
    assert "accepted 150, quarantined 0, duplicates 0" in err  # the last live line


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _push(port: int, device: Device | None, seq: int) -> int:
    """One signed JSON envelope to the bridge's HTTP ingest, as a device pushes it."""
    assert device is not None
    now = datetime.now(UTC)
    obs = Observation(ObservationKind.DETECTOR_INTERVAL, device.device_id, now,
                      {"interval_s": 60.0, "count": 3, "occupancy": 0.02, "mean_speed_mps": 9.5},
                      event_id=f"{device.device_id}@http-push")
    body = json.dumps({"device_id": device.device_id, "seq": seq, "sent_at": now.isoformat(),
                       "observation": obs.to_dict()}).encode()
    deadline = time.monotonic() + 20
    while True:  # the HTTP server may start a moment after the MQTT session
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            conn.request("POST", EVENTS_PATH, body, {
                "Content-Type": "application/json", DEVICE_HEADER: device.device_id,
                SIGNATURE_HEADER: sign(device.secret, body)})
            return conn.getresponse().status
        except ConnectionRefusedError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
