"""Pure builders for the Service index page: gauges, grades, trends and the KPI explanations.

Everything is computed by the quality module (:func:`twin.modules.quality.compute` on the
store, :func:`twin.modules.quality.history` for published scores); these functions only
turn its records into figures, strings and table rows, so they are tested without a
browser. A service or KPI without enough data shows "insufficient data" / "no data", never
a number standing in for one.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import plotly.graph_objects as go
from dash import dcc, html

from dashboard import ids
from twin.modules.quality import (
    INSUFFICIENT,
    SERVICES,
    IndexConfig,
    compute,
    latest_data_time,
    load_config,
    rolling_window,
)
from twin.modules.quality.ikm import GRADE_BANDS, grade_label
from twin.store import Store

WINDOW_DAYS = (7, 30)
"""The rolling windows the page offers, in days."""
END_MODES = ("latest", "now")
"""Window end: just after the newest record in the store (a simulated run), or the wall clock."""
TREND_KINDS = ("rolling", "month")
SCALE = (25.0, 100.0)
"""The IKM scale every service score and the AAI lie on."""
NO_DATA = "no data"
SERVICE_LABELS = {"security": "Security", "safety": "Safety", "law": "Law",
                  "administration": "Administration", "information": "Information",
                  "humanitarian": "Humanitarian"}
GRADE_COLOURS = {"A": "#2e7d32", "B": "#7cb342", "C": "#f2b33d", "D": "#ef5350"}
BACKGROUND = "#0f141b"
FONT_COLOUR = "#d8dee9"
EXPLANATION_COLUMNS: tuple[tuple[str, str], ...] = (
    ("kpi", "KPI"),
    ("value", "Value"),
    ("target", "Target T"),
    ("worst", "Worst W"),
    ("weight", "Weight"),
    ("score", "Score n"),
    ("samples", "Samples"),
    ("data", "Data source"),
    ("target_source", "Target source"),
    ("window", "Window (UTC)"),
    ("note", "Note"),
)
"""Drill-down table columns: row key and header."""


@lru_cache(maxsize=1)
def config() -> IndexConfig:
    """The packaged index rules (read once)."""
    return load_config()


def window_end(store: Store, mode: str, now: datetime | None = None) -> datetime:
    """The end of the window: ``latest`` is just after the store's newest record (the wall
    clock for a store with none), ``now`` the wall clock (or ``now`` when given)."""
    if mode not in END_MODES:
        raise ValueError(f"window end must be one of {END_MODES}, not {mode!r}")
    wall = now or datetime.now(UTC)
    if mode == "now":
        return wall
    return latest_data_time(store) or wall


def compute_view(store: Store, days: float, area: str, end_mode: str,
                 now: datetime | None = None) -> dict[str, Any]:
    """The index of ``area`` over the rolling ``days`` ending per ``end_mode``, computed by
    :func:`twin.modules.quality.compute` on ``store``."""
    if not days > 0:
        raise ValueError("the window must be > 0 days")
    window = rolling_window(window_end(store, end_mode, now), float(days))
    return compute(store, config(), window, area)


def picked_service(button_id: Any) -> str | None:
    """The service whose explain button has the id ``button_id`` (None: no such button)."""
    for s in SERVICES:
        if button_id == ids.index_pick(s):
            return s
    return None


def service_record(result: dict[str, Any], service: str) -> dict[str, Any]:
    """The record of ``service`` in a computed index (``KeyError`` if there is none)."""
    for s in result["services"]:
        if s["service"] == service:
            return dict(s)
    raise KeyError(service)


def _fmt_score(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


def _steps() -> list[dict[str, Any]]:
    bounds = [float(low) for _g, low, _l in GRADE_BANDS] + [SCALE[1]]
    return [{"range": [bounds[i], bounds[i - 1] if i else SCALE[1]],
             "color": GRADE_COLOURS[g] + "40"} for i, (g, _low, _l) in enumerate(GRADE_BANDS)]


def gauge_figure(record: dict[str, Any], title: str | None = None) -> go.Figure:
    """A gauge (``go.Indicator``) of one score on the 25-100 scale with the grade bands.

    ``record`` is a service record of :func:`~twin.modules.quality.compute_index` (``final``)
    or its ``aai`` record (``aai``). Without a score the gauge has no needle and no number,
    only "insufficient data".
    """
    value = record.get("final", record.get("aai"))
    name = title or SERVICE_LABELS.get(record.get("service", ""), "AAI")
    indicator: dict[str, Any] = dict(
        mode="gauge+number" if value is not None else "gauge",
        gauge={"axis": {"range": list(SCALE), "tickvals": [25, 65, 76.61, 88.31, 100],
                        "ticktext": ["25", "65", "76.6", "88.3", "100"]},
               "bar": {"color": GRADE_COLOURS.get(record.get("grade") or "", "#5c6b7a")},
               "steps": _steps(), "bgcolor": BACKGROUND},
        number={"valueformat": ".2f"},
        domain={"x": [0, 1], "y": [0, 1]},
    )
    if value is not None:
        indicator["value"] = value
    fig = go.Figure(go.Indicator(**indicator))
    fig.update_layout(
        paper_bgcolor=BACKGROUND, font={"color": FONT_COLOUR}, height=170,
        margin={"l": 24, "r": 24, "t": 16, "b": 8}, meta={"service": name, "value": value},
    )
    if value is None:
        fig.add_annotation(text=INSUFFICIENT, x=0.5, y=0.12, showarrow=False,
                           font={"size": 15, "color": FONT_COLOUR})
    return fig


def grade_text(record: dict[str, Any], cfg: IndexConfig | None = None) -> str:
    """``"A · Sangat baik · coverage 83%"``, or why there is no grade."""
    cfg = cfg or config()
    cover = f"coverage {record['coverage']:.0%}"
    if record.get("grade") is None:
        return f"{INSUFFICIENT} · {cover} (needs {cfg.min_coverage:.0%})"
    return f"{record['grade']} · {grade_label(record['grade'])} · {cover}"


def kpi_count_text(record: dict[str, Any]) -> str:
    """``"2 of 4 KPIs with enough data"``."""
    exps = record["explanations"]
    return f"{sum(e['available'] for e in exps)} of {len(exps)} KPIs with enough data"


def aai_text(result: dict[str, Any]) -> str:
    """The accountability index line: score and grade, or why there is none."""
    a = result["aai"]
    cover = f"{a['coverage']:.0%} of the service weight scored"
    if a["aai"] is None:
        return f"AAI: {INSUFFICIENT} ({cover})"
    return f"AAI {a['aai']:.2f} · grade {a['grade']} ({cover})"


def window_text(result: dict[str, Any], cfg: IndexConfig | None = None) -> str:
    """The line saying what was computed: index version, area and window."""
    cfg = cfg or config()
    w = result["window"]
    return (f"Index {result['index_version']} · area {result['area']} · "
            f"{_time(w['start'])} to {_time(w['end'])} UTC · a KPI needs {cfg.min_samples} "
            "samples")


def _time(iso: str) -> str:
    return datetime.fromisoformat(iso).astimezone(UTC).strftime("%Y-%m-%d %H:%M")


def format_value(kpi_id: str, x: float | None) -> str:
    """A KPI value in its unit (from the id's suffix): shares in %, durations with units."""
    if x is None:
        return NO_DATA
    if kpi_id.endswith("_share"):
        return f"{100 * x:.1f}%"
    if kpi_id.endswith("_change"):
        return f"{100 * x:+.1f}%"
    for suffix, unit in (("_days", "d"), ("_min", "min"), ("_s", "s")):
        if kpi_id.endswith(suffix):
            return f"{x:.2f} {unit}"
    return f"{x:.3g}"


def kpi_rows(result: dict[str, Any], service: str,
             cfg: IndexConfig | None = None) -> list[dict[str, str]]:
    """The explanation of ``service``'s score: one row per KPI, keyed by the
    :data:`EXPLANATION_COLUMNS` keys, in config order.

    A KPI without a value shows "no data" in value and score; one with a value from fewer
    than ``min_samples`` events shows the value but "not scored".
    """
    cfg = cfg or config()
    rows = []
    for e in service_record(result, service)["explanations"]:
        kpi = cfg.kpi(e["kpi"])
        if e["x"] is None:
            score = NO_DATA
        elif e["n_k"] is None:
            score = "not scored"
        else:
            score = f"{e['n_k']:.3f}"
        excluded = ", ".join(f"{k}: {v}" for k, v in sorted(e["excluded"].items()))
        note = e["note"] + (f" (left out: {excluded})" if excluded else "")
        w = e["window"]
        rows.append({
            "kpi": e["kpi"], "value": format_value(e["kpi"], e["x"]),
            "target": format_value(e["kpi"], e["T"]), "worst": format_value(e["kpi"], e["W"]),
            "weight": f"{e['w_k']:g}", "score": score, "samples": str(e["samples"]),
            "data": ", ".join(e["data_sources"]) or f"none (query {e['query_id']})",
            "target_source": kpi.source or "–",
            "window": f"{_time(w['start'])} to {_time(w['end'])}",
            "note": note,
            "available": "yes" if e["available"] else "no",
        })
    return rows


def explanation_table(rows: list[dict[str, str]]) -> html.Table:
    """The drill-down table: one ``tr.kpi-row`` per KPI (``kpi-nodata`` when it has none)."""
    body = [html.Tr([html.Td(row[key], className=f"col-{key}") for key, _ in EXPLANATION_COLUMNS],
                    className="kpi-row" + ("" if row["available"] == "yes" else
                                           " kpi-nodata" if row["value"] == NO_DATA
                                           else " kpi-few"))
            for row in rows]
    return html.Table(className="index-table", children=[
        html.Thead(html.Tr([html.Th(label) for _, label in EXPLANATION_COLUMNS])),
        html.Tbody(body),
    ])


def score_lines(record: dict[str, Any]) -> list[str]:
    """How the service score is made: S (objective), PSI, IKM blend and final."""
    if record["final"] is None:
        return [f"{SERVICE_LABELS[record['service']]}: {INSUFFICIENT} — "
                f"{kpi_count_text(record)}, coverage {record['coverage']:.0%}."]
    lines = [f"S = 100 · Σ w·n / Σ w = {record['objective']:.2f}",
             f"PSI = 25 + 0.75 · S = {record['psi']:.2f}"]
    if record["ikm"] is not None:
        lines.append(f"Final = {record['alpha']:g} · PSI + {1 - record['alpha']:g} · IKM "
                     f"({record['ikm']:.2f}) = {record['final']:.2f}")
    else:
        lines.append(f"Final = PSI = {record['final']:.2f} (no IKM survey)")
    lines.append(f"Grade {record['grade']} ({grade_label(record['grade'])}), "
                 f"{kpi_count_text(record)}, coverage {record['coverage']:.0%}")
    return lines


def trend_rows(rows: list[dict[str, Any]], kind: str, days: float,
               cfg: IndexConfig | None = None) -> list[dict[str, Any]]:
    """The published rows of :func:`twin.modules.quality.history` that form one trend:
    this index version, and either calendar months or rolling windows of ``days``."""
    if kind not in TREND_KINDS:
        raise ValueError(f"trend kind must be one of {TREND_KINDS}, not {kind!r}")
    cfg = cfg or config()
    keep = []
    for r in rows:
        if r["index_version"] != cfg.index_version or r["period_kind"] != kind:
            continue
        length_d = (r["period_end"] - r["period_start"]).total_seconds() / 86400.0
        if kind == "rolling" and abs(length_d - days) > 1e-6:
            continue
        keep.append(r)
    return sorted(keep, key=lambda r: (r["period_end"], r["service"]))


def trend_figure(rows: list[dict[str, Any]], services: tuple[str, ...] = (*SERVICES, "AAI"),
                 what: str = "") -> go.Figure:
    """Published scores over time, one line per service (and the AAI, dashed); a period
    with "insufficient data" is a gap in its line, not a zero. ``what`` names the periods
    shown (see :func:`trend_label`), for the empty chart's message."""
    fig = go.Figure()
    for service in services:
        pts = [r for r in rows if r["service"] == service]
        if not pts:
            continue
        fig.add_trace(go.Scatter(
            x=[r["period_end"] for r in pts], y=[r["score"] for r in pts],
            mode="lines+markers", name=SERVICE_LABELS.get(service, service), connectgaps=False,
            line={"dash": "dash"} if service == "AAI" else {},
            customdata=[[r["grade"] or INSUFFICIENT, r["coverage"]] for r in pts],
            hovertemplate="%{y:.2f} grade %{customdata[0]}, coverage "
                          "%{customdata[1]:.0%}<extra>%{fullData.name}</extra>"))
    fig.update_layout(
        paper_bgcolor=BACKGROUND, plot_bgcolor=BACKGROUND, font={"color": FONT_COLOUR},
        height=260, margin={"l": 48, "r": 16, "t": 16, "b": 36},
        yaxis={"range": [SCALE[0] - 1, SCALE[1] + 2], "title": "score (25-100)",
               "gridcolor": "#263241"},
        xaxis={"gridcolor": "#263241"},  # each point is the end of a published period
        legend={"orientation": "h", "y": -0.2},
    )
    if not fig.data:
        fig.update_xaxes(visible=False)
        fig.update_yaxes(visible=False)
        fig.add_annotation(text=f"No published scores{' for ' + what if what else ''} yet "
                           "(kota quality --publish stores them)",
                           x=0.5, y=0.5, xref="paper", yref="paper", showarrow=False)
    return fig


def trend_label(kind: str, days: float) -> str:
    """What a trend of ``kind`` shows: ``rolling 7-day windows`` or ``calendar months``."""
    return f"rolling {days:g}-day windows" if kind == "rolling" else "calendar months"


def drill_children(result: dict[str, Any], service: str, trend: list[dict[str, Any]],
                   what: str = "", cfg: IndexConfig | None = None) -> list[Any]:
    """The drill-down of ``service``: heading, how the score is made, the KPI table and the
    service's published trend (``trend``: rows of :func:`trend_rows`)."""
    record = service_record(result, service)
    return [
        html.H3(f"{SERVICE_LABELS[service]}: {grade_text(record, cfg)}", className="index-drill-title"),
        html.Ul([html.Li(line) for line in score_lines(record)], className="index-score-lines"),
        explanation_table(kpi_rows(result, service, cfg)),
        dcc.Graph(figure=trend_figure(trend, (service,), what), config={"displayModeBar": False},
                  className="index-drill-trend"),
    ]
