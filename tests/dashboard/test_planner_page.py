"""The Planner page: its form checks, background job and comparison, on a real sweep of
grid_small run on a real Dask LocalCluster with one worker."""

from __future__ import annotations

import json
import shutil
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dash
import flask
import pytest
from distributed import Client
from werkzeug.exceptions import Forbidden

from dashboard import ids
from dashboard import planner_view as view
from dashboard.app import create_app
from dashboard.planner_jobs import JOBS_CONFIG_KEY, JobRefused, JobStatus, PlannerJobs
from dashboard.sessions import Session
from tests.dashboard.logins import PASSWORD, client_login
from tests.dask_cluster import local_client
from twin.accounts import AccountStore
from twin.live import LiveTwin
from twin.planning.params import ParameterError
from twin.planning.run_kpis import KPI_NAMES
from twin.planning.sweep import run_sweep
from twin.store import open_store

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

REPO = Path(__file__).resolve().parents[2]
SCENARIOS = REPO / "scenarios"
FORM = {"scenario": "grid_small.toml", "parameter": "demand.scale", "values": "0.5, 2.0",
        "replications": "2", "duration_s": "900", "name": "scale"}
A, B = "demand.scale=0.5", "demand.scale=2.0"


@pytest.fixture(scope="module")
def client() -> Iterator[Client]:
    with local_client(1) as dask_client:
        yield dask_client


@pytest.fixture(scope="module")
def sweeps(tmp_path_factory: pytest.TempPathFactory, client: Client) -> dict[str, Any]:
    """The form's sweep (2 points x 2 seeds, 900 s) run as the page runs it: a PlannerJobs
    thread. The real run_sweep waits for a gate, so the job is certainly still running
    when a second start is tried."""
    folders = view.Folders(SCENARIOS, tmp_path_factory.mktemp("sweeps"))
    gate = threading.Event()

    def gated(*args: Any, **kwargs: Any) -> Any:
        gate.wait()
        return run_sweep(*args, **kwargs)

    jobs = PlannerJobs(runner=gated, client=client)
    spec, out = view.check_form(folders, **FORM)
    started = jobs.start(spec, out, out.name)
    second = view.check_form(folders, **{**FORM, "name": "other"})
    try:
        jobs.start(*second, "other")
    except JobRefused as exc:
        refused: str | None = str(exc)
    else:
        refused = None
    while_running = jobs.status()
    gate.set()
    finished = jobs.wait(timeout_s=600)
    return {"folders": folders, "jobs": jobs, "started": started, "refused": refused,
            "while_running": while_running, "finished": finished, "client": client}


# -- the form -----------------------------------------------------------------------------------


def test_scenarios_and_finished_sweeps_are_listed_from_the_configured_folders(sweeps, tmp_path):
    folders = sweeps["folders"]
    assert "grid_small.toml" in view.list_scenarios(folders.scenarios)
    assert "README.md" not in view.list_scenarios(folders.scenarios)
    assert view.default_scenario(view.list_scenarios(folders.scenarios)) == view.DEFAULT_SCENARIO
    assert view.default_scenario(["b.toml", "a.toml"]) == "b.toml"
    assert view.default_scenario([]) is None
    assert view.list_sweeps(folders.sweeps) == ["scale"]  # "other" was refused: no folder
    assert view.sweep_points(folders.sweeps, "scale") == [A, B]
    assert view.sweep_points(folders.sweeps, "../scale") == []  # only names inside the root
    assert view.sweep_folder(folders.sweeps, "/etc") is None
    config = {view.SCENARIOS_CONFIG_KEY: str(tmp_path)}
    assert view.planner_folders(config) == view.Folders(tmp_path, view.DEFAULT_SWEEPS)
    assert view.planner_folders({}).scenarios == SCENARIOS


