"""Pure builders for the Call centre & dispatch page.

They take what :mod:`twin.modules.dispatch.board` reads from the store (calls,
incidents, the saved board, KPIs) and return plain strings and dicts, so they are tested
without a browser; the ``*_items``/``*_cards`` helpers wrap them in Dash components and
:mod:`dashboard.pages.dispatch` only lays them out. Times of a run are seconds since its
start; they are shown as UTC clock times (``HH:MM:SS``) when the run's start is known,
else as ``+MM:SS`` offsets.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from dash import html

from twin.modules.dispatch.board import (
    TIMELINE,
    Board,
    CallRecord,
    Candidate,
    IncidentRecord,
    OverrideRecord,
    OverrideRefused,
    dispatch_runs,
    load_board,
    load_calls,
    load_incidents,
    load_overrides,
    record_override,
)
from twin.modules.dispatch.persist import load_kpis
from twin.modules.dispatch.units import STATUSES
from twin.store import Store

STATUS_LABELS: dict[str, str] = {
    "available": "Available", "dispatched": "Dispatched", "en_route": "En route",
    "on_scene": "On scene", "transporting": "Transporting", "returning": "Returning",
    "out_of_service": "Out of service", "broken": "Broken",
}
"""Column headings of the unit status board, one per :data:`STATUSES`."""

SERVICES: tuple[str, ...] = ("police", "ambulance", "fire", "tow", "dishub")
"""Services in tile order (only those with KPIs in the run get tiles)."""


def format_duration(seconds: float | None) -> str:
    """``45 s``, ``3 min 05 s``, ``1 h 02 min``; an en dash for None or NaN."""
    if seconds is None or not math.isfinite(seconds):
        return "–"
    s = int(round(seconds))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {(s % 3600) // 60:02d} min"


def format_at(t_s: float | None, started_at: datetime | None) -> str:
    """A run time as ``HH:MM:SS`` UTC clock time (or ``+MM:SS`` without a start)."""
    if t_s is None:
        return "–"
    if started_at is None:
        s = int(t_s)
        return f"+{s // 60:02d}:{s % 60:02d}"
    return (started_at + timedelta(seconds=t_s)).strftime("%H:%M:%S")


# ------------------------------------------------------------------ call queue
def queue_counts(calls: Sequence[CallRecord]) -> dict[str, int]:
    """Calls ``waiting`` (ringing, not answered or abandoned), ``answered``, ``abandoned``."""
    counts = {"waiting": 0, "answered": 0, "abandoned": 0}
    for c in calls:
        counts[c.state] += 1
    return counts


def waiting_rows(calls: Sequence[CallRecord], t_now_s: float) -> list[dict[str, str]]:
    """The waiting calls as the call taker takes them: priority first, then longest waiting."""
    waiting = sorted((c for c in calls if c.state == "waiting"),
                     key=lambda c: (c.priority, c.t_ring_s, c.call_id))
    return [{"call": f"#{c.call_id}", "priority": f"P{c.priority}",
             "kind": c.kind if c.incident_id is None else f"{c.kind} ({c.incident_id})",
             "waited": format_duration(t_now_s - c.t_ring_s)} for c in waiting]


# ------------------------------------------------------------------ incidents
def active_incidents(incidents: Sequence[IncidentRecord]) -> list[IncidentRecord]:
    """Incidents the centre knows of (a call rang) and has not closed, P1 first, then oldest."""
    return sorted((i for i in incidents if i.is_open and i.times_s.get("t_ring") is not None),
                  key=lambda i: (i.priority, i.times_s["t_ring"] or 0.0, i.incident_id))


def timeline(inc: IncidentRecord, started_at: datetime | None) -> list[dict[str, str]]:
    """The timestamps reached, in time order (ties in lifecycle order): label and time."""
    order = {name: k for k, (name, _) in enumerate(TIMELINE)}
    labels = dict(TIMELINE)
    reached = sorted(((t, order[name], name) for name, t in inc.times_s.items()
                      if t is not None), key=lambda x: (x[0], x[1]))
    return [{"step": name, "label": labels[name], "at": format_at(t, started_at)}
            for t, _k, name in reached]


def incident_title(inc: IncidentRecord) -> str:
    """``P2 crash (minor injury) on r1c0-r1c1 — crash-1``."""
    injury = "" if inc.injury == "none" else f" ({inc.injury} injury)"
    return f"P{inc.priority} {inc.type}{injury} on {inc.link_id} — {inc.incident_id}"


def units_sent(inc: IncidentRecord) -> list[str]:
    """``police: a-police-0`` per unit sent, in kind order."""
    return [f"{kind}: {inc.units[kind]['unit']}" for kind in sorted(inc.units)]


# ------------------------------------------------------------------ units and candidates
def unit_columns(board: Board) -> dict[str, list[str]]:
    """Status -> unit ids in that status (every status, empty ones too)."""
    cols: dict[str, list[str]] = {s: [] for s in STATUSES}
    for u in board.units:
        label = u.unit_id if u.incident_id is None else f"{u.unit_id} → {u.incident_id}"
        cols.setdefault(u.status, []).append(label)
    return cols


def candidates_by_kind(board: Board, incident_id: str) -> dict[str, list[Candidate]]:
    """Kind -> candidate units for ``incident_id``, recommendation first."""
    out: dict[str, list[Candidate]] = {}
    for c in board.candidates:
        if c.incident_id == incident_id:
            out.setdefault(c.kind, []).append(c)
    return {k: sorted(v, key=lambda c: c.rank) for k, v in out.items()}


def eta_text(c: Candidate) -> str:
    """``ETA 1 min 20 s`` (or ``unreachable``)."""
    return "unreachable" if not math.isfinite(c.eta_s) else f"ETA {format_duration(c.eta_s)}"


def candidate_label(c: Candidate) -> str:
    """``b-police-0 (ETA 1 min 20 s, recommended)``."""
    return f"{c.unit_id} ({eta_text(c)}{', recommended' if c.recommended else ''})"


def recommendation_lines(board: Board, incident_id: str,
                         overrides: Mapping[str, Mapping[str, str]]) -> list[str]:
    """Per kind still to send: the recommended unit, and the operator's choice if any."""
    lines = []
    for kind, cands in candidates_by_kind(board, incident_id).items():
        line = f"{kind}: recommended {cands[0].unit_id} ({eta_text(cands[0])})"
        chosen = overrides.get(incident_id, {}).get(kind)
        if chosen is not None and chosen != cands[0].unit_id:
            line += f"; operator chose {chosen}"
        lines.append(line)
    return lines


