"""A store filled by the real ETLE module, as a speed camera and the bank would fill it.

Four speeding reads of registered vehicles from a 50 km/h speed camera (one with a
photo kept in the bridge's evidence store, as the ISAPI adapter keeps it), run through
:class:`~twin.modules.enforcement.service.Enforcement`; the oldest is verified, posted,
confirmed by its owner and paid through a signed bank callback, so the store also has
a payment, SIM points and a closed case. Three cases wait for verification.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from dashboard.enforcement_desk import EnforcementDesk
from hardware_bridge.evidence import EvidenceStore
from tests.dashboard.logins import PASSWORD
from tests.hardware_bridge.http_helpers import JPEG
from tests.modules.enforcement.conftest import KEY, SECRET, T0, plate_read, speed_camera, speeding
from twin.accounts import AccountStore
from twin.clock import Clock
from twin.modules.enforcement import (
    Case,
    DetectionConfig,
    Enforcement,
    EnforcementSettings,
    PlateTokenizer,
    Registry,
    sign,
    synthetic_registry,
)
from twin.store import Store, open_store

USERS = {"vic": "verifier", "sue": "supervisor", "ann": "analyst", "dan": "dispatcher"}


@dataclass
class EtleStore:
    """The filled store and what made it."""

    store: Store
    enforcement: Enforcement
    registry: Registry
    accounts: AccountStore
    desk: EnforcementDesk
    paid: Case  # closed by a payment; its driver has 5 points
    photo: Case  # pending, with a photo in the evidence store
    pending: list[Case]  # the three pending cases, oldest first


def jpeg_bytes() -> bytes:
    """A small real JPEG, like a camera's plate crop (the bridge tests' 16x8 picture)."""
    return JPEG


def fill_etle_store(tmp_path: Path) -> EtleStore:
    """Build the store described in the module docstring under ``tmp_path``."""
    store = open_store(f"sqlite:///{tmp_path / 'kota.db'}")
    registry = synthetic_registry(200, seed=7)
    enf = Enforcement(store, Clock(T0), registry,
                      EnforcementSettings(detection=DetectionConfig(cameras=[speed_camera()])),
                      pseudonym_key=KEY, callback_secret=SECRET)
    evidence = EvidenceStore(tmp_path / "evidence")
    digest = evidence.put(jpeg_bytes())
    photo_plate = sorted(registry.vehicles)[2]
    enf.ingest([
        speeding(registry, 1, at=T0 - timedelta(hours=1), index=3),
        speeding(registry, 2, at=T0, index=0),
        speeding(registry, 3, at=T0 + timedelta(minutes=1), index=1),
        plate_read("cam-speed", 4, T0 + timedelta(minutes=2), photo_plate, speed_mps=90 / 3.6,
                   vehicle_class="car", image_sha256=digest),
    ])
    first = enf.queue.list()[0]
    enf.queue.verify(first.case_id, "ani")
    enf.workflow.send_notice(first.case_id)
    ticket = enf.workflow.confirm(first.case_id)
    body = json.dumps({"payment_ref": "BRI-20260302-000001", "va_number": ticket.va_number,
                       "amount_idr": ticket.fine_idr, "paid_at": T0.isoformat(),
                       "bank": "BRI"}).encode()
    assert enf.gateway.handle(body, sign(SECRET, body)).outcome == "accepted"
    accounts = AccountStore.of(store)
    for name, role in USERS.items():
        accounts.add_user(name, role, PASSWORD)
    desk = EnforcementDesk(registry, PlateTokenizer(KEY), now=lambda: enf.clock.now,
                           images=lambda h: evidence.get(h) if h in evidence else None)
    pending = enf.queue.list()
    paid = enf.cases.case(first.case_id)
    assert paid is not None
    (photo,) = [c for c in pending if c.plate == photo_plate]
    return EtleStore(store, enf, registry, accounts, desk, paid, photo, pending)
