"""Scenario files: validated on load, errors that name the offending key."""

import textwrap

import pytest

from twin.network import Network
from twin.scenario import ScenarioError, check_against_network, load_scenario

GOOD = """
[scenario]
name = "t"
start = "2026-03-02T07:00:00+07:00"
duration_s = 600
seed = 7

[network]
format = "grid"
grid = { rows = 3, cols = 3 }

[demand]
kind = "random"
trips_per_hour = 100

[[sensors.loop_detectors]]
id = "d1"
link = "ab"
pos_m = 50

[[incidents]]
id = "crash-1"
type = "crash"
link = "ab"
start_s = 60
duration_s = 120
"""


def _write(tmp_path, text, name="s.toml"):
    p = tmp_path / name
    p.write_text(textwrap.dedent(text))
    return p


def _network():
    return Network.from_arrays(
        name="n", node_ids=["a", "b"], node_lon=[106.90, 106.91], node_lat=[-6.2, -6.2],
        link_ids=["ab", "ba"], link_from=[0, 1], link_to=[1, 0], link_length_m=[100, 100],
        link_lanes=[1, 1], link_speed_limit_mps=[10, 10], link_capacity_vph=[1800, 1800],
    )


def test_good_scenario_loads_with_defaults_and_hash(tmp_path):
    s = load_scenario(_write(tmp_path, GOOD))
    assert s.scenario.name == "t" and s.scenario.step_s == 1.0 and s.scenario.seed == 7
    assert s.network.grid.rows == 3 and s.network.grid.signals is True
    assert s.sensors.interval_s == 60.0
    assert s.store.url.startswith("sqlite:///")
    assert len(s.sha256) == 64
    assert s.resolve("x.graphml") == (tmp_path / "x.graphml").resolve()
    check_against_network(s, _network())


@pytest.mark.parametrize(
    ("old", "new", "fragment"),
    [
        ("duration_s = 600", "duration_s = -5", "scenario.duration_s"),
        ("duration_s = 600", "duration_s = 600\nspeed = 3", "scenario.speed: unknown key"),
        ('start = "2026-03-02T07:00:00+07:00"', 'start = "2026-03-02T07:00:00"', "UTC offset"),
        ("trips_per_hour = 100", "", "needs trips_per_hour"),
        ('kind = "random"', 'kind = "teleport"', "demand.kind"),
        ('format = "grid"', 'format = "osm"', "network.format"),
        ("start_s = 60", "start_s = 6000", "after the run ends"),
        ('id = "crash-1"', 'id = "d1"\n[[incidents]]\nid = "d1"\ntype = "fire"\nlink = "ab"\n'
         'start_s = 1\nduration_s = 1\n[[x]]', "unknown key"),
    ],
)
def test_invalid_values_name_the_key(tmp_path, old, new, fragment):
    assert old in GOOD
    with pytest.raises(ScenarioError, match=fragment):
        load_scenario(_write(tmp_path, GOOD.replace(old, new, 1)))


def test_duplicate_ids_are_rejected(tmp_path):
    text = GOOD + '\n[[incidents]]\nid = "crash-1"\ntype = "fire"\nlink = "ab"\nstart_s = 1\nduration_s = 5\n'
    with pytest.raises(ScenarioError, match="duplicate id 'crash-1'"):
        load_scenario(_write(tmp_path, text))


def test_broken_toml_names_file_and_line(tmp_path):
    path = _write(tmp_path, GOOD.replace("seed = 7", "seed = = 7"))
    with pytest.raises(ScenarioError, match=r"s\.toml: not valid TOML.*line 6"):
        load_scenario(path)


def test_missing_file_is_a_scenario_error(tmp_path):
    with pytest.raises(ScenarioError, match="cannot read"):
        load_scenario(tmp_path / "nope.toml")


def test_ids_are_checked_against_the_network(tmp_path):
    s = load_scenario(_write(tmp_path, GOOD.replace('link = "ab"\npos_m = 50', 'link = "zz"')))
    with pytest.raises(ScenarioError, match=r"sensors\.loop_detectors\.0\.link: no link 'zz'"):
        check_against_network(s, _network())
    s = load_scenario(_write(tmp_path, GOOD.replace("pos_m = 50", "pos_m = 500")))
    with pytest.raises(ScenarioError, match="beyond the end"):
        check_against_network(s, _network())
    blocked = GOOD.replace("duration_s = 120", "duration_s = 120\nlanes_blocked = 3")
    s = load_scenario(_write(tmp_path, blocked))
    with pytest.raises(ScenarioError, match="has only 1 lane"):
        check_against_network(s, _network())


def test_a_day_outside_monday_to_sunday_is_refused_where_rules_name_days():
    """The odd-even rule of ETLE and of a scenario's policy take days the same way."""
    from pydantic import BaseModel, ValidationError

    from twin.weekdays import Weekdays

    class Rule(BaseModel):
        weekdays: Weekdays

    assert Rule(weekdays=[0, 6]).weekdays == [0, 6]
    with pytest.raises(ValidationError, match=r"weekdays are 0 \(Monday\) to 6 \(Sunday\)"):
        Rule(weekdays=[7])
