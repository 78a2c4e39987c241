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

import random
import time
import uuid
from collections.abc import Callable
from typing import Any, Literal

from pydantic import Field, ValidationError

from twin.assemble import build_network
from twin.clock import Clock, ProcessGenerator
from twin.network import Network
from twin.plugins import ADAPTERS, load_plugin
from twin.scenario import Scenario, ScenarioError, format_validation_error
from twin.sensors import point_along_link
from twin.store import open_store

from .bank import BankBehaviour, SimulatedBank, direct_delivery, http_delivery
from .config import StrictModel
from .enginefeed import engine_stream
from .plates import try_parse_plate
from .registry import synthetic_registry
from .service import Enforcement, EnforcementSettings
from .simfeed import CameraSite, FeedSpec, synthetic_stream
from .states import Case, CaseState, TransitionError


class OfficerModel(StrictModel):
    """Officers verifying captures: how many, how long a review takes, how many they reject."""

    count: int = Field(default=2, ge=1)
    mean_review_s: float = Field(default=90.0, gt=0)
    idle_poll_s: float = Field(default=900.0, gt=0)
    reject_share: float = Field(default=0.05, ge=0, le=1)
    dispute_review_days: float = Field(default=2.0, gt=0)
    dispute_upheld_share: float = Field(default=0.5, ge=0, le=1)


class OwnerModel(StrictModel):
    """How owners answer the confirmation letter (shares of letters; the rest never answer)."""

    confirm_self_share: float = Field(default=0.6, ge=0, le=1)
    confirm_other_share: float = Field(default=0.05, ge=0, le=1)
    dispute_share: float = Field(default=0.05, ge=0, le=1)
    mean_response_days: float = Field(default=3.0, gt=0)


class ScenarioEnforcement(EnforcementSettings):
    """``[modules.enforcement]`` of a scenario: the module settings plus the simulation."""

    registry_vehicles: int = Field(default=20_000, ge=1)
    batch_s: float = Field(default=60.0, gt=0)
    follow_up_days: float = Field(default=25.0, ge=0)
    callback: Literal["http", "direct"] = "http"
    feed: FeedSpec = Field(default_factory=FeedSpec)
    officers: OfficerModel = Field(default_factory=OfficerModel)
    owners: OwnerModel = Field(default_factory=OwnerModel)
    bank: BankBehaviour = Field(default_factory=BankBehaviour)


def enforcement_settings(scenario: Scenario) -> ScenarioEnforcement:
    """The scenario's ``[modules.enforcement]``, validated.

    Raises
    ------
    ScenarioError
        If the section is missing or invalid (naming the key), or a detection camera is
        not one of the scenario's ``[[cameras]]``.
    """
    raw = scenario.modules.get("enforcement")
    where = scenario.path or "scenario"
    if raw is None:
        raise ScenarioError(f"{where}: has no [modules.enforcement] section")
    try:
        settings = ScenarioEnforcement.model_validate(raw)
    except ValidationError as exc:
        text = "\n".join(line.replace("  ", "  modules.enforcement.", 1)
                         for line in format_validation_error(exc).splitlines())
        raise ScenarioError(f"{where}: invalid [modules.enforcement]\n{text}") from None
    placed = {c.id: c for c in scenario.cameras}
    for cam in settings.detection.cameras:
        if cam.id not in placed:
            raise ScenarioError(f"{where}: modules.enforcement.detection camera {cam.id!r} is not "
                                "placed in [[cameras]]")
        if placed[cam.id].type != cam.kind:
            raise ScenarioError(f"{where}: camera {cam.id!r} is type {placed[cam.id].type!r} in "
                                f"[[cameras]] but kind {cam.kind!r} in modules.enforcement")
    return settings


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
    rng = random.Random(meta.seed)
    key = f"kota-demo-pseudonym-{meta.seed}".encode()
    secret = f"kota-demo-callback-{meta.seed}".encode()
    enf = Enforcement(store, clock, registry, settings, pseudonym_key=key, callback_secret=secret,
                      consumer=f"etle-detector/{run_id}")
    server: Any = None
    if settings.callback == "http":  # the bridge's endpoint, found by name (DESIGN.md arrows)
        server = load_plugin(ADAPTERS, "bank_callback")(enf.gateway).start()
        deliver = http_delivery(server.url)
    else:
        deliver = direct_delivery(enf.gateway)
    bank = SimulatedBank(clock, secret, deliver, settings.bank, seed=meta.seed)
    enf.workflow.listeners.append(bank.on_case)
    enf.workflow.listeners.append(_owners(enf, settings, rng))
    ingested = {"cases": 0, "dups": 0}

    def feeder() -> ProcessGenerator:
        i = 0
        while i < len(stream):
            horizon = clock.now_s + settings.batch_s
            j = i
            while j < len(stream) and (stream[j].observed_at - meta.start).total_seconds() < horizon:
                j += 1
            yield clock.env.timeout(settings.batch_s)
            if j > i:
                r = enf.ingest(stream[i:j])
                ingested["cases"] += r.new_cases
                ingested["dups"] += r.duplicates
            i = j

    wall0 = time.perf_counter()
    clock.process(feeder())
    for k in range(settings.officers.count):
        clock.process(_officer(enf, settings.officers, f"penyidik-{k + 1}", random.Random(rng.random())))
    enf.workflow.start()
    try:
        clock.run(meta.duration_s + settings.follow_up_days * 86400.0)
    finally:
        if server is not None:
            server.stop()
    summary = enf.summary()
    summary.update({
        "run_id": run_id, "scenario": meta.name, "observations": len(stream),
        "cases_created": ingested["cases"], "duplicate_violations": ingested["dups"],
        "bank_callbacks": dict(sorted(bank.results.items())),
        "drivers_in_penalty": enf.tar.drivers_in_penalty(clock.now),
        "simulated_days": round(clock.now_s / 86400.0, 2),
        "wall_s": round(time.perf_counter() - wall0, 2),
        "callback": settings.callback,
        "feed": settings.feed.source,
    })
    if engine is not None:
        summary["engine"] = {k: engine.get(k) for k in (
            "run_id", "trips_total", "trips_completed", "mean_travel_time_s", "red_light_runs",
            "camera_observations", "sim_wall_s", "gridlocked")}
    store.finish_run(run_id, summary=summary, finished_at=clock.now)
    store.close()
    return summary


