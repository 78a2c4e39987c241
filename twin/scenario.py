"""Scenario files: TOML, validated on load, with errors that name the offending key.

A scenario names the network, the demand, the duration, step and seed, the
sensors and cameras to place, the incidents to inject, the timed conditions,
closures, odd-even corridors and events (:mod:`twin.scenario_timed`) and the
settings of each service module. Paths inside a scenario are relative to the
scenario file.

Example (``scenarios/grid_small.toml``)::

    [scenario]
    name = "grid-small"
    start = "2026-03-02T07:00:00+07:00"
    duration_s = 1800
    step_s = 1.0
    seed = 42

    [network]
    format = "grid"
    grid = { rows = 5, cols = 5, block_m = 200 }

    [demand]
    kind = "random"
    trips_per_hour = 3000
"""

from __future__ import annotations

import hashlib
import tomllib
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, ValidationError, field_validator, model_validator

from twin.network import Network
from twin.scenario_timed import ClosureSpec, ConditionSpec, EventSpec, OddEvenSpec, ScenarioSection

SCHEMA_NOTE = "see scenarios/README.md for every key"


class ScenarioError(ValueError):
    """A scenario file is missing, not TOML, or fails validation."""


class ScenarioMeta(ScenarioSection):
    """``[scenario]``: what this run is."""

    name: str = Field(min_length=1)
    description: str = ""
    start: datetime = Field(description="timezone-aware start of the simulated day")
    duration_s: float = Field(gt=0, le=7 * 86400)
    step_s: float = Field(default=1.0, gt=0, le=60)
    seed: int = Field(default=0, ge=0)

    @field_validator("start")
    @classmethod
    def _aware(cls, v: datetime) -> datetime:
        if v.tzinfo is None:
            raise ValueError("must carry a UTC offset, e.g. 2026-03-02T07:00:00+07:00")
        return v


class GridSpec(ScenarioSection):
    """``[network.grid]``: a synthetic grid network."""

    rows: int = Field(ge=2, le=200)
    cols: int = Field(ge=2, le=200)
    block_m: float = Field(default=200.0, gt=0)
    lanes: int = Field(default=1, ge=1, le=8)
    speed_limit_mps: float = Field(default=13.89, gt=0)
    capacity_per_lane_vph: float = Field(default=1800.0, gt=0)
    signals: bool = True


class SignalSpec(ScenarioSection):
    """``[[network.signals]]``: a junction to give the default fixed-time program
    (:mod:`twin.importers.signals`), for junctions the network file does not mark."""

    node: str = Field(min_length=1, description="node id")
    id: str | None = Field(default=None, min_length=1, description="program id; default the node id")


class NetworkSpec(ScenarioSection):
    """``[network]``: a network file, or a generated grid."""

    file: str | None = None
    format: Literal["auto", "graphml", "sumo", "tntp", "npz", "grid"] = "auto"
    grid: GridSpec | None = None
    signals: list[SignalSpec] = Field(default_factory=list)
    speed_limit_factor: float = Field(
        default=1.0, gt=0, le=2,
        description="multiplies every link's speed limit (a calibrated desired-speed level)")

    @model_validator(mode="after")
    def _file_or_grid(self) -> NetworkSpec:
        if self.format == "grid" and self.grid is None:
            raise ValueError("format = 'grid' needs a [network.grid] table")
        if self.format != "grid" and self.file is None:
            raise ValueError("give 'file' (a network file) or format = 'grid'")
        return self


class DemandSpec(ScenarioSection):
    """``[demand]``: where the trips come from."""

    kind: Literal["random", "od", "sumo_routes", "tntp"] = "random"
    trips_per_hour: float | None = Field(default=None, gt=0)
    file: str | None = None
    scale: float = Field(default=1.0, gt=0)
    profile: Literal["flat", "morning_peak", "evening_peak"] | list[tuple[float, float]] = "flat"
    vehicle_mix: dict[str, float] | None = None
    od: list[tuple[str, str, float]] | None = Field(
        default=None, description="[origin node id, destination node id, trips over the run]"
    )

    @model_validator(mode="after")
    def _needs(self) -> DemandSpec:
        if self.kind == "random" and self.trips_per_hour is None:
            raise ValueError("kind = 'random' needs trips_per_hour")
        if self.kind in ("sumo_routes", "tntp") and self.file is None:
            raise ValueError(f"kind = '{self.kind}' needs file")
        if self.kind == "od" and not self.od:
            raise ValueError("kind = 'od' needs an od list of [origin, destination, trips]")
        if self.vehicle_mix is not None:
            if any(v < 0 for v in self.vehicle_mix.values()) or sum(self.vehicle_mix.values()) <= 0:
                raise ValueError("vehicle_mix shares must be >= 0 and not all zero")
        if isinstance(self.profile, list):
            if not self.profile or any(w < 0 for _, w in self.profile):
                raise ValueError("profile needs [start_s, weight] pairs with weight >= 0")
        return self


