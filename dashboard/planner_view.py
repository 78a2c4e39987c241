"""The Planner page's logic as plain functions: folders, the sweep form, the comparison.

Folders come from the app config (:func:`planner_folders`): ``KOTA_PLANNER_SCENARIOS``
(default the repository's ``scenarios/``) and ``KOTA_PLANNER_SWEEPS`` (default
``var/sweeps``). The page only ever names a scenario file or a sweep folder by its name
inside those, so a request cannot point the planner anywhere else.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dash import html

from dashboard.planner_jobs import JobStatus
from dashboard.sweep_report import KPI_LABELS
from twin.planning.params import ParameterError, apply_parameters, check_parameter, parse_value
from twin.planning.run_kpis import KPI_NAMES
from twin.planning.sweep_spec import SweepSpec
from twin.scenario import ScenarioError, load_scenario

__all__ = ["SCENARIOS_CONFIG_KEY", "SWEEPS_CONFIG_KEY", "FormError", "Folders", "check_form",
           "deltas_table", "job_text", "kpi_deltas", "list_scenarios", "list_sweeps",
           "intervals_overlap", "parameter_message", "planner_folders", "sweep_folder", "sweep_points"]

SCENARIOS_CONFIG_KEY = "KOTA_PLANNER_SCENARIOS"
SWEEPS_CONFIG_KEY = "KOTA_PLANNER_SWEEPS"
REPO_SCENARIOS = Path(__file__).resolve().parents[1] / "scenarios"
DEFAULT_SWEEPS = Path("var/sweeps")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,79}$")


class FormError(ValueError):
    """A field of the sweep form is wrong; the message says which and why."""


@dataclass(frozen=True)
class Folders:
    """Where the planner finds scenarios and keeps sweeps."""

    scenarios: Path
    sweeps: Path


def planner_folders(config: Any) -> Folders:
    """The folders of an app from its Flask ``config`` (defaults when not set)."""
    return Folders(Path(config.get(SCENARIOS_CONFIG_KEY) or REPO_SCENARIOS),
                   Path(config.get(SWEEPS_CONFIG_KEY) or DEFAULT_SWEEPS))


def list_scenarios(folder: Path) -> list[str]:
    """The scenario files (``*.toml``) in ``folder``, by name."""
    return sorted(p.name for p in folder.glob("*.toml")) if folder.is_dir() else []


DEFAULT_SCENARIO = "jakarta_jatinegara.toml"
"""The form's first choice when the folder has it: the demo ``make run`` runs."""


def default_scenario(scenarios: list[str]) -> str | None:
    """:data:`DEFAULT_SCENARIO` when listed, else the first scenario (None for none)."""
    if DEFAULT_SCENARIO in scenarios:
        return DEFAULT_SCENARIO
    return scenarios[0] if scenarios else None


def list_sweeps(root: Path) -> list[str]:
    """The sweeps under ``root`` with a summary (a first pass finished), by folder name."""
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir()
                  if (p / "summary.json").is_file() and (p / "sweep.json").is_file())


def sweep_folder(root: Path, name: str | None) -> Path | None:
    """``root / name`` when ``name`` is one of :func:`list_sweeps`, else None."""
    return root / name if name and name in list_sweeps(root) else None


def sweep_points(root: Path, name: str | None) -> list[str]:
    """The grid points of the sweep ``name`` (its summary's order); empty if it is none."""
    folder = sweep_folder(root, name)
    if folder is None:
        return []
    try:
        rows = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    return [str(r["point"]) for r in rows if isinstance(r, dict) and "point" in r]


def parameter_message(folder: Path, scenario: str | None, parameter: str | None) -> str:
    """Empty when ``parameter`` is a field of the scenario, else why not
    (:func:`twin.planning.params.check_parameter`'s message)."""
    if not scenario or not (parameter or "").strip():
        return ""
    try:
        check_parameter(_scenario(folder, scenario), str(parameter).strip())
    except (FormError, ParameterError, ScenarioError) as exc:
        return str(exc)
    return ""


def _scenario(folder: Path, name: str) -> Any:
    if name not in list_scenarios(folder):
        raise FormError(f"no scenario {name!r} in {folder}")
    return load_scenario(folder / name)


def _count(text: str | None, what: str, *, whole: bool) -> float:
    raw = (text or "").strip()
    try:
        value = int(raw) if whole else float(raw)
    except ValueError:
        kind = "a whole number" if whole else "a number of seconds"
        raise FormError(f"{what} must be {kind}, got {raw!r}") from None
    if value <= 0 or value != value:
        raise FormError(f"{what} must be more than 0, got {raw}")
    return value


