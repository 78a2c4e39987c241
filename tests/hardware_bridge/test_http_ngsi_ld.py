"""NGSI-LD over real HTTP: a broker's notifications in, the live twin's entities out."""

# ruff: noqa: F811  (the http_env fixture is imported from http_helpers, then requested by name)

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from hardware_bridge.http_ingest import ENTITIES_PATH, NOTIFY_PATH
from hardware_bridge.ngsi_ld import to_entity
from hardware_bridge.ngsi_ld_export import twin_entities
from tests.hardware_bridge.http_helpers import HttpEnv, basic, http_env, start_env  # noqa: F401
from twin.live import LiveTwin, TwinView
from twin.network import Network
from twin.observations import Location, Observation, ObservationKind
from twin.store import open_store

WIB = timezone(timedelta(hours=7))
T = datetime(2026, 11, 28, 7, 5, tzinfo=WIB)


def make_view(network: Network, speed_mps: np.ndarray | None = None, count: np.ndarray | None = None,
              time_s: float = 0.0) -> TwinView:
    """A view of ``network``: free flow and no vehicles unless given."""
    speed = network.link_speed_limit_mps.copy() if speed_mps is None else speed_mps
    veh = np.zeros(network.n_links, np.int64) if count is None else count
    return TwinView("tiny", time_s, T + timedelta(seconds=time_s), 3600.0, 0, int(veh.sum()), 0, 0,
                    np.asarray(speed, np.float64), np.asarray(veh, np.int64))


def flow(source: str = "det-1", count: int = 20) -> Observation:
    start = T - timedelta(seconds=60)
    return Observation(ObservationKind.DETECTOR_INTERVAL, source, T,
                       {"interval_s": 60.0, "count": count, "occupancy": 0.2, "mean_speed_mps": 10.0},
                       Location(106.87, -6.215, "ab", lane=0), event_id=f"{source}@{start.isoformat()}")


def alert() -> Observation:
    return Observation(ObservationKind.INCIDENT_REPORT, "cctv-9", T,
                       {"incident_type": "wrong_way", "severity": "medium"},
                       Location(106.871, -6.2149), event_id="cctv-9:evt-3")


def notification(*entities: dict) -> bytes:
    return json.dumps({"id": "urn:ngsi-ld:Notification:1", "type": "Notification",
                       "subscriptionId": "urn:ngsi-ld:Subscription:kota", "notifiedAt": T.isoformat(),
                       "data": list(entities)}).encode()


def notify(env: HttpEnv, body: bytes, device: str = "broker-1", secret: str | None = None):
    return env.post(NOTIFY_PATH, body, {"Content-Type": "application/ld+json",
                                        "Authorization": basic(device, secret)})


def test_notification_entities_are_mapped_and_taken(http_env: HttpEnv):
    """Each entity of a notification becomes its observation, equal to the one it came from."""
    sent = [flow("det-1"), flow("det-2", 7), alert()]
    r = notify(http_env, notification(*(to_entity(o) for o in sent)))
    assert r.status == 200 and r.json()["accepted"] == 3
    assert http_env.published == sent
    again = notify(http_env, notification(*(to_entity(o) for o in sent)))
    assert again.json()["duplicates"] == 3 and len(http_env.published) == 3


def test_unmappable_entities_are_quarantined_one_by_one(http_env: HttpEnv):
    """Good entities are taken; each bad one gets its own quarantine row with its reason."""
    bad_type = {"id": "urn:ngsi-ld:WeatherObserved:w1", "type": "WeatherObserved"}
    bad_value = to_entity(flow("det-3"))
    bad_value["occupancy"]["value"] = 76  # a percentage: the gate refuses it
    no_interval = to_entity(flow("det-4"))
    for k in ("dateObserved", "dateObservedFrom"):
        no_interval.pop(k)
    r = notify(http_env, notification(to_entity(flow("det-1")), bad_type, bad_value, no_interval, "junk"))
    assert r.status == 200
    assert r.json()["accepted"] == 1 and r.json()["quarantined"] == 4
    assert [o.source_id for o in http_env.published] == ["det-1"]
    reasons = http_env.quarantine_reasons()
    assert any("WeatherObserved" in x and "no observation mapping" in x for x in reasons)
    assert any("occupancy" in x and "percentage" in x for x in reasons)
    assert any("det-4" in x and "needs an interval" in x for x in reasons)
    assert any("entity 4" in x and "JSON object" in x for x in reasons)


def test_broker_may_relay_only_its_registered_kinds(http_env: HttpEnv):
    """broker-flow relays detector intervals only: its alert entity is quarantined."""
    r = notify(http_env, notification(to_entity(flow()), to_entity(alert())), device="broker-flow")
    assert r.json()["accepted"] == 1 and r.json()["quarantined"] == 1
    assert "not registered to relay incident_report" in http_env.quarantine_reasons()[-1]


