"""Faults: a broker restart mid-stream and a database outage lose no QoS 1 event and double none."""

from __future__ import annotations

import threading
import time
from collections import Counter

import pytest

from tests.hardware_bridge.mqtt_setup import detector_obs, registry_of, rig
from twin.store import Store, open_store

N_EVENTS = 2000


def _publish_all(device, n: int, errors: list[BaseException], rate_per_s: float | None = None) -> None:
    t0 = time.monotonic()
    try:
        for i in range(n):
            if rate_per_s is not None and (wait := t0 + i / rate_per_s - time.monotonic()) > 0:
                time.sleep(wait)
            device.publish([detector_obs(device.device.device_id, i)], timeout_s=60)
    except BaseException as exc:  # reported by the test
        errors.append(exc)


def _wait(predicate, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return False


def test_broker_restart_mid_stream_loses_and_doubles_nothing(mosquitto, tmp_path):
    registry = registry_of("loop-a")
    store = open_store(f"sqlite:///{tmp_path / 'kota.db'}")
    try:
        with rig(mosquitto, registry, store=store, retry_min_s=0.05) as r:
            a = r.device("loop-a")
            errors: list[BaseException] = []
            # paced at 1,000 events/s, so the restart falls well inside the stream
            sender = threading.Thread(target=_publish_all, args=(a, N_EVENTS, errors, 1000.0))
            sender.start()
            assert _wait(lambda: a.counts().acked >= N_EVENTS // 4, 30)
            r.broker.restart()  # SIGTERM, then the same port and persistence
            after_restart = a.counts().messages
            sender.join(120)
            assert not sender.is_alive() and not errors, errors
            assert a.flush(60)
            assert after_restart < N_EVENTS - 200, "the restart came too late in the stream"
            assert a.counts().connects >= 2 and r.bridge.counts().connects >= 2
            assert _wait(lambda: r.bridge.counts().accepted >= N_EVENTS, 60)
            assert r.bridge.wait_idle(20, quiet_s=0.5)
            on_bus = Counter(o.event_id for o in r.feed.drain())
            expected = {f"loop-a:{i}" for i in range(N_EVENTS)}
            assert set(on_bus) == expected
            assert max(on_bus.values()) == 1
            assert store.count_observations() == N_EVENTS
            assert store.known_event_ids(expected) == expected
            assert r.ingest.stats()["loop-a"].gaps == 0
            a.stop()
    finally:
        store.close()


@pytest.mark.postgres
def test_a_database_outage_holds_messages_until_the_store_is_back(mosquitto, postgres_server, postgres_url):
    registry = registry_of("loop-a")
    # a store that gives up on an unreachable server after 0.3 s (default 15 s), so the
    # gate raises IngestUnavailable a few times during the outage
    store = Store(open_store(postgres_url).engine, reconnect_timeout_s=0.3)
    try:
        with rig(mosquitto, registry, store=store, retry_min_s=0.05, retry_max_s=0.5) as r:
            a = r.device("loop-a")
            for i in range(100):
                a.publish([detector_obs("loop-a", i)])
            assert a.flush(10)
            assert _wait(lambda: r.bridge.counts().accepted == 100, 10)
            postgres_server.stop()
            try:
                for i in range(100, 400):
                    a.publish([detector_obs("loop-a", i)])
                assert a.flush(10)  # the broker took them all: they wait there or in the bridge
                assert _wait(lambda: r.bridge.counts().retries >= 3, 10)
                held = r.bridge.counts()
                assert held.accepted == 100 and held.held >= 1
            finally:
                postgres_server.start()
            assert _wait(lambda: r.bridge.counts().accepted == 400, 30), r.bridge.counts()
            assert r.bridge.wait_idle(10, quiet_s=0.3)
            on_bus = Counter(o.event_id for o in r.feed.drain())
            assert set(on_bus) == {f"loop-a:{i}" for i in range(400)}
            assert max(on_bus.values()) == 1
            assert store.count_observations() == 400
            assert store.quarantined(limit=None) == []
            a.stop()
    finally:
        store.close()
