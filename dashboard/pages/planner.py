"""Planner: run a parameter sweep of a scenario on Dask and compare two of its points.

The form names a scenario (a file of the scenarios folder), one parameter by its dotted
name with the values to try, the seeds per point and the simulated duration; "Start" runs
the sweep in the background (:mod:`dashboard.planner_jobs`, one at a time per app) into
the sweeps folder, and a ``dcc.Interval`` shows its progress. "Compare" opens a finished
sweep: the KPI deltas of point B against point A with their 95 % intervals, the map of the
change in mean link speed, a chart per KPI, and the report of :mod:`dashboard.sweep_report`
to download. The logic is in :mod:`dashboard.planner_view`.

App config: ``KOTA_PLANNER_SCENARIOS``, ``KOTA_PLANNER_SWEEPS`` (folders),
``KOTA_PLANNER_WORKERS`` (local Dask worker processes, default 2) and
``KOTA_PLANNER_SCHEDULER`` (a Dask scheduler address instead of a local cluster).
"""

from __future__ import annotations

from typing import Any

import dash
import flask
import plotly.graph_objects as go
from dash import Input, Output, State, callback, dcc, html

from dashboard import auth, ids
from dashboard import planner_view as view
from dashboard.planner_jobs import JobRefused, planner_jobs
from dashboard.sweep_report import (
    ReportError,
    build_report,
    difference_figure,
    kpi_figure,
    load_sweep,
    point_link_speed_mps,
)
from twin.accounts.roles import PAGE_PLANNER
from twin.network import NetworkError
from twin.planning.params import ParameterError
from twin.planning.run_kpis import KPI_NAMES
from twin.scenario import ScenarioError

dash.register_page(__name__, path="/planner", name="Planner", order=6)

PERMISSION = PAGE_PLANNER
"""Who may see this page and run its callbacks (:data:`twin.accounts.roles.PAGE_PLANNER`)."""
WORKERS_CONFIG_KEY = "KOTA_PLANNER_WORKERS"
SCHEDULER_CONFIG_KEY = "KOTA_PLANNER_SCHEDULER"
POLL_MS = 1000
DEFAULT_REPLICATIONS = "3"
CHOOSE = "Choose a finished sweep and two of its points."


def _folders() -> view.Folders:
    return view.planner_folders(flask.current_app.config)


def _jobs() -> Any:
    config = flask.current_app.config
    options: dict[str, Any] = {"workers": int(config.get(WORKERS_CONFIG_KEY) or 2)}
    if config.get(SCHEDULER_CONFIG_KEY):
        options["scheduler"] = str(config[SCHEDULER_CONFIG_KEY])
    return planner_jobs(**options)


def _field(label: str, component: Any, note: str = "") -> html.Label:
    return html.Label(className="planner-field", children=[
        html.Span(label, className="kpi-label"), component,
        *([html.Small(note, className="planner-note")] if note else [])])


