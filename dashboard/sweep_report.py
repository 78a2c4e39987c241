"""A self-contained HTML report of a sweep: what was run, the KPIs compared, maps of differences.

``kota report SWEEP_DIR`` reads what ``kota sweep`` wrote (``sweep.json``, ``summary.json``,
``runs/*.json``) and writes one HTML file that opens offline: plotly.js is inlined, there is
no request to any other server. It holds

- the scenario's settings and the sweep (parameters, seeds, duration);
- a table of every grid point's KPIs, mean ± half-width of the 95 % interval across seeds;
- a bar chart per KPI with the intervals as error bars;
- for every point but the baseline, a map of the change in mean link speed against the
  baseline (mean over seeds of each run's vehicle-weighted link speeds).
"""

from __future__ import annotations

import html
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import plotly.graph_objects as go
from numpy.typing import NDArray
from plotly.offline import get_plotlyjs

from dashboard.figures import MPS_TO_KMH, class_traces, map_layout
from twin.assemble import build_network
from twin.network import Network
from twin.planning.run_kpis import KPI_NAMES, MODULE_KPI_NAMES
from twin.planning.sweep_spec import SweepPoint
from twin.scenario import Scenario, load_scenario

__all__ = ["DIFF_CLASSES", "ReportError", "SweepData", "build_report", "difference_classes",
           "load_sweep", "point_link_speed_mps", "write_report"]

KPI_LABELS = {
    "mean_travel_time_s": "Mean travel time (s)", "p90_travel_time_s": "P90 travel time (s)",
    "mean_delay_s": "Mean delay (s)", "trips_completed": "Trips completed",
    "completed_share": "Share of trips completed", "refused_entries": "Refused junction entries",
    "red_light_runs": "Red-light runs", "violations": "ETLE violations (cases)",
    "response_p90_s": "112 total response P90 (s)",
    "ambulance_response_p90_s": "Ambulance total response P90 (s)",
    "service_index": "Service index (AAI)",
}

DIFF_CLASSES: tuple[tuple[float, float, str, str], ...] = (
    (-math.inf, -10.0, "slower by 10+ km/h", "#d7301f"),
    (-10.0, -3.0, "slower by 3-10 km/h", "#fc8d59"),
    (-3.0, 3.0, "within 3 km/h", "#5b6577"),
    (3.0, 10.0, "faster by 3-10 km/h", "#74add1"),
    (10.0, math.inf, "faster by 10+ km/h", "#2166ac"),
)
"""Change in mean link speed against the baseline, km/h: ``[low, high)``, label, colour."""


class ReportError(ValueError):
    """The folder is not a finished sweep (the message says what is missing)."""


@dataclass(frozen=True)
class SweepData:
    """What ``kota sweep`` left in a folder."""

    folder: Path
    sweep: dict[str, Any]
    summary: list[dict[str, Any]]
    runs: list[dict[str, Any]]
    scenario: Scenario
    network: Network

    def labels(self) -> list[str]:
        """The grid points, in the summary's order."""
        return [str(row["point"]) for row in self.summary]


