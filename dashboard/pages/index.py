"""Service index: the six public services as gauges with grades, trends and explanations.

The index is computed by the quality module on the dashboard's store
(:func:`twin.modules.quality.compute` over a rolling window of 7 or 30 days, for the whole
store or one area); the trend is what ``kota quality --publish`` stored
(:func:`twin.modules.quality.history`). Choosing a service opens the explanation of its
score: every KPI with its value, target, worst level, normalised score, samples, sources
and window. The builders are in :mod:`dashboard.index_view`.
"""

from __future__ import annotations

from typing import Any

import dash
import plotly.graph_objects as go
from dash import Input, Output, callback, dcc, html

from dashboard import auth, ids
from dashboard import index_view as view
from dashboard.state import current_store
from twin.accounts.roles import PAGE_INDEX
from twin.modules.quality import SERVICES, areas, history

dash.register_page(__name__, path="/index", name="Service index", order=4)

PERMISSION = PAGE_INDEX
"""Who may see this page and run its callbacks (:data:`twin.accounts.roles.PAGE_INDEX`)."""
DEFAULT_DAYS = 30
NO_STORE = "No store attached: start the dashboard with a store (kota run --dashboard)."
CHOOSE = "Choose a service above to see how its score is made."
CONTROLS = (Input(ids.INDEX_WINDOW, "value"), Input(ids.INDEX_END, "value"),
            Input(ids.INDEX_AREA, "value"), Input(ids.INDEX_TREND_KIND, "value"))


def layout(**_kwargs: Any) -> html.Div:
    """The page for the default choices (30 days ending at the newest data, all areas)."""
    store = current_store()
    area_options = ([{"label": a.id if a.kind == "all" else f"{a.id} ({a.kind})", "value": a.id}
                     for a in areas(store)] if store is not None
                    else [{"label": "all", "value": "all"}])
    content = _content(DEFAULT_DAYS, "latest", "all", "rolling")
    cards = [html.Div(className=f"index-card index-service index-{s}", children=[
        html.Button(view.SERVICE_LABELS[s], id=ids.index_pick(s), n_clicks=0,
                    className="index-pick", title="Explain this score"),
        dcc.Graph(id=ids.index_gauge(s), figure=content[i], config={"displayModeBar": False},
                  className="index-gauge"),
        html.Div(content[len(SERVICES) + i], id=ids.index_grade(s), className="index-grade"),
    ]) for i, s in enumerate(SERVICES)]
    n = 2 * len(SERVICES)
    return html.Div(className="index-page", children=[
        html.Div(className="index-controls", children=[
            html.Label(["Window ", dcc.RadioItems(
                id=ids.INDEX_WINDOW, value=DEFAULT_DAYS, inline=True,
                options=[{"label": f"{d} days", "value": d} for d in view.WINDOW_DAYS])]),
            html.Label(["Ending ", dcc.RadioItems(
                id=ids.INDEX_END, value="latest", inline=True,
                options=[{"label": "at the newest data", "value": "latest"},
                         {"label": "now", "value": "now"}])]),
            html.Label(["Area ", dcc.Dropdown(id=ids.INDEX_AREA, value="all", clearable=False,
                                              options=area_options, className="index-area")]),
            html.Label(["Trend ", dcc.RadioItems(
                id=ids.INDEX_TREND_KIND, value="rolling", inline=True,
                options=[{"label": "rolling windows", "value": "rolling"},
                         {"label": "calendar months", "value": "month"}])]),
        ]),
        html.Div(content[n + 2], id=ids.INDEX_STATUS, className="ops-status"),
        html.Div(cards, className="index-grid"),
        html.Div(className="index-summary", children=[
            html.Div(className="index-card index-aai", children=[
                html.Div("Accountability (AAI)", className="kpi-label"),
                dcc.Graph(id=ids.INDEX_AAI_GAUGE, figure=content[n], config={"displayModeBar": False}),
                html.Div(content[n + 1], id=ids.INDEX_AAI_TEXT, className="index-grade"),
            ]),
            html.Div(className="index-card index-trend-card", children=[
                html.Div("Published scores", className="kpi-label"),
                dcc.Graph(id=ids.INDEX_TREND, figure=content[n + 3], config={"displayModeBar": False}),
            ]),
        ]),
        dcc.Store(id=ids.INDEX_SELECTED),
        html.Div(CHOOSE, id=ids.INDEX_DRILL, className="index-card index-drill"),
    ])


@callback(
    *[Output(ids.index_gauge(s), "figure") for s in SERVICES],
    *[Output(ids.index_grade(s), "children") for s in SERVICES],
    Output(ids.INDEX_AAI_GAUGE, "figure"),
    Output(ids.INDEX_AAI_TEXT, "children"),
    Output(ids.INDEX_STATUS, "children"),
    Output(ids.INDEX_TREND, "figure"),
    Output(ids.INDEX_DRILL, "children"),
    *CONTROLS,
    Input(ids.INDEX_SELECTED, "data"),
    prevent_initial_call=True,
)
def refresh(days: float, end_mode: str, area: str, trend_kind: str,
            service: str | None = None) -> tuple[Any, ...]:
    """Recompute the index for the chosen window and area once, and redraw the gauges,
    the trend and the chosen service's explanation from it."""
    auth.require(PERMISSION)
    return _content(days, end_mode, area, trend_kind, service)


@callback(
    Output(ids.INDEX_SELECTED, "data"),
    *[Input(ids.index_pick(s), "n_clicks") for s in SERVICES],
    prevent_initial_call=True,
)
def select(*_clicks: int | None) -> str:
    """Remember which service's button was clicked."""
    auth.require(PERMISSION)
    service = view.picked_service(dash.ctx.triggered_id)
    if service is None:
        raise dash.exceptions.PreventUpdate
    return service


def _content(days: float, end_mode: str, area: str, trend_kind: str,
             service: str | None = None) -> tuple[Any, ...]:
    """Gauges, grade lines, AAI gauge and line, status line, trend figure and the
    explanation of ``service`` (or the prompt to choose one), from one computation."""
    store = current_store()
    if store is None:
        empty = go.Figure()
        return ((empty,) * len(SERVICES) + ("–",) * len(SERVICES)
                + (empty, "–", NO_STORE, empty, NO_STORE))
    result = view.compute_view(store, days, area, end_mode)
    records = [view.service_record(result, s) for s in SERVICES]
    trend = view.trend_rows(history(store, area=area), trend_kind, days)
    drill: Any = CHOOSE
    if service in SERVICES:
        picked = view.trend_rows(history(store, area=area, service=service), trend_kind, days)
        drill = view.drill_children(result, service, picked, view.trend_label(trend_kind, days))
    return (*[view.gauge_figure(r) for r in records],
            *[f"{view.grade_text(r)} · {view.kpi_count_text(r)}" for r in records],
            view.gauge_figure(result["aai"], "AAI"), view.aai_text(result),
            view.window_text(result),
            view.trend_figure(trend, what=view.trend_label(trend_kind, days)), drill)