def override_incident_options(board: Board | None) -> list[dict[str, str]]:
    """Incidents with a unit still to choose (dropdown options)."""
    if board is None:
        return []
    ids = sorted({c.incident_id for c in board.candidates})
    return [{"label": i, "value": i} for i in ids]


def override_kind_options(board: Board | None, incident_id: str | None) -> list[dict[str, str]]:
    """Kinds of ``incident_id`` with candidates (dropdown options)."""
    if board is None or not incident_id:
        return []
    return [{"label": k, "value": k} for k in candidates_by_kind(board, incident_id)]


def override_unit_options(board: Board | None, incident_id: str | None,
                          kind: str | None) -> list[dict[str, str]]:
    """Candidate units for one kind of one incident (dropdown options, recommended first)."""
    if board is None or not incident_id or not kind:
        return []
    return [{"label": candidate_label(c), "value": c.unit_id}
            for c in candidates_by_kind(board, incident_id).get(kind, [])]


def override_text(rec: OverrideRecord) -> str:
    """The confirmation shown after an override is recorded."""
    was = f" instead of {rec.recommended_unit_id}" if rec.recommended_unit_id else ""
    return (f"Override recorded: {rec.unit_id} for {rec.kind} of {rec.incident_id}{was} "
            f"(by {rec.actor}).")


# ------------------------------------------------------------------ KPIs
def kpi_tiles(kpis: Mapping[tuple[str, str], float | None]) -> list[dict[str, str]]:
    """Answer time P50/P90, then total response P50/P90 per service with incidents."""
    def val(scope: str, metric: str) -> float | None:
        return kpis.get((scope, metric))
    tiles = [{"key": "answer", "label": "Answer time P50 / P90",
              "value": f"{format_duration(val('calls', 'answer_s.p50'))} / "
                       f"{format_duration(val('calls', 'answer_s.p90'))}"}]
    for kind in SERVICES:
        if (kind, "total_response_s.p50") not in kpis:
            continue
        tiles.append({"key": f"response-{kind}", "label": f"{kind.capitalize()} response P50 / P90",
                      "value": f"{format_duration(val(kind, 'total_response_s.p50'))} / "
                               f"{format_duration(val(kind, 'total_response_s.p90'))}"})
    return tiles


