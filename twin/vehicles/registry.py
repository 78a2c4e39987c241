"""Vehicle and driver registration data (Regident / ERI and SIM), kept apart from analytics.

The :class:`Registry` answers two questions the case workflow asks: who owns the vehicle
with this plate (to post the confirmation letter), and who is this driver and what SIM
do they hold (for points and the renewal check). It holds personal data, so only the
case workflow reads it; analytics see plate tokens
(:mod:`twin.modules.enforcement.pseudonym`).

Three sources: :func:`synthetic_registry`, a seeded, deterministic registry of its
own vehicles (Jakarta ``B`` plates with some from Bandung ``D`` and Bogor ``F``);
:meth:`twin.vehicles.fleet.Fleet.registry`, the records of the simulation's own
vehicles; and :func:`load_registry_csv`, three CSV files for a real deployment.
"""

from __future__ import annotations

import csv
import random
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

from twin.demand import VEHICLE_CLASSES

from .plates import PlateError, normalise_plate, try_parse_plate

SIM_CLASSES = ("A", "B1", "B2", "C", "D")
"""SIM A: cars; B1/B2: buses and trucks; C: motorcycles; D: special vehicles."""

SIM_FOR_CLASS = {"motorcycle": ("C",), "car": ("A", "B1", "B2"), "bus": ("B1", "B2"),
                 "truck": ("B1", "B2")}
"""The SIM classes that allow driving each vehicle class (simplified)."""


class RegistryError(ValueError):
    """Registration data is inconsistent or a CSV row is malformed; the message says where."""


@dataclass(frozen=True, slots=True)
class Owner:
    """A registered owner (personal data).

    Attributes
    ----------
    owner_id : str
    name : str
    address : str, where the confirmation letter is posted
    phone : str, for WhatsApp notices where the Polda sends them
    driver_id : str or None, the owner's own driver record, if any
    """

    owner_id: str
    name: str
    address: str
    phone: str = ""
    driver_id: str | None = None


@dataclass(frozen=True, slots=True)
class Vehicle:
    """A registered vehicle (STNK).

    Attributes
    ----------
    plate : str, normal form ``"B 1234 XYZ"``
    vehicle_class : str, one of :data:`twin.demand.VEHICLE_CLASSES`
    owner_id : str
    """

    plate: str
    vehicle_class: str
    owner_id: str


@dataclass(frozen=True, slots=True)
class Driver:
    """A driver and the SIM they hold (personal data).

    Attributes
    ----------
    driver_id : str
    name : str
    sim_number : str
    sim_class : str, one of :data:`SIM_CLASSES`
    sim_valid_until : date, last day the SIM is valid
    """

    driver_id: str
    name: str
    sim_number: str
    sim_class: str
    sim_valid_until: date


@dataclass
class Registry:
    """Owners, vehicles and drivers, looked up by plate and by id."""

    owners: dict[str, Owner] = field(default_factory=dict)
    vehicles: dict[str, Vehicle] = field(default_factory=dict)
    drivers: dict[str, Driver] = field(default_factory=dict)

    def add(self, *records: Owner | Vehicle | Driver) -> None:
        """Add records (a vehicle's plate is normalised)."""
        for r in records:
            if isinstance(r, Owner):
                self.owners[r.owner_id] = r
            elif isinstance(r, Vehicle):
                plate = normalise_plate(r.plate)
                self.vehicles[plate] = Vehicle(plate, r.vehicle_class, r.owner_id)
            else:
                self.drivers[r.driver_id] = r

    def vehicle(self, plate: str | None) -> Vehicle | None:
        """The vehicle with ``plate`` (any spacing), or None."""
        parsed = try_parse_plate(plate)
        return None if parsed is None else self.vehicles.get(parsed.text)

    def owner_of(self, plate: str | None) -> Owner | None:
        """The registered owner of ``plate``, or None if the plate is not registered."""
        v = self.vehicle(plate)
        return None if v is None else self.owners.get(v.owner_id)

    def driver(self, driver_id: str | None) -> Driver | None:
        """The driver ``driver_id``, or None."""
        return None if driver_id is None else self.drivers.get(driver_id)

    def check(self) -> None:
        """Raise :class:`RegistryError` if a vehicle names an unknown owner, or an owner an
        unknown driver, or a class is not known."""
        for v in self.vehicles.values():
            if v.owner_id not in self.owners:
                raise RegistryError(f"vehicle {v.plate!r}: unknown owner {v.owner_id!r}")
            if v.vehicle_class not in VEHICLE_CLASSES:
                raise RegistryError(f"vehicle {v.plate!r}: unknown class {v.vehicle_class!r}")
        for o in self.owners.values():
            if o.driver_id is not None and o.driver_id not in self.drivers:
                raise RegistryError(f"owner {o.owner_id!r}: unknown driver {o.driver_id!r}")
        for d in self.drivers.values():
            if d.sim_class not in SIM_CLASSES:
                raise RegistryError(f"driver {d.driver_id!r}: unknown SIM class {d.sim_class!r}")


_FIRST = ("Budi", "Siti", "Agus", "Dewi", "Rudi", "Ayu", "Joko", "Rina", "Eko", "Sri", "Andi",
          "Putri", "Hendra", "Wati", "Bayu", "Indah", "Dimas", "Lestari", "Fajar", "Nur")