@pytest.mark.parametrize(("changes", "error", "says"), [
    ({"parameter": "demand.scal"}, ParameterError,
     "unknown parameter 'demand.scal': demand has no field 'scal' (its fields: "),
    ({"parameter": "incidents.3.duration_s"}, ParameterError,
     "incidents is a list of 1 items; address one by its index 0..0"),
    ({"values": "1.0, -1"}, ParameterError,
     "the scenario refuses demand.scale = -1:\n  demand.scale: Input should be greater than 0"),
    ({"values": " , "}, view.FormError, "give the values to try, separated by commas"),
    ({"replications": "two"}, view.FormError, "replications must be a whole number, got 'two'"),
    ({"replications": "0"}, view.FormError, "replications must be more than 0, got 0"),
    ({"duration_s": "-60"}, view.FormError, "duration must be more than 0, got -60"),
    ({"name": "../up"}, view.FormError, "the sweep name '../up' must be letters, digits"),
    ({"scenario": "nope.toml"}, view.FormError, "no scenario 'nope.toml' in "),
])
def test_a_wrong_form_says_what_to_change(sweeps, changes, error, says):
    with pytest.raises(error) as info:
        view.check_form(sweeps["folders"], **{**FORM, **changes})
    assert says in str(info.value)


def test_the_parameter_is_checked_as_it_is_typed():
    assert view.parameter_message(SCENARIOS, "grid_small.toml", "demand.scale") == ""
    assert view.parameter_message(SCENARIOS, "grid_small.toml", "") == ""
    message = view.parameter_message(SCENARIOS, "grid_small.toml", "demand.scal")
    assert message.startswith("unknown parameter 'demand.scal'") and "scale" in message
    assert view.parameter_message(SCENARIOS, "grid_small.toml", "scenario.sed").startswith(
        "unknown parameter 'scenario.sed': scenario has no field 'sed'")


def test_a_good_form_names_the_sweep_and_its_folder(sweeps):
    folders = sweeps["folders"]
    spec, out = view.check_form(folders, **{**FORM, "name": "", "duration_s": ""})
    assert out == folders.sweeps / "grid_small-demand.scale"
    assert spec.parameters == {"demand.scale": [0.5, 2.0]}
    assert spec.seeds == (42, 43) and spec.duration_s is None
    assert len(spec.points()) == 4


# -- the job ------------------------------------------------------------------------------------


def test_a_second_start_while_a_sweep_runs_is_refused(sweeps):
    assert sweeps["started"].state == "running" and sweeps["started"].total == 4
    assert sweeps["while_running"].name == "scale" and sweeps["while_running"].running
    assert sweeps["refused"] == ("the sweep 'scale' is still running (0/4 runs); "
                                 "start another when it has finished")


def test_progress_counts_every_run_to_done(sweeps):
    status = sweeps["finished"]
    assert (status.state, status.done, status.total, status.errors) == ("done", 4, 4, ())
    assert status.ended_s is not None
    out = sweeps["folders"].sweeps / "scale"
    assert len(list((out / "runs").glob("*.json"))) == 4
    assert view.job_text(status) == ("scale: 4 / 4 runs done (done)", [])
    assert view.job_text(None)[0] == "No sweep started yet."


def test_once_finished_the_same_sweep_starts_again_and_skips_its_runs(sweeps, tmp_path):
    folders = view.Folders(SCENARIOS, tmp_path)
    shutil.copytree(sweeps["folders"].sweeps / "scale", tmp_path / "scale")
    jobs = PlannerJobs(client=sweeps["client"])
    started = jobs.start(*view.check_form(folders, **FORM), "scale")
    assert (started.job_id, started.done, started.total) == (1, 4, 4)  # found from before
    finished = jobs.wait(timeout_s=120)
    assert finished is not None and (finished.state, finished.done) == ("done", 4)


def test_a_sweep_that_cannot_start_ends_the_job_with_its_message(sweeps, tmp_path):
    jobs = PlannerJobs(scheduler="tcp://127.0.0.1:9", timeout_s=0.5)
    spec, out = view.check_form(view.Folders(SCENARIOS, tmp_path), **FORM)
    jobs.start(spec, out, "scale")
    status = jobs.wait(timeout_s=60)
    assert status is not None and status.state == "error" and not status.running
    (error,) = status.errors
    assert error.startswith("SchedulerUnreachable: cannot reach the Dask scheduler at "
                            "tcp://127.0.0.1:9")
    text, errors = view.job_text(status)
    assert text == "scale: 0 / 4 runs done (stopped)" and errors == [error]


def test_failed_runs_are_listed_under_the_progress():
    status = JobStatus(2, "s", Path("s"), 4, 3, "failed", ("demand.scale=2.0, seed 43: boom",))
    assert view.job_text(status) == ("s: 3 / 4 runs done (finished with failed runs)",
                                     ["demand.scale=2.0, seed 43: boom"])