def load_sweep(folder: str | Path) -> SweepData:
    """Read a sweep's folder and its scenario's network.

    Raises
    ------
    ReportError : no ``sweep.json`` or ``summary.json`` (not a sweep, or it never finished
        a first pass), or the summary has no finished run.
    ScenarioError, NetworkError : the sweep's scenario cannot be loaded.
    """
    root = Path(folder)
    try:
        sweep = json.loads((root / "sweep.json").read_text(encoding="utf-8"))
        summary = json.loads((root / "summary.json").read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ReportError(f"{root} is not a sweep's folder: no {Path(exc.filename).name} "
                          "(make one with kota sweep ... --out DIR)") from None
    except ValueError as exc:
        raise ReportError(f"{root}: a sweep file is not valid JSON ({exc})") from None
    if not any(row.get("runs") for row in summary):
        raise ReportError(f"{root}: the sweep has no finished run yet; run kota sweep again")
    runs = []
    for path in sorted((root / "runs").glob("*.json")):
        try:
            runs.append(json.loads(path.read_text(encoding="utf-8")))
        except ValueError:
            continue  # a run being written by a sweep still going
    scenario = load_scenario(sweep["scenario"])
    return SweepData(root, sweep, summary, runs, scenario, build_network(scenario))


def _label(run: dict[str, Any]) -> str:
    return SweepPoint(dict(run["params"]), int(run["seed"]), str(run.get("key", ""))).label


def point_link_speed_mps(data: SweepData, label: str) -> NDArray[np.float64]:
    """Mean over the point's seeds of each run's mean speed per link (NaN where no run saw
    a vehicle on the link)."""
    rows = [r["kpis"].get("link_speed_mps") for r in data.runs if _label(r) == label]
    arrays = [np.array([np.nan if v is None else v for v in row], dtype=np.float64)
              for row in rows if row is not None and len(row) == data.network.n_links]
    if not arrays:
        return np.full(data.network.n_links, np.nan)
    stack = np.vstack(arrays)
    seen = np.isfinite(stack)
    with np.errstate(invalid="ignore"):
        return np.where(seen.any(axis=0), np.nansum(stack, axis=0) / np.maximum(seen.sum(axis=0), 1),
                        np.nan)


def difference_classes(diff_kmh: NDArray[np.float64]) -> NDArray[np.int64]:
    """The :data:`DIFF_CLASSES` index of each link's change; -1 where unknown."""
    out = np.full(diff_kmh.shape, -1, dtype=np.int64)
    for i, (low, high, _label, _colour) in enumerate(DIFF_CLASSES):
        out[np.isfinite(diff_kmh) & (diff_kmh >= low) & (diff_kmh < high)] = i
    return out


def difference_figure(network: Network, base_mps: NDArray[np.float64],
                      other_mps: NDArray[np.float64]) -> go.Figure:
    """The network with each link coloured by its change in mean speed, km/h."""
    diff = (other_mps - base_mps) * MPS_TO_KMH
    classes = difference_classes(diff)
    text = [f"<b>{network.link_name[i] or 'unnamed'}</b><br>"
            + (f"{base_mps[i] * MPS_TO_KMH:.0f} → {other_mps[i] * MPS_TO_KMH:.0f} km/h "
               f"({diff[i]:+.1f})" if math.isfinite(diff[i]) else "no vehicles in one of the two")
            for i in range(network.n_links)]
    data = class_traces(network, classes, len(DIFF_CLASSES), text)
    fig = go.Figure([go.Scatter(x=d["x"], y=d["y"], hovertext=d["hovertext"], mode="lines",
                                name=f"{label} ({int((classes == i).sum())})", hoverinfo="text",
                                line={"color": colour, "width": 2.5}, connectgaps=False)
                     for i, ((_lo, _hi, label, colour), d) in enumerate(
                         zip(DIFF_CLASSES, data, strict=True))])
    fig.update_layout(**map_layout(network, "Mean link speed vs baseline"), height=560)
    return fig


def kpi_figure(rows: list[dict[str, Any]], kpi: str) -> go.Figure:
    """A bar per grid point with the 95 % interval as an error bar."""
    fig = go.Figure(go.Bar(
        x=[str(r["point"]) for r in rows], y=[r.get(kpi) for r in rows],
        error_y={"type": "data", "array": [r.get(f"{kpi}_ci") or 0.0 for r in rows],
                 "visible": True},
        marker_color="#4c78a8"))
    fig.update_layout(title=KPI_LABELS.get(kpi, kpi), width=380, height=320,
                      margin={"l": 60, "r": 20, "t": 50, "b": 80}, template="plotly_white")
    return fig


def _fmt(value: Any, half: Any = None) -> str:
    if value is None:
        return "–"
    text = f"{value:,.3f}" if abs(value) < 10 else f"{value:,.1f}"
    return text if half is None else f"{text} ± {half:,.2f}"


def shown_kpis(rows: list[dict[str, Any]]) -> list[str]:
    """The traffic KPIs, and each module KPI some point measured (its module ran)."""
    return [*KPI_NAMES, *(k for k in MODULE_KPI_NAMES if any(r.get(k) is not None for r in rows))]


def _kpi_table(rows: list[dict[str, Any]], baseline: str) -> str:
    names = shown_kpis(rows)
    head = "".join(f"<th>{html.escape(KPI_LABELS.get(k, k))}</th>" for k in names)
    body = []
    for r in rows:
        mark = " (baseline)" if r["point"] == baseline else ""
        cells = "".join(f"<td>{_fmt(r.get(k), r.get(f'{k}_ci'))}</td>" for k in names)
        body.append(f"<tr><th>{html.escape(str(r['point']) + mark)}</th>"
                    f"<td>{r['runs']}/{r['seeds']}</td>{cells}</tr>")
    return (f"<table class='kpis'><thead><tr><th>point</th><th>runs</th>{head}</tr></thead>"
            f"<tbody>{''.join(body)}</tbody></table>")


def _settings(data: SweepData) -> str:
    s, sw, net = data.scenario, data.sweep, data.network
    items = [
        ("scenario", f"{s.scenario.name}: {s.scenario.description}"),
        ("file", sw["scenario"]),
        ("network", f"{net.name}: {net.n_nodes:,} nodes, {net.n_links:,} links, "
                    f"{float(net.link_length_m.sum()) / 1000:,.1f} km"),
        ("demand", f"{s.demand.kind}, {s.demand.trips_per_hour or '-'} trips/h, scale "
                   f"{s.demand.scale}, profile {s.demand.profile}"),
        ("start", s.scenario.start.isoformat()),
        ("duration", f"{sw['duration_s'] or s.scenario.duration_s:g} s"),
        ("incidents", ", ".join(f"{i.id} ({i.type}, {i.lanes_blocked} lane(s) from {i.start_s:g} s "
                                f"for {i.duration_s:g} s)" for i in s.incidents) or "none"),
        ("parameters", "; ".join(f"{k} = {', '.join(map(str, v))}"
                                 for k, v in sw["parameters"].items()) or "none (seeds only)"),
        ("seeds", ", ".join(map(str, sw["seeds"]))),
    ]
    rows = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(str(v))}</td></tr>"
                   for k, v in items)
    return f"<table class='settings'>{rows}</table>"


