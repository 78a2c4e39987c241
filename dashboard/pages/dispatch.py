"""Call centre & dispatch: the call queue, active incidents, units, recommendations, KPIs.

Reads the store the dashboard was started with (:func:`dashboard.state.current_store`):
what the dispatch module (:mod:`twin.modules.dispatch`) wrote for a run, incidents,
calls, KPIs and the board of units and candidate units (``kota dispatch SCENARIO --store
URL`` writes one). Every few seconds the page is redrawn from the store. A dispatcher
(``action:unit.override``) may choose another available unit than the recommended one;
the choice is recorded in the store (:func:`twin.modules.dispatch.board.record_override`)
for the dispatch model to honour, and in the access log (action ``unit.override``).
Builders are in :mod:`dashboard.dispatch_view`.
"""

from __future__ import annotations

from typing import Any

import dash
from dash import Input, Output, State, callback, dcc, html

from dashboard import auth, ids
from dashboard import dispatch_view as view
from dashboard.state import current_store
from twin.accounts import AccessEntry
from twin.accounts.roles import PAGE_DISPATCH
from twin.modules.dispatch.board import load_board

dash.register_page(__name__, path="/dispatch", name="Call centre & dispatch", order=3)

PERMISSION = PAGE_DISPATCH
"""Who may see this page and run its callbacks (:data:`twin.accounts.roles.PAGE_DISPATCH`)."""
OVERRIDE = "action:unit.override"
"""Who may choose another unit than the recommended one."""
REFRESH_MS = 5000
QUEUE_LABELS = {"waiting": "Calls waiting", "answered": "Answered", "abandoned": "Abandoned"}
NO_STORE = "No store attached: start the dashboard with a store (kota serve --store URL)."
NO_RUN = "No dispatch board in the store yet: run kota dispatch SCENARIO --store URL."


def layout(**_kwargs: Any) -> html.Div:
    """The page; its content is filled by :func:`refresh` for the selected run."""
    store = current_store()
    options = view.run_options(store) if store is not None else []
    may_override = auth.visible(OVERRIDE)
    return html.Div(className="dispatch-page", children=[
        html.Div(className="dispatch-head", children=[
            dcc.Dropdown(id=ids.DISPATCH_RUN, options=options, clearable=False,
                         value=options[0]["value"] if options else None,
                         className="dispatch-run"),
            html.Div(NO_STORE if store is None else ("" if options else NO_RUN),
                     id=ids.DISPATCH_STATUS, className="ops-status"),
        ]),
        html.Div(className="kpi-row dispatch-queue-tiles", children=[
            html.Div(className=f"kpi-tile queue-{key}", children=[
                html.Div(QUEUE_LABELS[key], className="kpi-label"),
                html.Div("–", id=ids.dispatch_queue(key), className="kpi-value"),
            ]) for key in ids.DISPATCH_QUEUE_KEYS]),
        html.Div(id=ids.DISPATCH_TILES, className="kpi-row dispatch-kpis"),
        html.Div(className="dispatch-grid", children=[
            html.Div(className="sensors-card dispatch-queue-card", children=[
                html.Div("Call queue", className="kpi-label"),
                html.Ul(id=ids.DISPATCH_QUEUE, className="call-list"),
            ]),
            html.Div(className="sensors-card dispatch-incidents-card", children=[
                html.Div("Active incidents", className="kpi-label"),
                html.Div(id=ids.DISPATCH_INCIDENTS),
            ]),
        ]),
        html.Div(className="sensors-card dispatch-override", children=[
            html.Div("Send another unit" if may_override
                     else "Send another unit (dispatchers only)", className="kpi-label"),
            html.Div(className="override-form", children=[
                dcc.Dropdown(id=ids.DISPATCH_OVR_INCIDENT, placeholder="Incident",
                             disabled=not may_override),
                dcc.Dropdown(id=ids.DISPATCH_OVR_KIND, placeholder="Unit kind",
                             disabled=not may_override),
                dcc.Dropdown(id=ids.DISPATCH_OVR_UNIT, placeholder="Unit",
                             disabled=not may_override),
                html.Button("Send this unit", id=ids.DISPATCH_OVR_SEND, n_clicks=0,
                            disabled=not may_override, className="override-send"),
            ]),
            html.Div(id=ids.DISPATCH_OVR_MESSAGE, className="ops-status"),
        ]),
        html.Div(className="sensors-card", children=[
            html.Div("Units", className="kpi-label"),
            html.Div(id=ids.DISPATCH_UNITS, className="unit-board"),
        ]),
        dcc.Store(id=ids.DISPATCH_OVR_DONE, data=0),
        dcc.Interval(id=ids.DISPATCH_INTERVAL, interval=REFRESH_MS),
    ])


