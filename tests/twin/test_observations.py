"""The Observation record: validation, round trip, derived event ids."""

from datetime import UTC, datetime, timedelta, timezone

import pytest

from twin.observations import Location, Observation, ObservationError, ObservationKind

WIB = timezone(timedelta(hours=7))
T0 = datetime(2026, 3, 2, 7, 0, tzinfo=WIB)


def _detector(**kw):
    args = dict(kind="detector_interval", source_id="det-1", observed_at=T0,
                payload={"interval_s": 60, "count": 12, "occupancy": 0.1, "mean_speed_mps": 8.5})
    args.update(kw)
    return Observation(**args)


def test_kind_string_becomes_enum_and_topic():
    obs = _detector()
    assert obs.kind is ObservationKind.DETECTOR_INTERVAL
    assert obs.topic == "detector_interval/det-1"


def test_round_trip_through_dict_is_equal():
    obs = _detector(location=Location(106.9, -6.2, link_id="a-b-0", pos_m=10.0, lane=0))
    again = Observation.from_dict(obs.to_dict())
    assert again == obs
    assert again.event_id == obs.event_id


def test_event_id_is_derived_deterministically_and_differs_by_content():
    assert _detector().event_id == _detector().event_id
    other = _detector(payload={"interval_s": 60, "count": 13, "occupancy": 0.1,
                               "mean_speed_mps": 8.5})
    assert other.event_id != _detector().event_id
    assert _detector(event_id="cam-7#991").event_id == "cam-7#991"


def test_same_instant_in_other_timezone_keeps_time_equal():
    obs = _detector(observed_at=T0.astimezone(UTC))
    assert obs.observed_at == T0


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        ({"kind": "teleport"}, "unknown observation kind"),
        ({"source_id": ""}, "source_id"),
        ({"observed_at": datetime(2026, 3, 2, 7, 0)}, "timezone-aware"),
        ({"payload": {"interval_s": 60, "occupancy": 0.1, "mean_speed_mps": 1.0}}, "'count'"),
        ({"payload": {"interval_s": 60, "count": "12", "occupancy": 0.1,
                      "mean_speed_mps": 1.0}}, "'count' must be int"),
        ({"payload": {"interval_s": 60, "count": True, "occupancy": 0.1,
                      "mean_speed_mps": 1.0}}, "'count' must be int"),
        ({"payload": {"interval_s": 60, "count": 1, "occupancy": float("nan"),
                      "mean_speed_mps": 1.0}}, "not finite"),
        ({"schema_version": 99}, "schema_version"),
    ],
)
def test_malformed_observations_are_rejected_naming_the_field(change, fragment):
    with pytest.raises(ObservationError, match=fragment):
        _detector(**change)


def test_location_out_of_range_is_rejected():
    with pytest.raises(ObservationError, match="lat"):
        Location(106.9, -96.0)


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        ([1, 2], "must be an object"),
        ({"kind": "point_speed", "source_id": "c"}, "observed_at"),
        ({"kind": "point_speed", "source_id": "c", "observed_at": "yesterday",
          "payload": {"speed_mps": 3.0}}, "ISO 8601"),
        ({"kind": "point_speed", "source_id": "c", "observed_at": "2026-03-02T07:00:00+07:00",
          "payload": {"speed_mps": 3.0}, "location": {"lon": "east"}}, "location"),
    ],
)
def test_from_dict_rejects_broken_input(data, fragment):
    with pytest.raises(ObservationError, match=fragment):
        Observation.from_dict(data)


def test_payload_is_read_only():
    obs = _detector()
    with pytest.raises(TypeError):
        obs.payload["count"] = 0  # type: ignore[index]