class LoopDetectorSpec(ScenarioSection):
    """``[[sensors.loop_detectors]]``: one virtual loop detector."""

    id: str = Field(min_length=1)
    link: str = Field(min_length=1, description="link id")
    pos_m: float | None = Field(default=None, ge=0, description="default: the link's middle")
    lane: int | None = Field(default=None, ge=0, description="the one lane watched; default all")
    per_lane: bool = Field(default=False, description="one record per lane and interval")

    @model_validator(mode="after")
    def _lane_or_per_lane(self) -> LoopDetectorSpec:
        if self.lane is not None and self.per_lane:
            raise ValueError(f"detector {self.id!r}: give lane (one lane) or per_lane, not both")
        return self


class PlateReadSpec(ScenarioSection):
    """``[sensors.plate_reads]``: how often the virtual cameras misread a plate.

    Shares of reads: ``misread_share`` get one character wrong (with a confidence as
    high as a good read's), ``unreadable_share`` no plate at all (plate None,
    confidence 0), ``low_confidence_share`` the right text with a confidence of
    0.3-0.7.
    """

    misread_share: float = Field(default=0.01, ge=0, le=1)
    unreadable_share: float = Field(default=0.005, ge=0, le=1)
    low_confidence_share: float = Field(default=0.02, ge=0, le=1)

    @model_validator(mode="after")
    def _at_most_one(self) -> PlateReadSpec:
        if self.misread_share + self.unreadable_share + self.low_confidence_share > 1:
            raise ValueError("the shares of misread, unreadable and low-confidence reads add "
                             "up to more than 1")
        return self


class SensorsSpec(ScenarioSection):
    """``[sensors]``: virtual sensors sampled from the simulation."""

    interval_s: float = Field(default=60.0, gt=0)
    loop_detectors: list[LoopDetectorSpec] = Field(default_factory=list)
    auto_loop_detectors: int = Field(
        default=0, ge=0, description="also place this many detectors on the biggest roads"
    )
    cctv_period_s: float = Field(default=5.0, gt=0, description="CCTV analytics look this often")
    plate_reads: PlateReadSpec = Field(default_factory=PlateReadSpec)


CAMERA_TYPES = ("anpr", "speed", "red_light", "cctv")
_CCTV_KEYS = ("stopped_after_s", "congestion_speed_share", "congestion_after_s")


class CameraSpec(ScenarioSection):
    """``[[cameras]]``: a camera the simulator's virtual cameras (or a real one) feed.

    ``anpr``, ``speed`` and ``cctv`` cameras stand ``pos_m`` along ``link``
    (default: its middle); a ``red_light`` camera watches the stop line at the end
    of ``link`` (``pos_m`` only places it on the map). See :mod:`twin.cameras`.
    """

    id: str = Field(min_length=1)
    type: Literal["anpr", "speed", "red_light", "cctv"]
    link: str = Field(min_length=1)
    pos_m: float | None = Field(default=None, ge=0)
    lanes: list[int] | None = Field(default=None, min_length=1,
                                    description="lanes watched (0 = kerb side); default all")
    speed_limit_kmh: float | None = Field(default=None, gt=0, le=200,
                                          description="posted limit; default the link's")
    section_exit: str | None = Field(default=None, min_length=1,
                                     description="speed: exit camera of an average-speed section")
    section_length_m: float | None = Field(default=None, gt=0,
                                           description="default: the shortest road distance")
    stopped_after_s: float = Field(default=60.0, gt=0)
    congestion_speed_share: float = Field(default=0.3, gt=0, lt=1)
    congestion_after_s: float = Field(default=120.0, gt=0)

    @model_validator(mode="after")
    def _keys_fit_the_type(self) -> CameraSpec:
        where = f"camera {self.id!r} ({self.type})"
        if self.lanes is not None and (any(k < 0 for k in self.lanes)
                                       or len(set(self.lanes)) != len(self.lanes)):
            raise ValueError(f"{where}: lanes must be distinct lane indices >= 0")
        if self.section_exit is not None and self.type != "speed":
            raise ValueError(f"{where}: section_exit belongs to a speed camera")
        if self.section_length_m is not None and self.section_exit is None:
            raise ValueError(f"{where}: section_length_m needs section_exit")
        if self.section_exit == self.id:
            raise ValueError(f"{where}: section_exit names the camera itself")
        if self.type != "cctv":
            given = [k for k in _CCTV_KEYS if k in self.model_fields_set]
            if given:
                raise ValueError(f"{where}: {', '.join(given)} belong to a cctv camera")
        return self


