"""The 112/dispatch KPIs of the quality index, measured on a real store (SQLite and PostgreSQL)
filled by ``kota dispatch``'s own scenario runner, and checked against counts and nearest-rank
fractiles computed independently from the dispatch model's in-memory incidents and calls."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from twin.cli import main
from twin.modules.dispatch import DispatchModel, nearest_rank
from twin.modules.dispatch.incidents import needs
from twin.modules.dispatch.scenario_run import run_scenario
from twin.modules.quality import ALL_AREAS, Window, load_config, measure
from twin.modules.quality.queries import registered
from twin.modules.quality.queries_dispatch import DISPATCH_QUERIES, needs_kind
from twin.scenario import Scenario, load_scenario

DURATION_S = 5400.0
SCENARIO = """
[scenario]
name = "grid-quality-dispatch"
start = "2026-03-02T07:00:00+07:00"
duration_s = {duration:g}
step_s = 1.0
seed = 11

[network]
format = "grid"
grid = {{ rows = 3, cols = 3, block_m = 200.0, lanes = 2 }}

[demand]
kind = "random"
trips_per_hour = 200
profile = "flat"

[modules.dispatch]
seed = 11
hospitals = ["r1c1"]
rates = [
  {{ type = "crash", per_hour = 40.0, serious_share = 0.9 }},
  {{ type = "fire", per_hour = 30.0 }},
  {{ type = "medical", per_hour = 12.0 }},
  {{ type = "flood", per_hour = 10.0 }},
]

[modules.dispatch.calls]
per_incident_mean = 1.5
nuisance_per_hour = 40.0

[[modules.dispatch.call_centre.shifts]]
from_hour = 0
to_hour = 24
count = 5

[[modules.dispatch.stations]]
id = "west"
node = "r0c0"
units = {{ police = 10, ambulance = 14, fire = 12, tow = 10, dishub = 6 }}

[[modules.dispatch.stations]]
id = "east"
node = "r2c2"
units = {{ police = 10, ambulance = 14, fire = 12, tow = 10, dishub = 6 }}
"""


def _scenario(tmp_path: Path) -> Scenario:
    path = tmp_path / "grid_dispatch.toml"
    path.write_text(SCENARIO.format(duration=DURATION_S))
    return load_scenario(path)


@pytest.fixture
def dispatched(store_url: str, tmp_path: Path) -> tuple[DispatchModel, Scenario, str]:
    """The scenario run by the dispatch module's runner into the store at ``store_url``."""
    scenario = _scenario(tmp_path)
    model, _summary = run_scenario(scenario, store_url=store_url)
    return model, scenario, store_url


def _window(scenario: Scenario, end_s: float) -> Window:
    start = scenario.scenario.start
    return Window(start - timedelta(days=1), start + timedelta(seconds=end_s))


def _measure(store_url: str, query_id: str, window: Window, area: str = ALL_AREAS):
    from twin.store import open_store

    with open_store(store_url) as store:
        return measure(query_id, store, area, window, load_config())


# -- independent references from the model's own records -------------------------------------


def _incs(model: DispatchModel, end_s: float, area: str) -> list:
    return [i for i in model.incidents.values() if i.t_ring is not None and i.t_ring < end_s
            and area in (ALL_AREAS, i.area)]


def ref_police_answered(model: DispatchModel, end_s: float, area: str) -> tuple[float, int]:
    calls = [c for c in model.calls if c.kind == "normal" and c.t_ring < end_s
             and "police" in model.incidents[c.incident_id].needs
             and area in (ALL_AREAS, model.incidents[c.incident_id].area)]
    known = [c for c in calls if (c.t_answer is not None and c.t_answer <= end_s)
             or (c.t_abandon is not None and c.t_abandon <= end_s) or c.t_ring + 15 <= end_s]
    hits = [c for c in known if c.t_answer is not None and c.t_answer <= end_s
            and c.t_answer - c.t_ring <= 15]
    return len(hits) / len(known), len(known)


