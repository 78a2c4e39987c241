"""``kota assign``: user-equilibrium assignment of a TNTP network directory.

    kota assign NETWORK_DIR [--gap 1e-4] [--max-iterations N] [--method bfw|cfw|fw]
                [--toll-factor F] [--distance-factor F] [--demand-scale F] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``assign`` on the ``kota`` sub-command parser."""
    p = sub.add_parser(
        "assign", help="static user-equilibrium assignment of a TNTP network (Frank-Wolfe family)",
        description="Solve the BPR user equilibrium of a TNTP network directory (*_net.tntp, "
        "*_trips.tntp) to a relative gap; print the gap per iteration and the Beckmann "
        "objective, and compare with *_flow.tntp when the directory has one.",
    )
    p.add_argument("network_dir", type=Path, help="directory with *_net.tntp and *_trips.tntp")
    p.add_argument("--gap", type=float, default=1e-4, help="relative gap to reach (default %(default)s)")
    p.add_argument("--max-iterations", type=int, default=2000, help="default %(default)s")
    p.add_argument("--method", choices=("bfw", "cfw", "fw"), default="bfw",
                   help="bi-conjugate, conjugate or plain Frank-Wolfe (default %(default)s)")
    p.add_argument("--toll-factor", type=float, default=0.0,
                   help="cost units per toll unit (Chicago-Sketch: 0.02)")
    p.add_argument("--distance-factor", type=float, default=0.0,
                   help="cost units per length unit (Chicago-Sketch: 0.04)")
    p.add_argument("--demand-scale", type=float, default=1.0, help="multiply the trip table")
    p.add_argument("--json", action="store_true", help="print the result as one JSON object")


def run(args: argparse.Namespace) -> int:
    """Execute ``kota assign``; the exit code (0 converged, 2 not converged)."""
    import numpy as np

    from twin.assignment.solver import IterationInfo
    from twin.assignment.tntp import assign_tntp, find_tntp_files, read_tntp_flows

    def show(info: IterationInfo) -> None:
        if not args.json:
            print(f"iter {info.iteration:5d}  gap {info.relative_gap:.3e}  "
                  f"objective {info.objective:.6f}")

    start = time.perf_counter()
    run_ = assign_tntp(args.network_dir, gap=args.gap, max_iterations=args.max_iterations,
                       method=args.method, toll_factor=args.toll_factor,
                       distance_factor=args.distance_factor, demand_scale=args.demand_scale,
                       progress=show)
    elapsed_s = time.perf_counter() - start
    res = run_.result
    out: dict[str, object] = {
        "network_dir": str(args.network_dir),
        "method": args.method,
        "iterations": res.iterations,
        "relative_gap": res.relative_gap,
        "objective": res.objective,
        "converged": res.converged,
        "elapsed_s": round(elapsed_s, 3),
        "gap_history": [h.relative_gap for h in res.history],
    }
    flow_path = find_tntp_files(args.network_dir)[2]
    if flow_path is not None and args.demand_scale == 1.0:
        ref = read_tntp_flows(flow_path)
        keys = [(int(i), int(j)) for i, j in zip(run_.links.init_node, run_.links.term_node,
                                                  strict=True)]
        if all(k in ref for k in keys):
            vol = np.array([ref[k][0] for k in keys])
            used = vol > 1e-6 * max(float(vol.max()), 1.0)
            rel = np.abs(res.link_flow[used] - vol[used]) / vol[used]
            out["max_rel_flow_diff_vs_best_known"] = float(rel.max()) if rel.size else 0.0
    links = run_.links
    out["links"] = [
        {"from": int(i), "to": int(j), "flow": float(f), "cost": float(c)}
        for i, j, f, c in zip(links.init_node, links.term_node, res.link_flow, res.link_cost,
                              strict=True)
    ] if args.json else None
    if args.json:
        json.dump(out, sys.stdout)
        print()
    else:
        print(f"{'converged' if res.converged else 'NOT converged'}: {res.iterations} iterations, "
              f"relative gap {res.relative_gap:.3e}, objective {res.objective:.6f}, "
              f"{elapsed_s:.2f} s")
        if flow_path is not None and "max_rel_flow_diff_vs_best_known" in out:
            print(f"max relative link-flow difference vs {flow_path.name}: "
                  f"{out['max_rel_flow_diff_vs_best_known']:.3e}")
    return 0 if res.converged else 2
