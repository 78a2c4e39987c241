"""Operations: the live network map, the run's key figures and the alert feed.

Every second a ``dcc.Interval`` fires :func:`refresh`, which reads the latest
:class:`~twin.live.TwinView` and sends the map's update (:func:`dashboard.live_layers.live_update`:
the band, speed and vehicles of each link with vehicles, and the marker layers — incidents, units, their
routes — that changed), the tile texts and the alert feed (the view's recent alerts,
newest first, coloured by severity: :mod:`dashboard.alert_feed`). The figure (its band
traces empty), the links' geometry (:func:`dashboard.link_state.link_geometry`) and the
first update are sent once, with the page; a clientside callback (``kota_ops.draw`` in
``assets/ops_map.js``) draws the band traces from the geometry and each update in the browser.
"""

from __future__ import annotations

from typing import Any

import dash
from dash import ClientsideFunction, Input, Output, State, callback, dcc, html
from dash.exceptions import PreventUpdate

from dashboard import auth, figures, ids, link_state, live_layers
from dashboard.alert_feed import AlertRow, alert_feed_rows
from dashboard.state import current_live
from twin.accounts.roles import PAGE_OPERATIONS

dash.register_page(__name__, path="/", name="Operations", order=0)

PERMISSION = PAGE_OPERATIONS
"""Who may see this page and run its callbacks (:data:`twin.accounts.roles.PAGE_OPERATIONS`)."""
REFRESH_MS = 1000
KPI_LABELS = {
    "clock": "Simulation clock",
    "vehicles": "Vehicles on the road",
    "arrived": "Arrived / trips",
    "mean_speed": "Mean speed",
    "progress": "Scenario progress",
}


def layout(**_kwargs: Any) -> html.Div:
    """The page, drawn from the live twin's current view."""
    live = current_live()
    view = live.latest()
    kpis = figures.kpi_values(view)
    figure = live_layers.operations_figure(live.network, view, links=False)
    drawn = live_layers.layer_digests(view)
    update, _ = live_layers.live_update(live.network, view, drawn)  # the links, drawn on load
    return html.Div(className="ops-page", children=[
        html.Div(figures.status_text(view), id=ids.OPS_STATUS, className="ops-status"),
        html.Div(className="kpi-row", children=[_tile(key, kpis[key]) for key in ids.OPS_KPI_KEYS]),
        html.Div(className="ops-body", children=[
            html.Div(className="map-card", children=dcc.Graph(
                id=ids.OPS_MAP, figure=figure, className="ops-map",
                config={"scrollZoom": True, "displaylogo": False, "responsive": True},
            )),
            html.Aside(className="alert-card", children=[
                html.Div("Alerts", className="kpi-label"),
                html.Ul(feed_items(view), id=ids.OPS_ALERTS, className="alert-feed"),
            ]),
        ]),
        dcc.Store(id=ids.OPS_LAST_TIME, data=_view_key(view)),
        dcc.Store(id=ids.OPS_LAYER_KEYS, data=drawn),
        dcc.Store(id=ids.OPS_LINK_GEOMETRY, data=link_state.link_geometry(live.network)),
        dcc.Store(id=ids.OPS_TICK, data=update),
        dcc.Interval(id=ids.OPS_INTERVAL, interval=REFRESH_MS),
    ])


@callback(
    Output(ids.OPS_TICK, "data"),
    Output(ids.OPS_LAST_TIME, "data"),
    Output(ids.OPS_LAYER_KEYS, "data"),
    Output(ids.OPS_STATUS, "children"),
    Output(ids.OPS_ALERTS, "children"),
    *[Output(ids.ops_kpi(key), "children") for key in ids.OPS_KPI_KEYS],
    Input(ids.OPS_INTERVAL, "n_intervals"),
    State(ids.OPS_LAST_TIME, "data"),
    State(ids.OPS_LAYER_KEYS, "data"),
    prevent_initial_call=True,
)
def refresh(_n_intervals: int, last_key: list[Any] | None,
            drawn: dict[str, str] | None = None) -> tuple[Any, ...]:
    """The map's update (links and changed marker layers), the tiles and the alert feed
    when the view has moved on."""
    auth.require(PERMISSION)
    live = current_live()
    view = live.latest()
    if last_key == _view_key(view):
        raise PreventUpdate
    update, digests = live_layers.live_update(live.network, view, drawn)
    kpis = figures.kpi_values(view)
    return (update, _view_key(view), digests, figures.status_text(view), feed_items(view),
            *(kpis[key] for key in ids.OPS_KPI_KEYS))


dash.clientside_callback(
    ClientsideFunction(namespace="kota_ops", function_name="draw"),
    Output(ids.OPS_MAP, "figure"),
    Input(ids.OPS_TICK, "data"),
    State(ids.OPS_LINK_GEOMETRY, "data"),
    State(ids.OPS_MAP, "figure"),
)
"""Draw the links when the page opens (its figure's band traces are empty) and each tick's
update, in the browser (``assets/ops_map.js``)."""


def feed_items(view: Any) -> list[html.Li]:
    """The alert feed's list items (a placeholder item when there is no alert)."""
    rows = alert_feed_rows(view.alerts)
    if not rows:
        return [html.Li("No alerts", className="alert-empty")]
    return [_alert_item(row) for row in rows]


def _alert_item(row: AlertRow) -> html.Li:
    return html.Li(className=f"alert-row alert-{row.status}",
                   style={"borderLeftColor": row.colour}, children=[
        html.Div(className="alert-head", children=[
            html.Span(row.time, className="alert-time"),
            html.Span(row.severity, className="alert-severity", style={"color": row.colour}),
            html.Span(row.status, className="alert-status"),
        ]),
        html.Div(row.description, className="alert-description"),
        html.Div(row.source, className="alert-source"),
    ])


def _view_key(view: Any) -> list[Any]:
    return [view.time_s, view.finished]


def _tile(key: str, value: str) -> html.Div:
    return html.Div(className=f"kpi-tile kpi-{key}", children=[
        html.Div(KPI_LABELS[key], className="kpi-label"),
        html.Div(value, id=ids.ops_kpi(key), className="kpi-value"),
    ])
