"""Calibration against observed corridor speeds: the data, the corridor map, the objective,
a search that recovers a known parameter, and ``kota calibrate``'s messages."""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pytest

from twin.assemble import build_network
from twin.cli import main
from twin.planning.calibrate import (
    CalibrationProblem,
    ParamRange,
    calibrate,
    corridor_speeds_kmh,
    rmse_kmh,
    serial_runs,
)
from twin.planning.calibrate_cli import parse_range, write_calibrated
from twin.planning.corridor_speeds import (
    CalibrationError,
    CorridorMap,
    corridor_links,
    load_corridor_map,
    load_observed_speeds,
)
from twin.scenario import load_scenario

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

REPO = Path(__file__).resolve().parents[2]
SPEED = REPO / "data" / "jakarta" / "speed"
OBSERVED = SPEED / "jakarta_41_corridor_peak_speed_2023.csv"
MAP = SPEED / "corridor_map.toml"
JATINEGARA = REPO / "scenarios" / "jakarta_jatinegara.toml"
GRID = REPO / "scenarios" / "grid_small.toml"


@pytest.fixture(scope="module")
def observed():
    return load_observed_speeds(OBSERVED)


@pytest.fixture(scope="module")
def jatinegara():
    return build_network(load_scenario(JATINEGARA))


# ---------------------------------------------------------------- the observed data

def test_observed_file_reads_48_corridors_of_12_months_with_decimal_commas(observed):
    assert len(observed) == 48  # the title says 41; the file names 48
    assert all(o.months == 12 for o in observed.values())
    ngurah = observed["I Gusti Ngurah Rai"]
    assert ngurah.mean_kmh == pytest.approx(35.44, abs=0.01)
    assert (ngurah.min_kmh, ngurah.max_kmh) == (34.6, 36.1)
    assert "Tegal Parang" in observed  # the first key was read through the byte-order mark


def test_observed_file_errors_name_the_problem(tmp_path):
    with pytest.raises(CalibrationError, match="not found"):
        load_observed_speeds(tmp_path / "none.csv")
    bad = tmp_path / "bad.csv"
    bad.write_text("periode_data,bulan,nama_jalan,kecepatan\n2023,1,Thamrin,\"cepat\"\n")
    with pytest.raises(CalibrationError, match=r"bad.csv:2: kecepatan 'cepat'"):
        load_observed_speeds(bad)
    bad.write_text("periode_data,bulan,jalan,speed\n2023,1,Thamrin,20\n")
    with pytest.raises(CalibrationError, match="missing column"):
        load_observed_speeds(bad)


# ---------------------------------------------------------------- the corridor map

def test_the_map_puts_its_corridor_on_jl_radjiman(observed, jatinegara):
    mapping = load_corridor_map(MAP)
    links = corridor_links(jatinegara, mapping, observed)
    idx = links["I Gusti Ngurah Rai"]
    assert len(idx) == 31  # 27 + 3 + 1 links, both directions
    assert {jatinegara.link_name[i] for i in idx} == set(mapping[0].streets)
    assert {jatinegara.link_road_class[i] for i in idx} <= {"primary", "tertiary"}
    assert mapping[0].match == "proxy"


def test_no_observed_corridor_is_a_street_of_the_network_as_the_map_says(observed, jatinegara):
    streets = {n.lower() for n in jatinegara.link_name}
    hits = [c for c in observed
            if any(re.search(rf"\b{re.escape(c.lower())}\b", s) for s in streets)]
    assert hits == []


def test_mapping_errors_name_the_corridor_or_street(observed, jatinegara, tmp_path):
    with pytest.raises(CalibrationError, match="unknown corridor 'Jl. Imajiner'"):
        corridor_links(jatinegara, [CorridorMap("Jl. Imajiner", ("Jalan Pengarengan",), "proxy",
                                                "")], observed)
    with pytest.raises(CalibrationError, match=r"no link of the network is named 'Jalan Radjiman'"
                       r" \(similar: Jalan Dokter KRT Radjiman"):
        corridor_links(jatinegara, [CorridorMap("Thamrin", ("Jalan Radjiman",), "proxy", "")],
                       observed)
    bad = tmp_path / "map.toml"
    bad.write_text('[[corridor]]\nobserved = "Thamrin"\nstreets = []\n')
    with pytest.raises(CalibrationError, match=r"corridor.0 \(Thamrin\): needs streets"):
        load_corridor_map(bad)