_LAST = ("Santoso", "Wijaya", "Saputra", "Hidayat", "Pratama", "Kusuma", "Nugroho", "Siregar",
         "Lubis", "Simanjuntak", "Halim", "Gunawan", "Setiawan", "Rahman", "Utami")
_STREETS = ("Jl. Bekasi Timur Raya", "Jl. Dr. KRT Radjiman Widyodiningrat", "Jl. Pulo Gebang",
            "Jl. Pengarengan", "Jl. Rawa Sumur", "Jl. Puloayang Raya", "Jl. Waru Doyong")
_MIX = {"motorcycle": 0.70, "car": 0.25, "bus": 0.02, "truck": 0.03}
_REGIONS = (("B", 0.85), ("D", 0.08), ("F", 0.07))


def synthetic_registry(n_vehicles: int, seed: int = 0, *, today: date = date(2026, 3, 2)) -> Registry:
    """A deterministic registry of ``n_vehicles`` vehicles, one owner each.

    Every owner has a driver record whose SIM class fits the vehicle; about 8 % of SIMs
    expired before ``today`` and a few owners (about 5 %) have a second driver in the
    household, so "another named driver" confirmations have someone to name. Plates are
    unique, mostly ``B`` (Jakarta), with ``D`` and ``F``; their last digits are evenly
    odd and even.
    """
    if n_vehicles < 1:
        raise ValueError(f"n_vehicles must be >= 1, got {n_vehicles}")
    rng = random.Random(seed)
    reg = Registry()
    used: set[str] = set()
    classes = list(_MIX)
    weights = list(_MIX.values())
    for i in range(n_vehicles):
        region = rng.choices([r for r, _ in _REGIONS], [w for _, w in _REGIONS])[0]
        while True:
            number = str(rng.randint(1, 9999))
            suffix = "".join(rng.choice("ABCDEFGHJKLMNPRSTUVWXYZ") for _ in range(rng.randint(1, 3)))
            plate = f"{region} {number} {suffix}"
            if plate not in used:
                used.add(plate)
                break
        vclass = rng.choices(classes, weights)[0]
        owner_id = f"O{i:07d}"
        driver_id = f"D{i:07d}"
        name = f"{rng.choice(_FIRST)} {rng.choice(_LAST)}"
        address = f"{rng.choice(_STREETS)} No. {rng.randint(1, 250)}, Jakarta Timur"
        expired = rng.random() < 0.08
        valid_until = today + timedelta(days=-rng.randint(1, 400) if expired
                                        else rng.randint(30, 5 * 365))
        sim_class = SIM_FOR_CLASS[vclass][0]
        reg.add(
            Owner(owner_id, name, address, f"08{rng.randint(10**9, 10**10 - 1)}", driver_id),
            Vehicle(plate, vclass, owner_id),
            Driver(driver_id, name, f"{rng.randint(10**11, 10**12 - 1)}", sim_class, valid_until),
        )
        if rng.random() < 0.05:
            reg.add(Driver(f"D{i:07d}-2", f"{rng.choice(_FIRST)} {rng.choice(_LAST)}",
                           f"{rng.randint(10**11, 10**12 - 1)}", sim_class,
                           today + timedelta(days=rng.randint(30, 5 * 365))))
    return reg


def _rows(path: Path, required: Iterable[str]) -> list[tuple[int, dict[str, str]]]:
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            missing = set(required) - set(reader.fieldnames or ())
            if missing:
                raise RegistryError(f"{path}: missing column(s) {', '.join(sorted(missing))}")
            return [(i + 2, {k: (v or "").strip() for k, v in row.items() if k}) for i, row in
                    enumerate(reader)]
    except OSError as exc:
        raise RegistryError(f"{path}: cannot read ({exc.strerror})") from None


def load_registry_csv(owners_csv: str | Path, vehicles_csv: str | Path,
                      drivers_csv: str | Path) -> Registry:
    """Read a registry from three CSV files with a header row.

    * owners: ``owner_id,name,address,phone,driver_id`` (phone, driver_id may be empty)
    * vehicles: ``plate,vehicle_class,owner_id``
    * drivers: ``driver_id,name,sim_number,sim_class,sim_valid_until`` (ISO date)

    Raises
    ------
    RegistryError
        Naming the file and line of the first bad row, or a dangling reference.
    """
    reg = Registry()
    for line, row in _rows(Path(drivers_csv), ("driver_id", "name", "sim_number", "sim_class",
                                               "sim_valid_until")):
        try:
            reg.add(Driver(row["driver_id"], row["name"], row["sim_number"], row["sim_class"],
                           date.fromisoformat(row["sim_valid_until"])))
        except ValueError as exc:
            raise RegistryError(f"{drivers_csv}:{line}: {exc}") from None
    for line, row in _rows(Path(owners_csv), ("owner_id", "name", "address")):
        if not row["owner_id"]:
            raise RegistryError(f"{owners_csv}:{line}: empty owner_id")
        reg.add(Owner(row["owner_id"], row["name"], row["address"], row.get("phone", ""),
                      row.get("driver_id") or None))
    for line, row in _rows(Path(vehicles_csv), ("plate", "vehicle_class", "owner_id")):
        try:
            reg.add(Vehicle(row["plate"], row["vehicle_class"], row["owner_id"]))
        except PlateError as exc:
            raise RegistryError(f"{vehicles_csv}:{line}: {exc}") from None
    reg.check()
    return reg
