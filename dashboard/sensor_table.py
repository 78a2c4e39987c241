"""Pure builders for the Sensors page: table rows, tile texts, rejected payloads.

They take a :class:`twin.sensor_health.SensorHealth` and return plain strings, so
they are tested without a browser (:func:`table_rows` and :func:`rejected_items` wrap
them in Dash components); :mod:`dashboard.pages.sensors` only lays them out.
Times are shown in UTC (``YYYY-MM-DD HH:MM:SS``, so text order is time order).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime

from dash import html

from twin.sensor_health import STATUSES, SensorHealth, SourceHealth

SOURCE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("source_id", "Source"),
    ("status", "Status"),
    ("last_observed", "Last observed (UTC)"),
    ("last_received", "Last received (UTC)"),
    ("age", "Silent for"),
    ("messages", "Messages"),
    ("rate", "Rate /min"),
    ("lag_median", "Lag median"),
    ("lag_p95", "Lag P95"),
    ("quarantined", "Quarantined"),
)
"""Table columns: row key and header."""

SORT_KEYS = ("status", "last_seen")
"""``status``: offline first, then stale, then online; ``last_seen``: most recent first."""

_PROBLEMS_FIRST = {status: i for i, status in enumerate(reversed(STATUSES))}


def format_time(value: datetime | None) -> str:
    """``YYYY-MM-DD HH:MM:SS`` in UTC, or an en dash for never."""
    return "–" if value is None else value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def format_seconds(value: float) -> str:
    """Seconds as ``3.5 s``, ``12 min``, ``2.0 h``; an en dash for NaN or infinity."""
    if not math.isfinite(value):
        return "–"
    if abs(value) < 60:
        return f"{value:.1f} s"
    if abs(value) < 3600:
        return f"{value / 60:.0f} min"
    return f"{value / 3600:.1f} h"


def sorted_sources(health: SensorHealth, sort_by: str = "status") -> list[SourceHealth]:
    """The sources in display order (see :data:`SORT_KEYS`); ties by source id."""
    if sort_by not in SORT_KEYS:
        raise ValueError(f"sort_by must be one of {SORT_KEYS}, not {sort_by!r}")
    by_id = sorted(health.sources, key=lambda s: s.source_id)
    if sort_by == "status":
        return sorted(by_id, key=lambda s: _PROBLEMS_FIRST[s.status])
    return sorted(by_id, key=lambda s: s.age_s)  # smallest age = most recently seen


def source_rows(health: SensorHealth, sort_by: str = "status") -> list[dict[str, str]]:
    """One dict per source, keyed by the :data:`SOURCE_COLUMNS` keys, in display order.

    On the data clock the lag columns show an en dash: ``observed_at`` is simulated or
    replayed time there, so ``received_at - observed_at`` measures nothing.
    """
    lag = format_seconds if health.clock == "wall" else (lambda _value: "–")
    return [{
        "source_id": s.source_id,
        "status": s.status,
        "last_observed": format_time(s.last_observed_at),
        "last_received": format_time(s.last_received_at),
        "age": format_seconds(s.age_s),
        "messages": str(s.messages),
        "rate": f"{s.rate_per_min:.1f}",
        "lag_median": lag(s.lag_median_s),
        "lag_p95": lag(s.lag_p95_s),
        "quarantined": str(s.quarantined),
    } for s in sorted_sources(health, sort_by)]


def tile_values(health: SensorHealth) -> dict[str, str]:
    """Texts of the tiles: sources online, stale, offline; quarantined rows in the window."""
    values = {status: str(health.count(status)) for status in STATUSES}
    values["quarantined"] = str(health.quarantined)
    return values


def rejected_rows(health: SensorHealth) -> list[dict[str, str]]:
    """The latest rejected payloads, newest first: time, source, reason, raw (truncated)."""
    return [{"time": format_time(r.received_at), "source": r.source, "reason": r.reason,
             "raw": r.raw} for r in health.rejected]


def window_text(health: SensorHealth) -> str:
    """The line under the tiles saying which window and clock the figures use."""
    clock = ("wall clock" if health.clock == "wall"
             else "data clock: ends at the newest observation; no lag on simulated time")
    return (f"Window: {format_seconds(health.window_s)} ending {format_time(health.window_end)} "
            f"UTC ({clock})")


def table_rows(health: SensorHealth, sort_by: str) -> list[html.Tr]:
    """One ``tr.sensor-row`` per source (a placeholder row when there is none)."""
    rows = source_rows(health, sort_by)
    if not rows:
        return [html.Tr(html.Td("No sources yet", colSpan=len(SOURCE_COLUMNS)),
                        className="sensor-empty")]
    return [html.Tr([html.Td(row[key], className=f"col-{key}") for key, _ in SOURCE_COLUMNS],
                    className=f"sensor-row status-{row['status']}") for row in rows]


def rejected_items(health: SensorHealth) -> list[html.Li]:
    """One ``li.rejected-row`` per rejected payload, newest first (or a placeholder)."""
    rows = rejected_rows(health)
    if not rows:
        return [html.Li("Nothing rejected", className="rejected-empty")]
    return [html.Li(className="rejected-row", children=[
        html.Div(className="alert-head", children=[
            html.Span(row["time"], className="alert-time"),
            html.Span(row["source"], className="rejected-source"),
        ]),
        html.Div(row["reason"], className="alert-description"),
        html.Code(row["raw"], className="rejected-raw"),
    ]) for row in rows]
