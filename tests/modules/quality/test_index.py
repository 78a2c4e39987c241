"""The DOMAIN.md 3.3 arithmetic on hand-computed examples, and the insufficient-data rules."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from twin.modules.quality import (
    INSUFFICIENT,
    SERVICES,
    Measurement,
    Window,
    compute_index,
    config_from_dict,
    load_config,
    normalise,
)
from twin.modules.quality.stats import median, nearest_rank, winsorise

WINDOW = Window(datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 3, 31, tzinfo=UTC))


def law(result):
    return next(s for s in result["services"] if s["service"] == "law")


def law_inputs(**over) -> dict[str, Measurement]:
    values = {"law.etle_capture_to_verified_median_days": Measurement(1.5, 40),  # lower better
              "law.etle_answered_by_h8_share": Measurement(0.70, 50),
              "law.etle_paid_by_h15_share": Measurement(0.90, 45),            # above target
              "law.etle_disputed_or_overturned_share": Measurement(0.04, 50)}  # lower better
    values.update(over)
    return values


def test_normalise_both_directions_and_clipping() -> None:
    assert normalise(0.7, 0.8, 0.4) == pytest.approx(0.75)
    assert normalise(1.5, 1.0, 3.0) == pytest.approx(0.75)   # lower is better: T < W
    assert normalise(5.0, 1.0, 3.0) == 0.0 and normalise(0.2, 1.0, 3.0) == 1.0
    assert normalise(0.95, 0.8, 0.4) == 1.0 and normalise(0.1, 0.8, 0.4) == 0.0


def test_hand_computed_law_score() -> None:
    """n = (0.75, 0.75, 1, 2/3), w = (1, 1, 1, 2): S = 100 * (0.75+0.75+1+4/3)/5 = 76.667,
    PSI = 25 + 0.75 S = 82.5 -> grade B; coverage 1."""
    cfg = load_config()
    svc = law(compute_index(law_inputs(), cfg, WINDOW))
    n = [e["n_k"] for e in svc["explanations"]]
    assert n == pytest.approx([0.75, 0.75, 1.0, 2 / 3])
    assert svc["objective"] == pytest.approx(100 * (0.75 + 0.75 + 1 + 4 / 3) / 5)
    assert svc["psi"] == pytest.approx(82.5) and svc["final"] == pytest.approx(82.5)
    assert (svc["grade"], svc["coverage"], svc["status"], svc["alpha"]) == ("B", 1.0, "ok", 1.0)


def test_ikm_blending_with_alpha() -> None:
    cfg = load_config()
    svc = law(compute_index(law_inputs(), cfg, WINDOW, ikm={"law": 70.0}))
    assert svc["final"] == pytest.approx(0.7 * 82.5 + 0.3 * 70.0)
    assert svc["alpha"] == 0.7 and svc["final"] == pytest.approx(78.75) and svc["grade"] == "B"
    low = law(compute_index(law_inputs(), cfg, WINDOW, ikm={"law": 40.0}))
    assert low["final"] == pytest.approx(69.75) and low["grade"] == "C"  # the survey pulls it down


def test_one_kpi_change_moves_the_score_by_the_formula() -> None:
    """Paid-by-H+15 from 0.55 to 0.65: n moves by 0.1/0.5 = 0.2, weight 1 of 5, so S moves by
    100 * 0.2 / 5 = 4 points and PSI by 0.75 * 4 = 3 points."""
    cfg = load_config()
    before = law(compute_index(law_inputs(**{
        "law.etle_paid_by_h15_share": Measurement(0.55, 45)}), cfg, WINDOW))
    after = law(compute_index(law_inputs(**{
        "law.etle_paid_by_h15_share": Measurement(0.65, 45)}), cfg, WINDOW))
    assert after["objective"] - before["objective"] == pytest.approx(4.0)
    assert after["final"] - before["final"] == pytest.approx(3.0)


def test_fewer_than_30_samples_makes_a_kpi_unavailable() -> None:
    """29 events: the KPI drops out (coverage 4/5 = 0.8, still published from the rest);
    two heavy KPIs missing leave 2/5 < 0.6: insufficient data, no number."""
    cfg = load_config()
    svc = law(compute_index(law_inputs(**{
        "law.etle_answered_by_h8_share": Measurement(0.70, 29)}), cfg, WINDOW))
    exp = next(e for e in svc["explanations"] if e["kpi"] == "law.etle_answered_by_h8_share")
    assert not exp["available"] and exp["n_k"] is None and "29 samples < 30" in exp["note"]
    assert svc["coverage"] == pytest.approx(0.8)
    assert svc["objective"] == pytest.approx(100 * (0.75 + 1 + 4 / 3) / 4)
    thin = law(compute_index(law_inputs(**{
        "law.etle_answered_by_h8_share": Measurement(0.70, 29),
        "law.etle_disputed_or_overturned_share": Measurement(0.04, 10)}), cfg, WINDOW))
    assert thin["coverage"] == pytest.approx(0.4)
    assert thin["status"] == INSUFFICIENT and thin["final"] is None and thin["grade"] is None
    at30 = law(compute_index(law_inputs(**{
        "law.etle_answered_by_h8_share": Measurement(0.70, 30)}), cfg, WINDOW))
    assert at30["coverage"] == 1.0


def test_coverage_boundary_is_inclusive_at_0_6() -> None:
    """Law weights 1,1,1,2: the two KPIs of weight 1 plus the weight-2 one give 0.8; the
    weight-2 KPI with one weight-1 KPI gives exactly 0.6 (published); one less gives 0.4."""
    cfg = load_config()
    inputs = {"law.etle_disputed_or_overturned_share": Measurement(0.04, 50),
              "law.etle_paid_by_h15_share": Measurement(0.90, 45)}
    svc = law(compute_index(inputs, cfg, WINDOW))
    assert svc["coverage"] == pytest.approx(0.6) and svc["status"] == "ok"
    del inputs["law.etle_paid_by_h15_share"]
    assert law(compute_index(inputs, cfg, WINDOW))["status"] == INSUFFICIENT


def test_aai_over_services_and_its_own_coverage() -> None:
    """With weights v_s = 1, the AAI is the mean of the scored finals, and needs >= 0.6 of
    the services scored; the sources existing today score at most law/information."""
    cfg = load_config()
    only_law = compute_index(law_inputs(), cfg, WINDOW)
    assert only_law["aai"]["status"] == INSUFFICIENT and only_law["aai"]["coverage"] == pytest.approx(1 / 6)
    wide = replace(cfg, min_coverage=0.1)
    r = compute_index(law_inputs(), wide, WINDOW)
    assert r["aai"]["aai"] == pytest.approx(82.5) and r["aai"]["grade"] == "B"
    assert [s["service"] for s in r["services"]] == list(SERVICES)


def test_dispatch_kpis_report_no_source_not_a_number() -> None:
    cfg = load_config()
    r = compute_index({}, cfg, WINDOW)
    sec = next(s for s in r["services"] if s["service"] == "security")
    assert sec["status"] == INSUFFICIENT and sec["final"] is None
    assert {e["note"] for e in sec["explanations"]} == {"no source yet"}
    assert all(e["x"] is None for e in sec["explanations"])


def test_explanation_record_has_the_published_fields_and_no_person() -> None:
    cfg = load_config()
    e = law(compute_index(law_inputs(), cfg, WINDOW))["explanations"][0]
    assert {"kpi", "x", "T", "W", "n_k", "w_k", "samples", "window", "query_id",
            "data_sources"} <= set(e)
    assert e["query_id"] == "etle.capture_to_verified_median_days"
    assert e["window"] == {"start": "2026-03-01T00:00:00+00:00", "end": "2026-03-31T00:00:00+00:00",
                           "kind": "rolling"}
    assert not {"officer", "actor", "verified_by", "driver_id"} & set(e)


def test_winsorising_at_p99_and_nearest_rank() -> None:
    values = [float(i) for i in range(1, 201)]  # 1..200
    values[-1] = 1e6                             # one wild outlier
    w = winsorise(values, 99.0)
    assert max(w) == 198.0 and min(w) == 2.0     # ranks ceil(0.99*200)=198, ceil(0.01*200)=2
    assert sum(w) < sum(values) / 10
    assert nearest_rank(list(range(1, 11)), 90) == 9 and nearest_rank([5.0], 90) == 5.0
    assert median([3.0, 1.0, 2.0]) == 2.0 and median([1.0, 2.0, 3.0, 10.0]) == 2.5


def test_config_validation_names_the_problem() -> None:
    base = load_config().to_dict()
    bad = {**base, "kpi": [{**base["kpi"][0], "worst": base["kpi"][0]["target"]}]}
    with pytest.raises(ValueError, match="target and worst must be finite and differ"):
        config_from_dict(bad)
    with pytest.raises(ValueError, match="unknown keys"):
        config_from_dict({**base, "kpi": [{**base["kpi"][0], "wieght": 1}]})
    with pytest.raises(ValueError, match="missing key"):
        config_from_dict({k: v for k, v in base.items() if k != "index_version"})
    assert config_from_dict(base) == load_config()
