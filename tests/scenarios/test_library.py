"""The scenario library: every file in scenarios/ validates and steps.

Each scenario passes ``kota validate`` and runs its first 300 simulated seconds in the
twin (traffic, sensors, timed actions, live modules), ending with a summary that records
what its timed sections did.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from twin.cli import main
from twin.planning.params import ParameterError, apply_parameters, check_parameter
from twin.planning.run_kpis import run_point
from twin.runner import TwinRun
from twin.scenario import load_scenario

# chicago_sketch_day's table has intrazonal trips, which are skipped with a warning
pytestmark = pytest.mark.filterwarnings("ignore:od_trips. skipped 378 intrazonal pairs")

SCENARIOS = sorted((Path(__file__).resolve().parents[2] / "scenarios").glob("*.toml"))
LIBRARY = ("jakarta_jatinegara", "jakarta_jatinegara_evening", "jakarta_jatinegara_crash",
           "jakarta_jatinegara_roadworks",
           "jakarta_jatinegara_odd_even", "jakarta_jatinegara_cameras",
           "jakarta_jatinegara_ambulance", "jakarta_jatinegara_rain", "jakarta_jatinegara_event",
           "sioux_falls_roadworks", "chicago_sketch_day")


def test_the_library_is_there_and_documented() -> None:
    names = {p.stem for p in SCENARIOS}
    assert set(LIBRARY) <= names
    readme = (SCENARIOS[0].parent / "README.md").read_text()
    for path in SCENARIOS:
        head = path.read_text().split("[scenario]")[0]
        assert f"`{path.name}`" in readme, f"{path.name} is not in scenarios/README.md"
        if path.stem in LIBRARY:
            for part in ("Asks:", "Look at:", "Sweep:"):
                assert part in head, f"{path.name}: its header lacks {part!r}"


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_validates(path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(path)]) == 0, capsys.readouterr().err
    assert "ok" in capsys.readouterr().out


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_steps_300_s(path: Path, tmp_path: Path) -> None:
    scenario = load_scenario(path)
    run = TwinRun(scenario, store_url=f"sqlite:///{tmp_path / 'run.db'}")
    try:
        assert run.advance(300.0) == 300.0
        summary = run.finish()
    finally:
        run.close()
    assert summary["sim_time_s"] == 300.0
    assert summary["trips_active"] + summary["trips_completed"] > 0
    if scenario.odd_even:  # the windows open at the run's start (06:00)
        assert summary["odd_even"][0]["trips_affected"] > 0
    for key in ("conditions", "closures"):
        assert (key in summary) == bool(getattr(scenario, key))
    if scenario.events:
        ev = summary["events"][scenario.events[0].id]
        assert ev["trips"] == scenario.events[0].trips


_PARAM = re.compile(r"\b(?:scenario|demand|incidents|closures|conditions|odd_even|events|"
                    r"cameras|modules)(?:\.\w+)+")


@pytest.mark.parametrize("name", LIBRARY)
def test_the_sweep_knobs_a_file_names_are_parameters(name: str) -> None:
    path = SCENARIOS[0].parent / f"{name}.toml"
    head = path.read_text().split("[scenario]")[0]
    sweep = head.split("Sweep:")[1]
    knobs = {k.replace(".N.", ".0.") for k in _PARAM.findall(sweep)}
    assert knobs, f"{name}: no parameter under Sweep:"
    scenario = load_scenario(path)
    for knob in knobs:
        check_parameter(scenario, knob)


def test_the_odd_even_policy_sweeps_off() -> None:
    scenario = load_scenario(SCENARIOS[0].parent / "jakarta_jatinegara_odd_even.toml")
    off = apply_parameters(scenario, {"odd_even.0.enabled": False})
    assert off.odd_even[0].enabled is False and scenario.odd_even[0].enabled is True
    with pytest.raises(ParameterError, match="speed_factor"):
        apply_parameters(load_scenario(SCENARIOS[0].parent / "jakarta_jatinegara_rain.toml"),
                         {"conditions.0.speed_factor": 1.5})


def test_a_sweep_run_reports_the_trips_the_policy_affected() -> None:
    path = str(SCENARIOS[0].parent / "jakarta_jatinegara_odd_even.toml")
    on = run_point(path, {"odd_even.0.enabled": True}, 1, 300.0)
    off = run_point(path, {"odd_even.0.enabled": False}, 1, 300.0)
    assert on["odd_even_trips_affected"] > 0 and off["odd_even_trips_affected"] == 0
