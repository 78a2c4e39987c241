"""Live mode: the METR-LA replay through the gate drives the mirrored twin on one clock.

Short stretches of 1 March 2012 from 07:05 (the morning peak), as fast as
possible unless the test is about pacing; the command line through
``hardware_bridge.cli_live.add_parser/run``, and in a child process for the
dashboard and Ctrl-C.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from hardware_bridge import cli_live, commands
from hardware_bridge.live_mode import LiveReplay, open_live
from hardware_bridge.live_sources import LiveSource, metr_la_source
from hardware_bridge.replay_sources import MetrLa
from hardware_bridge.sensor_network import SensorNetwork, metr_la_network
from twin.observations import Observation
from twin.store import open_store

REPO = Path(__file__).resolve().parents[2]
START = timedelta(hours=7)  # the first reading played is observed at 07:05
HALF_HOUR_S = 1800.0
READINGS_PER_TICK = 207


@pytest.fixture(scope="module")
def metr_la() -> MetrLa:
    return MetrLa()


@pytest.fixture(scope="module")
def la_network() -> SensorNetwork:
    return metr_la_network()


def _source(metr_la: MetrLa, la_network: SensorNetwork, duration_s: float = HALF_HOUR_S
            ) -> LiveSource:
    return metr_la_source(duration_s, recording=metr_la, sensor_network=la_network)


# ----------------------------------------------------------------------- the twin follows


def test_mirrored_twin_follows_the_replay_far_closer_than_unmirrored(metr_la, la_network) -> None:
    """Half an hour of the morning peak: the running one-step-ahead error of the twin against
    the readings it is about to take is under half of the unmirrored twin's."""
    runs = {}
    for mirror in (False, True):
        live = open_live(_source(metr_la, la_network), mirror=mirror, speedup=math.inf,
                         start=START, duration_s=HALF_HOUR_S)
        runs[mirror] = live.run()
    base, mirrored = runs[False], runs[True]
    for totals in (base, mirrored):
        assert totals["ticks"] == 7  # 07:05 .. 07:35
        assert totals["observations"]["accepted"] == 7 * READINGS_PER_TICK
        assert totals["observations"]["taken_by_twin"] == 7 * READINGS_PER_TICK
        assert totals["score"]["comparisons"] == 4 * READINGS_PER_TICK  # 07:20 .. 07:35 scored
        assert totals["sim_time_s"] == HALF_HOUR_S and not totals["stopped"]
    assert base["mirror"] is None
    assert mirrored["mirror"]["assimilated"] == 7 * READINGS_PER_TICK
    assert base["score"]["mae_mps"] > 4.0  # drivers at the 65 mph limit, readings far below
    assert mirrored["score"]["mae_mps"] < 0.5 * base["score"]["mae_mps"]


def test_score_without_warmup_is_the_mirrors_own_innovation(metr_la, la_network) -> None:
    """The running score measures what the mirror nudges by: with no warm-up, its comparisons
    and mean error equal the mirror's innovations."""
    live = open_live(_source(metr_la, la_network), warmup_s=0.0, speedup=0.0, start=START,
                     duration_s=HALF_HOUR_S)
    totals = live.run()
    mirror = live.twin.mirror
    assert mirror is not None
    assert totals["score"]["comparisons"] == mirror.stats.innovations == 6 * READINGS_PER_TICK
    assert live.twin.score.mae_mps == pytest.approx(mirror.stats.mean_abs_innovation_mps)


# ----------------------------------------------------------------------- one clock


def test_simulated_time_is_recording_time_at_every_assimilation(metr_la, la_network) -> None:
    """Paced: the simulation runs along the wall clock between readings, and stands at exactly
    the readings' recording time (since the first) whenever the twin takes them."""
    taken: list[tuple[float, datetime, list[Observation]]] = []
    between: list[float] = []
    live = open_live(_source(metr_la, la_network), speedup=3000.0, start=START,
                     duration_s=HALF_HOUR_S,
                     on_assimilate=lambda t, tick, batch: taken.append((t, tick, batch)),
                     progress=lambda lr: between.append(lr.twin.sim.time_s))
    totals = live.run()
    first = taken[0][1]
    assert first.isoformat() == "2012-03-01T07:05:00-08:00"
    assert [t for t, _, _ in taken] == [300.0 * k for k in range(7)]
    for sim_time_s, tick, batch in taken:
        assert sim_time_s == (tick - first).total_seconds()
        assert len(batch) == READINGS_PER_TICK
        assert {o.observed_at for o in batch} == {tick}
    assert totals["clock_skew_max_s"] == 0.0
    # the twin ran between the readings too, not only in jumps at each one
    assert any(t % 300.0 > 1.0 for t in between)
    # paced: half an hour at 3000x takes at least 0.6 wall seconds (the replay waits)
    assert totals["wall_s"] >= 0.9 * HALF_HOUR_S / 3000.0


def test_stop_from_another_thread_ends_the_run_cleanly(metr_la, la_network) -> None:
    """A paced run (one recorded minute per wall second) stopped after its first readings
    ends promptly, with its totals so far and the final view marked finished."""
    first_taken = threading.Event()
    live = open_live(_source(metr_la, la_network, 3600.0), speedup=60.0, start=START,
                     duration_s=3600.0, on_assimilate=lambda *_: first_taken.set())
    result: dict[str, dict] = {}
    worker = threading.Thread(target=lambda: result.update(totals=live.run()), daemon=True)
    worker.start()
    assert first_taken.wait(60)
    time.sleep(0.3)
    live.stop()
    worker.join(timeout=5)
    assert not worker.is_alive()
    totals = result["totals"]
    assert totals["stopped"] is True
    assert totals["ticks"] >= 1 and totals["sim_time_s"] < 3600.0
    assert live.twin.live.latest().finished


