"""The device emulator: a scenario's virtual sensors reach the twin's bus through the real broker."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from hardware_bridge.devices import DeviceRegistry
from hardware_bridge.emulator import DeviceEmulator, emulate_scenario, registry_for, scenario_sources
from tests.hardware_bridge.mqtt_setup import rig, settle
from twin.cli import main as kota
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
    bridge = subprocess.Popen(
        [sys.executable, "-c", "from twin.cli import main; raise SystemExit(main())", "bridge",
         "--broker", broker.url, "--ca", str(broker.ca.ca_cert), "--registry", str(registry_file),
         "--store", f"sqlite:///{db}", "--password-file", str(tmp_path / "emu" / "bridge.secret"),
         "--json"],
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
    finally:
        bridge.send_signal(signal.SIGINT)  # Ctrl-C: a clean stop with totals
        out, err = bridge.communicate(timeout=30)
    assert bridge.returncode == 0, err
    totals = json.loads(out)
    assert totals["bridge"]["accepted"] == 150 and totals["bridge"]["quarantined"] == 0
    assert totals["devices"]["loop-r2c2-east"]["accepted"] == 30
    assert "accepted 150, quarantined 0, duplicates 0" in err  # the last live line
