"""The simulated fleet (twin.vehicles.Fleet): plates, parity, owners, drivers, seeds."""

from __future__ import annotations

import math
from datetime import date

import numpy as np
import pytest

import twin.modules.enforcement.plates as etle_plates
import twin.modules.enforcement.registry as etle_registry
from twin.demand import VEHICLE_CLASSES
from twin.vehicles import Fleet, parse_plate, plates, registry

N = 100_000
TODAY = date(2026, 3, 2)


def within(count: int, n: int, p: float, sigmas: float = 4.5) -> bool:
    """``count`` successes of ``n`` lie within ``sigmas`` binomial deviations of ``n p``."""
    return abs(count - n * p) <= sigmas * math.sqrt(n * p * (1 - p))


@pytest.fixture(scope="module")
def classes() -> np.ndarray:
    return np.random.default_rng(5).choice(4, size=N, p=[0.7, 0.25, 0.02, 0.03]).astype(np.int8)


@pytest.fixture(scope="module")
def fleet(classes: np.ndarray) -> Fleet:
    return Fleet(classes, seed=11, regions={"B": 0.85, "D": 0.08, "F": 0.07}, today=TODAY)


@pytest.fixture(scope="module")
def all_plates(fleet: Fleet) -> list[str]:
    return fleet.plates(np.arange(N))


def test_every_vehicle_has_a_distinct_well_formed_plate(all_plates):
    assert len(set(all_plates)) == N
    for p in all_plates[:2000]:
        parsed = parse_plate(p)
        assert parsed.text == p and 1 <= len(parsed.suffix) <= 3
        assert not set(parsed.suffix) & set("IOQ") and not parsed.number.startswith("0")


def test_odd_and_even_plates_are_half_each(fleet, all_plates):
    """Ganjil-genap needs parity to be a coin toss: 5,000 of the 9,999 numbers are odd."""
    odd = fleet.is_odd(np.arange(N))
    assert within(int(odd.sum()), N, 5000 / 9999)
    assert all(parse_plate(p).is_odd == bool(o) for p, o in zip(all_plates[:5000], odd[:5000],
                                                                  strict=True))
    last = np.array([int(p.split()[1][-1]) for p in all_plates])
    for digit in range(10):  # every last digit about as common (1..9999: 0 is a bit rarer)
        share = 999 / 9999 if digit == 0 else 1000 / 9999
        assert within(int((last == digit).sum()), N, share)


def test_region_prefixes_follow_their_shares(all_plates):
    prefix = [p.split()[0] for p in all_plates]
    for code, share in (("B", 0.85), ("D", 0.08), ("F", 0.07)):
        assert within(prefix.count(code), N, share)
    default = Fleet(np.zeros(1000, np.int8), seed=1)
    assert {p.split()[0] for p in default.plates(np.arange(1000))} == {"B"}


def test_same_seed_same_fleet_other_seed_other_plates(classes, fleet, all_plates):
    again = Fleet(classes, seed=11, regions={"B": 0.85, "D": 0.08, "F": 0.07}, today=TODAY)
    sample = [0, 1, 17, 4242, N - 1]
    assert again.plates(np.arange(N)) == all_plates
    assert [again.plate(v) for v in sample] == [all_plates[v] for v in sample]  # one by one
    for v in sample:
        assert again.owner(v) == fleet.owner(v) and again.driver(v) == fleet.driver(v)
    other = Fleet(classes, seed=12, regions={"B": 0.85, "D": 0.08, "F": 0.07}, today=TODAY)
    same = sum(a == b for a, b in zip(other.plates(np.arange(1000)), all_plates, strict=False))
    assert same < 5


def test_a_plate_leads_back_to_its_vehicle(fleet, all_plates):
    rng = np.random.default_rng(2)
    for v in rng.integers(0, N, 300).tolist():
        assert fleet.vehicle_of(all_plates[v]) == v
        assert fleet.vehicle_of(all_plates[v].replace(" ", "").lower()) == v
    assert fleet.vehicle_of(None) is None
    assert fleet.vehicle_of("not a plate") is None
    assert fleet.vehicle_of("Z 1234 AB") is None  # a region this fleet has no plates from
    assert fleet.vehicle_of("B 0123 AB") is None  # numbers never start with 0
    issued = set(all_plates)
    unissued = next(f"B {n} ABC" for n in range(1, 9999) if f"B {n} ABC" not in issued)
    assert fleet.vehicle_of(unissued) is None


