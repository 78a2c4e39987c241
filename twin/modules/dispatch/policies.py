"""Dispatch policies behind one interface.

A policy picks, for one unit kind an incident needs, one of the available units of
that kind given each candidate's ETA over the current travel times.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Protocol

from .incidents import Incident
from .units import Unit


class DispatchPolicy(Protocol):
    """Chooses a unit; ``None`` when no candidate can reach the incident."""

    name: str

    def choose(self, incident: Incident, kind: str, candidates: Sequence[Unit],
               eta_s: Mapping[str, float], available: Sequence[Unit]) -> Unit | None:
        """Pick one of ``candidates`` (available units of ``kind``).

        Parameters
        ----------
        incident : the incident to serve
        kind : the unit kind wanted
        candidates : available units of ``kind``
        eta_s : unit name -> travel seconds to the incident (inf: unreachable)
        available : every available unit of every kind (for coverage)
        """
        ...


def _nearest(candidates: Sequence[Unit], eta_s: Mapping[str, float]) -> Unit | None:
    best = min(candidates, key=lambda u: (eta_s[u.name], u.name), default=None)
    if best is None or not math.isfinite(eta_s[best.name]):
        return None
    return best


class NearestEta:
    """The available unit with the lowest ETA on the current travel times."""

    name = "nearest_eta"

    def choose(self, incident: Incident, kind: str, candidates: Sequence[Unit],
               eta_s: Mapping[str, float], available: Sequence[Unit]) -> Unit | None:
        """See :class:`DispatchPolicy`."""
        return _nearest(candidates, eta_s)


class CoverageAware:
    """Nearest unit, unless that empties its station of the kind while another unit
    within ``slack_s`` of the best ETA comes from a station that keeps one.

    Parameters
    ----------
    slack_s : float, seconds of extra ETA accepted to keep a station covered
    """

    name = "coverage"

    def __init__(self, slack_s: float = 120.0) -> None:
        self.slack_s = float(slack_s)

    def choose(self, incident: Incident, kind: str, candidates: Sequence[Unit],
               eta_s: Mapping[str, float], available: Sequence[Unit]) -> Unit | None:
        """See :class:`DispatchPolicy`."""
        best = _nearest(candidates, eta_s)
        if best is None:
            return None
        left: dict[str, int] = {}
        for u in available:
            if u.kind == kind:
                left[u.station] = left.get(u.station, 0) + 1
        keeps = [u for u in candidates if left.get(u.station, 0) >= 2
                 and eta_s[u.name] <= eta_s[best.name] + self.slack_s]
        if left.get(best.station, 0) >= 2 or not keeps:
            return best
        return _nearest(keeps, eta_s)


class OperatorOverride:
    """The operator's choice where one is set and that unit is available, else ``base``.

    Parameters
    ----------
    base : the policy used otherwise
    overrides : incident id -> unit kind -> unit name
    """

    def __init__(self, base: DispatchPolicy, overrides: Mapping[str, Mapping[str, str]]) -> None:
        self.base = base
        self.overrides = {k: dict(v) for k, v in overrides.items()}
        self.name = f"override+{base.name}"
        self.applied: list[tuple[str, str, str]] = []
        """(incident id, kind, unit name) of each override honoured."""

    def choose(self, incident: Incident, kind: str, candidates: Sequence[Unit],
               eta_s: Mapping[str, float], available: Sequence[Unit]) -> Unit | None:
        """See :class:`DispatchPolicy`."""
        wanted = self.overrides.get(incident.id, {}).get(kind)
        for u in candidates:
            if u.name == wanted and math.isfinite(eta_s[u.name]):
                self.applied.append((incident.id, kind, u.name))
                return u
        return self.base.choose(incident, kind, candidates, eta_s, available)