def _officer(enf: Enforcement, model: OfficerModel, name: str, rng: random.Random) -> ProcessGenerator:
    env = enf.clock.env
    while True:
        waiting = enf.queue.list(limit=1, officer=name)
        if not waiting:
            yield env.timeout(model.idle_poll_s)
            continue
        case = enf.queue.claim(waiting[0].case_id, name)
        yield env.timeout(rng.expovariate(1.0 / model.mean_review_s))
        try:
            if rng.random() < model.reject_share:
                enf.queue.reject(case.case_id, name, "capture not valid on review (e.g. emergency "
                                 "vehicle, mis-detection)")
            else:
                # the officer reads a low-confidence plate from the image and confirms it
                theta = enf.settings.detection.tolerances.min_plate_confidence
                reread = case.plate_confidence < theta and try_parse_plate(case.plate) is not None
                enf.queue.verify(case.case_id, name, plate=case.plate if reread else None)
        except TransitionError:
            continue


def _owners(enf: Enforcement, settings: ScenarioEnforcement, rng: random.Random) -> Callable[[Case], None]:
    model = settings.owners
    officers = settings.officers
    env = enf.clock.env

    def answer(case: Case, delay_s: float, what: str) -> ProcessGenerator:
        yield env.timeout(delay_s)
        try:
            if what == "self":
                enf.workflow.confirm(case.case_id)
            elif what == "other":
                owner = enf.registry.owners.get(case.owner_id or "")
                other = f"{owner.driver_id}-2" if owner and owner.driver_id else None
                if other in enf.registry.drivers:
                    enf.workflow.confirm(case.case_id, driver_id=other)
                else:
                    enf.workflow.confirm(case.case_id)
            else:
                enf.workflow.dispute(case.case_id, "sold", "sold without balik nama")
        except TransitionError:
            pass  # answered after the deadline: the case already moved on

    def review(case: Case) -> ProcessGenerator:
        yield env.timeout(officers.dispute_review_days * 86400.0)
        upheld = rng.random() < officers.dispute_upheld_share
        try:
            enf.workflow.review_dispute(case.case_id, "kasubdit-gakkum", upheld=upheld,
                                        reason="sale documents checked" if upheld
                                        else "no proof of sale")
        except TransitionError:
            pass

    def on_case(case: Case) -> None:
        if case.state is CaseState.NOTICE_SENT:
            r = rng.random()
            delay = rng.expovariate(1.0 / model.mean_response_days) * 86400.0
            if r < model.confirm_self_share:
                env.process(answer(case, delay, "self"))
            elif r < model.confirm_self_share + model.confirm_other_share:
                env.process(answer(case, delay, "other"))
            elif r < model.confirm_self_share + model.confirm_other_share + model.dispute_share:
                env.process(answer(case, delay, "dispute"))
        elif case.state is CaseState.DISPUTED:
            env.process(review(case))
    return on_case


def format_summary(summary: dict[str, Any]) -> str:
    """The summary as aligned text lines for the terminal."""
    rows: list[tuple[str, Any]] = [
        ("scenario", summary.get("scenario")), ("run id", summary.get("run_id")),
        ("observations", summary.get("observations")), ("plate reads", summary.get("plate_reads")),
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


