"""Electronic traffic law enforcement (ETLE), end to end.

Camera Observations (``plate_read``, ``signal_state``) go through the detection rules
(:mod:`.rules`) into persisted cases (:mod:`.ingest`); an officer verifies each case
(:mod:`.verification`; no sanction without a human, UU PDP Art. 10); the workflow posts
the letter, waits for the owner's confirmation and the payment on the twin's SimPy clock
(:mod:`.workflow`); the bank's signed callbacks pay tickets over HTTP (:mod:`.payments`;
the endpoint is the bridge's ``hardware_bridge.bank_callback``); confirmed drivers get
Perpol 5/2021 points and a Traffic Attitude Record with a SIM renewal check (:mod:`.tar`).
Fines, points and timers are versioned data files under ``data/``. Every change is
written transactionally with an entry in the hash-chained audit log (:mod:`.audit`);
analytics see plates only as HMAC tokens (:mod:`.pseudonym`, :mod:`.analytics`).

Where the camera observations come from: scenarios feed the module either a **seeded
synthetic stream** (:mod:`.simfeed`, the default: vehicles from the synthetic registry
pass the scenario's cameras as Poisson arrivals with drawn speeds, red-light cameras
follow a fixed-time plan declared in the scenario, and a configured share of drivers
break each rule; the traffic engine is not consulted), or with
``[modules.enforcement.feed] source = "engine"`` the **traffic engine's virtual
cameras** (:mod:`.enginefeed`, :mod:`twin.cameras`): the simulated vehicles, with the
plates, owners and drivers of :class:`twin.vehicles.Fleet`. Real cameras produce the
same Observations, so nothing downstream changes. The plate format and the registry
types live in :mod:`twin.vehicles`; :mod:`.plates` and :mod:`.registry` re-export them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .codes import ViolationCode
    from .config import CameraConfig, CorridorConfig, DetectionConfig, SectionConfig, Tolerances
    from .detector import Detector
    from .ingest import Ingestor, IngestResult, case_id_of
    from .payments import CallbackResult, PaymentGateway, sign
    from .pseudonym import PlateTokenizer
    from .registry import Driver, Owner, Registry, Vehicle, load_registry_csv, synthetic_registry
    from .repository import CaseNotFound, CaseStore
    from .service import Enforcement, EnforcementSettings
    from .states import Case, CaseState, TransitionError
    from .tar import RenewalDecision, Tar, TrafficAttitudeRecord
    from .tariff import Tariff, Timers, load_tariff, load_timers

_EXPORTS = {
    "CallbackResult": "payments",
    "CameraConfig": "config",
    "Case": "states",
    "CaseNotFound": "repository",
    "CaseState": "states",
    "CaseStore": "repository",
    "CorridorConfig": "config",
    "DetectionConfig": "config",
    "Detector": "detector",
    "Driver": "registry",
    "Enforcement": "service",
    "EnforcementSettings": "service",
    "IngestResult": "ingest",
    "Ingestor": "ingest",
    "Owner": "registry",
    "PaymentGateway": "payments",
    "PlateTokenizer": "pseudonym",
    "Registry": "registry",
    "RenewalDecision": "tar",
    "SectionConfig": "config",
    "Tar": "tar",
    "Tariff": "tariff",
    "Timers": "tariff",
    "Tolerances": "config",
    "TrafficAttitudeRecord": "tar",
    "TransitionError": "states",
    "Vehicle": "registry",
    "ViolationCode": "codes",
    "case_id_of": "ingest",
    "load_registry_csv": "registry",
    "load_tariff": "tariff",
    "load_timers": "tariff",
    "sign": "payments",
    "synthetic_registry": "registry",
}

__all__ = [
    "CallbackResult",
    "CameraConfig",
    "Case",
    "CaseNotFound",
    "CaseState",
    "CaseStore",
    "CorridorConfig",
    "DetectionConfig",
    "Detector",
    "Driver",
    "Enforcement",
    "EnforcementSettings",
    "IngestResult",
    "Ingestor",
    "Owner",
    "PaymentGateway",
    "PlateTokenizer",
    "Registry",
    "RenewalDecision",
    "SectionConfig",
    "Tar",
    "Tariff",
    "Timers",
    "Tolerances",
    "TrafficAttitudeRecord",
    "TransitionError",
    "Vehicle",
    "ViolationCode",
    "case_id_of",
    "load_registry_csv",
    "load_tariff",
    "load_timers",
    "sign",
    "synthetic_registry",
]


def __getattr__(name: str) -> Any:
    """Import the public names lazily, so ``kota --help`` stays fast."""
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
