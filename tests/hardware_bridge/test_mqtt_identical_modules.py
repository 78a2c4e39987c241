"""Identical modules: ETLE raises the same violations from the simulator's observations fed directly
and from the same observations after emulator -> Mosquitto (TLS) -> bridge -> gate -> bus."""

from __future__ import annotations

import json
from pathlib import Path

from hardware_bridge.emulator import DeviceEmulator, enforcement_stream, registry_for
from tests.hardware_bridge.mqtt_setup import rig, settle
from twin.modules.enforcement.codes import ViolationCode
from twin.modules.enforcement.detector import Detector
from twin.modules.enforcement.pseudonym import PlateTokenizer
from twin.modules.enforcement.scenario_run import enforcement_settings
from twin.observations import Observation
from twin.scenario import load_scenario

REPO = Path(__file__).resolve().parents[2]
ETLE = REPO / "scenarios" / "jakarta_jatinegara_etle.toml"
KEY = b"identical-modules-test-key-0123456789"


def _violations(detector: Detector, observations: list[Observation]) -> list:
    return [v for o in observations for v in detector.feed(o)]


def test_etle_gives_identical_violations_live_and_direct(mosquitto):
    scenario = load_scenario(ETLE)
    detection = enforcement_settings(scenario).detection
    stream = enforcement_stream(scenario, duration_s=1800.0)
    sources: dict[str, set] = {}
    for o in stream:
        sources.setdefault(o.source_id, set()).add(o.kind)
    registry = registry_for(sources)
    assert len(registry) == len(sources) == 5  # four cameras and a signal controller

    direct = _violations(Detector(detection, PlateTokenizer(KEY)), stream)

    with rig(mosquitto, registry) as r:
        with DeviceEmulator(r.broker.bridge_config(), registry) as emulator:  # one per message
            assert emulator.publish_many(stream) == len(stream)
        settle(r.bridge, taken=len(stream))
        received = r.feed.drain()
        assert r.bridge.counts().quarantined == 0
    canon = sorted(json.dumps(o.to_dict(), sort_keys=True) for o in received)
    assert canon == sorted(json.dumps(o.to_dict(), sort_keys=True) for o in stream)
    # Devices publish concurrently, so arrival order across devices is not the stream's order;
    # a live consumer orders by observation time (all distinct here, so the order is unique).
    assert len({o.observed_at for o in stream}) == len(stream)
    assert [o.event_id for o in stream] == [o.event_id for o in sorted(stream, key=lambda o: o.observed_at)]
    live = _violations(Detector(detection, PlateTokenizer(KEY)),
                       sorted(received, key=lambda o: o.observed_at))

    # red light needs the signal controller's states (another device) before the camera's read
    assert len(direct) >= 50
    codes = {v.code for v in direct}
    assert codes >= {ViolationCode.SPEEDING, ViolationCode.RED_LIGHT, ViolationCode.ODD_EVEN}
    assert live == direct
    assert [v.observed_at.isoformat() for v in live] == [v.observed_at.isoformat() for v in direct]
