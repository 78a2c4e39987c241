"""SUMO time values and ``<flow>`` expansion for :mod:`twin.demand.sumo_routes`.

Flow rules follow SUMO's ``SUMOVehicleParserHelper::parseFlowAttributes``:
at most one of ``period``/``vehsPerHour``/``perHour``/``probability``; with
one of them, ``end`` or ``number`` but not both; without any, ``number`` is
required and spread evenly over ``[begin, end)``; a flow with neither ``end``
nor ``number`` runs 24 h. ``period="exp(rate)"`` gives Poisson arrivals at
``rate`` per second; ``probability`` is one Bernoulli draw per second.
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import NDArray

from twin.demand.trips import DemandError

_UNSUPPORTED_DEPART = ("triggered", "containerTriggered", "split")
_MAX_FLOW_VEHICLES = 10_000_000


def flow_times(e: ET.Element, where: str, begin_default: float, end_default: float | None,
               horizon: float, rng: np.random.Generator) -> NDArray[np.float64]:
    """Departure times of a ``<flow>``, following SUMO's rules for its attributes.

    Parameters
    ----------
    e : the ``<flow>`` element.
    where : str, prefix for error messages (file and flow id).
    begin_default, end_default : float or None, seconds; from an enclosing
        ``<interval>`` (``end_default`` ``None`` when there is none).
    horizon : float, seconds; departures at or after it are dropped.
    rng : numpy.random.Generator, for ``probability`` and ``exp()`` flows.

    Returns
    -------
    float64 array, ascending departure times in seconds.
    """
    has = {a: e.get(a) is not None for a in ("period", "vehsPerHour", "perHour", "probability",
                                             "number", "end")}
    rate_attrs = [a for a in ("period", "vehsPerHour", "perHour", "probability") if has[a]]
    if len(rate_attrs) > 1:
        raise DemandError(f"{where}: give at most one of {', '.join(rate_attrs)}")
    if rate_attrs and has["end"] and has["number"]:
        raise DemandError(f"{where}: with {rate_attrs[0]!r} give 'end' or 'number', not both")
    if not rate_attrs and not has["number"]:
        raise DemandError(f"{where}: needs one of 'period', 'vehsPerHour', 'probability' "
                          f"or 'number'")
    begin_txt = e.get("begin")
    begin = begin_default if begin_txt is None else parse_depart(begin_txt, where, "begin")
    number = None
    if has["number"]:
        try:
            number = int(e.get("number", ""))
        except ValueError:
            raise DemandError(f"{where}: number {e.get('number')!r} is not an integer") from None
        if number < 0:
            raise DemandError(f"{where}: number must be >= 0, got {number}")
    if has["end"]:
        end = parse_time(e.get("end"), where, "end")
    elif end_default is not None:
        end = end_default
    elif number is not None and rate_attrs:
        end = math.inf
    else:
        end = begin + 86400.0  # SUMO: "Undefined end ... defaulting to 24hour duration"
    if end < begin:
        raise DemandError(f"{where}: ends ({end:g} s) before it begins ({begin:g} s)")
    limit = min(end, horizon)
    cap = number if number is not None else _MAX_FLOW_VEHICLES + 1
    kind = rate_attrs[0] if rate_attrs else "number"
    text = e.get(kind, "")
    if kind == "number":
        times = begin + np.arange(number or 0) * ((end - begin) / max(number or 1, 1))
    elif kind == "probability":
        p = parse_number(text, where)
        if not 0 < p <= 1:
            raise DemandError(f"{where}: probability must be in (0, 1], got {text}")
        times = _random_arrivals(lambda m: rng.random(m) < p, 1.0, begin, limit, cap)
    elif kind == "period" and text.strip().startswith("exp("):
        rate = parse_number(text.strip()[4:].rstrip(")"), where)
        if rate <= 0:
            raise DemandError(f"{where}: period {text!r} needs a rate > 0")
        times = _random_arrivals(lambda m: rng.exponential(1.0 / rate, m), 0.0, begin, limit, cap)
    else:
        value = parse_number(text, where)
        period = value if kind == "period" else 3600.0 / value if value > 0 else 0.0
        if not period > 0:
            raise DemandError(f"{where}: {kind}={text!r} must be > 0")
        count = number if number is not None else math.ceil((end - begin) / period)
        if count > _MAX_FLOW_VEHICLES:
            raise DemandError(f"{where}: expands to too many vehicles; pass horizon_s")
        if math.isfinite(limit):
            count = min(count, max(0, math.ceil((limit - begin) / period)))
        times = begin + np.arange(count) * period
    if times.size > _MAX_FLOW_VEHICLES:
        raise DemandError(f"{where}: expands to over {_MAX_FLOW_VEHICLES} vehicles; "
                          f"pass horizon_s")
    return np.asarray(times[times < limit], dtype=np.float64)


def _random_arrivals(draw: Callable[[int], NDArray[Any]], step: float, begin: float,
                     limit: float, cap: int) -> NDArray[np.float64]:
    """Arrival times from ``begin`` until ``limit`` or ``cap`` arrivals.

    With ``step > 0``, ``draw(m)`` gives m Bernoulli outcomes, one per ``step``
    seconds; with ``step == 0`` it gives m exponential gaps in seconds.
    """
    out: list[NDArray[np.float64]] = []
    t, n, chunk = begin, 0, 4096
    while t < limit and n < cap:
        if step > 0:
            hits = np.flatnonzero(draw(chunk))
            times = t + hits * step
            t += chunk * step
        else:
            times = t + np.cumsum(draw(chunk))
            t = float(times[-1])
        times = times[times < limit][: cap - n]
        out.append(np.asarray(times, dtype=np.float64))
        n += times.size
        if n > _MAX_FLOW_VEHICLES:
            break
    return np.concatenate(out) if out else np.zeros(0)


def parse_number(text: str, where: str) -> float:
    """A finite number >= 0 (probabilities, rates, periods)."""
    try:
        v = float(text)
    except ValueError:
        raise DemandError(f"{where}: {text!r} is not a number") from None
    if not math.isfinite(v) or v < 0:
        raise DemandError(f"{where}: {text!r} must be a finite number >= 0")
    return v


def parse_time(text: str | None, where: str, what: str) -> float:
    """SUMO time: seconds, ``h:m:s`` or ``d:h:m:s``."""
    if text is None:
        raise DemandError(f"{where}: {what} is missing")
    try:
        if ":" in text:
            parts = [float(x) for x in text.split(":")]
            if len(parts) not in (3, 4):
                raise ValueError
            v = sum(x * s for x, s in zip(reversed(parts), (1, 60, 3600, 86400), strict=False))
        else:
            v = float(text)
    except ValueError:
        raise DemandError(f"{where}: {what}={text!r} is not a time (seconds or h:m:s)") from None
    if not math.isfinite(v) or v < 0:
        raise DemandError(f"{where}: {what}={text!r} must be a time >= 0 s")
    return v


def parse_depart(text: str | None, where: str, what: str = "depart") -> float:
    """A departure time in seconds; ``"now"`` and ``"begin"`` are 0 (scenario start)."""
    if text is None:
        raise DemandError(f"{where}: {what} is missing")
    if text in _UNSUPPORTED_DEPART:
        raise DemandError(f"{where}: {what}={text!r} is not supported (Kota Twin has no persons "
                          f"or containers to trigger or split departures); give a time in seconds")
    if text in ("now", "begin"):
        return 0.0
    return parse_time(text, where, what)
