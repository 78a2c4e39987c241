"""Each detection rule on hand-made observations: what raises, what does not, the evidence."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest

from twin.modules.enforcement import (
    CameraConfig,
    CorridorConfig,
    DetectionConfig,
    Detector,
    PlateTokenizer,
    SectionConfig,
    Tolerances,
    ViolationCode,
)
from twin.modules.enforcement.plates import PlateError, normalise_plate, parse_plate
from twin.modules.enforcement.rules import (
    BusLaneRule,
    OddEvenRule,
    PlateRead,
    PlateRule,
    PointSpeedRule,
    RedLightRule,
    SignalTracker,
    WrongWayRule,
    heading_deviation_deg,
)
from twin.observations import Observation, ObservationKind

from .conftest import KEY, T0, plate_read


def read(**payload) -> PlateRead:
    plate = payload.pop("plate", "B 1234 XYZ")
    at = payload.pop("at", T0)
    return PlateRead.of(plate_read("cam", 1, at, plate, **payload))


def test_plates_parse_and_parity() -> None:
    """Any spacing or case normalises; the last digit decides odd/even; junk is refused."""
    assert normalise_plate("b1234xyz") == "B 1234 XYZ"
    assert normalise_plate("B-7-A") == "B 7 A"
    assert parse_plate("D 1235 AB").is_odd and not parse_plate("F 88").is_odd
    for bad in ("", "1234", "B 12345 X", "B 1234 ABCD", "BBB 1"):
        with pytest.raises(PlateError):
            parse_plate(bad)


@pytest.mark.parametrize(("speed_kmh", "raised"), [(50.0, False), (55.0, False), (55.1, True),
                                                   (90.0, True)])
def test_point_speed_threshold_includes_tolerance(speed_kmh: float, raised: bool) -> None:
    """SPEEDING only above limit + tolerance; the evidence carries the measurement."""
    rule = PointSpeedRule(limit_kmh=50.0, tolerance_kmh=5.0)
    v = rule.check(read(speed_mps=speed_kmh / 3.6, image_sha256="cd" * 32))
    assert (v is not None) == raised
    if v is not None:
        assert v.code is ViolationCode.SPEEDING
        assert v.measured["speed_kmh"] == pytest.approx(speed_kmh, abs=0.01)
        assert v.image_sha256 == ("cd" * 32,)
        assert v.rule_version.startswith("speeding.point/1+")
        assert v.violation_id == "speeding.point:cam:1"


def test_point_speed_without_speed_raises_nothing() -> None:
    assert PointSpeedRule(50.0, 5.0).check(read()) is None


def test_rule_version_changes_with_parameters() -> None:
    assert PointSpeedRule(50.0, 5.0).version != PointSpeedRule(50.0, 3.0).version


def section_detector(max_travel_s: float = 600.0) -> Detector:
    cams = [CameraConfig(id="a", kind="speed"), CameraConfig(id="b", kind="speed")]
    cfg = DetectionConfig(cameras=cams, sections=[SectionConfig(
        id="s", entry_camera="a", exit_camera="b", length_m=1000.0, speed_limit_kmh=50.0,
        max_travel_s=max_travel_s)])
    return Detector(cfg, PlateTokenizer(KEY))


def test_section_average_speed() -> None:
    """1000 m in 60 s is 60 km/h > 55: SPEEDING with both reads as evidence; 90 s is 40 km/h."""
    det = section_detector()
    assert det.feed(plate_read("a", 1, T0, "B 1 AA")) == []
    assert det.feed(plate_read("a", 2, T0, "B 2 BB")) == []
    found = det.feed(plate_read("b", 1, T0 + timedelta(seconds=60), "b1aa"))
    assert [v.rule for v in found] == ["speeding.section"]
    v = found[0]
    assert v.measured["avg_speed_kmh"] == pytest.approx(60.0)
    assert [o.event_id for o in v.observations] == ["a:1", "b:1"]
    assert det.feed(plate_read("b", 2, T0 + timedelta(seconds=90), "B 2 BB")) == []
    # the matched entry is gone: a second exit read of B 1 AA raises nothing
    assert det.feed(plate_read("b", 3, T0 + timedelta(seconds=61), "B 1 AA")) == []


def test_section_state_survives_restore_and_is_keyed_by_token() -> None:
    """The open entries round-trip through JSON state and are keyed by token, not plate."""
    det = section_detector()
    det.feed(plate_read("a", 1, T0, "B 1 AA"))
    state = det.state()
    assert "B 1 AA" not in list(state["sections"]["s"])
    fresh = section_detector()
    fresh.restore(state)
    assert len(fresh.feed(plate_read("b", 1, T0 + timedelta(seconds=30), "B 1 AA"))) == 1


def test_section_entries_expire() -> None:
    det = section_detector(max_travel_s=100.0)
    det.feed(plate_read("a", 1, T0, "B 1 AA"))
    assert det.expire(T0 + timedelta(seconds=101)) == 1
    assert det.feed(plate_read("b", 1, T0 + timedelta(seconds=102), "B 1 AA")) == []


def signal(state: str, at: datetime, n: int) -> Observation:
    return Observation(ObservationKind.SIGNAL_STATE, "tl-1", at, {"program": "p", "state": state},
                       event_id=f"tl-1:{n}")


def test_red_light_from_controller_states_with_grace() -> None:
    """Red since t: a crossing within the grace raises nothing, after it RED_LIGHT; green none."""
    tracker = SignalTracker()
    tracker.update(signal("Gr", T0, 1))
    tracker.update(signal("yr", T0 + timedelta(seconds=40), 2))
    tracker.update(signal("rr", T0 + timedelta(seconds=43), 3))
    rule = RedLightRule("tl-1", 0, grace_s=0.5)
    assert rule.check(read(at=T0 + timedelta(seconds=20)), tracker) is None
    assert rule.check(read(at=T0 + timedelta(seconds=41)), tracker) is None  # amber
    assert rule.check(read(at=T0 + timedelta(seconds=43.3)), tracker) is None  # grace
    v = rule.check(read(at=T0 + timedelta(seconds=50)), tracker)
    assert v is not None and v.measured["red_elapsed_s"] == pytest.approx(7.0)
    # index 1 has been red since the first state: 50 s
    v1 = RedLightRule("tl-1", 1, 0.5).check(read(at=T0 + timedelta(seconds=50)), tracker)
    assert v1 is not None and v1.measured["red_elapsed_s"] == pytest.approx(50.0)


def test_red_light_unknown_state_raises_nothing_and_camera_state_wins() -> None:
    tracker = SignalTracker()
    rule = RedLightRule("tl-1", 0, grace_s=0.5)
    assert rule.check(read(), tracker) is None
    v = rule.check(read(signal_state="r", red_elapsed_s=3.0), tracker)
    assert v is not None and v.measured["signal_state_source"] == "camera"
    assert rule.check(read(signal_state="G"), tracker) is None


CORRIDOR = CorridorConfig(id="c", cameras=["cam"], holidays=[date(2026, 3, 3)])


@pytest.mark.parametrize(("plate", "at", "vclass", "raised"), [
    ("B 1235 AB", T0, "car", True),                     # odd plate, even date (2 March), 07:00
    ("B 1234 AB", T0, "car", False),                    # even plate on an even date
    ("B 1235 AB", T0, "motorcycle", False),             # motorcycles exempt
    ("B 1235 AB", T0, None, False),                     # unknown class: no sanction on a guess
    ("B 1235 AB", T0.replace(hour=12), "car", False),   # outside the windows
    ("B 1235 AB", T0.replace(hour=17), "car", True),    # evening window
    ("B 1235 AB", T0.replace(hour=10), "car", False),   # window end is exclusive
    ("B 1234 AB", T0 + timedelta(days=1), "car", False),  # 3 March is a holiday
    ("B 1234 AB", T0 + timedelta(days=3), "car", True),   # 5 March, odd date, even plate
    ("B 1234 AB", T0 + timedelta(days=5), "car", False),  # Saturday
])
def test_odd_even(plate: str, at: datetime, vclass: str | None, raised: bool) -> None:
    rule = OddEvenRule(CORRIDOR, min_confidence=0.8)
    v = rule.check(read(plate=plate, at=at, vehicle_class=vclass))
    assert (v is not None) == raised
    if v is not None:
        assert v.code is ViolationCode.ODD_EVEN and v.measured["date_parity"] != v.measured["plate_parity"]


def test_odd_even_uses_local_time() -> None:
    """The window is in WIB: 05:30 UTC is 12:30 WIB (in a 12-13 window), 12:30 UTC is not."""
    rule = OddEvenRule(CorridorConfig(id="c", cameras=["cam"], windows=[(time(12), time(13))]), 0.8)
    assert rule.check(read(plate="B 1235 AB", at=datetime(2026, 3, 2, 5, 30, tzinfo=UTC),
                           vehicle_class="car")) is not None
    assert rule.check(read(plate="B 1235 AB", at=datetime(2026, 3, 2, 12, 30, tzinfo=UTC),
                           vehicle_class="car")) is None


def test_wrong_way() -> None:
    assert heading_deviation_deg(350.0, 10.0) == pytest.approx(20.0)
    rule = WrongWayRule(permitted_heading_deg=0.0, min_deviation_deg=135.0)
    assert rule.check(read(heading_deg=20.0)) is None
    assert rule.check(read()) is None
    v = rule.check(read(heading_deg=185.0))
    assert v is not None and v.measured["deviation_deg"] == pytest.approx(175.0)


def test_bus_lane() -> None:
    rule = BusLaneRule(frozenset({0}), frozenset({"bus"}))
    assert rule.check(read(lane=0, vehicle_class="car")) is not None
    assert rule.check(read(lane=0, vehicle_class="bus")) is None
    assert rule.check(read(lane=1, vehicle_class="car")) is None
    assert rule.check(read(lane=0)) is None


@pytest.mark.parametrize(("plate", "conf", "problem"), [
    (None, 0.0, "missing"), ("B 1234 XYZ", 0.5, "unreadable"), ("XX-ABC-123", 0.95, "invalid"),
    ("B 1234 XYZ", 0.95, None)])
def test_plate_rule(plate: str | None, conf: float, problem: str | None) -> None:
    v = PlateRule(0.8).check(read(plate=plate, confidence=conf))
    assert (None if v is None else v.measured["problem"]) == problem


def test_detector_routes_by_camera_and_counts() -> None:
    """Unknown cameras and other kinds are counted, not raised; one read may raise several."""
    cfg = DetectionConfig(tolerances=Tolerances(speed_tolerance_kmh=0.0), cameras=[
        CameraConfig(id="cam", kind="speed", speed_limit_kmh=50.0, heading_deg=0.0)],
        corridors=[CORRIDOR])
    det = Detector(cfg, PlateTokenizer(KEY))
    assert det.feed(plate_read("other", 1, T0, "B 1 A", speed_mps=40.0)) == []
    found = det.feed(plate_read("cam", 1, T0, "B 1235 AB", speed_mps=20.0, heading_deg=180.0,
                                vehicle_class="car"))
    assert sorted(v.code.value for v in found) == ["ODD_EVEN", "SPEEDING", "WRONG_WAY"]
    det.feed(Observation(ObservationKind.POINT_SPEED, "cam", T0, {"speed_mps": 30.0}))
    assert (det.counts.unknown_camera, det.counts.plate_reads, det.counts.ignored) == (1, 1, 1)


def test_config_rejects_unknown_camera_references() -> None:
    with pytest.raises(ValueError, match="unknown camera 'nope'"):
        DetectionConfig(cameras=[CameraConfig(id="a")], corridors=[
            CorridorConfig(id="c", cameras=["nope"])])
    with pytest.raises(ValueError, match="needs signal_id"):
        CameraConfig(id="r", kind="red_light")
