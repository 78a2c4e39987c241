"""Sensors: devices online, last seen, message rates, lag, quarantine and rejected payloads.

Reads the store the dashboard was started with (:func:`dashboard.state.current_store`),
so it shows whatever writes there: the hardware bridge, a replay, a simulated run.
Every few seconds a ``dcc.Interval`` recomputes :func:`twin.sensor_health.sensor_health`
and redraws the tiles, the table (sorted by status or last seen) and the latest
rejected payloads; the builders are in :mod:`dashboard.sensor_table`.
"""

from __future__ import annotations

from typing import Any

import dash
from dash import Input, Output, callback, dcc, html

from dashboard import auth, ids
from dashboard.sensor_table import (
    SOURCE_COLUMNS,
    rejected_items,
    table_rows,
    tile_values,
    window_text,
)
from dashboard.state import current_store, sensors_clock
from twin.accounts.roles import PAGE_SENSORS
from twin.sensor_health import sensor_health

dash.register_page(__name__, path="/sensors", name="Sensors", order=5)

PERMISSION = PAGE_SENSORS
"""Who may see this page and run its callbacks (:data:`twin.accounts.roles.PAGE_SENSORS`)."""
REFRESH_MS = 5000
WINDOW_S = 300.0
REJECTED_SHOWN = 10
TILE_LABELS = {"online": "Online", "stale": "Stale", "offline": "Offline",
               "quarantined": "Quarantined in window"}
NO_STORE = "No store attached: start the dashboard with a store (kota run --dashboard)."


def layout(**_kwargs: Any) -> html.Div:
    """The page, drawn from the store as it is now."""
    tiles, window, table, rejected = _content("status")
    return html.Div(className="sensors-page", children=[
        html.Div(className="kpi-row sensors-tiles", children=[
            html.Div(className=f"kpi-tile sensors-{key}", children=[
                html.Div(TILE_LABELS[key], className="kpi-label"),
                html.Div(tiles[i], id=ids.sensors_tile(key), className="kpi-value"),
            ]) for i, key in enumerate(ids.SENSORS_TILE_KEYS)]),
        html.Div(window, id=ids.SENSORS_WINDOW, className="ops-status"),
        html.Div(className="sensors-card", children=[
            dcc.RadioItems(id=ids.SENSORS_SORT, value="status", inline=True,
                           className="sensors-sort",
                           options=[{"label": "Sort by status", "value": "status"},
                                    {"label": "Sort by last seen", "value": "last_seen"}]),
            html.Table(className="sensors-table", children=[
                html.Thead(html.Tr([html.Th(label) for _, label in SOURCE_COLUMNS])),
                html.Tbody(table, id=ids.SENSORS_TABLE),
            ]),
        ]),
        html.Div(className="sensors-card", children=[
            html.Div("Latest rejected payloads", className="kpi-label"),
            html.Ul(rejected, id=ids.SENSORS_REJECTED, className="rejected-list"),
        ]),
        dcc.Interval(id=ids.SENSORS_INTERVAL, interval=REFRESH_MS),
    ])


@callback(
    *[Output(ids.sensors_tile(key), "children") for key in ids.SENSORS_TILE_KEYS],
    Output(ids.SENSORS_WINDOW, "children"),
    Output(ids.SENSORS_TABLE, "children"),
    Output(ids.SENSORS_REJECTED, "children"),
    Input(ids.SENSORS_INTERVAL, "n_intervals"),
    Input(ids.SENSORS_SORT, "value"),
    prevent_initial_call=True,
)
def refresh(_n_intervals: int | None, sort_by: str) -> tuple[Any, ...]:
    """Recompute the sensors' health and redraw everything."""
    auth.require(PERMISSION)
    tiles, window, table, rejected = _content(sort_by)
    return (*tiles, window, table, rejected)


def _content(sort_by: str) -> tuple[list[str], str, list[html.Tr], list[html.Li]]:
    store = current_store()
    if store is None:
        return (["–"] * len(ids.SENSORS_TILE_KEYS), NO_STORE, [], [])
    health = sensor_health(store, window_s=WINDOW_S, clock=sensors_clock(),
                           rejected_limit=REJECTED_SHOWN)
    tiles = tile_values(health)
    return ([tiles[key] for key in ids.SENSORS_TILE_KEYS], window_text(health),
            table_rows(health, sort_by), rejected_items(health))
