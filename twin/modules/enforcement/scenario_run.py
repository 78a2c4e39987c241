"""Run a scenario's ``[modules.enforcement]`` section end to end on simulated time.

The camera stream is the seeded synthetic one of :mod:`.simfeed` (see there for what it
is and is not), or with ``[modules.enforcement.feed] source = "engine"`` the traffic
engine's virtual cameras (:mod:`.enginefeed`). Around it run, on one SimPy clock: the
detector-to-store feeder (one transaction per ``batch_s`` of stream), officers working the
verification queue, owners answering letters, an officer reviewing disputes, and the
simulated bank paying through the real HTTP callback endpoint on localhost. The run
continues ``follow_up_days`` after the stream ends so the H+8 and H+15 deadlines fire,
then returns a JSON-ready summary.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

from twin.assemble import build_network
from twin.clock import Clock, ProcessGenerator
from twin.network import Network
from twin.scenario import Scenario
from twin.sensors import point_along_link
from twin.store import open_store

from .enginefeed import engine_stream
from .registry import synthetic_registry
from .session import EtleSession
from .settings import OfficerModel, OwnerModel, ScenarioEnforcement, enforcement_settings
from .simfeed import CameraSite, synthetic_stream

__all__ = ["OfficerModel", "OwnerModel", "ScenarioEnforcement", "camera_sites",
           "enforcement_settings", "format_summary", "run_enforcement"]


def camera_sites(scenario: Scenario, network: Network) -> list[CameraSite]:
    """Where each scenario camera stands, from its link's geometry."""
    sites = []
    for cam in scenario.cameras:
        link = network.link_index[cam.link]
        pos_m = float(network.link_length_m[link]) / 2 if cam.pos_m is None else cam.pos_m
        lon, lat = point_along_link(network, link, pos_m)
        sites.append(CameraSite(cam.id, lon, lat, cam.link, int(network.link_lanes[link])))
    return sites


def run_enforcement(scenario: Scenario, *, store_url: str | None = None,
                    progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Run the scenario's enforcement section to the end; the summary.

    Parameters
    ----------
    scenario : Scenario with a ``[modules.enforcement]`` section
    store_url : overrides the scenario's ``[store] url``
    progress : called with a line of text at each stage
    """
    say = progress or (lambda _line: None)
    settings = enforcement_settings(scenario)
    meta = scenario.scenario
    engine: dict[str, Any] | None = None
    if settings.feed.source == "engine":
        say(f"engine: simulating {meta.duration_s:.0f} s with {len(scenario.cameras)} cameras")
        feed = engine_stream(scenario, store_url=store_url)
        stream, registry, engine = feed.observations, feed.registry, feed.summary
        say(f"registry: {len(registry.vehicles)} simulated vehicles the cameras read")
    else:
        network = build_network(scenario)
        sites = camera_sites(scenario, network)
        registry = synthetic_registry(settings.registry_vehicles, seed=meta.seed)
        say(f"registry: {len(registry.vehicles)} vehicles; cameras: {len(sites)}")
        stream = synthetic_stream(sites, settings.detection, settings.feed, registry, meta.start,
                                  meta.duration_s, seed=meta.seed)
    say(f"stream: {len(stream)} observations over {meta.duration_s:.0f} s")
    clock = Clock(meta.start)
    store = open_store(store_url or scenario.store.url)
    run_id = f"{meta.name}-etle-{meta.seed}-{uuid.uuid4().hex[:8]}"
    store.start_run(meta.name, run_id=run_id, scenario_hash=scenario.sha256, seed=meta.seed,
                    started_at=meta.start)
    session = EtleSession(store, clock, registry, settings, seed=meta.seed,
                          consumer=f"etle-detector/{run_id}")

    def feeder() -> ProcessGenerator:
        i = 0
        while i < len(stream):
            horizon = clock.now_s + settings.batch_s
            j = i
            while j < len(stream) and (stream[j].observed_at - meta.start).total_seconds() < horizon:
                j += 1
            yield clock.env.timeout(settings.batch_s)
            session.ingest(stream[i:j])
            i = j

    wall0 = time.perf_counter()
    clock.process(feeder())
    session.start_people()
    session.enf.workflow.start()
    try:
        clock.run(meta.duration_s + settings.follow_up_days * 86400.0)
    finally:
        session.close()
    summary = session.summary()
    summary.update({
        "run_id": run_id, "scenario": meta.name, "observations": len(stream),
        "simulated_days": round(clock.now_s / 86400.0, 2),
        "wall_s": round(time.perf_counter() - wall0, 2),
    })
    if engine is not None:
        summary["engine"] = {k: engine.get(k) for k in (
            "run_id", "trips_total", "trips_completed", "mean_travel_time_s", "red_light_runs",
            "camera_observations", "sim_wall_s", "gridlocked")}
    store.finish_run(run_id, summary=summary, finished_at=clock.now)
    store.close()
    return summary


def format_summary(summary: dict[str, Any]) -> str:
    """The summary as aligned text lines for the terminal."""
    rows: list[tuple[str, Any]] = [
        ("scenario", summary.get("scenario")), ("run id", summary.get("run_id")),
        ("observations", summary.get("observations")), ("plate reads", summary.get("plate_reads")),
        ("emergency on duty, exempt", summary.get("emergency_exempt_reads")),
        ("violations", ", ".join(f"{k} {v}" for k, v in sorted(summary["violations_by_code"].items()))),
        ("cases created", summary.get("cases_created")),
        ("cases by state", ", ".join(f"{k} {v}" for k, v in sorted(summary["cases_by_state"].items()))),
        ("payments accepted", summary.get("payments_accepted")),
        ("payments refused", summary.get("payments_refused")),
        ("bank callbacks", ", ".join(f"{k} {v}" for k, v in summary["bank_callbacks"].items())),
        ("points entries", summary.get("points_entries")),
        ("drivers in penalty", summary.get("drivers_in_penalty")),
        ("STNK blocks placed", summary.get("stnk_blocks")),
        ("audit log", f"{summary.get('audit_entries')} entries, chain "
                      f"{'intact' if summary.get('audit_chain_ok') else 'BROKEN'}"),
        ("tables", f"fines {summary.get('fines_version')}, points {summary.get('points_version')}, "
                   f"timers {summary.get('timers')}"),
        ("simulated", f"{summary.get('simulated_days')} days in {summary.get('wall_s')} s wall"),
    ]
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"{k:<{width}}  {v}" for k, v in rows)


