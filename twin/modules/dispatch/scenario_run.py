"""Run a scenario's ``[modules.dispatch]`` section beside its traffic, and store the results.

The scenario's network and demand drive the traffic engine; the dispatch section's own
rates and scripted incidents block lanes in it (the scenario's top-level
``[[incidents]]`` are the traffic runner's, not dispatched). Results go to the store:
a ``runs`` row, and the ``dispatch_incidents``, ``dispatch_calls``, ``dispatch_kpis``
tables.
"""

from __future__ import annotations

import time
from typing import Any

from twin.assemble import build_network, build_trips, run_seeds
from twin.network import Network
from twin.scenario import Scenario, ScenarioError, check_against_network
from twin.simulation import Simulation
from twin.store import open_store

from .config import DispatchConfig, parse_config
from .model import DispatchModel
from .persist import save_run
from .run import run_dispatch


def dispatch_config(scenario: Scenario) -> DispatchConfig:
    """The validated ``[modules.dispatch]`` section.

    Raises
    ------
    ScenarioError
        When the section is missing or invalid (naming the key).
    """
    raw = scenario.modules.get("dispatch")
    if raw is None:
        raise ScenarioError(f"{scenario.path}: no [modules.dispatch] section")
    try:
        return parse_config(raw)
    except ValueError as exc:
        raise ScenarioError(f"{scenario.path}: {exc}") from None


def check_dispatch(scenario: Scenario, network: Network) -> DispatchConfig:
    """``[modules.dispatch]`` validated and checked against ``network`` (for ``kota validate``).

    Every station, layout station and hospital must name a node of the network, every
    scripted incident a link, and some call taker must be on duty at some hour.

    Raises
    ------
    ScenarioError
        Naming the key and what is wrong.
    """
    config = dispatch_config(scenario)
    problems = []
    stations = [(f"stations.{st.id}.node", st.node) for st in config.stations]
    stations += [(f"layouts.{name}.{st.id}.node", st.node)
                 for name, layout in config.layouts.items() for st in layout]
    for key, node in [*stations, *(("hospitals", h) for h in config.hospitals)]:
        if node not in network.node_index:
            problems.append(f"  modules.dispatch.{key}: unknown node {node!r}")
    for inc in config.incidents:
        if inc.link not in network.link_index:
            problems.append(f"  modules.dispatch.incidents.{inc.id}.link: unknown link {inc.link!r}")
    if not any(sh.count > 0 for sh in config.call_centre.shifts):
        problems.append("  modules.dispatch.call_centre.shifts: no call taker is ever on duty")
    if problems:
        raise ScenarioError(f"{scenario.path}: dispatch section does not fit the network\n"
                            + "\n".join(problems))
    return config


def start_hour(scenario: Scenario) -> float:
    """Hour of day (0..24) at the scenario's start, the dispatch model's ``start_hour``."""
    start = scenario.scenario.start
    return start.hour + start.minute / 60 + start.second / 3600


def dispatch_summary(model: DispatchModel, scenario_name: str, *, run_wall_s: float,
                     layout: str | None = None) -> dict[str, Any]:
    """A run's figures and KPIs (:meth:`DispatchModel.kpis`), as ``kota dispatch`` and a
    twin run with ``[modules.dispatch]`` report them (:func:`format_summary` prints it)."""
    engine_s = model.engine_wall_s
    return {
        "scenario": scenario_name, "simulated_s": float(model.env.now),
        "run_wall_s": round(run_wall_s, 3), "engine_wall_s": round(engine_s, 3),
        "dispatch_share_of_wall": round(1 - engine_s / run_wall_s, 4) if run_wall_s else None,
        "routing_queries": model.travel.queries,
        "routing_wall_s": round(model.travel.wall_s, 3), "incidents": len(model.incidents),
        "calls": len(model.calls), "policy": model.policy.name, "kpis": model.kpis(),
        "layout": layout or "stations",
    }


def run_scenario(scenario: Scenario, *, store_url: str | None = None,
                 duration_s: float | None = None, layout: str | None = None,
                 ) -> tuple[DispatchModel, dict[str, Any]]:
    """Run the scenario's traffic and dispatch; store and return the model and a summary.

    Parameters
    ----------
    scenario : Scenario
    store_url : str, optional, overrides the scenario's ``[store] url``
    duration_s : float, optional, overrides ``scenario.duration_s``
    layout : str, optional, name of one of ``[modules.dispatch.layouts]`` to use as the
        stations instead of ``stations``
    """
    config = dispatch_config(scenario)
    if layout is not None:
        if layout not in config.layouts:
            raise ScenarioError(f"{scenario.path}: modules.dispatch.layouts has no {layout!r}")
        config = config.model_copy(update={"stations": config.layouts[layout]})
    meta = scenario.scenario
    t_build = time.perf_counter()
    network = build_network(scenario)
    check_against_network(scenario, network)
    demand_rng, engine_seed = run_seeds(meta.seed)
    trips = build_trips(scenario, network, demand_rng)
    sim = Simulation(network, trips, seed=engine_seed)
    sim.load_kernels()
    build_s = time.perf_counter() - t_build
    until = float(duration_s if duration_s is not None else meta.duration_s)
    t_run = time.perf_counter()
    model = run_dispatch(sim, config, until, step_s=meta.step_s,
                         start_hour=start_hour(scenario))
    summary = dispatch_summary(model, meta.name, run_wall_s=time.perf_counter() - t_run,
                               layout=layout)
    summary["build_wall_s"] = round(build_s, 3)
    with open_store(store_url or scenario.store.url) as store:
        run_id = store.start_run(meta.name, scenario_hash=scenario.sha256 or None, seed=meta.seed,
                                 started_at=meta.start)
        summary["run_id"] = run_id
        summary["stored"] = save_run(store, run_id, model)
        store.finish_run(run_id, summary={k: v for k, v in summary.items() if k != "kpis"})
    return model, summary