def _arrival(inc, kind: str, end_s: float) -> float | None:
    t = inc.kind_times.get(kind, {}).get("t_onscene")
    return t if t is not None and t <= end_s else None


def ref_p90_min(model: DispatchModel, end_s: float, area: str, kind: str,
                p1_only: bool) -> tuple[float, int, int]:
    incs = [i for i in _incs(model, end_s, area) if kind in i.needs
            and (i.priority == 1 or not p1_only)]
    times = [_arrival(i, kind, end_s) for i in incs]
    vals = [t - i.t_ring for i, t in zip(incs, times, strict=True) if t is not None]
    return nearest_rank(vals, 90) / 60.0, len(vals), len(incs) - len(vals)


def ref_fire_share(model: DispatchModel, end_s: float, area: str) -> tuple[float, int]:
    incs = [i for i in _incs(model, end_s, area) if i.type == "fire"]
    counted = [i for i in incs if _arrival(i, "fire", end_s) is not None or i.t_ring + 900 <= end_s]
    hits = [i for i in counted if (t := _arrival(i, "fire", end_s)) is not None
            and t - i.t_ring <= 900]
    return len(hits) / len(counted), len(counted)


def ref_turnout(model: DispatchModel, end_s: float, area: str) -> tuple[float, int]:
    vals = [t["t_enroute"] - t["t_dispatch"] for i in _incs(model, end_s, area)
            for k, t in i.kind_times.items() if k in ("fire", "ambulance")
            and t["t_dispatch"] <= end_s and t.get("t_enroute", end_s + 1) <= end_s]
    return nearest_rank(vals, 90), len(vals)


def ref_flood_share(model: DispatchModel, end_s: float, area: str) -> tuple[float, int]:
    incs = [i for i in _incs(model, end_s, area) if i.type == "flood"
            and i.t_answer is not None and i.t_answer <= end_s]
    disp = {i.id: i.t_dispatch if i.t_dispatch is not None and i.t_dispatch <= end_s else None
            for i in incs}
    counted = [i for i in incs if disp[i.id] is not None or i.t_answer + 60 <= end_s]
    hits = [i for i in counted if disp[i.id] is not None and disp[i.id] - i.t_answer <= 60]
    return len(hits) / len(counted), len(counted)


# -- tests -----------------------------------------------------------------------------------


def test_rules_of_which_unit_an_incident_needs_match_the_dispatch_module() -> None:
    for typ in ("crash", "breakdown", "fire", "medical", "crime", "flood"):
        for injury in ("none", "minor", "serious"):
            for kind in ("police", "ambulance", "fire", "tow", "dishub"):
                assert needs_kind(typ, injury, kind) == (kind in needs(typ, injury))


def test_every_dispatch_kpi_but_referrals_has_a_source() -> None:
    for query_id in DISPATCH_QUERIES:
        assert registered(query_id) is DISPATCH_QUERIES[query_id]
    assert registered("dispatch.vulnerable_referred_24h_share") is None


@pytest.mark.parametrize("end_s", [DURATION_S, 3000.0])
def test_kpis_match_the_models_own_records(dispatched, end_s: float) -> None:
    """Whole run, and a window ending mid-run (run start + 3000 s in clock time, where
    outcomes not reached by then are censored)."""
    model, scenario, url = dispatched
    window = _window(scenario, end_s)
    for area in (ALL_AREAS, "west", "east"):
        def got(q: str, area: str = area) -> tuple[float | None, int]:
            m = _measure(url, f"dispatch.{q}", window, area)
            return m.x, m.samples

        x, n = ref_police_answered(model, end_s, area)
        assert got("police_calls_answered_15s_share") == (pytest.approx(x), n)
        x, n, miss = ref_p90_min(model, end_s, area, "police", p1_only=True)
        assert got("p1_police_call_to_scene_p90_min") == (pytest.approx(x), n)
        x, n, miss = ref_p90_min(model, end_s, area, "ambulance", p1_only=False)
        ems = _measure(url, "dispatch.ems_call_to_arrival_p90_min", window, area)
        assert (ems.x, ems.samples) == (pytest.approx(x), n)
        assert ems.excluded == ({"not_reached": miss} if miss else {})
        x, n = ref_fire_share(model, end_s, area)
        assert got("fire_response_15min_share") == (pytest.approx(x), n)
        x, n = ref_turnout(model, end_s, area)
        assert got("turnout_p90_s") == (pytest.approx(x), n)
        x, n = ref_flood_share(model, end_s, area)
        assert got("sar_call_processing_60s_share") == (pytest.approx(x), n)
    if end_s == DURATION_S:           # the module's own KPI output agrees
        amb = model.kpis()["services"]["ambulance"]["total_response_s"]
        ems = _measure(url, "dispatch.ems_call_to_arrival_p90_min", window)
        assert (ems.x, ems.samples) == (pytest.approx(amb["p90"] / 60.0), amb["n"])


