"""The comparison table, Kota's ratios to each peer, and the JSON report."""

from __future__ import annotations

import math
from dataclasses import asdict
from typing import Any

from benchmarks.peers.common import EngineResult

#: The issue's targets (Traffic core, "Targets"), as Kota / peer ratios.
TARGET_UPS_VS_SUMO = 100.0
TARGET_UPS_VS_UXSIM = 3.0
TARGET_MEAN_TT_VS_SUMO = 0.15

DEFINITIONS = {
    "sim_wall_s": "wall seconds of the simulation loop only (no imports, loading, building, "
                  "JIT compile)",
    "startup_s": "wall seconds from the engine process start to its first simulated step "
                 "(SUMO: the sumo run minus its loop)",
    "process_wall_s": "wall seconds of the engine's whole subprocess",
    "vehicle_steps": "vehicle-seconds simulated on the network at a 1 s step = vehicle updates",
    "vehicle_updates_per_s": "vehicle_steps / sim_wall_s",
    "mean_travel_time_s": "mean of arrival - scheduled departure over completed trips",
    "peak_rss_mb": "peak resident set size of the engine's process (MiB)",
    "ratio": "Kota value / peer value",
}


def _ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or not math.isfinite(a) or not math.isfinite(b) or b == 0:
        return None
    return a / b


def ratios(kota: EngineResult, peer: EngineResult) -> dict[str, float | None]:
    """Kota / peer for each figure (higher is better only for vehicle-updates/s)."""
    return {
        "vehicle_updates_per_s": _ratio(kota.vehicle_updates_per_s, peer.vehicle_updates_per_s),
        "sim_wall_s": _ratio(kota.sim_wall_s, peer.sim_wall_s),
        "process_wall_s": _ratio(kota.process_wall_s, peer.process_wall_s),
        "trips_completed": _ratio(float(kota.trips_completed), float(peer.trips_completed)),
        "mean_travel_time_s": _ratio(kota.mean_travel_time_s, peer.mean_travel_time_s),
        "peak_rss_mb": _ratio(kota.peak_rss_mb, peer.peak_rss_mb),
    }


def targets(kota: EngineResult, peers: dict[str, EngineResult]) -> list[tuple[str, bool]]:
    """The issue's targets that this run can check, and whether they are met."""
    out: list[tuple[str, bool]] = []
    sumo = peers.get("sumo")
    if sumo is not None and sumo.ok:
        r = ratios(kota, sumo)
        ups = r["vehicle_updates_per_s"]
        out.append((f"vehicle-updates/s >= {TARGET_UPS_VS_SUMO:g}x SUMO's",
                    ups is not None and ups >= TARGET_UPS_VS_SUMO))
        tt = r["mean_travel_time_s"]
        out.append((f"mean travel time within {TARGET_MEAN_TT_VS_SUMO:.0%} of SUMO-IDM's",
                    tt is not None and abs(tt - 1.0) <= TARGET_MEAN_TT_VS_SUMO))
    uxsim = peers.get("uxsim")
    if uxsim is not None and uxsim.ok and uxsim.extra.get("cpp"):
        ups = ratios(kota, uxsim)["vehicle_updates_per_s"]
        out.append((f"vehicle-updates/s >= {TARGET_UPS_VS_UXSIM:g}x UXsim C++ mode's",
                    ups is not None and ups >= TARGET_UPS_VS_UXSIM))
    out.append(("every trip completed (Kota)", kota.trips_completed == kota.trips_total))
    return out


def _fmt(v: float | int | None, spec: str) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "-"
    return format(v, spec)


def format_table(results: list[EngineResult], scenario_line: str) -> str:
    """The human-readable report: one row per engine, then Kota's ratios and the targets."""
    lines = [scenario_line, ""]
    head = (f"{'engine':<8} {'sim wall s':>10} {'startup s':>9} {'process s':>9} "
            f"{'vehicle-steps':>13} {'veh-updates/s':>13} {'completed':>13} "
            f"{'mean TT s':>9} {'peak RSS MiB':>12}")
    lines += [head, "-" * len(head)]
    for r in results:
        if not r.ok:
            lines.append(f"{r.engine:<8} skipped: {r.message}")
            continue
        lines.append(
            f"{r.engine:<8} {_fmt(r.sim_wall_s, '10.2f')} {_fmt(r.startup_s, '9.2f')} "
            f"{_fmt(r.process_wall_s, '9.2f')} {_fmt(r.vehicle_steps, '13,d')} "
            f"{_fmt(r.vehicle_updates_per_s, '13,.0f')} "
            f"{f'{r.trips_completed:,}/{r.trips_total:,}':>13} "
            f"{_fmt(r.mean_travel_time_s, '9.1f')} {_fmt(r.peak_rss_mb, '12.0f')}")
    lines.append("")
    for r in results:
        if r.ok:
            extra = ", ".join(f"{k}={_short(v)}" for k, v in sorted(r.extra.items())
                              if k != "mapping_notes" or v)
            lines.append(f"{r.engine:<8} {r.label}; threads={r.threads}; "
                         f"baseline RSS {r.baseline_rss_mb:.0f} MiB; {extra}")
            if r.message:
                lines.append(f"{'':<8} note: {r.message}")
    by_name = {r.engine: r for r in results}
    kota = by_name.get("kota")
    if kota is not None and kota.ok:
        peers = {n: r for n, r in by_name.items() if n != "kota"}
        lines.append("")
        lines.append("Kota / peer   veh-updates/s   sim wall   mean TT   peak RSS   completed")
        for name, peer in peers.items():
            if not peer.ok:
                lines.append(f"{name:<13} (skipped)")
                continue
            q = ratios(kota, peer)
            lines.append(
                f"{name:<13} {_fmt(q['vehicle_updates_per_s'], '12.2f')}x "
                f"{_fmt(q['sim_wall_s'], '9.3f')}x {_fmt(q['mean_travel_time_s'], '8.3f')}x "
                f"{_fmt(q['peak_rss_mb'], '9.2f')}x {_fmt(q['trips_completed'], '10.3f')}x")
        lines.append("")
        for text, met in targets(kota, peers):
            lines.append(f"[{'met' if met else 'NOT met'}] {text}")
    return "\n".join(lines)


def _short(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.3g}"
    return str(v)


def json_report(results: list[EngineResult], scenario: dict[str, Any]) -> dict[str, Any]:
    """Everything as one JSON-ready object."""
    by_name = {r.engine: r for r in results}
    out: dict[str, Any] = {
        "scenario": scenario,
        "definitions": DEFINITIONS,
        "engines": {r.engine: asdict(r) for r in results},
        "ratios": {},
        "targets": [],
    }
    kota = by_name.get("kota")
    if kota is not None and kota.ok:
        peers = {n: r for n, r in by_name.items() if n != "kota"}
        out["ratios"] = {n: ratios(kota, r) for n, r in peers.items() if r.ok}
        out["targets"] = [{"target": t, "met": m} for t, m in targets(kota, peers)]
    return out
