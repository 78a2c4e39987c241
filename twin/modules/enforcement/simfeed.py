"""A seeded synthetic camera stream for scenarios (the default feed).

This is **not** derived from the traffic engine (``[modules.enforcement.feed] source =
"engine"`` takes the engine's virtual cameras instead, :mod:`.enginefeed`): vehicles drawn from the synthetic
registry pass each camera as Poisson arrivals at the camera's ``flow_vph``, with
normally distributed speeds around a share of the limit. Red-light cameras follow the
fixed-time :class:`SignalPlan` the scenario declares (the Jatinegara network file has no
signal plans); a driver arriving on red stops and crosses at the next green, except a
``red_runner_share``. A share of vehicles entering a section camera reaches its exit
camera after ``length_m`` at a drawn average speed. In odd-even corridors only a
``odd_even_cheat_share`` of cars with the wrong parity enters. The stream is sorted by
time and deterministic for a seed; event ids are ``{camera}:{n}``.
"""

from __future__ import annotations

import hashlib
import math
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from pydantic import Field, model_validator

from twin.observations import Location, Observation, ObservationKind

from .config import DetectionConfig, StrictModel
from .plates import parse_plate
from .registry import Registry, Vehicle


class SignalPlan(StrictModel):
    """A fixed-time plan at a stop line: green, amber, then red for the rest of the cycle."""

    signal_id: str
    cycle_s: float = Field(default=90.0, gt=0)
    green_s: float = Field(default=40.0, gt=0)
    amber_s: float = Field(default=3.0, ge=0)
    offset_s: float = Field(default=0.0, ge=0)

    def phase(self, t_s: float) -> tuple[str, float]:
        """``(state, phase_start_s)`` at ``t_s`` seconds: state ``G``, ``y`` or ``r``."""
        k = math.floor((t_s - self.offset_s) / self.cycle_s)
        start = self.offset_s + k * self.cycle_s
        into = t_s - start
        if into < self.green_s:
            return "G", start
        if into < self.green_s + self.amber_s:
            return "y", start + self.green_s
        return "r", start + self.green_s + self.amber_s


class FeedSpec(StrictModel):
    """Where the camera stream comes from (``[modules.enforcement.feed]``), and the
    behaviour of the synthetic one.

    ``source = "synthetic"`` (the default) is this module's seeded stream; ``"engine"``
    runs the scenario in the traffic engine and takes its virtual cameras' reads
    (:mod:`.enginefeed`), and then no other key applies. Shares are fractions of
    passing vehicles; speeds in km/h.
    """

    source: Literal["synthetic", "engine"] = "synthetic"
    flow_vph: dict[str, float] = Field(default_factory=dict, description="per camera id")
    default_flow_vph: float = Field(default=600.0, gt=0)
    mean_speed_share: float = Field(default=0.85, gt=0, description="of the limit")
    speed_sd_kmh: float = Field(default=8.0, ge=0)
    default_speed_kmh: float = Field(default=40.0, gt=0)
    red_runner_share: float = Field(default=0.05, ge=0, le=1)
    wrong_way_share: float = Field(default=0.002, ge=0, le=1)
    bus_lane_share: float = Field(default=0.02, ge=0, le=1)
    missing_plate_share: float = Field(default=0.002, ge=0, le=1)
    low_confidence_share: float = Field(default=0.01, ge=0, le=1)
    unregistered_share: float = Field(default=0.01, ge=0, le=1)
    odd_even_cheat_share: float = Field(default=0.1, ge=0, le=1)
    section_through_share: float = Field(default=0.7, ge=0, le=1)
    signals: list[SignalPlan] = Field(default_factory=list)

    @model_validator(mode="after")
    def _engine_takes_no_behaviour(self) -> FeedSpec:
        if self.source == "engine":
            given = sorted(self.model_fields_set - {"source"})
            if given:
                raise ValueError(f"{', '.join(given)}: the engine's cameras see the simulated "
                                 f"traffic, these keys shape the synthetic stream only")
        return self


@dataclass(frozen=True, slots=True)
class CameraSite:
    """Where a camera stands: id, WGS84 position, link and lane count."""

    camera_id: str
    lon: float
    lat: float
    link_id: str | None = None
    lanes: int = 2


