"""MQTT into the twin: observations per second from Mosquitto onto the bus, and publish-to-module latency.

A real Mosquitto with TLS and passwords (started here, as in the tests), one
emulated device publishing QoS 1 events, the :class:`~hardware_bridge.mqtt_adapter.MqttBridge`
and the ingest gate publishing on an in-process bus, all on loopback:

- ``batched``: 500 observations per message (target: at least 50,000 observations/s);
  the device is another process whose messages are encoded before the clock starts (devices
  are other machines), so the figure is the broker, the bridge and the gate;
- ``one per message``: one observation per message, as most devices send;
- ``latency``: one observation per message at 1,000 messages/s; p50 and p99 of the time
  from the device's ``publish`` call to a bus subscriber's callback.

The gate runs without a store (bus only) unless the name says ``sqlite``. Figures go
into ``extra_info``. Run: ``pytest benchmarks/bench_mqtt.py -o python_files='bench_*.py'``.
"""

from __future__ import annotations

import multiprocessing
import shutil
import statistics
import tempfile
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from hardware_bridge.devices import Device, DeviceRegistry
from hardware_bridge.ingest import Ingest
from hardware_bridge.mqtt_adapter import MqttBridge
from hardware_bridge.mqtt_client import BrokerConfig
from hardware_bridge.mqtt_device import DevicePublisher, envelope_bytes
from tests.mqtt_broker import MosquittoBroker, make_ca, start_broker
from twin.bus import Bus
from twin.observations import Location, Observation, ObservationKind
from twin.store import open_store

T0 = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)
DEVICE = "loop-bench"


def _obs(i: int, **extra: Any) -> Observation:
    return Observation(ObservationKind.DETECTOR_INTERVAL, DEVICE, T0 + timedelta(seconds=i),
                       {"interval_s": 30.0, "count": 12, "occupancy": 0.12, "mean_speed_mps": 11.5,
                        **extra},
                       Location(106.87, -6.22, "L1", 40.0, 0), event_id=f"{DEVICE}:{i}")


@pytest.fixture(scope="module")
def broker() -> Iterator[tuple[MosquittoBroker, DeviceRegistry]]:
    """A TLS Mosquitto for one benchmark device (bigger in-flight window for the bridge)."""
    registry = DeviceRegistry.generate([DEVICE], kinds=[ObservationKind.DETECTOR_INTERVAL])
    ca = make_ca(Path(tempfile.mkdtemp(prefix="kota-bench-ca-")))
    ca.directory.chmod(0o755)
    b = start_broker(registry, ca, max_inflight_messages=100)
    yield b, registry
    b.stop()
    shutil.rmtree(b.directory, ignore_errors=True)
    shutil.rmtree(ca.directory, ignore_errors=True)


def _device_process(config: BrokerConfig, device: Device, n_obs: int, per_message: int,
                    ready: Any, go: Any) -> None:
    """A device in its own process: encode every message, connect, wait for ``go``, publish all."""
    first_seq = time.time_ns() // 1000
    observations = [_obs(i) for i in range(n_obs)]
    sent_at = datetime.now(UTC)
    payloads = [envelope_bytes(DEVICE, first_seq + k, observations[k:k + per_message], sent_at,
                               batch=per_message > 1) for k in range(0, n_obs, per_message)]
    with DevicePublisher(config, device, max_inflight=50,
                         client_id=f"bench-dev-{time.monotonic_ns()}") as pub:
        ready.set()
        go.wait(60)
        for payload in payloads:
            pub.publish_raw(payload)
        pub.flush(120)


def _throughput(broker: MosquittoBroker, registry: DeviceRegistry, n_obs: int, per_message: int,
                store_url: str | None = None) -> dict[str, Any]:
    bus = Bus()
    done = threading.Event()
    seen = [0]

    def count(_o: Observation) -> None:
        seen[0] += 1
        if seen[0] >= n_obs:
            done.set()

    bus.subscribe_callback("#", count, name="counter")
    store = open_store(store_url) if store_url else None
    ingest = Ingest(bus, registry=registry, store=store)
    # a fresh client id each round: no session left over from the previous one
    bridge = MqttBridge(broker.bridge_config(), ingest, client_id=f"bench-{time.monotonic_ns()}").start()
    dev = registry.get(DEVICE)
    assert dev is not None
    # the device is another process, as real devices are other machines (no shared GIL)
    ctx = multiprocessing.get_context("spawn")
    ready, go = ctx.Event(), ctx.Event()
    proc = ctx.Process(target=_device_process,
                       args=(broker.bridge_config(), dev, n_obs, per_message, ready, go))
    proc.start()
    try:
        assert ready.wait(120), "the device process did not connect"
        t0 = time.perf_counter()
        go.set()
        assert done.wait(120), f"only {seen[0]} of {n_obs} observations arrived"
        wall_s = time.perf_counter() - t0
    finally:
        proc.join(60)
        bridge.stop()
        if store is not None:
            store.close()
    return {"observations": n_obs, "per_message": per_message, "wall_s": round(wall_s, 3),
            "obs_per_s": round(n_obs / wall_s), "msgs_per_s": round(n_obs / per_message / wall_s)}