# ------------------------------------------------------------------ components
def queue_items(calls: Sequence[CallRecord], t_now_s: float) -> list[Any]:
    """One ``li.call-row`` per waiting call (or a placeholder)."""
    rows = waiting_rows(calls, t_now_s)
    if not rows:
        return [html.Li("No call waiting", className="call-empty")]
    return [html.Li(className=f"call-row priority-{r['priority']}", children=[
        html.Span(r["priority"], className="call-priority"),
        html.Span(r["call"], className="call-id"),
        html.Span(r["kind"], className="call-kind"),
        html.Span(f"waiting {r['waited']}", className="call-waited"),
    ]) for r in rows]


def incident_cards(incidents: Sequence[IncidentRecord], board: Board | None,
                   overrides: Mapping[str, Mapping[str, str]],
                   started_at: datetime | None) -> list[Any]:
    """One ``div.incident-card`` per active incident: title, timeline, units, recommendations."""
    active = active_incidents(incidents)
    if not active:
        return [html.Div("No active incident", className="incident-empty")]
    cards = []
    for inc in active:
        recs = recommendation_lines(board, inc.incident_id, overrides) if board else []
        cards.append(html.Div(className="incident-card", id=f"incident-{inc.incident_id}",
                              children=[
            html.Div(incident_title(inc), className="incident-title"),
            html.Ol(className="incident-timeline", children=[
                html.Li([html.Span(s["at"], className="timeline-at"),
                         html.Span(s["label"], className="timeline-label")],
                        className=f"timeline-step step-{s['step']}")
                for s in timeline(inc, started_at)]),
            html.Div("Units sent: " + (", ".join(units_sent(inc)) or "none yet"),
                     className="incident-units"),
            html.Ul([html.Li(line, className="recommendation") for line in recs],
                    className="incident-recommendations"),
        ]))
    return cards


def unit_board_columns(board: Board | None) -> list[Any]:
    """One ``div.unit-column`` per status with its units."""
    cols = unit_columns(board) if board is not None else {s: [] for s in STATUSES}
    return [html.Div(className=f"unit-column status-{status}", children=[
        html.Div(f"{STATUS_LABELS.get(status, status)} ({len(units)})", className="kpi-label"),
        html.Ul([html.Li(u, className="unit-chip") for u in units]),
    ]) for status, units in cols.items()]


# ------------------------------------------------------------------ reading the store
@dataclass(frozen=True, slots=True)
class DispatchData:
    """Everything the page shows of one run, read from the store at once."""

    run_id: str
    started_at: datetime | None
    calls: list[CallRecord]
    incidents: list[IncidentRecord]
    board: Board | None
    kpis: dict[tuple[str, str], float | None]
    overrides: dict[str, dict[str, str]]

    @property
    def t_now_s(self) -> float:
        """The board's clock (the latest ring when no board was saved)."""
        if self.board is not None:
            return self.board.t_now_s
        return max((c.t_ring_s for c in self.calls), default=0.0)


def read_dispatch(store: Store, run_id: str) -> DispatchData:
    """Read one run's calls, incidents, board, KPIs and overrides from ``store``."""
    run = store.run(run_id)
    return DispatchData(run_id=run_id, started_at=None if run is None else run.started_at,
                        calls=load_calls(store, run_id), incidents=load_incidents(store, run_id),
                        board=load_board(store, run_id), kpis=load_kpis(store, run_id),
                        overrides=load_overrides(store, run_id))


def run_options(store: Store) -> list[dict[str, str]]:
    """Runs with a saved board, latest first (dropdown options)."""
    return [{"label": f"{name or 'run'} {run_id[:8]} (board {saved.strftime('%Y-%m-%d %H:%M')})",
             "value": run_id} for run_id, name, saved in dispatch_runs(store)]


def status_text(data: DispatchData) -> str:
    """The line under the selector: which run, the board's clock and policy."""
    if data.board is None:
        return f"Run {data.run_id}: no board saved."
    return (f"Run {data.run_id[:8]}: board at {format_at(data.board.t_now_s, data.started_at)}"
            f"{' UTC' if data.started_at else ''}, policy {data.board.policy}.")


def send_override(store: Store, run_id: str, incident_id: str, kind: str, unit_id: str,
                  actor: str) -> tuple[str, OverrideRecord | None]:
    """Record the override (:func:`twin.modules.dispatch.board.record_override`).

    Returns the text to show (its confirmation, or why it was refused) and the record
    (None when refused)."""
    try:
        rec = record_override(store, run_id, incident_id, kind, unit_id, actor=actor)
    except OverrideRefused as exc:
        return f"Override refused: {exc}", None
    return override_text(rec), rec