# -- the comparison -----------------------------------------------------------------------------


def test_deltas_are_b_minus_a_of_the_summary_with_their_intervals(sweeps):
    rows = json.loads((sweeps["folders"].sweeps / "scale" / "summary.json").read_text())
    ra, rb = (next(r for r in rows if r["point"] == p) for p in (A, B))
    deltas = view.kpi_deltas(rows, A, B)
    assert [d["kpi"] for d in deltas] == list(KPI_NAMES)
    for d in deltas:
        k = d["kpi"]
        assert (d["a"], d["a_ci"], d["b"], d["b_ci"]) == (ra[k], ra[f"{k}_ci"], rb[k], rb[f"{k}_ci"])
        assert d["delta"] == pytest.approx(rb[k] - ra[k])
        assert d["overlap"] == (abs(rb[k] - ra[k]) <= ra[f"{k}_ci"] + rb[f"{k}_ci"])
    by_kpi = {d["kpi"]: d for d in deltas}
    assert by_kpi["trips_completed"]["delta"] > 0  # four times the demand: more trips done
    assert by_kpi["trips_completed"]["overlap"] is False
    reverse = {d["kpi"]: d["delta"] for d in view.kpi_deltas(rows, B, A)}
    assert all(reverse[k] == pytest.approx(-by_kpi[k]["delta"]) for k in KPI_NAMES)
    with pytest.raises(KeyError):
        view.kpi_deltas(rows, A, "demand.scale=9")


def test_intervals_overlap_when_their_distance_is_at_most_both_half_widths():
    assert view.intervals_overlap(10.0, 2.0, 13.0, 1.0) is True  # touching
    assert view.intervals_overlap(10.0, 2.0, 13.5, 1.0) is False
    assert view.intervals_overlap(13.5, 1.0, 10.0, 2.0) is False  # B below A
    assert view.intervals_overlap(10.0, 0.0, 10.0, 0.0) is True
    assert view.intervals_overlap(10.0, None, 12.0, 1.0) is None  # one seed: no interval
    assert view.intervals_overlap(None, 1.0, 12.0, 1.0) is None


def test_the_deltas_table_has_a_row_per_kpi_with_its_verdict(sweeps):
    rows = json.loads((sweeps["folders"].sweeps / "scale" / "summary.json").read_text())
    deltas = view.kpi_deltas(rows, A, B)
    table = view.deltas_table(deltas, A, B)
    body = table.children[1].children
    assert len(body) == len(KPI_NAMES)
    trips = body[list(KPI_NAMES).index("trips_completed")]
    assert trips.className == "delta-row overlap-false"
    assert trips.children[4].children == "no overlap: a clear difference"
    assert trips.children[3].children.startswith("+")


# -- the page's callbacks -----------------------------------------------------------------------


def _app(sweeps: dict[str, Any], tiny_network, view_factory, accounts=None, jobs=None):
    app = create_app(LiveTwin(tiny_network, view_factory(tiny_network)), accounts=accounts)
    app.server.config[view.SCENARIOS_CONFIG_KEY] = str(SCENARIOS)
    app.server.config[view.SWEEPS_CONFIG_KEY] = str(sweeps["folders"].sweeps)
    app.server.config[JOBS_CONFIG_KEY] = jobs or sweeps["jobs"]
    app.server.test_client().get("/")  # sets Dash up
    return app


def _page():
    (name,) = [p["module"] for p in dash.page_registry.values() if p["path"] == "/planner"]
    return sys.modules[name]