def check_form(folders: Folders, scenario: str | None, parameter: str | None, values: str | None,
               replications: str | None, duration_s: str | None,
               name: str | None) -> tuple[SweepSpec, Path]:
    """The sweep the form asks for and the folder it goes to.

    ``values`` are comma-separated (numbers and ``true``/``false`` parsed); an empty
    ``duration_s`` keeps the scenario's duration; an empty ``name`` makes one from the
    scenario and parameter.

    Raises
    ------
    FormError, ParameterError, ScenarioError : the message says what to change.
    """
    if not scenario:
        raise FormError("choose a scenario")
    param = (parameter or "").strip()
    if not param:
        raise FormError("give a parameter by its dotted name, e.g. demand.scale")
    parsed = [parse_value(v) for v in (values or "").split(",") if v.strip()]
    if not parsed:
        raise FormError("give the values to try, separated by commas, e.g. 0.8, 1.2")
    reps = int(_count(replications, "replications", whole=True))
    duration = _count(duration_s, "duration", whole=False) if (duration_s or "").strip() else None
    base = _scenario(folders.scenarios, scenario)
    check_parameter(base, param)
    for value in parsed:  # each value alone, so a refusal names only the parameter
        apply_parameters(base, {param: value})
    folder = (name or "").strip() or f"{Path(scenario).stem}-{param}"
    if not _NAME.match(folder):
        raise FormError(f"the sweep name {folder!r} must be letters, digits, '.', '_' or '-' "
                        "(a folder name, 80 characters at most)")
    spec = SweepSpec.build(folders.scenarios / scenario, {param: parsed}, replications=reps,
                           duration_s=duration)
    return spec, folders.sweeps / folder


def job_text(status: JobStatus | None) -> tuple[str, list[str]]:
    """The progress line and the error lines of the latest job."""
    if status is None:
        return "No sweep started yet.", []
    what = {"running": "running", "done": "done", "failed": "finished with failed runs",
            "error": "stopped"}[status.state]
    return f"{status.name}: {status.done} / {status.total} runs done ({what})", list(status.errors)


# -- the comparison ---------------------------------------------------------------------------


def intervals_overlap(a: float | None, a_ci: float | None, b: float | None,
                      b_ci: float | None) -> bool | None:
    """Whether ``a ± a_ci`` and ``b ± b_ci`` overlap (touching counts); None without both
    intervals (a single seed has none)."""
    if a is None or b is None or a_ci is None or b_ci is None:
        return None
    return abs(b - a) <= a_ci + b_ci


def kpi_deltas(rows: list[dict[str, Any]], a: str, b: str) -> list[dict[str, Any]]:
    """One row per KPI: A and B (mean and interval half-width), ``delta`` = B − A and
    ``overlap`` (:func:`intervals_overlap`).

    Raises
    ------
    KeyError : ``a`` or ``b`` is not a point of the summary ``rows``.
    """
    by_label = {str(r["point"]): r for r in rows}
    ra, rb = by_label[a], by_label[b]
    out = []
    for kpi in KPI_NAMES:
        va, vb = ra.get(kpi), rb.get(kpi)
        ca, cb = ra.get(f"{kpi}_ci"), rb.get(f"{kpi}_ci")
        out.append({"kpi": kpi, "label": KPI_LABELS.get(kpi, kpi), "a": va, "a_ci": ca,
                    "b": vb, "b_ci": cb,
                    "delta": None if va is None or vb is None else vb - va,
                    "overlap": intervals_overlap(va, ca, vb, cb)})
    return out


def _num(value: float | None, half: float | None = None, sign: bool = False) -> str:
    if value is None:
        return "–"
    text = f"{value:+,.3f}" if sign else f"{value:,.3f}"
    if abs(value) >= 10:
        text = f"{value:+,.1f}" if sign else f"{value:,.1f}"
    return text if half is None else f"{text} ± {half:,.2f}"


OVERLAP_TEXT = {True: "overlap: not a clear difference", False: "no overlap: a clear difference",
                None: "no interval (one seed)"}


def deltas_table(deltas: list[dict[str, Any]], a: str, b: str) -> html.Table:
    """The KPI deltas as a table, one ``tr.delta-row`` per KPI."""
    head = html.Tr([html.Th("KPI"), html.Th(f"A: {a}"), html.Th(f"B: {b}"), html.Th("B − A"),
                    html.Th("95 % intervals")])
    body = [html.Tr(className=f"delta-row overlap-{str(d['overlap']).lower()}", children=[
        html.Td(d["label"]), html.Td(_num(d["a"], d["a_ci"])), html.Td(_num(d["b"], d["b_ci"])),
        html.Td(_num(d["delta"], sign=True)), html.Td(OVERLAP_TEXT[d["overlap"]])])
        for d in deltas]
    return html.Table([html.Thead(head), html.Tbody(body)], className="planner-deltas")