@pytest.mark.benchmark(group="mqtt")
def test_mqtt_batched_into_the_bus(benchmark, broker):
    b, registry = broker
    figures = benchmark.pedantic(_throughput, args=(b, registry, 200_000, 500), rounds=1, iterations=1)
    benchmark.extra_info.update(figures)


@pytest.mark.benchmark(group="mqtt")
def test_mqtt_batched_into_the_bus_and_sqlite(benchmark, broker, tmp_path):
    b, registry = broker
    figures = benchmark.pedantic(_throughput, args=(b, registry, 100_000, 500),
                                 kwargs={"store_url": f"sqlite:///{tmp_path / 'kota.db'}"},
                                 rounds=1, iterations=1)
    benchmark.extra_info.update(figures)


@pytest.mark.benchmark(group="mqtt")
def test_mqtt_one_observation_per_message(benchmark, broker):
    b, registry = broker
    figures = benchmark.pedantic(_throughput, args=(b, registry, 20_000, 1), rounds=1, iterations=1)
    benchmark.extra_info.update(figures)


def _latency(broker: MosquittoBroker, registry: DeviceRegistry, rate_per_s: float,
             duration_s: float) -> dict[str, Any]:
    bus = Bus()
    lat_ms: list[float] = []
    n = int(rate_per_s * duration_s)
    done = threading.Event()

    def on_obs(o: Observation) -> None:
        lat_ms.append((time.perf_counter_ns() - int(o.payload["t_pub_ns"])) / 1e6)
        if len(lat_ms) >= n:
            done.set()

    bus.subscribe_callback("#", on_obs, name="module")
    ingest = Ingest(bus, registry=registry)
    bridge = MqttBridge(broker.bridge_config(), ingest, client_id=f"bench-{time.monotonic_ns()}").start()
    dev = registry.get(DEVICE)
    assert dev is not None
    try:
        with DevicePublisher(broker.bridge_config(), dev, max_inflight=50,
                             first_seq=time.time_ns() // 1000,
                             client_id=f"bench-dev-{time.monotonic_ns()}") as pub:
            t0 = time.perf_counter()
            for i in range(n):
                due = t0 + i / rate_per_s
                while (wait := due - time.perf_counter()) > 0:
                    time.sleep(min(wait, 0.001))
                pub.publish([_obs(i, t_pub_ns=time.perf_counter_ns())])
            achieved = n / (time.perf_counter() - t0)
            assert done.wait(60), f"only {len(lat_ms)} of {n} arrived"
    finally:
        bridge.stop()
    q = statistics.quantiles(lat_ms, n=100)
    return {"messages": n, "rate_per_s": round(achieved), "p50_ms": round(q[49], 2),
            "p99_ms": round(q[98], 2), "max_ms": round(max(lat_ms), 2)}


@pytest.mark.benchmark(group="mqtt")
def test_mqtt_latency_publish_to_module_at_1000_per_s(benchmark, broker):
    b, registry = broker
    figures = benchmark.pedantic(_latency, args=(b, registry, 1000.0, 5.0), rounds=1, iterations=1)
    benchmark.extra_info.update(figures)


def _gate_alone(n_obs: int, per_message: int) -> dict[str, Any]:
    registry = DeviceRegistry.generate([DEVICE], kinds=[ObservationKind.DETECTOR_INTERVAL])
    sent_at = datetime.now(UTC)
    observations = [_obs(i) for i in range(n_obs)]
    payloads = [envelope_bytes(DEVICE, k, observations[k:k + per_message], sent_at, batch=per_message > 1)
                for k in range(0, n_obs, per_message)]
    bus = Bus()
    bus.subscribe_callback("#", lambda _o: None, name="module")
    ingest = Ingest(bus, registry=registry)
    place = (registry.get(DEVICE).kab_kota, "traffic", "sim")  # type: ignore[union-attr]
    t0 = time.perf_counter()
    for payload in payloads:
        ingest.submit_message(payload, transport="mqtt", device_id=DEVICE, place=place)
    wall_s = time.perf_counter() - t0
    assert ingest.totals()["accepted"] == n_obs
    return {"observations": n_obs, "per_message": per_message, "obs_per_s": round(n_obs / wall_s),
            "us_per_obs": round(wall_s / n_obs * 1e6, 1)}


@pytest.mark.benchmark(group="mqtt")
def test_gate_alone_batched_for_comparison(benchmark):
    """The gate without MQTT: how much of the bridge's time is the gate's."""
    figures = benchmark.pedantic(_gate_alone, args=(100_000, 500), rounds=1, iterations=1)
    benchmark.extra_info.update(figures)