class VehiclesSpec(ScenarioSection):
    """``[vehicles]``: the synthetic registry of the simulated vehicles
    (:class:`twin.vehicles.Fleet`): plate regions, SIMs and drivers."""

    regions: dict[str, float] = Field(default_factory=lambda: {"B": 1.0},
                                      description="plate prefix -> share")
    expired_sim_share: float = Field(default=0.08, ge=0, le=1)
    other_driver_share: float = Field(default=0.05, ge=0, le=1)

    @field_validator("regions")
    @classmethod
    def _regions(cls, v: dict[str, float]) -> dict[str, float]:
        for code, share in v.items():
            if not (1 <= len(code) <= 2 and code.isascii() and code.isalpha() and code.isupper()):
                raise ValueError(f"region prefix {code!r} must be one or two capital letters "
                                 f"(B Jakarta, D Bandung, F Bogor, ...)")
            if share < 0:
                raise ValueError(f"region {code!r}: share must be >= 0")
        if not v or sum(v.values()) <= 0:
            raise ValueError("give at least one region with a share > 0")
        return v


class IncidentSpec(ScenarioSection):
    """``[[incidents]]``: an incident injected at a time."""

    id: str = Field(min_length=1)
    type: Literal["crash", "breakdown", "fire", "medical", "crime", "flood", "roadworks"]
    link: str = Field(min_length=1)
    start_s: float = Field(ge=0)
    duration_s: float = Field(gt=0)
    lanes_blocked: int = Field(default=1, ge=1)


class StoreSpec(ScenarioSection):
    """``[store]``: where records go."""

    url: str = "sqlite:///var/kota.db"


class Scenario(ScenarioSection):
    """A validated scenario. Load one with :func:`load_scenario`."""

    scenario: ScenarioMeta
    network: NetworkSpec
    demand: DemandSpec
    sensors: SensorsSpec = Field(default_factory=SensorsSpec)
    cameras: list[CameraSpec] = Field(default_factory=list)
    vehicles: VehiclesSpec = Field(default_factory=VehiclesSpec)
    incidents: list[IncidentSpec] = Field(default_factory=list)
    conditions: list[ConditionSpec] = Field(default_factory=list)
    closures: list[ClosureSpec] = Field(default_factory=list)
    odd_even: list[OddEvenSpec] = Field(default_factory=list)
    events: list[EventSpec] = Field(default_factory=list)
    modules: dict[str, dict[str, Any]] = Field(default_factory=dict)
    store: StoreSpec = Field(default_factory=StoreSpec)
    path: Annotated[Path | None, Field(exclude=True)] = None
    sha256: Annotated[str, Field(exclude=True)] = ""

    @model_validator(mode="after")
    def _unique_ids(self) -> Scenario:
        for what, items in (("sensors.loop_detectors", self.sensors.loop_detectors),
                            ("cameras", self.cameras), ("incidents", self.incidents),
                            ("conditions", self.conditions), ("closures", self.closures),
                            ("odd_even", self.odd_even), ("events", self.events)):
            seen: set[str] = set()
            for item in items:
                if item.id in seen:
                    raise ValueError(f"{what}: duplicate id {item.id!r}")
                seen.add(item.id)
        cams = {c.id: c for c in self.cameras}
        exits: dict[str, str] = {}
        for cam in self.cameras:
            if cam.section_exit is None:
                continue
            other = cams.get(cam.section_exit)
            if other is None:
                raise ValueError(f"cameras: camera {cam.id!r}: section_exit {cam.section_exit!r} "
                                 f"is not a camera of this scenario")
            if other.type != "speed":
                raise ValueError(f"cameras: camera {cam.id!r}: section_exit {other.id!r} is a "
                                 f"{other.type} camera, not a speed camera")
            if other.id in exits:
                raise ValueError(f"cameras: camera {other.id!r} is the section exit of both "
                                 f"{exits[other.id]!r} and {cam.id!r}")
            exits[other.id] = cam.id
        for inc in self.incidents:
            if inc.start_s >= self.scenario.duration_s:
                raise ValueError(f"incidents: {inc.id!r} starts at {inc.start_s} s, after the "
                                 f"run ends ({self.scenario.duration_s} s)")
        for what, timed in (("conditions", self.conditions), ("closures", self.closures)):
            for item in timed:
                if item.start_s >= self.scenario.duration_s:
                    raise ValueError(f"{what}: {item.id!r} starts at {item.start_s} s, after the "
                                     f"run ends ({self.scenario.duration_s} s)")
        for ev in self.events:
            if ev.end_s > self.scenario.duration_s:
                raise ValueError(f"events: {ev.id!r} ends at {ev.end_s} s, after the run ends "
                                 f"({self.scenario.duration_s} s); its trips must depart within "
                                 f"the run")
        return self

    @property
    def base_dir(self) -> Path:
        """The folder relative paths in the scenario are resolved against."""
        return self.path.parent if self.path is not None else Path.cwd()

    def resolve(self, relative: str) -> Path:
        """``relative`` resolved against the scenario's folder."""
        p = Path(relative)
        return p if p.is_absolute() else (self.base_dir / p).resolve()


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario file.

    Raises
    ------
    ScenarioError
        For a missing file, broken TOML (with line and column), or a value that
        fails validation; the message names each offending key, e.g.
        ``scenario.duration_s: Input should be greater than 0``.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ScenarioError(f"{path}: cannot read scenario file ({exc.strerror})") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ScenarioError(f"{path}: not UTF-8 text ({exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{path}: not valid TOML: {exc}") from None
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError(f"{path}: invalid scenario\n{format_validation_error(exc)}") from None
    return scenario.model_copy(
        update={"path": path.resolve(), "sha256": hashlib.sha256(raw).hexdigest()}
    )