def layout(**_kwargs: Any) -> html.Div:
    """The form, the progress line and the comparison of the sweeps there are."""
    folders = _folders()
    scenarios = view.list_scenarios(folders.scenarios)
    sweeps = view.list_sweeps(folders.sweeps)
    text, errors = view.job_text(_jobs().status())
    return html.Div(className="planner-page", children=[
        html.Section(className="planner-card", children=[
            html.H3("New sweep"),
            html.Div(className="planner-form", children=[
                _field("Scenario", dcc.Dropdown(
                    id=ids.PLAN_SCENARIO, options=scenarios, clearable=False,
                    value=view.default_scenario(scenarios))),
                _field("Parameter", dcc.Input(id=ids.PLAN_PARAM, type="text", value="demand.scale",
                                              placeholder="demand.scale"),
                       "a scenario field by its dotted name"),
                _field("Values", dcc.Input(id=ids.PLAN_VALUES, type="text", value="0.8, 1.2",
                                           placeholder="0.8, 1.2"), "separated by commas"),
                _field("Seeds per point", dcc.Input(id=ids.PLAN_REPLICATIONS, type="text",
                                                    inputMode="numeric",
                                                    value=DEFAULT_REPLICATIONS)),
                _field("Duration (s)", dcc.Input(id=ids.PLAN_DURATION, type="text",
                                                 inputMode="numeric", value="",
                                                 placeholder="the scenario's")),
                _field("Sweep name", dcc.Input(id=ids.PLAN_NAME, type="text", value="",
                                               placeholder="scenario-parameter"),
                       f"a folder in {folders.sweeps}"),
            ]),
            html.Div(id=ids.PLAN_PARAM_CHECK, className="planner-error"),
            html.Button("Start", id=ids.PLAN_START, n_clicks=0, className="planner-start"),
            html.Div(id=ids.PLAN_MESSAGE, className="planner-message"),
            html.Div(text, id=ids.PLAN_PROGRESS, className="ops-status"),
            html.Ul([html.Li(e) for e in errors], id=ids.PLAN_ERRORS, className="planner-error"),
            dcc.Interval(id=ids.PLAN_INTERVAL, interval=POLL_MS),
            dcc.Store(id=ids.PLAN_SEEN_JOB),
        ]),
        html.Section(className="planner-card", children=[
            html.H3("Compare"),
            html.Div(className="planner-form", children=[
                _field("Sweep", dcc.Dropdown(id=ids.PLAN_SWEEP, options=sweeps,
                                             value=sweeps[-1] if sweeps else None)),
                _field("Point A", dcc.Dropdown(id=ids.PLAN_POINT_A, options=[])),
                _field("Point B", dcc.Dropdown(id=ids.PLAN_POINT_B, options=[])),
            ]),
            html.Button("Export report", id=ids.PLAN_EXPORT, n_clicks=0),
            dcc.Download(id=ids.PLAN_DOWNLOAD),
            html.Div(CHOOSE, id=ids.PLAN_COMPARE_MESSAGE, className="planner-message"),
            html.Div(id=ids.PLAN_DELTAS),
            dcc.Graph(id=ids.PLAN_MAP, figure=go.Figure(), config={"displaylogo": False}),
            html.Div(id=ids.PLAN_KPIS, className="planner-kpis"),
        ]),
    ])


@callback(Output(ids.PLAN_PARAM_CHECK, "children"),
          Input(ids.PLAN_SCENARIO, "value"), Input(ids.PLAN_PARAM, "value"))
def check_parameter(scenario: str | None, parameter: str | None) -> str:
    """Why the parameter is not a field of the scenario (empty when it is)."""
    auth.require(PERMISSION)
    return view.parameter_message(_folders().scenarios, scenario, parameter)


@callback(Output(ids.PLAN_MESSAGE, "children"),
          Input(ids.PLAN_START, "n_clicks"),
          State(ids.PLAN_SCENARIO, "value"), State(ids.PLAN_PARAM, "value"),
          State(ids.PLAN_VALUES, "value"), State(ids.PLAN_REPLICATIONS, "value"),
          State(ids.PLAN_DURATION, "value"), State(ids.PLAN_NAME, "value"),
          prevent_initial_call=True)
def start(_clicks: int, scenario: str | None, parameter: str | None, values: str | None,
          replications: str | None, duration_s: str | None, name: str | None) -> str:
    """Check the form and start the sweep in the background; what happened, as text."""
    auth.require(PERMISSION)
    try:
        spec, out = view.check_form(_folders(), scenario, parameter, values, replications,
                                    duration_s, name)
        job = _jobs().start(spec, out, out.name)
    except (view.FormError, ParameterError, ScenarioError, NetworkError, JobRefused) as exc:
        return f"Not started: {exc}"
    return f"Started {job.name}: {job.total} runs into {out}."


@callback(Output(ids.PLAN_PROGRESS, "children"), Output(ids.PLAN_ERRORS, "children"),
          Output(ids.PLAN_SWEEP, "options"), Output(ids.PLAN_SWEEP, "value"),
          Output(ids.PLAN_SEEN_JOB, "data"),
          Input(ids.PLAN_INTERVAL, "n_intervals"),
          State(ids.PLAN_SWEEP, "options"), State(ids.PLAN_SEEN_JOB, "data"))
