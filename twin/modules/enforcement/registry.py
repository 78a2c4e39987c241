"""Vehicle and driver registration data: re-exported from :mod:`twin.vehicles.registry`.

The registry types, the seeded :func:`synthetic_registry` and the CSV loader live in
``twin.vehicles`` (the simulated world's vehicles are a twin concept); this module keeps
ETLE's import path. Only the case workflow reads personal data from a registry.
"""

from __future__ import annotations

from twin.vehicles.registry import (
    SIM_CLASSES,
    SIM_FOR_CLASS,
    VEHICLE_CLASSES,
    Driver,
    Owner,
    Registry,
    RegistryError,
    Vehicle,
    load_registry_csv,
    synthetic_registry,
)

__all__ = [
    "SIM_CLASSES",
    "SIM_FOR_CLASS",
    "VEHICLE_CLASSES",
    "Driver",
    "Owner",
    "Registry",
    "RegistryError",
    "Vehicle",
    "load_registry_csv",
    "synthetic_registry",
]
