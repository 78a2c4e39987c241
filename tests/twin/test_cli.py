"""The ``kota`` command line: help, validate, import, run."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from twin.cli import main
from twin.network import Network

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = sorted((ROOT / "scenarios").glob("*.toml"))


def test_help_lists_every_command(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for command in ("run", "validate", "import"):
        assert command in out
    assert "examples:" in out


def test_console_script_is_installed():
    exe = shutil.which("kota", path=str(Path(sys.executable).parent))
    assert exe, "the kota console script is not installed in this environment"
    done = subprocess.run([exe, "run", "--help"], capture_output=True, text=True, check=True)
    assert "--dashboard" in done.stdout and "--speedup" in done.stdout


# chicago_sketch_day's table has intrazonal trips, which are skipped with a warning
@pytest.mark.filterwarnings("ignore:od_trips. skipped 378 intrazonal pairs")
@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda p: p.name)
def test_every_shipped_scenario_validates(scenario, capsys):
    assert main(["validate", str(scenario)]) == 0
    assert capsys.readouterr().out.startswith("ok")


def test_broken_scenario_fails_with_the_key_named(tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text((ROOT / "scenarios" / "grid_small.toml").read_text()
                   .replace("duration_s = 1800", "duration_s = -1"))
    assert main(["validate", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "bad.toml" in err and "scenario.duration_s" in err


def test_scenario_naming_a_missing_link_fails(tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text((ROOT / "scenarios" / "grid_small.toml").read_text()
                   .replace('link = "r2c2-r2c3"', 'link = "nowhere"'))
    assert main(["validate", str(bad)]) == 1
    assert "no link 'nowhere'" in capsys.readouterr().err


def test_broken_network_file_fails_clearly(tmp_path, capsys):
    broken = tmp_path / "broken.graphml"
    broken.write_text("<graphml><graph><node id='a'>")
    assert main(["import", str(broken), str(tmp_path / "out.npz")]) == 1
    err = capsys.readouterr().err
    assert "broken.graphml" in err


def test_import_writes_a_native_network_that_loads(tmp_path, capsys):
    src = ROOT / "data" / "tntp" / "SiouxFalls" / "SiouxFalls_net.tntp"
    out = tmp_path / "sioux.npz"
    assert main(["import", str(src), str(out)]) == 0
    net = Network.load(out)
    assert (net.n_nodes, net.n_links) == (24, 76)
    assert "wrote" in capsys.readouterr().out


def test_run_json_summary_counts_trips_and_stores_observations(tmp_path, capsys):
    url = f"sqlite:///{tmp_path / 'kota.db'}"
    assert main(["run", str(ROOT / "scenarios" / "grid_small.toml"), "--json",
                 "--store", url]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["scenario"] == "grid-small"
    assert summary["sim_time_s"] == pytest.approx(1800.0)
    assert 0 < summary["trips_completed"] <= summary["trips_total"]
    assert summary["observations_stored"] > 0
    assert summary["observations_duplicate"] == 0
    assert summary["bus_dropped"] == 0


def test_twin_never_imports_the_layers_above_it():
    """DESIGN.md's arrows: twin and core_ext import neither dashboard nor hardware_bridge."""
    import ast

    for package, forbidden in (("twin", ("dashboard", "hardware_bridge")),
                               ("core_ext", ("twin", "dashboard", "hardware_bridge"))):
        for path in (ROOT / package).rglob("*.py"):
            tree = ast.parse(path.read_text(), filename=str(path))
            for node in ast.walk(tree):
                names = []
                if isinstance(node, ast.Import):
                    names = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                for name in names:
                    assert name.split(".")[0] not in forbidden, f"{path}: imports {name}"


def test_dashboard_frontend_is_found_through_its_entry_point():
    from twin.plugins import FRONTENDS, PluginError, load_plugin

    serve = load_plugin(FRONTENDS, "dashboard")
    assert callable(serve) and serve.__module__ == "dashboard.app"
    with pytest.raises(PluginError, match="no 'kota_twin.frontends' plug-in named 'hologram'"):
        load_plugin(FRONTENDS, "hologram")


def test_dashboard_on_a_taken_port_fails_clearly(tmp_path, capsys):
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code = main(["run", str(ROOT / "scenarios" / "grid_small.toml"), "--dashboard",
                     "--port", str(port), "--store", f"sqlite:///{tmp_path / 'k.db'}"])
    assert code == 1
    assert "choose another port with --port" in capsys.readouterr().err.lower()


def test_quarantine_lists_counts_per_source_and_recent_records(tmp_path, capsys):
    from twin.store import open_store

    url = f"sqlite:///{tmp_path / 'q.db'}"
    with open_store(url) as store:
        store.quarantine("det-1", "mqtt: message is not valid JSON", b'{"trunc')
        store.quarantine("det-1", "mqtt: stale message", b"{}")
        store.quarantine("cam-2", "http: bad signature", b"\xff\x00")
    assert main(["quarantine", "--store", url, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["counts"] == {"det-1": 2, "cam-2": 1}
    assert [r["reason"] for r in data["recent"]] == [
        "http: bad signature", "mqtt: stale message", "mqtt: message is not valid JSON"]
    assert data["recent"][0]["raw"] == "\\xff\\x00"
    assert main(["quarantine", "--store", url, "--device", "det-1", "--limit", "1"]) == 0
    out = capsys.readouterr().out
    assert "det-1" in out and "cam-2" not in out and "stale message" in out and "not valid JSON" not in out
