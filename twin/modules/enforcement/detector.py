"""The detector: routes each Observation to the rules of its camera.

Plate reads of cameras it does not know, and observation kinds it does not use, are
counted and ignored. A read of an emergency vehicle on duty (:attr:`PlateRead.emergency`)
is counted and raises nothing, on any rule: UU 22/2009 art. 134-135 give ambulances, fire
engines and the police on duty the right of way, to which traffic lights and signs,
speed limits among them, do not apply; odd-even (DKI Pergub 88/2019) exempts them too,
and a unit on a call may take the busway. Its plate is not remembered for a section
either. ``signal_state`` observations update the signal tracker. The
detector's memory (signal history, open section entries) is JSON-ready through
:meth:`Detector.state`, so the service stores it with each committed batch and a
restarted process picks up exactly where the last commit left off.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from twin.observations import Observation, ObservationKind

from .config import DetectionConfig
from .pseudonym import PlateTokenizer
from .rules import (
    BusLaneRule,
    OddEvenRule,
    PlateRead,
    PlateRule,
    PointSpeedRule,
    RedLightRule,
    SectionSpeedRule,
    SignalTracker,
    Violation,
    WrongWayRule,
)

Rule = PointSpeedRule | RedLightRule | OddEvenRule | WrongWayRule | BusLaneRule | PlateRule


@dataclass
class DetectorCounts:
    """What the detector has seen.

    Attributes
    ----------
    plate_reads : reads of known cameras
    emergency_exempt : of those, reads of emergency vehicles on duty (no rule applied)
    unknown_camera : reads of cameras not configured
    signal_states : signal observations taken
    ignored : observations of other kinds
    violations : violations raised
    """

    plate_reads: int = 0
    emergency_exempt: int = 0
    unknown_camera: int = 0
    signal_states: int = 0
    ignored: int = 0
    violations: int = 0


@dataclass
class Detector:
    """Applies the configured rules to observations.

    Parameters
    ----------
    config : DetectionConfig
    tokenizer : PlateTokenizer, for section matching by plate token
    """

    config: DetectionConfig
    tokenizer: PlateTokenizer
    counts: DetectorCounts = field(default_factory=DetectorCounts)

    def __post_init__(self) -> None:
        tol = self.config.tolerances
        self.signals = SignalTracker()
        self._rules: dict[str, list[Rule]] = {}
        for cam in self.config.cameras:
            rules: list[Rule] = []
            if cam.speed_limit_kmh is not None:
                rules.append(PointSpeedRule(cam.speed_limit_kmh, tol.speed_tolerance_kmh))
            if cam.kind == "red_light" and cam.signal_id is not None:
                rules.append(RedLightRule(cam.signal_id, cam.signal_index, tol.red_light_grace_s))
            if cam.heading_deg is not None:
                rules.append(WrongWayRule(cam.heading_deg, tol.wrong_way_min_deviation_deg))
            if cam.bus_lanes:
                rules.append(BusLaneRule(frozenset(cam.bus_lanes), frozenset(cam.bus_lane_exempt)))
            if cam.check_plate:
                rules.append(PlateRule(tol.min_plate_confidence))
            self._rules[cam.id] = rules
        for corridor in self.config.corridors:
            odd_even = OddEvenRule(corridor, tol.min_plate_confidence)
            for cam_id in corridor.cameras:
                self._rules[cam_id].append(odd_even)
        self._sections_in: dict[str, list[SectionSpeedRule]] = {}
        self._sections_out: dict[str, list[SectionSpeedRule]] = {}
        self.sections: dict[str, SectionSpeedRule] = {}
        for s in self.config.sections:
            rule = SectionSpeedRule(s.id, s.entry_camera, s.exit_camera, s.length_m,
                                    s.speed_limit_kmh, tol.speed_tolerance_kmh, s.max_travel_s)
            self.sections[s.id] = rule
            self._sections_in.setdefault(s.entry_camera, []).append(rule)
            self._sections_out.setdefault(s.exit_camera, []).append(rule)
        self._min_conf = tol.min_plate_confidence

    def feed(self, obs: Observation) -> list[Violation]:
        """The violations ``obs`` completes (often none)."""
        if obs.kind is ObservationKind.SIGNAL_STATE:
            self.counts.signal_states += 1
            self.signals.update(obs)
            return []
        if obs.kind is not ObservationKind.PLATE_READ:
            self.counts.ignored += 1
            return []
        rules = self._rules.get(obs.source_id)
        if rules is None:
            self.counts.unknown_camera += 1
            return []
        self.counts.plate_reads += 1
        read = PlateRead.of(obs)
        if read.emergency:
            self.counts.emergency_exempt += 1
            return []
        found: list[Violation] = []
        for rule in rules:
            v = rule.check(read, self.signals) if isinstance(rule, RedLightRule) else rule.check(read)
            if v is not None:
                found.append(v)
        if read.plate_valid and read.confidence >= self._min_conf:
            self._sections(read, found)
        self.counts.violations += len(found)
        return found

    def _sections(self, read: PlateRead, found: list[Violation]) -> None:
        cam = read.obs.source_id
        token = self.tokenizer.token(read.plate, read.at)
        for s in self._sections_out.get(cam, ()):
            # the entry may have been tokenised in the previous pseudonym period
            earlier = self.tokenizer.token(read.plate, read.at - timedelta(seconds=s.max_travel_s))
            tokens = tuple(dict.fromkeys(t for t in (token, earlier) if t is not None))
            v = s.exit(read, tokens)
            if v is not None:
                found.append(v)
        if token is not None:
            for s in self._sections_in.get(cam, ()):
                s.enter(read, token)

    def expire(self, obs_time: Any) -> int:
        """Forget section entries too old to match before ``obs_time``; how many."""
        return sum(s.expire(obs_time) for s in self.sections.values())

    def state(self) -> dict[str, Any]:
        """The detector's memory as JSON-ready data."""
        return {"signals": self.signals.state(),
                "sections": {sid: s.state() for sid, s in self.sections.items()}}

    def restore(self, state: dict[str, Any]) -> None:
        """Replace the detector's memory with ``state`` from :meth:`state`."""
        self.signals.restore(state.get("signals", {}))
        for sid, s_state in state.get("sections", {}).items():
            if sid in self.sections:
                self.sections[sid].restore(s_state)