def _hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def synthetic_stream(sites: list[CameraSite], detection: DetectionConfig, feed: FeedSpec,
                     registry: Registry, start: datetime, duration_s: float,
                     seed: int = 0) -> list[Observation]:
    """Plate reads (and signal states) of ``duration_s`` seconds from ``start``, by time."""
    rng = random.Random(seed)
    cams = {c.id: c for c in detection.cameras}
    plans = {p.signal_id: p for p in feed.signals}
    corridor_cams = {cam for c in detection.corridors for cam in c.cameras}
    vehicles = list(registry.vehicles.values())
    out: list[tuple[float, int, Observation]] = []
    counter = {"n": 0}

    def emit(t_s: float, obs: Observation) -> None:
        counter["n"] += 1
        out.append((t_s, counter["n"], obs))

    def local_day_odd(t_s: float) -> bool:
        return (start + timedelta(seconds=t_s)).day % 2 == 1

    def draw_vehicle(cam_id: str, t_s: float) -> Vehicle:
        v = rng.choice(vehicles)
        if cam_id in corridor_cams and v.vehicle_class == "car":
            while (parse_plate(v.plate).is_odd != local_day_odd(t_s)
                   and rng.random() >= feed.odd_even_cheat_share):
                v = rng.choice(vehicles)
                if v.vehicle_class != "car":
                    break
        return v

    seq = {c.camera_id: 0 for c in sites}

    def read(site: CameraSite, t_s: float, v: Vehicle, speed_kmh: float | None,
             extra: dict[str, object] | None = None) -> None:
        cam = cams[site.camera_id]
        seq[site.camera_id] += 1
        n = seq[site.camera_id]
        plate: str | None = v.plate
        conf = round(rng.uniform(0.86, 0.995), 3)
        r = rng.random()
        if r < feed.missing_plate_share:
            plate, conf = None, 0.0
        elif r < feed.missing_plate_share + feed.low_confidence_share:
            conf = round(rng.uniform(0.3, 0.7), 3)
        elif r < feed.missing_plate_share + feed.low_confidence_share + feed.unregistered_share:
            plate = f"B {rng.randint(1, 9999)} Q{rng.choice('ABCDEFGH')}"
        payload: dict[str, object] = {
            "plate": plate, "confidence": conf, "vehicle_class": v.vehicle_class,
            "image_sha256": _hash(f"{site.camera_id}:{n}:{v.plate}"),
            "lane": rng.randrange(max(1, site.lanes)),
        }
        if speed_kmh is not None and cam.kind == "speed":
            payload["speed_mps"] = round(speed_kmh / 3.6, 3)
        if cam.heading_deg is not None:
            wrong = rng.random() < feed.wrong_way_share
            payload["heading_deg"] = (cam.heading_deg + (180.0 if wrong else rng.uniform(-10, 10))) % 360
        if cam.bus_lanes and v.vehicle_class != "bus" and rng.random() < feed.bus_lane_share:
            payload["lane"] = cam.bus_lanes[0]
        elif cam.bus_lanes and payload["lane"] in cam.bus_lanes and v.vehicle_class != "bus":
            free = [k for k in range(max(1, site.lanes) + 1) if k not in cam.bus_lanes]
            payload["lane"] = free[0]
        payload.update(extra or {})
        emit(t_s, Observation(ObservationKind.PLATE_READ, site.camera_id,
                              start + timedelta(seconds=t_s), payload,
                              Location(site.lon, site.lat, site.link_id, None, None),
                              event_id=f"{site.camera_id}:{n}"))

    def speed_for(cam_id: str) -> float:
        limit = cams[cam_id].speed_limit_kmh or feed.default_speed_kmh
        return max(5.0, rng.gauss(limit * feed.mean_speed_share, feed.speed_sd_kmh))

    sections_from = {s.entry_camera: s for s in detection.sections}
    by_id = {s.camera_id: s for s in sites}
    for site in sites:
        cam = cams.get(site.camera_id)
        if cam is None:
            continue
        rate_per_s = feed.flow_vph.get(site.camera_id, feed.default_flow_vph) / 3600.0
        plan = plans.get(cam.signal_id or "") if cam.kind == "red_light" else None
        queue_release = -1.0
        t = rng.expovariate(rate_per_s)
        while t < duration_s:
            v = draw_vehicle(site.camera_id, t)
            cross = t
            if plan is not None:
                state, since = plan.phase(t)
                if state == "r" and rng.random() >= feed.red_runner_share:
                    next_green = since + (plan.cycle_s - plan.green_s - plan.amber_s)
                    queue_release = max(queue_release + 2.0, next_green + 1.0)
                    cross = queue_release
            if cross < duration_s:
                speed = speed_for(site.camera_id)
                read(site, cross, v, speed)
                sec = sections_from.get(site.camera_id)
                if sec is not None and sec.exit_camera in by_id and rng.random() < feed.section_through_share:
                    avg = max(5.0, rng.gauss(sec.speed_limit_kmh * feed.mean_speed_share, feed.speed_sd_kmh))
                    t_exit = cross + sec.length_m / (avg / 3.6)
                    if t_exit < duration_s:
                        read(by_id[sec.exit_camera], t_exit, v, avg)
            t += rng.expovariate(rate_per_s)
    for plan in plans.values():
        t = plan.offset_s - plan.cycle_s
        n = 0
        while t < duration_s:
            for state, at in (("G", t), ("y", t + plan.green_s), ("r", t + plan.green_s + plan.amber_s)):
                if 0 <= at < duration_s or (at < 0 and state == "r"):
                    n += 1
                    emit(max(at, 0.0) - (1e-3 if at < 0 else 0.0), Observation(
                        ObservationKind.SIGNAL_STATE, plan.signal_id,
                        start + timedelta(seconds=at), {"program": "fixed", "state": state},
                        event_id=f"{plan.signal_id}:{n}"))
            t += plan.cycle_s
    out.sort(key=lambda x: (x[0], x[1]))
    return [o for _, _, o in out]