@callback(
    Output(ids.DISPATCH_STATUS, "children"),
    *[Output(ids.dispatch_queue(key), "children") for key in ids.DISPATCH_QUEUE_KEYS],
    Output(ids.DISPATCH_TILES, "children"),
    Output(ids.DISPATCH_QUEUE, "children"),
    Output(ids.DISPATCH_INCIDENTS, "children"),
    Output(ids.DISPATCH_UNITS, "children"),
    Output(ids.DISPATCH_OVR_INCIDENT, "options"),
    Input(ids.DISPATCH_RUN, "value"),
    Input(ids.DISPATCH_INTERVAL, "n_intervals"),
    Input(ids.DISPATCH_OVR_DONE, "data"),
)
def refresh(run_id: str | None, _n_intervals: int | None, _done: int | None) -> tuple[Any, ...]:
    """Redraw the queue, incidents, units and KPIs of the selected run from the store."""
    auth.require(PERMISSION)
    store = current_store()
    if store is None or not run_id:
        return (NO_STORE if store is None else NO_RUN, "–", "–", "–", [], [], [],
                view.unit_board_columns(None), [])
    data = view.read_dispatch(store, run_id)
    counts = view.queue_counts(data.calls)
    tiles = [html.Div(className=f"kpi-tile tile-{t['key']}", children=[
        html.Div(t["label"], className="kpi-label"),
        html.Div(t["value"], className="kpi-value"),
    ]) for t in view.kpi_tiles(data.kpis)]
    return (view.status_text(data), *[str(counts[k]) for k in ids.DISPATCH_QUEUE_KEYS], tiles,
            view.queue_items(data.calls, data.t_now_s),
            view.incident_cards(data.incidents, data.board, data.overrides, data.started_at),
            view.unit_board_columns(data.board), view.override_incident_options(data.board))


@callback(
    Output(ids.DISPATCH_OVR_KIND, "options"),
    Output(ids.DISPATCH_OVR_KIND, "value"),
    Input(ids.DISPATCH_OVR_INCIDENT, "value"),
    State(ids.DISPATCH_RUN, "value"),
    prevent_initial_call=True,
)
def kinds(incident_id: str | None, run_id: str | None) -> tuple[list[dict[str, str]], None]:
    """The unit kinds still to send for the chosen incident."""
    auth.require(PERMISSION)
    store = current_store()
    board = load_board(store, run_id) if store is not None and run_id else None
    return view.override_kind_options(board, incident_id), None


@callback(
    Output(ids.DISPATCH_OVR_UNIT, "options"),
    Output(ids.DISPATCH_OVR_UNIT, "value"),
    Input(ids.DISPATCH_OVR_KIND, "value"),
    State(ids.DISPATCH_OVR_INCIDENT, "value"),
    State(ids.DISPATCH_RUN, "value"),
    prevent_initial_call=True,
)
def units(kind: str | None, incident_id: str | None,
          run_id: str | None) -> tuple[list[dict[str, str]], None]:
    """The available units of the chosen kind for the chosen incident, recommended first."""
    auth.require(PERMISSION)
    store = current_store()
    board = load_board(store, run_id) if store is not None and run_id else None
    return view.override_unit_options(board, incident_id, kind), None


@callback(
    Output(ids.DISPATCH_OVR_MESSAGE, "children"),
    Output(ids.DISPATCH_OVR_DONE, "data"),
    Input(ids.DISPATCH_OVR_SEND, "n_clicks"),
    State(ids.DISPATCH_RUN, "value"),
    State(ids.DISPATCH_OVR_INCIDENT, "value"),
    State(ids.DISPATCH_OVR_KIND, "value"),
    State(ids.DISPATCH_OVR_UNIT, "value"),
    State(ids.DISPATCH_OVR_DONE, "data"),
    prevent_initial_call=True,
)
def send(_n_clicks: int, run_id: str | None, incident_id: str | None, kind: str | None,
         unit_id: str | None, done: int | None) -> tuple[str, int]:
    """Record the operator's choice of unit (``action:unit.override`` only)."""
    auth.require(PERMISSION)
    session = auth.require(OVERRIDE)
    store = current_store()
    if store is None or not (run_id and incident_id and kind and unit_id):
        return "Choose an incident, a unit kind and a unit first.", done or 0
    actor = session.user if session is not None else "demo"
    text, rec = view.send_override(store, run_id, incident_id, kind, unit_id, actor)
    login = auth.current_auth()
    if rec is not None and login is not None and session is not None:
        login.accounts.record(AccessEntry(
            session.user, session.role, "unit.override", f"{run_id}/{incident_id}",
            "operator override", {"kind": kind, "unit": unit_id,
                                  "recommended": rec.recommended_unit_id}))
    return text, (done or 0) + 1
