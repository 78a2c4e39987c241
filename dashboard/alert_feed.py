"""Pure builder of the Operations page's alert feed (no Dash, no running twin).

:func:`alert_feed_rows` turns the recent alerts of a :class:`~twin.live.TwinView`
(:class:`~twin.alert_log.AlertRecord`, oldest first) into display rows, newest first,
each with its severity's colour; the page renders them and the tests check them
without a browser.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from twin.alert_log import UNRATED, AlertRecord

__all__ = ["SEVERITY_COLOURS", "AlertRow", "alert_feed_rows"]

SEVERITY_COLOURS = {
    "critical": "#ff3b30",
    "high": "#ff8c1a",
    "medium": "#ffd60a",
    "low": "#35b6ff",
    "informational": "#8d99ab",
    UNRATED: "#b48cff",
}
"""Colour of each FIWARE Alert severity (and of an unrated report) on the feed."""


@dataclass(frozen=True, slots=True)
class AlertRow:
    """One line of the alert feed, ready to render.

    Attributes
    ----------
    time : str, ``HH:MM:SS`` in the alert's own time zone
    source : str
    severity : str, as reported (``unrated`` when none)
    status : str, ``raised`` or ``cleared``
    description : str
    colour : str, CSS colour of the severity
    """

    time: str
    source: str
    severity: str
    status: str
    description: str
    colour: str


def alert_feed_rows(alerts: Sequence[AlertRecord], limit: int | None = None) -> list[AlertRow]:
    """The feed's rows, newest first (the latest ``limit`` when given).

    Alerts at the same time keep their reported order reversed, as the newest first.
    An unknown severity gets the colour of :data:`~twin.alert_log.UNRATED`.
    """
    ordered = sorted(enumerate(alerts), key=lambda ia: (ia[1].time, ia[0]), reverse=True)
    if limit is not None:
        ordered = ordered[:max(0, limit)]
    return [AlertRow(a.time.strftime("%H:%M:%S"), a.source, a.severity, a.status, a.description,
                     SEVERITY_COLOURS.get(a.severity, SEVERITY_COLOURS[UNRATED]))
            for _, a in ordered]