# ----------------------------------------------------------------------- the command line


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="kota")
    cli_live.add_parser(p.add_subparsers(dest="command"))
    return p


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict]:
    status = cli_live.run(_parser().parse_args(["live", *argv]))
    return status, json.loads(capsys.readouterr().out)


def test_json_totals_and_a_store_run_twice_mirrors_twice(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--json prints the totals; with --store each live run stores its readings under its own
    run, so running the same window again is mirrored again, not refused as duplicates."""
    url = f"sqlite:///{tmp_path / 'kota.db'}"
    argv = ("metr-la", "--start", "7h", "--duration", "30m", "--speedup", "0", "--json",
            "--store", url)
    runs = [_run(capsys, *argv), _run(capsys, *argv)]
    for status, totals in runs:
        assert status == 0
        assert totals["source"] == "metr-la" and totals["mirrored"] and totals["stored"]
        assert totals["first_time"] == "2012-03-01T07:05:00-08:00"
        assert totals["last_time"] == "2012-03-01T07:35:00-08:00"
        assert totals["observations"]["accepted"] == 7 * READINGS_PER_TICK
        assert totals["observations"]["duplicates"] == 0
        assert totals["mirror"]["assimilated"] == 7 * READINGS_PER_TICK
        assert totals["score"]["comparisons"] == 4 * READINGS_PER_TICK
        assert 0 < totals["score"]["mae_mph"] < 8.0
        assert totals["clock_skew_max_s"] == 0.0
    with open_store(url) as store:
        assert store.count_observations() == 2 * 7 * READINGS_PER_TICK
        stored = {r.run_id: r for r in store.runs()}
        assert set(stored) == {totals["run_id"] for _, totals in runs}
        assert {r.status for r in stored.values()} == {"finished"}


def test_no_mirror_is_the_baseline_and_bad_options_are_refused(
        capsys: pytest.CaptureFixture[str]) -> None:
    status, totals = _run(capsys, "metr-la", "--start", "7h", "--duration", "20m",
                          "--speedup", "inf", "--no-mirror", "--json")
    assert status == 0 and totals["mirror"] is None and not totals["mirrored"]
    assert totals["score"]["mae_mph"] > 9.0  # 65 mph drivers against the morning peak
    for bad in (["--duration", "2012-03-01T08:00"], ["--duration", "0"], ["--speedup", "-1"]):
        with pytest.raises(ValueError):
            cli_live.run(_parser().parse_args(["live", "metr-la", *bad]))


def test_live_is_a_lazy_kota_command() -> None:
    """``kota live`` is registered like the bridge's other commands (entry point ``live``)."""
    assert commands.live.module_name == "hardware_bridge.cli_live"
    assert "live" in commands.__all__
    text = (REPO / "pyproject.toml").read_text(encoding="utf-8")
    assert 'live = "hardware_bridge.commands:live"' in text


# ----------------------------------------------------------------------- child processes

_CHILD = (
    "import argparse, signal, sys\n"
    # a shell gives its foreground job the default Ctrl-C; a background test runner may not
    "signal.signal(signal.SIGINT, signal.default_int_handler)\n"
    "from hardware_bridge import cli_live\n"
    "p = argparse.ArgumentParser(prog='kota')\n"
    "cli_live.add_parser(p.add_subparsers(dest='command'))\n"
    "sys.exit(cli_live.run(p.parse_args(['live', *sys.argv[1:]])))\n"
)


def _child(*argv: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-c", _CHILD, *argv], cwd=REPO, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env={**os.environ, "PYTHONPATH": str(REPO)})


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(url: str) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.status, response.read().decode("utf-8")


def test_dashboard_serves_the_mirrored_twin_and_ctrl_c_ends_it() -> None:
    """--dashboard: the page answers over HTTP while the twin runs; Ctrl-C stops both, exit 0,
    and the totals so far are printed."""
    port = _free_port()
    proc = _child("metr-la", "--start", "7h", "--duration", "2h", "--speedup", "120",
                  "--dashboard", "--port", str(port), "--json")
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                status, page = _get(f"http://127.0.0.1:{port}/")
                break
            except OSError:
                assert proc.poll() is None, proc.communicate()
                assert time.monotonic() < deadline, "the dashboard never answered"
                time.sleep(0.5)
        assert status == 200 and "<html" in page.lower()
        status, layout = _get(f"http://127.0.0.1:{port}/_dash-layout")
        assert status == 200 and "Kota Twin" in layout
        time.sleep(1.0)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    totals = json.loads(out)
    assert totals["stopped"] is True and totals["sim_time_s"] < 7200.0
    assert totals["observations"]["taken_by_twin"] >= READINGS_PER_TICK
    assert f"dashboard on http://127.0.0.1:{port}/" in err


def test_ctrl_c_without_the_dashboard_exits_130_with_the_totals() -> None:
    proc = _child("metr-la", "--start", "7h", "--duration", "2h", "--speedup", "60")
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()  # the first status line: the first readings are taken
        assert line.startswith("metr-la 2012-03-01 07:05"), line
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130
    assert "stopped early     yes" in out
    assert "metr-la (run live-metr-la-" in out


def test_live_replay_refuses_a_duration_that_is_not_positive(metr_la, la_network) -> None:
    live = open_live(_source(metr_la, la_network), speedup=0.0, start=START,
                     duration_s=HALF_HOUR_S)
    with pytest.raises(ValueError, match="duration"):
        LiveReplay(live.twin, live.ingest, duration_s=0.0)
