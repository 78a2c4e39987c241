"""The alert feed of the Operations page: recent alerts of a bus -> the view -> feed rows."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np

from dashboard.alert_feed import SEVERITY_COLOURS, alert_feed_rows
from twin.alert_log import UNRATED, AlertRecord, RecentAlerts
from twin.bus import Bus
from twin.modules.prediction.alerts import CongestionWarner
from twin.observations import Location, Observation, ObservationKind

WIB = timezone(timedelta(hours=7))
T0 = datetime(2026, 3, 2, 7, 0, tzinfo=WIB)


def _warnings() -> list[Observation]:
    """A real early warning raised at 07:00 and cleared at 07:10 and 07:15."""
    warner = CongestionWarner(["loop-a"], [15.0], (15, 30, 60))
    out = warner.update(T0, np.array([14.0]), np.array([[12.0], [2.5], [3.0]]))  # critical
    for k in (1, 2):
        out += warner.update(T0 + timedelta(minutes=5 * (k + 1)), np.array([14.0]),
                             np.full((3, 1), 14.0))
    return out


def test_recent_alerts_keep_the_last_n_of_the_bus_and_skip_what_is_not_accepted():
    bus = Bus()
    log = RecentAlerts(bus, max_alerts=2, accept=lambda o: not o.source_id.startswith("scenario/"),
                       place={"L7": "Jl. Bekasi Timur"}.__getitem__)
    bus.publish(Observation(ObservationKind.INCIDENT_REPORT, "scenario/crash-1", T0,
                            {"incident_type": "crash"}))
    for a in _warnings():
        bus.publish(a)
    bus.publish(Observation(ObservationKind.INCIDENT_REPORT, "cctv-3", T0 + timedelta(minutes=20),
                            {"incident_type": "stopped_vehicle", "status": "raised"},
                            Location(106.87, -6.22, link_id="L7")))
    recent = log.recent()
    assert (log.raised, log.cleared) == (2, 1)
    assert [(r.source, r.severity, r.status) for r in recent] == [
        ("prediction-congestion-warning", "informational", "cleared"),
        ("cctv-3", UNRATED, "raised")]
    assert recent[1].description == "stopped vehicle on Jl. Bekasi Timur"
    assert log.recent() == recent  # nothing new: the same tuple


def test_feed_rows_are_newest_first_with_the_severity_colour():
    warnings = _warnings()
    records = [AlertRecord.from_observation(o) for o in warnings]
    cctv = AlertRecord(T0 + timedelta(minutes=5), "cctv-3", UNRATED, "congestion on L7", "raised")
    rows = alert_feed_rows([records[0], cctv, records[1]])
    assert [r.time for r in rows] == ["07:15:00", "07:05:00", "07:00:00"]
    assert [(r.severity, r.status) for r in rows] == [
        ("informational", "cleared"), (UNRATED, "raised"), ("critical", "raised")]
    assert rows[2].colour == SEVERITY_COLOURS["critical"] != rows[1].colour
    assert rows[2].description.startswith("Congestion expected at loop-a in 30 min")
    assert [r.time for r in alert_feed_rows([records[0], cctv, records[1]], limit=1)] == ["07:15:00"]
    odd = AlertRecord(T0, "x", "severe", "?", "raised")  # not a FIWARE severity
    assert alert_feed_rows([odd])[0].colour == SEVERITY_COLOURS[UNRATED]
    assert alert_feed_rows([]) == []
