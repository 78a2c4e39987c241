"""Exported scores recompute exactly from the export alone; a tampered export is refused."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from twin.modules.quality import (
    Measurement,
    Window,
    compute_index,
    load_config,
    recompute,
    recompute_csv,
    write_export,
)

WINDOWS = [Window(datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC), "month"),
           Window(datetime(2026, 4, 1, tzinfo=UTC), datetime(2026, 5, 1, tzinfo=UTC), "month")]


def results():
    cfg = load_config()
    a = {"law.etle_capture_to_verified_median_days": Measurement(1.37, 41, ("etle_cases",)),
         "law.etle_answered_by_h8_share": Measurement(2 / 3, 51),
         "law.etle_paid_by_h15_share": Measurement(0.123456789012345, 45),
         "law.etle_disputed_or_overturned_share": Measurement(0.07, 29),
         "information.sensor_fresh_share": Measurement(0.91, 1200),
         "information.alert_latency_p90_s": Measurement(95.5, 31),
         "information.ingest_quarantine_share": Measurement(0.02, 5000)}
    b = {k: Measurement(m.x * 0.9 if m.x else None, m.samples) for k, m in a.items()}
    return cfg, [compute_index(a, cfg, WINDOWS[0], ikm={"law": 71.3}), compute_index(b, cfg, WINDOWS[1])]


def scores(result):
    return ([(s["service"], s["objective"], s["coverage"], s["psi"], s["final"], s["grade"],
              s["status"], [e["n_k"] for e in s["explanations"]]) for s in result["services"]],
            result["aai"])


def test_json_and_csv_exports_recompute_exactly(tmp_path) -> None:
    cfg, published = results()
    paths = write_export(tmp_path, published, cfg)
    doc = json.loads(paths["json"].read_text())
    assert doc["config"]["index_version"] == cfg.index_version == "2026.1"
    again = recompute(doc)
    assert [scores(r) for r in again] == [scores(r) for r in published]  # exact, not approx
    from_csv = recompute_csv(paths["csv"], paths["config"])
    assert [scores(r) for r in from_csv] == [scores(r) for r in published]
    law = next(s for s in published[0]["services"] if s["service"] == "law")
    assert law["status"] == "ok" and law["ikm"] == 71.3 and law["final"] is not None


def test_a_tampered_export_is_refused_and_a_changed_value_changes_the_score(tmp_path) -> None:
    cfg, published = results()
    doc = json.loads(write_export(tmp_path, published, cfg)["json"].read_text())
    doc["results"][0]["services"][2]["explanations"][0]["T"] = 2.0
    with pytest.raises(ValueError, match="differ from the config"):
        recompute(doc)
    doc["results"][0]["services"][2]["explanations"][0]["T"] = 1.0
    doc["results"][0]["services"][2]["explanations"][2]["x"] = 0.8  # paid share to the target
    law = recompute(doc)[0]["services"][2]
    assert law["service"] == "law"
    assert law["final"] != published[0]["services"][2]["final"]