def test_notify_needs_credentials(http_env: HttpEnv):
    """Wrong Basic credentials: 401 (NGSI-LD problem details), nothing taken."""
    r = notify(http_env, notification(to_entity(flow())), secret="not-the-broker-secret-00")
    assert r.status == 401 and r.json()["type"].endswith("/Unauthorized")
    assert http_env.published == []
    assert "wrong secret for device 'broker-1'" in http_env.quarantine_reasons()[-1]


@pytest.mark.parametrize("body, why", [
    (b'{"type": "Subscription", "data": []}', "must be 'Notification'"),
    (b'{"type": "Notification", "data": {}}', "'data' list"),
    (b'{"type": "Notification", "data": [', "not valid JSON"),
    (b"[]", "JSON object"),
])
def test_malformed_notifications_are_400(http_env: HttpEnv, body, why):
    r = notify(http_env, body)
    assert r.status == 400 and why in r.json()["detail"]
    assert why in http_env.quarantine_reasons()[-1]


@pytest.fixture
def live_network() -> Network:
    return Network.from_arrays(
        name="tiny", node_ids=["a", "b", "c"], node_lon=[106.870, 106.872, 106.872],
        node_lat=[-6.215, -6.215, -6.217], link_ids=["ab", "ba", "bc"], link_from=[0, 1, 1],
        link_to=[1, 0, 2], link_length_m=[230.0, 230.0, 221.0], link_lanes=[2, 2, 1],
        link_speed_limit_mps=[10.0, 10.0, 12.5], link_capacity_vph=[3600.0, 3600.0, 1800.0],
        link_name=["Jl. Matraman Raya", "Jl. Matraman Raya", ""])


def test_twin_export_gives_traffic_flow_and_road_segments(live_network):
    """One TrafficFlowObserved (km/h, congested flag) and one RoadSegment per link."""
    view = make_view(live_network, speed_mps=np.array([3.0, 10.0, 12.5]), count=np.array([9, 0, 2]))
    ents = twin_entities(view, live_network)
    flows = [e for e in ents if e["type"] == "TrafficFlowObserved"]
    segs = [e for e in ents if e["type"] == "RoadSegment"]
    expected = [f"urn:ngsi-ld:TrafficFlowObserved:link:{i}" for i in ("ab", "ba", "bc")]
    assert [e["id"] for e in flows] == expected
    assert [e["averageVehicleSpeed"]["value"] for e in flows] == [10.8, 36.0, 45.0]
    assert [e["congested"]["value"] for e in flows] == [True, False, False]
    assert flows[0]["refRoadSegment"]["object"] == segs[0]["id"] == "urn:ngsi-ld:RoadSegment:ab"
    assert flows[0]["location"]["value"]["type"] == "LineString"
    assert flows[0]["dateObserved"]["value"]["@value"] == view.clock_time.isoformat()
    assert segs[2]["totalLaneNumber"]["value"] == 1 and segs[2]["maximumAllowedSpeed"]["value"] == 45.0
    assert "name" in segs[0] and "name" not in segs[2]


def test_entities_endpoint_serves_the_latest_view(tmp_path, live_network):
    """GET /ngsi-ld/v1/entities follows the LiveTwin's newest view; type, id, limit filters work."""
    live = LiveTwin(live_network, make_view(live_network))
    store = open_store(f"sqlite:///{tmp_path / 'kota.db'}")
    env = start_env(tmp_path, store, live=live)
    try:
        r = env.request("GET", ENTITIES_PATH + "?type=TrafficFlowObserved")
        assert r.status == 200 and r.headers["content-type"] == "application/ld+json"
        assert [e["averageVehicleSpeed"]["value"] for e in r.json()] == [36.0, 36.0, 45.0]
        live.publish_view(make_view(live_network, speed_mps=np.array([2.0, 10.0, 12.5]),
                                    count=np.array([5, 0, 0]), time_s=60.0))
        r = env.request("GET", ENTITIES_PATH + "?type=TrafficFlowObserved&limit=1")
        (ent,) = r.json()
        assert ent["averageVehicleSpeed"]["value"] == 7.2 and ent["congested"]["value"] is True
        both = env.request("GET", ENTITIES_PATH + "?type=TrafficFlowObserved,RoadSegment").json()
        assert len(both) == 6
        one = env.request("GET", ENTITIES_PATH + "?type=RoadSegment&id=urn:ngsi-ld:RoadSegment:bc").json()
        assert [e["id"] for e in one] == ["urn:ngsi-ld:RoadSegment:bc"]
        assert env.request("GET", ENTITIES_PATH).status == 400
        assert env.request("GET", ENTITIES_PATH + "?type=Alert").json() == []
        assert env.request("GET", ENTITIES_PATH + "?type=RoadSegment&limit=x").status == 400
    finally:
        env.server.stop()
        store.close()


def test_entities_endpoint_without_live_twin_is_404(http_env: HttpEnv):
    r = http_env.request("GET", ENTITIES_PATH + "?type=TrafficFlowObserved")
    assert r.status == 404 and r.json()["type"].endswith("/ResourceNotFound")