def test_vehicles_added_after_the_fleet_have_plates_of_their_own(fleet, all_plates):
    """A dispatch unit added to the simulation: a well-formed plate no fleet vehicle has,
    of no fleet owner; the fleet's own indices are refused."""
    added = np.arange(N, N + 50)
    service = fleet.service_plates(added)
    assert len(set(service)) == 50 and not set(service) & set(all_plates)
    assert all(parse_plate(p).text == p for p in service)
    assert fleet.service_plates(added[::-1]) == service[::-1]  # by index, not by order
    assert all(fleet.vehicle_of(p) is None for p in service)
    with pytest.raises(ValueError, match="service vehicle index"):
        fleet.service_plates([N - 1])
    with pytest.raises(ValueError, match="out of range"):
        fleet.plates([N])


def test_drivers_hold_the_sim_their_vehicle_needs(fleet, classes):
    wanted = {"motorcycle": "C", "car": "A", "bus": "B1", "truck": "B1"}
    for code, name in enumerate(VEHICLE_CLASSES):
        for v in np.flatnonzero(classes == code)[:50].tolist():
            driver = fleet.driver(v)
            assert driver.sim_class == wanted[name]
            assert driver.sim_class in registry.SIM_FOR_CLASS[name]
            assert len(driver.sim_number) == 12 and driver.sim_number.isdigit()


def test_expired_sims_and_second_drivers_follow_their_shares(fleet):
    n = 4000
    owners_drivers = [fleet.owner_driver(v) for v in range(n)]
    expired = sum(d.sim_valid_until < TODAY for d in owners_drivers)
    assert within(expired, n, 0.08)
    other = fleet.driven_by_other(np.arange(N))
    assert within(int(other.sum()), N, 0.05)
    v = int(np.flatnonzero(other)[0])
    assert fleet.driver(v).driver_id == f"{fleet.owner(v).driver_id}-2"
    w = int(np.flatnonzero(~other)[0])
    assert fleet.driver(w).driver_id == fleet.owner(w).driver_id
    assert fleet.driver(w).name == fleet.owner(w).name


def test_registry_of_some_vehicles_answers_etle_questions(fleet, all_plates):
    other = np.flatnonzero(fleet.driven_by_other(np.arange(200)))
    picked = [3, 5, 199, *other.tolist()]
    reg = fleet.registry(picked)
    reg.check()
    assert set(reg.vehicles) == {all_plates[v] for v in picked}
    owner = reg.owner_of(all_plates[5].replace(" ", ""))
    assert owner == fleet.owner(5) and reg.vehicle(all_plates[5]).vehicle_class == \
        VEHICLE_CLASSES[int(fleet.vehicle_class[5])]
    for v in other.tolist():  # the household's second driver is there for "confirm other"
        assert f"{fleet.owner(v).driver_id}-2" in reg.drivers


def test_bad_fleet_arguments_are_refused():
    with pytest.raises(ValueError, match="one or two capital letters"):
        Fleet(np.zeros(3, np.int8), seed=1, regions={"b": 1.0})
    with pytest.raises(ValueError, match="share > 0"):
        Fleet(np.zeros(3, np.int8), seed=1, regions={"B": 0.0})
    with pytest.raises(ValueError, match="vehicle_class codes"):
        Fleet(np.array([0, 7]), seed=1)
    with pytest.raises(ValueError, match="out of range"):
        Fleet(np.zeros(3, np.int8), seed=1).plates([3])


def test_etle_keeps_its_import_paths():
    """The plate format and registry moved to twin.vehicles; ETLE re-exports the same objects."""
    assert etle_plates.parse_plate is plates.parse_plate
    assert etle_registry.synthetic_registry is registry.synthetic_registry
    assert etle_registry.Registry is registry.Registry