def poll(_n: int | None, options: list[Any] | None, seen: int | None) -> tuple[Any, ...]:
    """The latest job's progress; when it has just finished, its sweep opens in Compare."""
    auth.require(PERMISSION)
    status = _jobs().status()
    text, errors = view.job_text(status)
    sweeps = view.list_sweeps(_folders().sweeps)
    new_options: Any = sweeps if sweeps != (options or []) else dash.no_update
    value: Any = dash.no_update
    if status is not None and not status.running and status.job_id != seen:
        seen = status.job_id
        if status.name in sweeps:
            value = status.name
    return text, [html.Li(e) for e in errors], new_options, value, seen


@callback(Output(ids.PLAN_POINT_A, "options"), Output(ids.PLAN_POINT_A, "value"),
          Output(ids.PLAN_POINT_B, "options"), Output(ids.PLAN_POINT_B, "value"),
          Input(ids.PLAN_SWEEP, "value"))
def points(sweep: str | None) -> tuple[Any, ...]:
    """The points of the chosen sweep; A the first, B the second (or the first)."""
    auth.require(PERMISSION)
    labels = view.sweep_points(_folders().sweeps, sweep)
    if not labels:
        return [], None, [], None
    return labels, labels[0], labels, labels[min(1, len(labels) - 1)]


@callback(Output(ids.PLAN_COMPARE_MESSAGE, "children"), Output(ids.PLAN_DELTAS, "children"),
          Output(ids.PLAN_MAP, "figure"), Output(ids.PLAN_KPIS, "children"),
          Input(ids.PLAN_POINT_A, "value"), Input(ids.PLAN_POINT_B, "value"),
          State(ids.PLAN_SWEEP, "value"))
def compare(a: str | None, b: str | None, sweep: str | None) -> tuple[Any, ...]:
    """KPI deltas of B against A, the map of the change in link speed, a chart per KPI.

    The sweep is a State: choosing one sets A and B (:func:`points`), which runs this once,
    instead of once for the sweep and again for its points."""
    auth.require(PERMISSION)
    folder = view.sweep_folder(_folders().sweeps, sweep)
    if folder is None or not a or not b:
        return CHOOSE, None, go.Figure(), None
    try:
        data = load_sweep(folder)
        deltas = view.kpi_deltas(data.summary, a, b)
    except (ReportError, ScenarioError, NetworkError, OSError) as exc:
        return f"Cannot open {sweep}: {exc}", None, go.Figure(), None
    except KeyError:
        return f"{a!r} or {b!r} is not a point of {sweep}.", None, go.Figure(), None
    fig = difference_figure(data.network, point_link_speed_mps(data, a), point_link_speed_mps(data, b))
    fig.update_layout(title=f"Mean link speed: B ({b}) against A ({a})", margin={"t": 48})
    rows = [r for r in data.summary if r["point"] in (a, b)]
    charts = [dcc.Graph(figure=_dark(kpi_figure(rows, k)), config={"displayModeBar": False},
                        className="planner-kpi") for k in KPI_NAMES]
    runs = sum(int(r.get("runs") or 0) for r in rows)
    return (f"{sweep}: B against A over {runs} runs.", view.deltas_table(deltas, a, b), fig,
            charts)


def _dark(fig: go.Figure) -> go.Figure:
    """A report chart restyled for the dark dashboard."""
    return fig.update_layout(template="plotly_dark", paper_bgcolor="rgba(0,0,0,0)",
                             plot_bgcolor="rgba(0,0,0,0)")


@callback(Output(ids.PLAN_DOWNLOAD, "data"), Output(ids.PLAN_COMPARE_MESSAGE, "children",
                                                    allow_duplicate=True),
          Input(ids.PLAN_EXPORT, "n_clicks"),
          State(ids.PLAN_SWEEP, "value"), State(ids.PLAN_POINT_A, "value"),
          prevent_initial_call=True)
def export(_clicks: int, sweep: str | None, a: str | None) -> tuple[Any, Any]:
    """The report of the chosen sweep against point A, as a download."""
    auth.require(PERMISSION)
    folder = view.sweep_folder(_folders().sweeps, sweep)
    if folder is None:
        return dash.no_update, "Choose a finished sweep to export."
    try:
        text = build_report(load_sweep(folder), baseline=a)
    except (ReportError, ScenarioError, NetworkError, OSError) as exc:
        return dash.no_update, f"Cannot export {sweep}: {exc}"
    return (dict(content=text, filename=f"{sweep}-report.html", type="text/html"),
            dash.no_update)