# ---------------------------------------------------------------- the objective

def _run(speeds, samples):
    return {"window_link_speed_mps": speeds, "window_link_vehicle_samples": samples}


def test_corridor_speed_is_vehicle_weighted_over_links_and_seeds():
    runs = [_run([10.0, 5.0, None], [3, 1, 0]), _run([None, 2.0, 20.0], [0, 4, 9])]
    sim = corridor_speeds_kmh(runs, {"a": np.array([0, 1]), "b": np.array([2])})
    # a: (10*3 + 5*1 + 2*4) / 8 m/s; b: link 2 was driven only in the second run
    assert sim["a"] == pytest.approx(43 / 8 * 3.6)
    assert sim["b"] == pytest.approx(72.0)


def test_rmse_is_over_corridors_and_refuses_an_undriven_corridor():
    assert rmse_kmh({"a": 30.0, "b": 24.0}, {"a": 33.0, "b": 20.0}) == pytest.approx(
        math.sqrt((9 + 16) / 2))
    with pytest.raises(CalibrationError, match="no vehicle drove corridor"):
        rmse_kmh({"a": math.nan}, {"a": 30.0})


# ---------------------------------------------------------------- the search

def test_a_known_speed_limit_factor_is_recovered_on_grid_small():
    network = build_network(load_scenario(GRID))
    rows = np.array([i for i, lid in enumerate(network.link_ids)
                     if lid.split("-")[0][:2] == lid.split("-")[1][:2]])  # east-west
    cols = np.setdiff1d(np.arange(network.n_links), rows)
    links = {"east-west": rows, "north-south": cols}
    truth = {"network.speed_limit_factor": 0.7}
    probe = CalibrationProblem(GRID, {"east-west": 1.0, "north-south": 1.0}, links,
                               (300.0, 900.0), (1, 2), duration_s=900.0)
    runner = serial_runs(probe)
    synthetic = corridor_speeds_kmh(runner([(truth, 1), (truth, 2)]), links)
    problem = CalibrationProblem(GRID, synthetic, links, (300.0, 900.0), (1, 2), duration_s=900.0)
    result = calibrate(problem, [ParamRange("network.speed_limit_factor", 0.4, 1.0)],
                       grid=4, refine=10)
    fitted = result.after.params["network.speed_limit_factor"]
    assert fitted == pytest.approx(0.7, abs=0.05)
    assert result.before.params == {"network.speed_limit_factor": 1.0}
    assert result.before.rmse_kmh > 3.0
    assert result.after.rmse_kmh < 0.5
    assert result.runs == 2 * len(result.history)  # two seeds per point, no point run twice


# ---------------------------------------------------------------- the CLI

def _small_jatinegara(tmp_path: Path) -> Path:
    """The demo scenario without its crash, light demand, its network by absolute path."""
    text = JATINEGARA.read_text(encoding="utf-8").split("[[incidents]]")[0]
    text = text.replace('"../data/', f'"{REPO}/data/').replace("trips_per_hour = 3000",
                                                              "trips_per_hour = 1500")
    path = tmp_path / "jat.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_kota_calibrate_prints_before_after_and_writes_the_calibrated_scenario(tmp_path, capsys):
    scen = _small_jatinegara(tmp_path)
    out = tmp_path / "calibrated.toml"
    argv = ["calibrate", str(scen), "--observed", str(OBSERVED), "--corridors", str(MAP),
            "--param", "network.speed_limit_factor=0.6:1.0", "--grid", "2", "--refine", "0",
            "--seeds", "1,2", "--window-s", "300:600", "--write", str(out), "--check-seeds", "3"]
    assert main(argv) == 0
    text = capsys.readouterr().out
    before = float(re.search(r"RMSE before: ([\d.]+)", text).group(1))
    after = float(re.search(r"RMSE after:  ([\d.]+)", text).group(1))
    assert after <= before
    assert re.search(r"with other seeds \[3\]: before [\d.]+, after [\d.]+ km/h", text)
    assert re.search(r"I Gusti Ngurah Rai\s+proxy\s+35\.4", text)
    assert "cannot match:" in text and "a proxy, not the same road" in text
    fitted = float(re.search(r"fitted: network.speed_limit_factor = ([\d.]+)", text).group(1))
    assert load_scenario(out).network.speed_limit_factor == pytest.approx(fitted)