def test_ghost_and_prank_calls_are_left_out_and_reported(dispatched) -> None:
    model, scenario, url = dispatched
    window = _window(scenario, DURATION_S)
    nuisance = sum(1 for c in model.calls if c.kind in ("ghost", "prank"))
    assert nuisance > 0
    m = _measure(url, "dispatch.police_calls_answered_15s_share", window)
    assert m.excluded == {"ghost_or_prank": nuisance}
    share = f"({nuisance / len(model.calls):.1%})"
    assert f"ghost/prank calls {nuisance} of {len(model.calls)} offered {share}" in m.note
    fire = _measure(url, "dispatch.fire_response_15min_share", window)
    assert share in fire.note and fire.excluded == {}
    west = _measure(url, "dispatch.police_calls_answered_15s_share", window, "west")
    assert west.excluded == {} and "they carry no area" in west.note


def test_a_window_before_the_run_measures_nothing(dispatched) -> None:
    _model, scenario, url = dispatched
    start = scenario.scenario.start
    window = Window(start - timedelta(days=30), start)
    m = _measure(url, "dispatch.police_calls_answered_15s_share", window)
    assert (m.x, m.samples, m.note) == (None, 0, "no events in the window")


def test_runs_of_alternative_layouts_are_not_counted(dispatched) -> None:
    """``kota dispatch --compare`` replays the same day per layout; only ``stations`` counts."""
    from sqlalchemy import update

    from twin.store import open_store
    from twin.store.schema import RunRow

    _model, scenario, url = dispatched
    window = _window(scenario, DURATION_S)
    assert _measure(url, "dispatch.turnout_p90_s", window).samples > 0
    with open_store(url) as store, store.engine.begin() as conn:
        summary = conn.execute(RunRow.__table__.select()).one().summary
        conn.execute(update(RunRow).values(summary={**summary, "layout": "central"}))
    assert _measure(url, "dispatch.turnout_p90_s", window).samples == 0


def test_kota_quality_scores_security_and_safety(dispatched,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    """Security (2 of 4 KPIs, 60 % of the weight) and safety (3 of 4, 83 %) are scored;
    humanitarian says why not: too few floods, and no referral source."""
    model, _scenario, url = dispatched
    assert main(["quality", "--store", url, "--end", "latest"]) == 0
    rows = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()[2:]}
    assert "insufficient" not in rows["security"] and "60%  2/4" in rows["security"]
    assert "insufficient" not in rows["safety"] and "83%  3/4" in rows["safety"]
    assert "insufficient data" in rows["humanitarian"]
    assert main(["quality", "--store", url, "--end", "latest", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    human = {e["kpi"].split(".")[1]: e for e in result["services"][5]["explanations"]}
    floods = ref_flood_share(model, DURATION_S, ALL_AREAS)[1]
    assert 0 < floods < 30
    assert human["sar_call_processing_60s_share"]["note"] == f"{floods} samples < 30"
    assert human["vulnerable_referred_24h_share"]["note"] == "no source yet"
