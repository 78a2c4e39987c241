"""Trips for the simulator: data structure, generators and file readers.

- :class:`Trips`: struct of arrays sorted by departure (``twin.demand.trips``).
- :class:`TimeProfile`, :data:`MORNING_PEAK`, :data:`EVENING_PEAK`: departure-rate shapes.
- :func:`random_trips`, :func:`od_trips`: seeded synthetic demand.
- :func:`read_tntp_trips`: TNTP origin-destination tables.
- :func:`read_sumo_routes`: SUMO ``.rou.xml`` / ``.trips.xml`` files.
"""

from twin.demand.generate import od_trips, random_trips
from twin.demand.profile import EVENING_PEAK, FLAT, MORNING_PEAK, TimeProfile, flat, profile_from_counts
from twin.demand.sumo_routes import SUMO_VCLASS_MAP, read_sumo_routes
from twin.demand.tntp import read_tntp_trips
from twin.demand.trips import (
    CLASS_CODE,
    JAKARTA_VEHICLE_MIX,
    VEHICLE_CLASSES,
    DemandError,
    TripRecord,
    Trips,
    class_code,
    mix_probabilities,
)

__all__ = [
    "CLASS_CODE",
    "FLAT",
    "JAKARTA_VEHICLE_MIX",
    "MORNING_PEAK",
    "EVENING_PEAK",
    "SUMO_VCLASS_MAP",
    "VEHICLE_CLASSES",
    "DemandError",
    "TimeProfile",
    "TripRecord",
    "Trips",
    "class_code",
    "flat",
    "mix_probabilities",
    "od_trips",
    "profile_from_counts",
    "random_trips",
    "read_sumo_routes",
    "read_tntp_trips",
]
