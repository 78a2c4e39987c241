"""Early warnings in live mode: METR-LA played through the gate, the fitted forecaster warning ahead.

Short stretches of Tuesday 6 March 2012 afternoon, as fast as possible. Each test fits
the forecaster once (rows 0-1611, about 4 s).
"""

from __future__ import annotations

import argparse
import json
import math
import time
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from hardware_bridge import cli_live
from hardware_bridge.live_mode import open_live
from hardware_bridge.live_sources import metr_la_source
from hardware_bridge.live_warnings import HELD_OUT_START, held_out_start, metr_la_warnings
from hardware_bridge.ngsi_ld import from_entity
from hardware_bridge.replay_sources import MetrLa
from hardware_bridge.sensor_network import metr_la_network
from tests.hardware_bridge.mqtt_setup import listener, registry_of
from twin.modules.prediction.warning_feed import MPS_PER_MPH
from twin.observations import Observation

STEP = timedelta(minutes=5)


@pytest.fixture(scope="module")
def metr_la() -> MetrLa:
    return MetrLa()


def test_live_warnings_are_forecasts_of_intervals_not_yet_played(metr_la) -> None:
    """From 14:00 (inside the fit rows) for 90 min: alerts are raised, only from the first
    held-out reading on; each is issued from readings already played about an interval not
    yet played, and its forecast is the one the fitted model makes from the rows up to its
    issue time alone (no look-ahead)."""
    start = datetime.fromisoformat("2012-03-06T14:00:00-08:00")
    duration_s = 5400.0
    live = open_live(metr_la_source(duration_s, trips_per_hour=3000.0, recording=metr_la,
                                    sensor_network=metr_la_network()),
                     speedup=math.inf, start=start, duration_s=duration_s)
    live.warnings = metr_la_warnings(live.ingest.bus, metr_la, start=start,
                                     event_scope=live.run_id)
    seen: list[tuple[Observation, datetime | None]] = []
    live.ingest.bus.subscribe_callback("incident_report/#",
                                       lambda a: seen.append((a, live.stats.last_time)))
    totals = live.run()

    raised = [a for a, _ in seen if a.payload["status"] == "raised"]
    assert len(raised) >= 1
    assert totals["alerts"]["raised"] == len(raised)
    assert totals["alerts"]["raised"] + totals["alerts"]["cleared"] == len(seen)
    first_held_out = held_out_start(metr_la)
    assert first_held_out == datetime.fromisoformat(HELD_OUT_START)
    forecaster = live.warnings.feed.forecaster
    horizons = forecaster.config.horizons_min
    for alert, played in seen:
        assert alert.observed_at >= first_held_out
        assert played is not None and alert.observed_at <= played
        if alert.payload["status"] != "raised":
            continue  # a clear's validFrom is its episode's
        valid_from = datetime.fromisoformat(alert.payload["validFrom"])
        assert played < valid_from
        assert alert.event_id.startswith(f"{live.run_id}/congestion-warning/")
        row = metr_la.row_of(alert.observed_at)  # the last interval the forecast knew
        col = metr_la.source_ids.index(alert.payload["sensor_id"])
        offline = forecaster.forecast(metr_la.speed_mph[:row + 1], np.array([row]), horizons)
        for k, h in enumerate(horizons):
            online = alert.payload["forecast_speed_mps"][str(h)]
            assert online == pytest.approx(offline[k, 0, col] * MPS_PER_MPH, abs=2e-3)
        assert alert.observed_at + timedelta(minutes=alert.payload["horizon_min"]) == valid_from
    # the alerts reached the twin's view, newest last
    view = live.twin.live.latest()
    assert [r.time for r in view.alerts] == sorted(a.observed_at for a, _ in seen)[-len(view.alerts):]


def test_kota_live_warnings_publish_ngsi_ld_alerts_to_the_broker(metr_la, mosquitto,
                                                                tmp_path: Path, capsys) -> None:
    """``kota live metr-la --warnings --publish-alerts`` for an hour from the default start:
    every alert raised or cleared arrives on info/{kab_kota}/alert/{severity} as an NGSI-LD
    Alert, and the JSON totals count them."""
    registry = registry_of("display-1")
    broker = mosquitto(registry)
    dev = registry.get("display-1")
    assert dev is not None
    client, got = listener(broker, dev.device_id, dev.secret)
    password = tmp_path / "bridge.pw"
    password.write_text(broker.bridge_password)
    parser = argparse.ArgumentParser()
    cli_live.add_parser(parser.add_subparsers())
    args = parser.parse_args([
        "live", "metr-la", "--warnings", "--publish-alerts", "--broker", broker.url,
        "--ca", str(broker.ca.ca_cert), "--password-file", str(password),
        "--kab-kota", "los-angeles", "--speedup", "inf", "--duration", "1h",
        "--trips-per-hour", "3000", "--json"])
    try:
        assert cli_live.run(args) == 0
        totals = json.loads(capsys.readouterr().out)
        alerts = totals["alerts"]
        n = alerts["raised"] + alerts["cleared"]
        deadline = time.monotonic() + 10
        while len(got) < n and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        client.disconnect()
        client.loop_stop()
    assert totals["first_time"] == HELD_OUT_START
    assert alerts["raised"] >= 1 and alerts["published"] == n == len(got)
    for topic, payload in got:
        entity = json.loads(payload)
        assert entity["type"] == "Alert" and entity["category"]["value"] == "traffic"
        assert topic == f"info/los-angeles/alert/{entity['severity']['value']}"
        obs = from_entity(entity)
        assert obs.payload["basis"] == "forecast"
        assert obs.observed_at < datetime.fromisoformat(obs.payload["validFrom"]) \
            or obs.payload["status"] == "cleared"


@pytest.mark.parametrize(("argv", "message"), [
    (["metr-la", "--publish-alerts"], "give --warnings"),
    (["mqtt", "--warnings", "--scenario", "s.toml", "--registry", "r.toml"], "only for kota live metr-la"),
    (["metr-la", "--ca", "ca.pem"], "only for kota live mqtt"),
])
def test_warning_options_are_checked(argv: list[str], message: str) -> None:
    parser = argparse.ArgumentParser()
    cli_live.add_parser(parser.add_subparsers())
    with pytest.raises(ValueError, match=message):
        cli_live.run(parser.parse_args(["live", *argv]))
