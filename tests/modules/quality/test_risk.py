"""Violation and incident risk per link and hour, from ETLE records and incident reports."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.modules.enforcement.conftest import T0, WIB, plate_read
from twin.modules.quality.risk import risk_map
from twin.observations import Location, Observation, ObservationKind


def test_violation_hot_spot_by_link_and_hour(store, make_enforcement, registry) -> None:
    """Ten days: L1 sees 3 speeders every day at 07 WIB, L2 one at 22 WIB on two days.
    Mean rate = 32 / (2 links * 24 h * 10 days); L1 07h is the top cell and 'high'."""
    enf = make_enforcement()
    plates = sorted(registry.vehicles)
    reads, n = [], 0
    for day in range(10):
        for k in range(3):
            n += 1
            reads.append(plate_read("cam-speed", n, T0 + timedelta(days=day, minutes=k),
                                    plates[k], speed_mps=25.0, vehicle_class="car"))
    for day in (2, 5):
        n += 1
        obs = plate_read("cam-speed", n, T0 + timedelta(days=day, hours=15), plates[9],
                         speed_mps=25.0, vehicle_class="car")
        reads.append(Observation(obs.kind, obs.source_id, obs.observed_at, obs.payload,
                                 Location(106.9, -6.21, "L2"), event_id=obs.event_id))
    enf.ingest(reads)
    start = T0 - timedelta(hours=7)   # midnight WIB
    rm = risk_map(store, "violation", start, start + timedelta(days=10), tz=WIB)
    assert rm.events == 32 and rm.unplaced == 0
    mean = 32 / (2 * 24 * 10)
    assert rm.mean_rate_per_h == pytest.approx(mean)
    top = rm.cells[0]
    assert (top.link_id, top.hour, top.events, top.level) == ("L1", 7, 30, "high")
    assert top.rate_per_h == pytest.approx((30 + 24 * mean) / (10 + 24))
    l2 = next(c for c in rm.cells if c.link_id == "L2" and c.hour == 22)
    assert l2.events == 2 and l2.risk_ratio == pytest.approx((2 + 24 * mean) / 34 / mean)
    quiet = next(c for c in rm.cells if c.link_id == "L1" and c.hour == 3)
    assert quiet.events == 0 and quiet.level == "normal" and quiet.risk_ratio < 1
    assert len(rm.cells) == 48


def test_incident_risk_skips_clearances_and_counts_unplaced(store) -> None:
    at = T0
    raised = [Observation(ObservationKind.INCIDENT_REPORT, "warner", at + timedelta(days=d),
                          {"incident_type": "congestion", "status": "raised"},
                          Location(106.9, -6.2, "L7")) for d in range(3)]
    cleared = Observation(ObservationKind.INCIDENT_REPORT, "warner", at + timedelta(hours=1),
                          {"incident_type": "congestion", "status": "cleared"}, Location(106.9, -6.2, "L7"))
    nowhere = Observation(ObservationKind.INCIDENT_REPORT, "caller", at, {"incident_type": "crash"})
    store.add_observations([*raised, cleared, nowhere])
    rm = risk_map(store, "incident", at - timedelta(days=1), at + timedelta(days=5), tz=WIB)
    assert (rm.events, rm.unplaced) == (4, 1)
    assert (rm.cells[0].link_id, rm.cells[0].hour, rm.cells[0].events) == ("L7", 7, 3)
    with pytest.raises(ValueError, match="unknown risk kind"):
        risk_map(store, "crime", at, at + timedelta(days=1))  # type: ignore[arg-type]
    assert risk_map(store, "violation", at, at + timedelta(days=1)).cells == []
