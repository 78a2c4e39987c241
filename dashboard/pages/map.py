"""Map: problem and potential mapping with a layer switcher.

Problem mapping: incident, violation and congestion hot spots from the quality module's
risk maps of the store (:func:`dashboard.state.current_store`); potential mapping:
suggested camera sites (links with violations, speeding or incidents and no camera) and
suggested station sites (covering the dispatch module's slow responses); the dispatch
areas stored with its incidents. The layers are computed when the page opens
(:func:`dashboard.map_layers.load_problem_map`); the ``dcc.Checklist`` shows and hides
their traces with a ``dash.Patch`` of their ``visible`` flags, nothing else is re-sent.
"""

from __future__ import annotations

from datetime import UTC
from typing import Any

import dash
from dash import Input, Output, Patch, callback, dcc, html

from dashboard import auth, ids
from dashboard.map_layers import (
    DEFAULT_SHOWN,
    LAYER_KEYS,
    MAP_LAYERS,
    load_problem_map,
    problem_figure,
    visibility_patch,
)
from dashboard.state import current_live, current_store
from twin.accounts.roles import PAGE_MAP

dash.register_page(__name__, path="/map", name="Map", order=1)

PERMISSION = PAGE_MAP
"""Who may see this page and run its callbacks (:data:`twin.accounts.roles.PAGE_MAP`)."""


def layout(**_kwargs: Any) -> html.Div:
    """The page, computed from the store as it is now."""
    live = current_live()
    view = live.latest()
    cameras = {s.link_id for s in view.sites if s.kind == "camera"}
    pm = load_problem_map(current_store(), live.network, cameras,
                          tz=view.clock_time.tzinfo or UTC)
    window = ("no records to map" if pm.start is None or pm.end is None else
              f"{pm.start:%d %b %Y %H:%M} – {pm.end:%d %b %Y %H:%M} UTC; hours of day in "
              f"{view.clock_time:%Z}")
    return html.Div(className="ops-page map-page", children=[
        html.Div(f"Problems and potentials · {window}", className="ops-status"),
        html.Div(className="ops-body", children=[
            html.Div(className="map-card", children=dcc.Graph(
                id=ids.MAP_GRAPH, figure=problem_figure(live.network, pm, DEFAULT_SHOWN),
                className="ops-map",
                config={"scrollZoom": True, "displaylogo": False, "responsive": True},
            )),
            html.Aside(className="alert-card", children=[
                html.Div("Layers", className="kpi-label"),
                dcc.Checklist(id=ids.MAP_LAYERS, value=list(DEFAULT_SHOWN),
                              className="map-layer-switch",
                              options=[{"label": label, "value": key} for key, label in MAP_LAYERS]),
                html.Ul(id=ids.MAP_NOTES, className="map-notes", children=[
                    html.Li(f"{label}: {pm.notes.get(key, '')}", className=f"map-note-{key}")
                    for key, label in MAP_LAYERS]),
            ]),
        ]),
    ])


@callback(
    Output(ids.MAP_GRAPH, "figure"),
    Input(ids.MAP_LAYERS, "value"),
    prevent_initial_call=True,
)
def switch_layers(shown: list[str] | None) -> Patch:
    """Show the layers ticked in the switcher, hide the others."""
    auth.require(PERMISSION)
    return visibility_patch([k for k in (shown or []) if k in LAYER_KEYS])