def compare_layouts(scenario: Scenario, *, store_url: str | None = None,
                    duration_s: float | None = None) -> dict[str, Any]:
    """Replay the same day with ``stations`` and with each of ``layouts``.

    Incidents and calls come from their own random stream, so every layout faces the
    same incidents at the same times and places; only the units differ (and the traffic
    they leave behind). Returns, per layout and service, the total-response P90 and its
    change against ``stations``, plus the compliance with the response target.
    """
    config = dispatch_config(scenario)
    if not config.layouts:
        raise ScenarioError(f"{scenario.path}: modules.dispatch.layouts is empty; "
                            "nothing to compare")
    out: dict[str, Any] = {"layouts": {}}
    base: dict[str, Any] = {}
    for name in [None, *config.layouts]:
        _model, summary = run_scenario(scenario, store_url=store_url, duration_s=duration_s,
                                       layout=name)
        services = summary["kpis"]["services"]
        row = {kind: {"p90_total_response_s": s["total_response_s"]["p90"],
                      "response_compliance": s.get("response_compliance"),
                      "incidents": s["incidents"]} for kind, s in services.items()}
        key = name or "stations"
        if name is None:
            base = row
        for kind, r in row.items():
            b = base.get(kind, {}).get("p90_total_response_s")
            r["p90_change_s"] = None if b is None or r["p90_total_response_s"] is None \
                else r["p90_total_response_s"] - b
        out["layouts"][key] = {"run_id": summary["run_id"], "services": row}
    return out


def format_comparison(result: dict[str, Any]) -> str:
    """The planner's table: P90 total response per layout and service."""
    lines = ["layout             service    incidents  P90 response s  change s  compliance"]
    for name, lay in result["layouts"].items():
        for kind, r in lay["services"].items():
            lines.append(f"{name:<18} {kind:<10} {r['incidents']:>9}  "
                         f"{_fmt(r['p90_total_response_s']):>14}  {_fmt(r['p90_change_s']):>8}  "
                         f"{_pct(r['response_compliance']):>10}")
    return "\n".join(lines)


def _fmt(v: Any) -> str:
    return "-" if v is None else (f"{v:.0f}" if isinstance(v, float) else str(v))


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{100 * v:.1f}%"


def format_summary(summary: dict[str, Any]) -> str:
    """A short text report of a run."""
    k = summary["kpis"]
    c = k["calls"]
    lines = [
        f"dispatch run {summary['run_id']} of {summary['scenario']}: "
        f"{summary['simulated_s'] / 3600:.1f} h simulated in {summary['run_wall_s']:.1f} s "
        + ("" if summary.get("engine_wall_s") is None
           else f"(traffic engine {summary['engine_wall_s']:.1f} s), ")
        + f"policy {summary['policy']}",
        f"calls {c['offered']}: answered within 10/15/20 s "
        f"{_pct(c.get('pct_answered_within_10s'))} / {_pct(c.get('pct_answered_within_15s'))}"
        f" / {_pct(c.get('pct_answered_within_20s'))}, abandoned {_pct(c['abandonment_rate'])},"
        f" nuisance {_pct(c['nuisance_share'])}",
        f"incidents {summary['incidents']}, still waiting for a unit at the end: "
        f"{len(k['waiting'])}",
        *([f"resumed {summary['resumed_incidents']} open incidents from run "
           f"{summary['resumed_from']}"] if summary.get("resumed_from") else []),
        "service    n  processing<=60s  turnout P90  travel P50/P90/P95  response P50/P90/P95"
        "  compliance  utilisation",
    ]
    for kind, s in k["services"].items():
        tr, rs = s["travel_s"], s["total_response_s"]
        lines.append(
            f"{kind:<9}{s['incidents']:>4}  {_pct(s['call_processing_compliance']):>15}  "
            f"{_fmt(s['turnout_s']['p90']):>11}  "
            f"{_fmt(tr['p50'])}/{_fmt(tr['p90'])}/{_fmt(tr['p95']):<8}  "
            f"{_fmt(rs['p50'])}/{_fmt(rs['p90'])}/{_fmt(rs['p95']):<10}  "
            f"{_pct(s.get('response_compliance')):>10}  {_pct(k['utilisation'].get(kind)):>10}")
    return "\n".join(lines)
