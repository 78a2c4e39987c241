"""KPIs measured on a real store (SQLite and PostgreSQL) filled through the ETLE module's API
and the store's own writers; published scores kept per period for trends."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from tests.modules.enforcement.conftest import SECRET, T0, WIB, speeding
from twin.cli import main
from twin.modules.enforcement import CaseState, sign
from twin.modules.quality import (
    INSUFFICIENT,
    Measurement,
    compute,
    history,
    load_config,
    measure,
    publish,
    publish_months,
    register_query,
    rolling_window,
    unregister_query,
)
from twin.observations import Observation, ObservationKind

DAY_S = 86400.0
DET = {"interval_s": 60.0, "occupancy": 0.1, "mean_speed_mps": 9.0}
END = T0 + timedelta(days=20)


def _pay(enf, case_id: str, ref: str) -> None:
    case = enf.cases.case(case_id)
    body = json.dumps({"payment_ref": ref, "va_number": case.va_number, "amount_idr": case.fine_idr,
                       "paid_at": enf.clock.now.isoformat(), "bank": "BRI"}).encode()
    assert enf.gateway.handle(body, sign(SECRET, body)).status == 200


def fill_etle(enf, registry) -> list[str]:
    """40 captures at T0; verified at T0+2 d; notices at T0+3 d; 30 confirmed, 4 disputed,
    6 silent (ticket and STNK block at H+8); 20 paid at once, 10 never, the 6 silent paid late."""
    enf.ingest([speeding(registry, i, index=i, at=T0) for i in range(40)])
    enf.clock.run(2 * DAY_S)
    ids = sorted(c.case_id for c in enf.queue.list(limit=100))
    assert len(ids) == 40
    for cid in ids:
        enf.queue.verify(cid, "ani")
    enf.workflow.start()
    enf.clock.run(enf.clock.now_s + DAY_S + 1)
    for cid in ids[:30]:
        enf.workflow.confirm(cid)
    for cid in ids[30:34]:
        enf.workflow.dispute(cid, "sold", "sold in 2025")
    for i, cid in enumerate(ids[:20]):
        _pay(enf, cid, f"P-{i}")
    enf.clock.run(16 * DAY_S)                  # past H+15 of every case
    for i, cid in enumerate(ids[34:]):
        assert enf.cases.case(cid).state is CaseState.STNK_BLOCKED
        _pay(enf, cid, f"L-{i}")
    return ids


def test_law_kpis_from_etle_records(store, make_enforcement, registry) -> None:
    enf = make_enforcement()
    fill_etle(enf, registry)
    cfg = load_config()
    window = rolling_window(END, 30)
    m = {q: measure(q, store, "all", window, cfg) for q in (
        "etle.capture_to_verified_median_days", "etle.answered_by_h8_share",
        "etle.paid_by_h15_share", "etle.disputed_or_overturned_share",
        "etle.stnk_unblocked_within_1d_share")}
    got = {q.split(".")[1]: (v.x, v.samples) for q, v in m.items()}
    assert got["capture_to_verified_median_days"] == (2.0, 40)
    assert got["answered_by_h8_share"] == (34 / 40, 40)
    assert got["paid_by_h15_share"] == (20 / 36, 36)
    assert got["disputed_or_overturned_share"] == (4 / 40, 40)
    unblocked = m["etle.stnk_unblocked_within_1d_share"]
    assert (unblocked.x, unblocked.samples) == (1.0, 6)       # too few to publish
    result = compute(store, cfg, window)
    law = next(s for s in result["services"] if s["service"] == "law")
    n = [0.5, 1.0, (20 / 36 - 0.3) / 0.5, 0.0]               # by hand from T/W
    assert [e["n_k"] for e in law["explanations"]] == pytest.approx(n)
    assert law["objective"] == pytest.approx(100 * (n[0] + n[1] + n[2] + 2 * n[3]) / 5)
    assert law["final"] == pytest.approx(25 + 0.75 * law["objective"]) and law["grade"] == "D"
    admin = next(s for s in result["services"] if s["service"] == "administration")
    assert admin["status"] == INSUFFICIENT
    assert "6 samples < 30" in admin["explanations"][1]["note"]
    polda = compute(store, cfg, window, area="metro_jaya")     # ETLE cases carry their Polda
    assert polda["services"][2]["final"] == law["final"]
    assert polda["services"][4]["explanations"][0]["note"].startswith("records carry no area")
    assert compute(store, cfg, window, area="jatim")["services"][2]["status"] == INSUFFICIENT
    before = compute(store, cfg, rolling_window(T0, 30))       # a window before any capture
    assert before["services"][2]["status"] == INSUFFICIENT


def test_sensor_freshness_and_quarantine_share(store) -> None:
    """Two 60 s detectors over 40 minutes; one is silent for 5 minutes once and stops 10
    minutes before the window end: 79 gaps of which 2 are longer than 120 s."""
    t0 = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)
    obs = [Observation(ObservationKind.DETECTOR_INTERVAL, "det-a", t0 + timedelta(minutes=i),
                       {**DET, "count": 3}) for i in range(40)]
    obs += [Observation(ObservationKind.DETECTOR_INTERVAL, "det-b", t0 + timedelta(minutes=i),
                        {**DET, "count": 2}) for i in range(30) if not 10 < i < 15]
    store.add_observations(obs)
    cfg = load_config()
    window = rolling_window(t0 + timedelta(minutes=40), 1)
    fresh = measure("observations.detector_fresh_share", store, "all", window, cfg)
    assert (fresh.samples, fresh.x) == (40 + 26, (40 + 24) / 66)
    for i in range(3):
        store.quarantine("cam-1", "bad json", f"{{{i}")
    now = rolling_window(datetime.now(UTC) + timedelta(minutes=1), 1)
    q = measure("store.quarantine_share", store, "all", now, cfg)
    assert (q.samples, q.x) == (len(obs) + 3, 3 / (len(obs) + 3))


def test_publish_and_history_per_period(store, make_enforcement, registry) -> None:
    """Scores stored per period; publishing the same period again replaces, never doubles."""
    enf = make_enforcement()
    fill_etle(enf, registry)
    cfg = load_config()
    first = compute(store, cfg, rolling_window(END, 30))
    assert publish(store, first) == 7
    assert publish(store, first) == 7
    later = compute(store, cfg, rolling_window(END + timedelta(days=40), 30))
    publish(store, later)
    trend = history(store, service="law")
    assert [r["status"] for r in trend] == ["ok", INSUFFICIENT]
    assert trend[0]["score"] == pytest.approx(next(
        s["final"] for s in first["services"] if s["service"] == "law"))
    assert trend[0]["explanation"]["explanations"][0]["kpi"] == "law.etle_capture_to_verified_median_days"
    assert len(history(store)) == 14


def test_kota_quality_prints_exports_and_publishes(store, store_url, make_enforcement, registry,
                                                   tmp_path, capsys) -> None:
    enf = make_enforcement()
    fill_etle(enf, registry)
    survey = tmp_path / "survey.json"
    survey.write_text(json.dumps({"law": [[4, 3, 3, 4, 2, 3, 4, 4, 3]] * 40}))
    args = ["quality", "--store", store_url, "--end", END.isoformat(), "--survey", str(survey),
            "--export", str(tmp_path / "out"), "--publish"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "security" in out and "insufficient data" in out and "AAI" in out
    law_line = next(line for line in out.splitlines() if line.strip().startswith("law"))
    assert "IKM" in law_line
    doc = json.loads((tmp_path / "out" / "quality_scores.json").read_text())
    assert doc["config"]["index_version"] == "2026.1"
    assert (tmp_path / "out" / "quality_kpis.csv").read_text().count("\n") == 1 + 22
    assert len(history(store, service="law")) == 1
    assert main(["quality", "--store", store_url, "--end", "latest", "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["services"][2]["service"] == "law" and printed["aai"]["status"] == INSUFFICIENT
    assert printed["services"][2]["status"] == "ok"  # latest = the last case change, not capture
    assert main(["quality", "--store", store_url, "--end", "2026-03-01T00:00"]) == 1


def test_calendar_months_history(store, make_enforcement, registry) -> None:
    """March (WIB) holds every capture and is scored; April has none: insufficient data."""
    enf = make_enforcement()
    fill_etle(enf, registry)
    results = publish_months(store, load_config(), T0, T0 + timedelta(days=35), tz=WIB)
    assert [r["window"]["start"] for r in results] == ["2026-03-01T00:00:00+07:00",
                                                       "2026-04-01T00:00:00+07:00"]
    trend = history(store, service="law", period_kind="month")
    assert [r["status"] for r in trend] == ["ok", INSUFFICIENT]
    assert trend[0]["score"] is not None and trend[1]["score"] is None


def test_a_dispatch_source_plugs_in_by_query_id(store) -> None:
    """A query registered under a KPI's id is the one used, and its excluded ghost/prank
    calls are reported, not hidden; on an empty store the real dispatch source measures
    nothing."""
    cfg = load_config()
    window = rolling_window(END, 30)
    fire = "dispatch.fire_response_15min_share"
    assert measure(fire, store, "all", window, cfg).note == "no events in the window"

    def fire_share(_store, _area, _window, _cfg) -> Measurement:
        return Measurement(0.8, 60, ("dispatch_incidents",), excluded={"ghost_or_prank": 7})

    real = unregister_query(fire)
    assert real is not None
    register_query(fire, fire_share)
    try:
        safety = compute(store, cfg, window)["services"][1]
    finally:
        register_query(fire, real)
    exp = safety["explanations"][0]
    assert (exp["x"], exp["n_k"], exp["excluded"]) == (0.8, pytest.approx(0.75), {"ghost_or_prank": 7})
    assert exp["excluded_share"] == pytest.approx(7 / 67)
    assert safety["coverage"] == pytest.approx(2 / 6) and safety["status"] == INSUFFICIENT
    assert measure(fire, store, "all", window, cfg).x is None


def test_alert_latency_from_live_incident_reports(store) -> None:
    """Reports issued 10..49 s before they reach the store: P90 (nearest rank of 40) is the
    36th smallest delay, 45 s, plus the moments the write itself took."""
    now = datetime.now(UTC)
    reports = [Observation(ObservationKind.INCIDENT_REPORT, "warner", now - timedelta(seconds=s),
                           {"incident_type": "congestion", "status": "raised"}) for s in range(10, 50)]
    store.add_observations(reports)
    m = measure("observations.alert_latency_p90_s", store, "all",
                rolling_window(now + timedelta(minutes=5), 1), load_config())
    assert m.samples == 40 and m.x is not None and 45.0 <= m.x < 45.0 + 30.0