@pytest.mark.parametrize(("extra", "says"), [
    (["--observed", "/nonexistent/speeds.csv"], "observed speed file not found"),
    (["--corridors", "/nonexistent/map.toml"], "corridor map not found"),
    (["--corridor", "Jl. Imajiner"], "unknown corridor 'Jl. Imajiner': the map has I Gusti Ngurah Rai"),
    (["--param", "demand.scale=2:1"], "need LOW < HIGH"),
    (["--param", "demand.scal=1:2"], "unknown parameter 'demand.scal'"),
])
def test_kota_calibrate_errors_are_messages(extra, says, capsys, tmp_path):
    argv = ["calibrate", str(JATINEGARA), "--write", str(tmp_path / "x.toml"), *extra]
    assert main(argv) == 1
    assert says in capsys.readouterr().err
    assert not (tmp_path / "x.toml").exists()


def test_parse_range_and_write_calibrated(tmp_path):
    assert parse_range("demand.scale=0.5:2") == ParamRange("demand.scale", 0.5, 2.0)
    with pytest.raises(CalibrationError, match="NAME=LOW:HIGH"):
        parse_range("demand.scale=0.5")
    out = write_calibrated(JATINEGARA, tmp_path / "c.toml",
                           {"demand.scale": 1.25, "network.speed_limit_factor": 0.8}, "note")
    scenario = load_scenario(out)
    assert (scenario.demand.scale, scenario.network.speed_limit_factor) == (1.25, 0.8)
    assert out.read_text().startswith("# note\n")
    with pytest.raises(CalibrationError, match="only table.key"):
        write_calibrated(JATINEGARA, tmp_path / "d.toml", {"incidents.0.duration_s": 60}, "")


def test_of_equally_good_fits_the_smallest_change_is_taken():
    """Two parameters, one corridor: speed = 20 * factor + 10 * scale km/h fits 35 km/h on a
    line; of the fits within the tolerance, the one nearest the scenario's (1, 1) is taken."""
    def runs(jobs):
        out = []
        for params, _seed in jobs:
            v = (20 * params["network.speed_limit_factor"] + 10 * params["demand.scale"]) / 3.6
            out.append({"window_link_speed_mps": [v], "window_link_vehicle_samples": [1]})
        return out
    problem = CalibrationProblem(GRID, {"c": 35.0}, {"c": np.array([0])}, (0.0, 60.0), (1, 2))
    ranges = [ParamRange("demand.scale", 0.5, 1.5),
              ParamRange("network.speed_limit_factor", 0.5, 1.5)]
    exact = calibrate(problem, ranges, grid=3, refine=0, run_many=runs)
    assert exact.before.rmse_kmh == pytest.approx(5.0)
    # (0.5, 1.5) and (1.5, 1.0) both fit exactly; the second is the smaller change
    assert exact.after.params == {"demand.scale": 1.5, "network.speed_limit_factor": 1.0}
    assert exact.after.rmse_kmh == pytest.approx(0.0, abs=1e-9)
    loose = calibrate(problem, ranges, grid=3, refine=0, tie_kmh=5.0, run_many=runs)
    assert loose.after.params == {"demand.scale": 1.0, "network.speed_limit_factor": 1.0}


def test_speed_limit_factor_scales_every_link_and_is_bounded():
    from twin.planning.params import ParameterError, apply_parameters

    base = load_scenario(GRID)
    slow = apply_parameters(base, {"network.speed_limit_factor": 0.5})
    np.testing.assert_allclose(build_network(slow).link_speed_limit_mps,
                               build_network(base).link_speed_limit_mps * 0.5)
    with pytest.raises(ParameterError, match="speed_limit_factor"):
        apply_parameters(base, {"network.speed_limit_factor": 2.5})
