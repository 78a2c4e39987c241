"""The simulated vehicles' plates, owners and drivers, derived from the vehicle index.

A simulation of a city has as many vehicles as trips, 100,000 and more; giving each
a Python record up front would cost more than the engine's state. :class:`Fleet`
instead *derives* every attribute of vehicle ``i`` from ``(i, seed)`` with a keyed
integer hash, so nothing is stored per vehicle, any subset can be computed as arrays,
and two fleets with the same seed agree on every vehicle.

Plates
------
A plate is a region prefix (``B`` = Jakarta; shares configurable), a number of one to
four digits and a suffix of one to three letters (``I``, ``O`` and ``Q`` are not
used), as :mod:`twin.vehicles.plates` parses them. The number and suffix come from a
keyed permutation of the 127,177,281 number-suffix codes (a Feistel network with
cycle walking), so no two vehicles share a plate and the plate can be turned back into
the vehicle index (:meth:`Fleet.vehicle_of`) without a table. The number's last digit
is odd for 5,000 of the 9,999 numbers: half the fleet is *ganjil*.

Owners and drivers
------------------
Each vehicle has one owner, whose own driver record holds a SIM of the class the
vehicle needs (C for motorcycles, A for cars, B1 for buses and trucks). About
``expired_sim_share`` of the SIMs expired before ``today``. A share
``other_driver_share`` of the vehicles are driven by a second driver of the household
(driver id ``{owner's driver id}-2``), which is who :meth:`Fleet.driver` returns for
them. :meth:`Fleet.registry` materialises the records of a few vehicles as a
:class:`~twin.vehicles.registry.Registry` for a module that looks owners up by plate.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping
from datetime import date, timedelta

import numpy as np
from numpy.typing import ArrayLike, NDArray

from twin.demand import VEHICLE_CLASSES

from .plates import try_parse_plate
from .registry import _FIRST, _LAST, _STREETS, SIM_FOR_CLASS, Driver, Owner, Registry, Vehicle

__all__ = ["DEFAULT_REGIONS", "SUFFIX_LETTERS", "Fleet"]

DEFAULT_REGIONS: Mapping[str, float] = {"B": 1.0}
"""Region prefix shares when none are given: every plate from Jakarta (``B``)."""

SUFFIX_LETTERS = "ABCDEFGHJKLMNPRSTUVWXYZ"
"""Letters of plate suffixes (``I``, ``O`` and ``Q`` are not used, like 1, 0 and 0)."""

_N_NUMBERS = 9999
_N_L = len(SUFFIX_LETTERS)
_N_SUFFIX = _N_L + _N_L**2 + _N_L**3
_N_CODES = _N_NUMBERS * _N_SUFFIX  # 127,177,281 number-suffix codes
_HALF_BITS = 14  # Feistel halves: 2**28 = 268,435,456 >= _N_CODES
_HALF_MASK = np.uint64((1 << _HALF_BITS) - 1)
_ROUNDS = 4
_U64 = (1 << 64) - 1
_FEW = 64

# hash streams: one per derived attribute, so they are independent
_S_REGION, _S_NAME, _S_ADDRESS, _S_PHONE, _S_SIM, _S_VALID, _S_OTHER, _S_ROUND = range(8)


def _mix(x: NDArray[np.uint64]) -> NDArray[np.uint64]:
    """The splitmix64 finaliser, element-wise (wraps modulo 2**64)."""
    z = x ^ (x >> np.uint64(30))
    z = z * np.uint64(0xBF58476D1CE4E5B9)
    z = z ^ (z >> np.uint64(27))
    z = z * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def _mix_int(x: int) -> int:
    """:func:`_mix` of one Python integer (the same bits; cheaper for a few values)."""
    x ^= x >> 30
    x = (x * 0xBF58476D1CE4E5B9) & _U64
    x ^= x >> 27
    x = (x * 0x94D049BB133111EB) & _U64
    return x ^ (x >> 31)


def _key(seed: int, stream: int) -> int:
    """A 64-bit key for ``stream`` of ``seed``."""
    return _mix_int((seed * 0x9E3779B97F4A7C15 + stream * 0xD1B54A32D192ED03
                     + 0x632BE59BD9B4E019) & _U64)


def _as_index(vehicles: ArrayLike, n: int) -> NDArray[np.int64]:
    idx = np.asarray(vehicles, dtype=np.int64).reshape(-1)
    if idx.size and (idx.min() < 0 or idx.max() >= n):
        raise ValueError(f"vehicle index out of range 0..{n - 1}")
    return idx


class Fleet:
    """Plates, owners and drivers of a simulation's vehicles, derived on demand.

    Parameters
    ----------
    vehicle_class : int array (n_vehicles,)
        Class code per vehicle (:data:`twin.demand.VEHICLE_CLASSES` order), e.g.
        ``Trips.vehicle_class``; it decides each driver's SIM class.
    seed : int
        The same seed gives the same plates, owners and drivers.
    regions : mapping of region prefix to share, optional
        Default :data:`DEFAULT_REGIONS` (all ``B``). Prefixes are one or two
        capital letters; shares are >= 0 and not all zero.
    today : date
        The day SIM validity is judged against.
    expired_sim_share, other_driver_share : float in [0, 1]

    Examples
    --------
    >>> import numpy as np
    >>> fleet = Fleet(np.array([0, 1, 1, 2], np.int8), seed=7)
    >>> plates = fleet.plates([0, 1, 2, 3])
    >>> len(set(plates)), all(p.startswith("B ") for p in plates)
    (4, True)
    >>> fleet.vehicle_of(plates[2])
    2
    >>> fleet.driver(0).sim_class, fleet.driver(1).sim_class, fleet.driver(3).sim_class
    ('C', 'A', 'B1')
    """

    def __init__(
        self,
        vehicle_class: ArrayLike,
        seed: int,
        *,
        regions: Mapping[str, float] | None = None,
        today: date = date(2026, 3, 2),
        expired_sim_share: float = 0.08,
        other_driver_share: float = 0.05,
    ) -> None:
        cls = np.asarray(vehicle_class, dtype=np.int64).reshape(-1)
        if cls.size and (cls.min() < 0 or cls.max() >= len(VEHICLE_CLASSES)):
            raise ValueError(f"vehicle_class codes must lie in 0..{len(VEHICLE_CLASSES) - 1}")
        if isinstance(seed, bool) or not isinstance(seed, int | np.integer):
            raise ValueError(f"seed must be an integer, got {seed!r}")
        shares = dict(DEFAULT_REGIONS if regions is None else regions)
        for code, share in shares.items():
            if not (isinstance(code, str) and 1 <= len(code) <= 2 and code.isascii()
                    and code.isalpha() and code.isupper()):
                raise ValueError(f"region prefix {code!r} must be one or two capital letters")
            if isinstance(share, bool) or not isinstance(share, int | float) or not share >= 0:
                raise ValueError(f"region {code!r}: share must be a number >= 0, got {share!r}")
        total = float(sum(shares.values()))
        if not shares or total <= 0:
            raise ValueError("regions: give at least one prefix with a share > 0")
        for name, share in (("expired_sim_share", expired_sim_share),
                            ("other_driver_share", other_driver_share)):
            if not 0.0 <= share <= 1.0:
                raise ValueError(f"{name} must lie in [0, 1], got {share!r}")
        self.vehicle_class = cls
        self.seed = int(seed)
        self.region_codes: tuple[str, ...] = tuple(shares)
        self._region_cum = np.cumsum([shares[c] / total for c in self.region_codes])
        self._region_cum[-1] = 1.0
        self.today = today
        self.expired_sim_share = float(expired_sim_share)
        self.other_driver_share = float(other_driver_share)
        self._round_keys = [_key(self.seed, _S_ROUND * 16 + r) for r in range(_ROUNDS)]
        self._region_cum_list = self._region_cum.tolist()
        self._region_key = _key(self.seed, _S_REGION)

    @property
    def n_vehicles(self) -> int:
        """Number of vehicles."""
        return int(self.vehicle_class.shape[0])

    # ------------------------------------------------------------ hashing
    def _hash(self, idx: NDArray[np.int64], stream: int) -> NDArray[np.uint64]:
        return _mix(idx.astype(np.uint64) ^ np.uint64(_key(self.seed, stream)))

    def _uniform(self, idx: NDArray[np.int64], stream: int) -> NDArray[np.float64]:
        """Uniform in [0, 1) per vehicle for ``stream``."""
        return (self._hash(idx, stream) >> np.uint64(11)).astype(np.float64) * 2.0**-53

    def _feistel(self, x: NDArray[np.uint64], inverse: bool = False) -> NDArray[np.uint64]:
        left, right = x >> np.uint64(_HALF_BITS), x & _HALF_MASK
        keys = [np.uint64(k) for k in self._round_keys]
        if not inverse:
            for k in keys:
                left, right = right, left ^ (_mix(right ^ k) & _HALF_MASK)
        else:
            for k in reversed(keys):
                left, right = right ^ (_mix(left ^ k) & _HALF_MASK), left
        return (left << np.uint64(_HALF_BITS)) | right

    def _code_int(self, i: int) -> int:
        """:meth:`_permute` of one index, in Python integers."""
        mask = (1 << _HALF_BITS) - 1
        x = i
        while True:
            left, right = x >> _HALF_BITS, x & mask
            for k in self._round_keys:
                left, right = right, left ^ (_mix_int(right ^ k) & mask)
            x = (left << _HALF_BITS) | right
            if x < _N_CODES:
                return x

    def _permute(self, x: NDArray[np.uint64], inverse: bool = False) -> NDArray[np.uint64]:
        """A keyed permutation of ``[0, _N_CODES)`` (Feistel with cycle walking)."""
        y = self._feistel(x, inverse)
        out = np.where(y < _N_CODES, y, np.uint64(0))
        todo = np.flatnonzero(y >= _N_CODES)
        while todo.size:
            y = self._feistel(y[y >= _N_CODES], inverse)
            done = y < _N_CODES
            out[todo[done]] = y[done]
            todo = todo[~done]
        return out

    # ------------------------------------------------------------- plates
    def _codes(self, idx: NDArray[np.int64]) -> NDArray[np.int64]:
        if idx.size and idx.max() >= _N_CODES:
            raise ValueError(f"at most {_N_CODES} vehicles have distinct plates")
        return self._permute(idx.astype(np.uint64)).astype(np.int64)

    def region_index(self, vehicles: ArrayLike) -> NDArray[np.int64]:
        """Index into :attr:`region_codes` of each vehicle's plate prefix."""
        idx = _as_index(vehicles, self.n_vehicles)
        return self._region_index(idx)

    def _region_index(self, idx: NDArray[np.int64]) -> NDArray[np.int64]:
        return np.searchsorted(self._region_cum, self._uniform(idx, _S_REGION), side="right")

    def plate_numbers(self, vehicles: ArrayLike) -> NDArray[np.int64]:
        """The plate number (1..9999) of each vehicle."""
        idx = _as_index(vehicles, self.n_vehicles)
        return self._codes(idx) % _N_NUMBERS + 1

    def is_odd(self, vehicles: ArrayLike) -> NDArray[np.bool_]:
        """Whether each vehicle's plate is *ganjil* (odd last digit)."""
        return self.plate_numbers(vehicles) % 2 == 1

    def plates(self, vehicles: ArrayLike) -> list[str]:
        """The plates of ``vehicles`` in normal form (``"B 1234 XYZ"``)."""
        return self._plates(_as_index(vehicles, self.n_vehicles))

    def service_plates(self, vehicles: ArrayLike) -> list[str]:
        """The plates of vehicles added to the simulation after the fleet's (indices from
        :attr:`n_vehicles` on: the emergency units the dispatch module drives).

        Derived from the index as the fleet's are, so each is unique and no fleet
        vehicle's, but of no owner in the fleet (:meth:`vehicle_of` gives None): a
        service vehicle is registered to its service, not to a household of the
        synthetic registry.

        Raises
        ------
        ValueError
            When an index is one of the fleet's, or beyond the plate codes.
        """
        idx = np.asarray(vehicles, dtype=np.int64).reshape(-1)
        if idx.size and (idx.min() < self.n_vehicles or idx.max() >= _N_CODES):
            raise ValueError(f"service vehicle index out of range {self.n_vehicles}.."
                             f"{_N_CODES - 1}")
        return self._plates(idx)

    def _plates(self, idx: NDArray[np.int64]) -> list[str]:
        if idx.size <= _FEW:  # numpy's per-call cost exceeds the work: plain integers
            out = []
            for i in idx.tolist():
                code = self._code_int(i)
                u = (_mix_int(i ^ self._region_key) >> 11) * 2.0**-53
                region = self.region_codes[bisect.bisect_right(self._region_cum_list, u)]
                out.append(f"{region} {code % _N_NUMBERS + 1} {_suffix(code // _N_NUMBERS)}")
            return out
        codes = self._codes(idx)
        regions = self._region_index(idx)
        out = []
        for code, r in zip(codes.tolist(), regions.tolist(), strict=True):
            out.append(f"{self.region_codes[r]} {code % _N_NUMBERS + 1} "
                       f"{_suffix(code // _N_NUMBERS)}")
        return out

    def plate(self, vehicle: int) -> str:
        """The plate of one vehicle."""
        return self.plates([vehicle])[0]

    def vehicle_of(self, plate: str | None) -> int | None:
        """The vehicle index whose plate is ``plate`` (any spacing), or None."""
        parsed = try_parse_plate(plate)
        if parsed is None or parsed.region not in self.region_codes:
            return None
        s = _suffix_code(parsed.suffix)
        number = int(parsed.number)
        if s is None or not 1 <= number <= _N_NUMBERS or str(number) != parsed.number:
            return None
        code = np.array([s * _N_NUMBERS + number - 1], np.uint64)
        i = int(self._permute(code, inverse=True)[0])
        if i >= self.n_vehicles:
            return None
        return i if self.plates([i])[0] == parsed.text else None

    # ----------------------------------------------------- owners, drivers
    def vehicle_class_name(self, vehicle: int) -> str:
        """The class name of one vehicle (``"car"``, ...)."""
        return VEHICLE_CLASSES[int(self.vehicle_class[_as_index([vehicle], self.n_vehicles)[0]])]

    def driven_by_other(self, vehicles: ArrayLike) -> NDArray[np.bool_]:
        """Whether a second driver of the household drives each vehicle."""
        idx = _as_index(vehicles, self.n_vehicles)
        return self._uniform(idx, _S_OTHER) < self.other_driver_share

    def record(self, vehicle: int) -> Vehicle:
        """The vehicle's registration (STNK) record."""
        return Vehicle(self.plate(vehicle), self.vehicle_class_name(vehicle), f"O{vehicle:08d}")

    def owner(self, vehicle: int) -> Owner:
        """The registered owner of ``vehicle`` (personal data)."""
        idx = _as_index([vehicle], self.n_vehicles)
        h = int(self._hash(idx, _S_NAME)[0])
        a = int(self._hash(idx, _S_ADDRESS)[0])
        phone = 10**9 + int(self._hash(idx, _S_PHONE)[0]) % (9 * 10**9)  # ten digits
        return Owner(f"O{vehicle:08d}", _name(h), f"{_STREETS[a % len(_STREETS)]} No. "
                     f"{a // 7 % 250 + 1}, Jakarta Timur", f"08{phone}", f"D{vehicle:08d}")

    def _driver(self, vehicle: int, second: bool) -> Driver:
        idx = _as_index([vehicle], self.n_vehicles)
        stream = 32 if second else 0  # the second driver draws from streams of its own
        name = _name(int(self._hash(idx, _S_NAME + stream)[0]))  # the owner's name when first
        sim = 10**11 + int(self._hash(idx, _S_SIM + stream)[0]) % (9 * 10**11)  # twelve digits
        expired = float(self._uniform(idx, _S_VALID + stream)[0]) < self.expired_sim_share
        v = int(self._hash(idx, _S_VALID + 16 + stream)[0])
        days = -(v % 400 + 1) if expired else v % (5 * 365 - 30) + 30
        sim_class = SIM_FOR_CLASS[self.vehicle_class_name(vehicle)][0]
        driver_id = f"D{vehicle:08d}" + ("-2" if second else "")
        return Driver(driver_id, name, str(sim), sim_class, self.today + timedelta(days=days))

    def owner_driver(self, vehicle: int) -> Driver:
        """The owner's own driver record."""
        return self._driver(vehicle, second=False)

    def driver(self, vehicle: int) -> Driver:
        """Who drives ``vehicle`` in the simulation, with the SIM they hold."""
        second = bool(self.driven_by_other([vehicle])[0])
        return self._driver(vehicle, second=second)

    def registry(self, vehicles: Iterable[int]) -> Registry:
        """The registration records of ``vehicles`` (owner, vehicle, drivers) as a Registry."""
        reg = Registry()
        for v in sorted({int(i) for i in vehicles}):
            reg.add(self.owner(v), self.record(v), self.owner_driver(v))
            if self.driven_by_other([v])[0]:
                reg.add(self._driver(v, second=True))
        return reg


def _name(h: int) -> str:
    return f"{_FIRST[h % len(_FIRST)]} {_LAST[h // len(_FIRST) % len(_LAST)]}"


def _suffix(s: int) -> str:
    """Suffix number ``s`` in ``[0, _N_SUFFIX)`` as letters: 1, then 2, then 3 letters."""
    if s < _N_L:
        width = 1
    elif s < _N_L + _N_L**2:
        s, width = s - _N_L, 2
    else:
        s, width = s - _N_L - _N_L**2, 3
    letters = []
    for _ in range(width):
        s, r = divmod(s, _N_L)
        letters.append(SUFFIX_LETTERS[r])
    return "".join(reversed(letters))


def _suffix_code(text: str) -> int | None:
    """Inverse of :func:`_suffix`; None for a suffix this fleet never issues."""
    if not 1 <= len(text) <= 3 or any(c not in SUFFIX_LETTERS for c in text):
        return None
    value = 0
    for c in text:
        value = value * _N_L + SUFFIX_LETTERS.index(c)
    return value + (0, _N_L, _N_L + _N_L**2)[len(text) - 1]
