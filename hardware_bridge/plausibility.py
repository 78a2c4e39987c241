"""Physical plausibility of device readings: ranges that catch wrong units and broken sensors.

:class:`~twin.observations.Observation` checks that the fields are there with the
right types; a device can still send a speed in km/h where metres per second are
expected, an occupancy in percent, or a count of a billion. :func:`implausible`
names the first field outside its range, with a hint when the value looks like a
unit mix-up. The ranges are deliberately wide: they reject nonsense, not fast drivers.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from twin.observations import Observation, ObservationKind

__all__ = ["RANGES", "implausible"]

RANGES: Mapping[str, tuple[float, float, str]] = {
    "speed_mps": (0.0, 100.0, "metres per second (100 m/s is 360 km/h); km/h divided by 3.6"),
    "mean_speed_mps": (0.0, 100.0, "metres per second; km/h divided by 3.6"),
    "occupancy": (0.0, 1.0, "a fraction of the interval, 0 to 1, not a percentage"),
    "count": (0.0, 100_000.0, "vehicles in the interval"),
    "interval_s": (1e-3, 86_400.0, "seconds, at most a day"),
    "confidence": (0.0, 1.0, "a probability, 0 to 1, not a percentage"),
    "heading_deg": (0.0, 360.0, "degrees clockwise from north"),
    "lane": (0.0, 32.0, "lane index, 0 at the kerb"),
    "speed_limit_mps": (0.0, 100.0, "metres per second"),
}
"""``field: (low, high, what the unit is)`` checked wherever the field appears in a payload."""

_MAX_TEXT = 4096


def implausible(obs: Observation) -> str | None:
    """Why ``obs`` cannot be a real reading, or None when it can."""
    for key, value in obs.payload.items():
        if isinstance(value, str) and len(value) > _MAX_TEXT:
            return f"payload field {key!r} is {len(value)} characters long (at most {_MAX_TEXT})"
        if key in RANGES and value is not None:
            reason = _out_of_range(key, value)
            if reason:
                return reason
    loc = obs.location
    if loc is not None:
        if loc.pos_m is not None and not (math.isfinite(loc.pos_m) and 0.0 <= loc.pos_m <= 1e6):
            return f"location.pos_m {loc.pos_m!r} is not a position on a link (0 to 1,000,000 m)"
        if loc.lane is not None and not 0 <= loc.lane <= 32:
            return f"location.lane {loc.lane!r} is not a lane index (0 to 32)"
    if obs.kind is ObservationKind.DETECTOR_INTERVAL:
        count = obs.payload["count"]
        if count is not None and count == 0 and obs.payload.get("mean_speed_mps") not in (None, 0, 0.0):
            return "a detector interval with no vehicles cannot have a mean speed"
    return None


def _out_of_range(key: str, value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return f"payload field {key!r} must be a number, got {value!r}"
    low, high, unit = RANGES[key]
    if isinstance(value, float) and not math.isfinite(value):  # ints are finite (and may not fit a float)
        return f"payload field {key!r} is not finite"
    if low <= value <= high:
        return None
    hint = ""
    if key in ("occupancy", "confidence") and 1.0 < value <= 100.0:
        hint = " (it looks like a percentage)"
    elif key.endswith("_mps") and high < value <= high * 3.6:
        hint = " (it looks like km/h)"
    return f"payload field {key!r} = {value!r} is outside [{low:g}, {high:g}]: {unit}{hint}"
