"""Shared setup of the HTTP ingest tests: a registry, a gate on a real store, the running server
and a small HTTP client. Import the fixtures into a test module::

    from tests.hardware_bridge.http_helpers import http_env  # noqa: F401  (fixture)
"""

from __future__ import annotations

import base64
import http.client
import json
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from hardware_bridge.devices import Device, DeviceRegistry
from hardware_bridge.evidence import EvidenceStore
from hardware_bridge.http_ingest import HttpIngestServer
from hardware_bridge.ingest import Ingest
from hardware_bridge.isapi import IsapiSite
from hardware_bridge.signing import DEVICE_HEADER, SIGNATURE_HEADER, sign
from twin.bus import Bus
from twin.live import LiveTwin
from twin.observations import Observation, ObservationKind
from twin.store import Store, open_store

JPEG = bytes.fromhex(
    "ffd8ffe000104a46494600010100000100010000ffdb004300100b0c0e0c0a100e0d0e1211101318281a181616183123"
    "251d283a333d3c3933383740485c4e404457453738506d51575f626768673e4d71797064785c656763ffdb0043011112"
    "121815182f1a1a2f63423842636363636363636363636363636363636363636363636363636363636363636363636363"
    "6363636363636363636363636363ffc00011080008001003012200021101031101ffc4001f0000010501010101010100"
    "000000000000000102030405060708090a0bffc400b5100002010303020403050504040000017d010203000411051221"
    "31410613516107227114328191a1082342b1c11552d1f02433627282090a161718191a25262728292a3435363738393a"
    "434445464748494a535455565758595a636465666768696a737475767778797a838485868788898a9293949596979899"
    "9aa2a3a4a5a6a7a8a9aab2b3b4b5b6b7b8b9bac2c3c4c5c6c7c8c9cad2d3d4d5d6d7d8d9dae1e2e3e4e5e6e7e8e9eaf1"
    "f2f3f4f5f6f7f8f9faffc4001f0100030101010101010101010000000000000102030405060708090a0bffc400b51100"
    "020102040403040705040400010277000102031104052131061241510761711322328108144291a1b1c109233352f015"
    "6272d10a162434e125f11718191a262728292a35363738393a434445464748494a535455565758595a63646566676869"
    "6a737475767778797a82838485868788898a92939495969798999aa2a3a4a5a6a7a8a9aab2b3b4b5b6b7b8b9bac2c3c4"
    "c5c6c7c8c9cad2d3d4d5d6d7d8d9dae2e3e4e5e6e7e8e9eaf2f3f4f5f6f7f8f9faffda000c03010002110311003f00c7"
    "a28a2b84fa83ffd9"
)
"""A real 16x8 JPEG (632 bytes)."""

ALL_KINDS = frozenset(ObservationKind)
SECRETS = {
    "cam-1": "cam-one-secret-0123456789",
    "cam-2": "cam-two-secret-0123456789",
    "dev-1": "dev-one-secret-0123456789",
    "broker-1": "broker-secret-0123456789",
    "broker-flow": "broker-flow-secret-012345",
    "avl-1": "avl-one-secret-0123456789",
}


def make_registry() -> DeviceRegistry:
    """Cameras (plate reads), a sensor device (everything), brokers and an AVL unit."""
    plate = frozenset({ObservationKind.PLATE_READ})
    return DeviceRegistry([
        Device("cam-1", "jakarta-timur", "etle", "jatinegara", plate, SECRETS["cam-1"]),
        Device("cam-2", "jakarta-timur", "etle", "jatinegara", plate, SECRETS["cam-2"]),
        Device("dev-1", "jakarta-timur", "traffic", "matraman", ALL_KINDS, SECRETS["dev-1"]),
        Device("broker-1", "jakarta-pusat", "traffic", "broker", ALL_KINDS, SECRETS["broker-1"]),
        Device("broker-flow", "jakarta-pusat", "traffic", "broker",
               frozenset({ObservationKind.DETECTOR_INTERVAL}), SECRETS["broker-flow"]),
        Device("avl-1", "jakarta-timur", "emergency", "psc", frozenset({ObservationKind.UNIT_POSITION}),
               SECRETS["avl-1"]),
    ])


def basic(device_id: str, secret: str | None = None) -> str:
    """An HTTP Basic ``Authorization`` value."""
    token = f"{device_id}:{SECRETS[device_id] if secret is None else secret}".encode()
    return "Basic " + base64.b64encode(token).decode()


def envelope(observations: list[Observation], device_id: str = "dev-1", seq: int = 1,
             sent_at: datetime | None = None) -> bytes:
    """A JSON envelope as a device sends it."""
    sent = (sent_at or datetime.now(UTC)).isoformat()
    return json.dumps({"device_id": device_id, "seq": seq, "sent_at": sent,
                       "observations": [o.to_dict() for o in observations]}).encode()


def signed_headers(body: bytes, device_id: str = "dev-1", secret: str | None = None) -> dict[str, str]:
    """The headers of a signed push."""
    key = SECRETS.get(device_id, "no-such-secret-0000000") if secret is None else secret
    return {DEVICE_HEADER: device_id, SIGNATURE_HEADER: sign(key, body),
            "Content-Type": "application/json"}


@dataclass
class Reply:
    """An HTTP answer."""

    status: int
    headers: Mapping[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class HttpEnv:
    """A running server with its gate, store, bus and evidence store."""

    server: HttpIngestServer
    ingest: Ingest
    store: Store
    bus: Bus
    evidence: EvidenceStore
    published: list[Observation] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def request(self, method: str, path: str, body: bytes | None = None,
                headers: Mapping[str, str] | None = None) -> Reply:
        """One request on a fresh connection."""
        host, port = self.server.url.removeprefix("http://").split(":")
        conn = http.client.HTTPConnection(host, int(port), timeout=30)
        try:
            conn.request(method, path, body=body, headers=dict(headers or {}))
            resp = conn.getresponse()
            return Reply(resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read())
        finally:
            conn.close()

    def post(self, path: str, body: bytes, headers: Mapping[str, str] | None = None) -> Reply:
        return self.request("POST", path, body, headers)

    def quarantine_reasons(self) -> list[str]:
        """Reasons of the store's quarantine rows, oldest first."""
        return [r.reason for r in reversed(self.store.quarantined(limit=None))]


def start_env(tmp_path: Path, store: Store, *, live: LiveTwin | None = None,
              sites: Mapping[str, IsapiSite] | None = None, ingest_kw: Mapping[str, Any] | None = None,
              **server_kw: Any) -> HttpEnv:
    """Start a server on ``store`` (stop it with ``env.server.stop()``)."""
    bus = Bus()
    ingest = Ingest(bus, registry=make_registry(), store=store, **dict(ingest_kw or {}))
    evidence = EvidenceStore(tmp_path / "evidence")
    server = HttpIngestServer(ingest, evidence=evidence, live=live, sites=sites, **server_kw).start()
    env = HttpEnv(server, ingest, store, bus, evidence)

    def keep(obs: Observation) -> None:
        with env._lock:
            env.published.append(obs)

    bus.subscribe_callback("#", keep)
    return env


@pytest.fixture
def http_env(tmp_path: Path) -> Iterator[HttpEnv]:
    """A running server on a fresh SQLite store."""
    store = open_store(f"sqlite:///{tmp_path / 'kota.db'}")
    env = start_env(tmp_path, store)
    yield env
    env.server.stop()
    store.close()