_STYLE = """
body{font-family:system-ui,sans-serif;margin:24px auto;max-width:1200px;color:#1b2330}
h1{margin-bottom:4px} .sub{color:#5b6577;margin-top:0}
table{border-collapse:collapse;margin:12px 0;font-size:14px}
th,td{border-bottom:1px solid #dde3ea;padding:4px 10px;text-align:left;vertical-align:top}
table.kpis td{text-align:right;white-space:nowrap} .note{color:#5b6577;font-size:13px}
.grid{display:flex;flex-wrap:wrap;gap:8px}
"""


def build_report(data: SweepData, baseline: str | None = None) -> str:
    """The report as one HTML document.

    Raises
    ------
    ReportError : ``baseline`` is not a point of the sweep.
    """
    labels = data.labels()
    base = baseline if baseline is not None else labels[0]
    if base not in labels:
        raise ReportError(f"no point {base!r} in the sweep; its points: {', '.join(labels)}")
    figs = [kpi_figure(data.summary, k).to_html(
        full_html=False, include_plotlyjs=False, config={"displayModeBar": False})
        for k in shown_kpis(data.summary)]
    base_speed = point_link_speed_mps(data, base)
    maps = []
    for label in labels:
        if label == base:
            continue
        fig = difference_figure(data.network, base_speed, point_link_speed_mps(data, label))
        maps.append(f"<h3>{html.escape(label)} against {html.escape(base)}</h3>"
                    + fig.to_html(full_html=False, include_plotlyjs=False, default_width="100%",
                                  config={"displaylogo": False, "responsive": True}))
    title = f"Sweep report: {data.scenario.scenario.name}"
    return "".join([
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style>",
        f"<script type='text/javascript'>{get_plotlyjs()}</script></head><body>",
        f"<h1>{html.escape(title)}</h1>",
        f"<p class='sub'>{len(data.runs)} runs in {html.escape(str(data.folder))}</p>",
        "<h2>Settings</h2>", _settings(data),
        "<h2>KPIs</h2>", _kpi_table(data.summary, base),
        "<p class='note'>Mean across seeds ± half-width of the 95 % confidence interval "
        "(Student's t, n − 1 degrees of freedom); no interval from a single seed. Delay is "
        "travel time less the route's free-flow time at the speed limits.</p>",
        "<div class='grid'>", *(f"<div>{f}</div>" for f in figs), "</div>",
        "<h2>Maps of differences</h2>",
        "<p class='note'>Each link's mean speed over the run (vehicles on it weighted at "
        "each minute), averaged over the seeds, against the baseline.</p>",
        *(maps or ["<p>Only one point: nothing to compare.</p>"]),
        "</body></html>",
    ])


def write_report(folder: str | Path, out: str | Path | None = None,
                 baseline: str | None = None) -> Path:
    """Write the report of the sweep in ``folder`` (default ``folder/report.html``); its path."""
    data = load_sweep(folder)
    path = Path(out) if out is not None else Path(folder) / "report.html"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(build_report(data, baseline), encoding="utf-8")
    return path
