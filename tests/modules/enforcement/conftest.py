"""Fixtures of the enforcement tests: a real SQLite file or a real PostgreSQL database."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from twin.clock import Clock
from twin.modules.enforcement import (
    CameraConfig,
    DetectionConfig,
    Enforcement,
    EnforcementSettings,
    Registry,
    synthetic_registry,
)
from twin.observations import Location, Observation, ObservationKind
from twin.store import Store

WIB = timezone(timedelta(hours=7), "WIB")
T0 = datetime(2026, 3, 2, 7, 0, tzinfo=WIB)  # a Monday, an even date
KEY = b"test-pseudonym-key-0123456789abcdef"
SECRET = b"test-callback-secret-0123456789"

@pytest.fixture(scope="session")
def registry() -> Registry:
    """A small seeded synthetic registry."""
    return synthetic_registry(200, seed=7)


def speed_camera(camera_id: str = "cam-speed", limit_kmh: float = 50.0) -> CameraConfig:
    """A speed camera checking plates too."""
    return CameraConfig(id=camera_id, kind="speed", speed_limit_kmh=limit_kmh)


@pytest.fixture
def make_enforcement(store: Store, registry: Registry) -> Callable[..., Enforcement]:
    """Build an :class:`Enforcement` on ``store`` with a clock starting at ``T0``."""
    def make(detection: DetectionConfig | None = None, *, start: datetime = T0,
             consumer: str = "etle-detector", **settings: Any) -> Enforcement:
        det = detection or DetectionConfig(cameras=[speed_camera()])
        return Enforcement(store, Clock(start), registry,
                           EnforcementSettings(detection=det, **settings),
                           pseudonym_key=KEY, callback_secret=SECRET, consumer=consumer)
    return make


def plate_read(camera: str, n: int, at: datetime, plate: str | None, *, confidence: float = 0.95,
               **extra: Any) -> Observation:
    """Plate read number ``n`` of ``camera`` (event id ``{camera}:{n}``)."""
    return Observation(ObservationKind.PLATE_READ, camera, at,
                       {"plate": plate, "confidence": confidence, **extra},
                       Location(106.9, -6.2, "L1"), event_id=f"{camera}:{n}")


def speeding(registry: Registry, n: int = 1, *, at: datetime = T0, speed_kmh: float = 80.0,
             camera: str = "cam-speed", index: int = 0) -> Observation:
    """A speeding read of the ``index``-th registered vehicle."""
    plate = sorted(registry.vehicles)[index]
    return plate_read(camera, n, at, plate, speed_mps=speed_kmh / 3.6, vehicle_class="car",
                      image_sha256="ab" * 32)