def test_the_callbacks_start_show_progress_and_compare(sweeps, tiny_network, view_factory):
    app = _app(sweeps, tiny_network, view_factory)
    page = _page()
    with app.server.test_request_context("/_dash-update-component"):
        assert page.check_parameter("grid_small.toml", "demand.scal").startswith(
            "unknown parameter 'demand.scal'")
        assert page.start(1, *{**FORM, "values": "-1"}.values()).startswith(
            "Not started: the scenario refuses demand.scale = -1")
        # the finished job: its progress, and its sweep opens in Compare once
        text, errors, options, value, seen = page.poll(1, [], None)
        assert (text, errors, options, value) == ("scale: 4 / 4 runs done (done)", [], ["scale"],
                                                  "scale")
        assert seen == sweeps["finished"].job_id
        assert page.poll(2, ["scale"], seen)[2:4] == (dash.no_update, dash.no_update)
        assert page.points("scale") == ([A, B], A, [A, B], B)
        assert page.points("missing") == ([], None, [], None)
        message, table, fig, charts = page.compare(A, B, "scale")
        assert message == "scale: B against A over 4 runs."
        assert len(table.children[1].children) == len(KPI_NAMES)
        assert sum(len(t.x) for t in fig.data) > 0 and "B (demand.scale=2.0)" in fig.layout.title.text
        assert len(charts) == len(KPI_NAMES)
        assert page.compare(A, "demand.scale=9", "scale")[0] == (
            "'demand.scale=0.5' or 'demand.scale=9' is not a point of scale.")
        download, _ = page.export(1, "scale", A)
        assert download["filename"] == "scale-report.html"
        assert "demand.scale=2.0 against demand.scale=0.5" in download["content"]
        assert page.export(1, "../etc", A) == (dash.no_update, "Choose a finished sweep to export.")


def test_start_through_the_page_runs_the_sweep_and_refuses_a_second(sweeps, tiny_network,
                                                                     view_factory, tmp_path):
    gate = threading.Event()

    def gated(*args: Any, **kwargs: Any) -> Any:
        gate.wait()
        return run_sweep(*args, **kwargs)

    jobs = PlannerJobs(runner=gated, client=sweeps["client"])
    shutil.copytree(sweeps["folders"].sweeps / "scale", tmp_path / "scale")
    app = _app({"folders": view.Folders(SCENARIOS, tmp_path)}, tiny_network, view_factory,
               jobs=jobs)
    page = _page()
    with app.server.test_request_context("/_dash-update-component"):
        assert page.start(1, *FORM.values()) == f"Started scale: 4 runs into {tmp_path / 'scale'}."
        assert page.start(2, *FORM.values()).startswith(
            "Not started: the sweep 'scale' is still running (4/4 runs)")
        assert page.poll(1, ["scale"], None)[0] == "scale: 4 / 4 runs done (running)"
    gate.set()
    assert jobs.wait(timeout_s=120).state == "done"


def test_a_role_without_the_planner_page_is_refused(sweeps, tmp_path, tiny_network, view_factory):
    accounts = AccountStore.of(open_store(f"sqlite:///{tmp_path / 'accounts.db'}"))
    accounts.add_user("pia", "planner", PASSWORD)
    accounts.add_user("dan", "dispatcher", PASSWORD)
    app = _app(sweeps, tiny_network, view_factory, accounts)
    page = _page()
    assert client_login(app, "pia").get("/planner").status_code == 200
    assert client_login(app, "dan").get("/planner").status_code == 403
    deps = client_login(app, "pia").get("/_dash-dependencies").get_json()
    (dep,) = [d for d in deps if d["output"] == f"{ids.PLAN_PARAM_CHECK}.children"]
    body = {"output": dep["output"], "outputs": {"id": ids.PLAN_PARAM_CHECK, "property": "children"},
            "inputs": [{"id": ids.PLAN_SCENARIO, "property": "value", "value": "grid_small.toml"},
                       {"id": ids.PLAN_PARAM, "property": "value", "value": "demand.scal"}],
            "changedPropIds": [f"{ids.PLAN_PARAM}.value"]}
    ok = client_login(app, "pia").post("/_dash-update-component", json=body)
    assert ok.status_code == 200 and "unknown parameter" in ok.get_data(as_text=True)
    assert client_login(app, "dan").post("/_dash-update-component", json=body).status_code == 403
    # the callbacks check the permission themselves too, not only the request guard
    for call in (lambda: page.check_parameter("grid_small.toml", "demand.scale"),
                 lambda: page.start(1, *FORM.values()), lambda: page.poll(1, [], None),
                 lambda: page.points("scale"), lambda: page.compare(A, B, "scale"),
                 lambda: page.export(1, "scale", A)):
        with app.server.test_request_context("/_dash-update-component"):
            flask.g.kota_session = Session("dan", "dispatcher", 0.0)
            with pytest.raises(Forbidden):
                call()
    assert sweeps["jobs"].status() == sweeps["finished"]  # nothing was started
    denied = [(e.actor, e.action, e.subject) for e in accounts.access_entries("dan")]
    assert ("dan", "denied", "page:/planner") in denied
