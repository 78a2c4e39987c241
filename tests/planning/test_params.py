"""Dotted scenario parameters, and sweeps checked before anything runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from twin.planning.params import ParameterError, apply_parameters, check_parameter, parse_value
from twin.planning.sweep_spec import SweepSpec
from twin.scenario import ScenarioError, load_scenario

REPO = Path(__file__).resolve().parents[2]
GRID = REPO / "scenarios" / "grid_small.toml"


def test_a_parameter_changes_only_its_field_and_the_copy_keeps_the_files_folder():
    base = load_scenario(GRID)
    out = apply_parameters(base, {"demand.scale": 1.7, "incidents.0.lanes_blocked": 2})
    assert out.demand.scale == 1.7 and base.demand.scale == 1.0
    assert out.incidents[0].lanes_blocked == 2 and base.incidents[0].lanes_blocked != 2
    assert out.path == base.path and out.sha256 == base.sha256
    assert out.model_dump(exclude={"demand", "incidents"}) == \
        base.model_dump(exclude={"demand", "incidents"})


@pytest.mark.parametrize(("name", "says"), [
    ("demand.scal", "demand has no field 'scal' (its fields: file, kind, od, profile, scale"),
    ("demnd.scale", "the scenario has no field 'demnd'"),
    ("incidents.7.duration_s", "incidents is a list of 1 items; address one by its index 0..0"),
    ("incidents.first.duration_s", "address one by its index"),
    ("demand.scale.x", "demand.scale is a value, not a table"),
    ("path", "the scenario has no field 'path'"),
])
def test_an_unknown_parameter_is_named_with_what_there_is(name, says):
    with pytest.raises(ParameterError, match="unknown parameter") as err:
        check_parameter(load_scenario(GRID), name)
    assert says in str(err.value)


def test_a_value_the_scenario_refuses_is_refused_with_the_fields_message():
    with pytest.raises(ParameterError, match=r"demand.scale: Input should be greater than 0"):
        apply_parameters(load_scenario(GRID), {"demand.scale": -1.0})


def test_command_line_values_are_typed():
    assert [parse_value(v) for v in ("3", "0.5", "true", "False", "morning_peak")] == \
        [3, 0.5, True, False, "morning_peak"]


def test_a_sweep_has_every_combination_once_per_seed_with_stable_keys():
    spec = SweepSpec.build(GRID, {"demand.scale": [0.5, 1.0, 1.5], "incidents.0.lanes_blocked": [1, 2]},
                           replications=3, duration_s=900.0)
    points = spec.points()
    base_seed = load_scenario(GRID).scenario.seed
    assert spec.seeds == (base_seed, base_seed + 1, base_seed + 2)
    assert len(points) == 3 * 2 * 3
    assert len({(tuple(p.params.items()), p.seed) for p in points}) == len(points)
    assert len({p.key for p in points}) == len(points)
    assert [p.key for p in SweepSpec.build(GRID, spec.parameters, replications=3,
                                            duration_s=900.0).points()] == [p.key for p in points]
    other = SweepSpec.build(GRID, spec.parameters, replications=3, duration_s=1200.0).points()
    assert not {p.key for p in other} & {p.key for p in points}  # another duration, other runs
    one = spec.scenario_for(points[4])
    assert one.scenario.seed == points[4].seed and one.scenario.duration_s == 900.0
    assert one.demand.scale == points[4].params["demand.scale"]


@pytest.mark.parametrize(("kwargs", "says"), [
    ({"parameters": {"scenario.seed": [1, 2]}}, "seeds are not a parameter"),
    ({"parameters": {"demand.scale": []}}, "has no values to try"),
    ({"seeds": [1, 2], "replications": 2}, "not both"),
    ({"seeds": [3, 3]}, "seeds repeat"),
    ({"replications": 0}, "at least 1"),
    ({"parameters": {"demand.scale": [1.0, 0.0]}}, "demand.scale: Input should be greater than 0"),
    ({"duration_s": 60.0}, "starts at"),  # the scenario's incident would fall after the end
])
def test_a_broken_sweep_is_refused_before_anything_runs(kwargs, says):
    with pytest.raises(ParameterError, match=says):
        SweepSpec.build(GRID, **kwargs)


def test_a_missing_scenario_file_says_so(tmp_path):
    with pytest.raises(ScenarioError, match="cannot read scenario file"):
        SweepSpec.build(tmp_path / "nope.toml", {"demand.scale": [1.0]})


def test_only_what_the_file_set_is_validated_again_and_unset_sections_can_be_set():
    demo = load_scenario(REPO / "scenarios" / "jakarta_jatinegara.toml")  # an ANPR camera
    out = apply_parameters(demo, {"demand.scale": 0.8, "vehicles.expired_sim_share": 0.2})
    assert out.demand.scale == 0.8 and out.vehicles.expired_sim_share == 0.2
    assert out.cameras == demo.cameras and out.sensors == demo.sensors