def format_validation_error(exc: ValidationError) -> str:
    """One line per problem: ``dotted.key: message``."""
    lines = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"]) or "(top level)"
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = f"unknown key ({SCHEMA_NOTE})"
        lines.append(f"  {loc}: {msg}")
    return "\n".join(lines)


def check_against_network(scenario: Scenario, network: Network) -> None:
    """Check the ids a scenario uses exist in its network.

    Raises
    ------
    ScenarioError
        Naming the key and the unknown link or node id.
    """
    problems = []
    from twin.cameras.placement import camera_problems  # twin.cameras imports this module

    for i, det in enumerate(scenario.sensors.loop_detectors):
        if det.link not in network.link_index:
            problems.append(f"  sensors.loop_detectors.{i}.link: no link {det.link!r} in the network")
            continue
        link = network.link_index[det.link]
        if det.pos_m is not None and det.pos_m > network.link_length_m[link]:
            problems.append(f"  sensors.loop_detectors.{i}.pos_m: {det.pos_m} m is beyond the end "
                            f"of link {det.link!r}")
        if det.lane is not None and det.lane >= network.link_lanes[link]:
            problems.append(f"  sensors.loop_detectors.{i}.lane: link {det.link!r} has only "
                            f"{network.link_lanes[link]} lane(s)")
    problems += [f"  {p}" for p in camera_problems(scenario.cameras, network)]
    for i, inc in enumerate(scenario.incidents):
        if inc.link not in network.link_index:
            problems.append(f"  incidents.{i}.link: no link {inc.link!r} in the network")
        elif inc.lanes_blocked > network.link_lanes[network.link_index[inc.link]]:
            problems.append(f"  incidents.{i}.lanes_blocked: link {inc.link!r} has only "
                            f"{network.link_lanes[network.link_index[inc.link]]} lane(s)")
    problems += _timed_problems(scenario, network)
    for i, (o, d, _) in enumerate(scenario.demand.od or []):
        for key, node in (("origin", o), ("destination", d)):
            if node not in network.node_index:
                problems.append(f"  demand.od.{i}: {key} node {node!r} is not in the network")
    if problems:
        where = scenario.path or "scenario"
        raise ScenarioError(f"{where}: does not match its network\n" + "\n".join(problems))


def _timed_problems(scenario: Scenario, network: Network) -> list[str]:
    """Unknown links and nodes, and too many blocked lanes, in the timed sections."""
    problems = []
    sections: list[tuple[str, Sequence[ConditionSpec | ClosureSpec | OddEvenSpec]]] = [
        ("conditions", scenario.conditions), ("closures", scenario.closures),
        ("odd_even", scenario.odd_even)]
    for what, items in sections:
        for i, item in enumerate(items):
            for link in item.links:
                if link not in network.link_index:
                    problems.append(f"  {what}.{i}.links: no link {link!r} in the network")
                    continue
                lanes = int(network.link_lanes[network.link_index[link]])
                blocked = getattr(item, "lanes_blocked", None)
                if blocked is not None and blocked > lanes:
                    problems.append(f"  {what}.{i}.lanes_blocked: link {link!r} has only "
                                    f"{lanes} lane(s)")
    for i, ev in enumerate(scenario.events):
        for key, node in [("origin", ev.origin)] + [("destinations", d)
                                                     for d in ev.destinations or []]:
            if node not in network.node_index:
                problems.append(f"  events.{i}.{key}: node {node!r} is not in the network")
    return problems
