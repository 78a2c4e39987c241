"""The vehicles of the simulated (and the real) world: plates, registration, drivers.

- :mod:`.plates`: Indonesian registration plates (TNKB): parsing, normal form, parity.
- :mod:`.registry`: owners, vehicles and drivers with their SIM (:class:`Registry`),
  a seeded :func:`synthetic_registry` and a CSV loader for real data.
- :mod:`.fleet`: :class:`Fleet`, the plates, owners and drivers of every simulated
  vehicle, derived from the vehicle index and a seed (no per-vehicle objects).
"""

from __future__ import annotations

from .fleet import DEFAULT_REGIONS, Fleet
from .plates import Plate, PlateError, normalise_plate, parse_plate, try_parse_plate
from .registry import (
    SIM_CLASSES,
    SIM_FOR_CLASS,
    Driver,
    Owner,
    Registry,
    RegistryError,
    Vehicle,
    load_registry_csv,
    synthetic_registry,
)

__all__ = [
    "DEFAULT_REGIONS",
    "SIM_CLASSES",
    "SIM_FOR_CLASS",
    "Driver",
    "Fleet",
    "Owner",
    "Plate",
    "PlateError",
    "Registry",
    "RegistryError",
    "Vehicle",
    "load_registry_csv",
    "normalise_plate",
    "parse_plate",
    "synthetic_registry",
    "try_parse_plate",
]
