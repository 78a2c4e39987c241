"""The city-scale day (``scenarios/chicago_sketch_day.toml``): its weekday profile is the
I-94 data's, its demand is a million trips, and a scaled-down day runs to the end."""

from __future__ import annotations

import csv
import gzip
import io
import math
from collections import defaultdict
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

from benchmarks.city_day import CITY_DAY, scaled, table_trips
from twin.assemble import build_network, build_trips
from twin.runner import TwinRun
from twin.scenario import load_scenario

I94 = Path(__file__).resolve().parents[2] / "data" / "sensors" / "i94" / \
    "Metro_Interstate_Traffic_Volume.csv.gz"

# the table's 123,414 intrazonal trips are skipped, with a warning
pytestmark = pytest.mark.filterwarnings("ignore:od_trips. skipped 378 intrazonal pairs")


def _weekday_hourly_profile() -> list[float]:
    """Mean volume per hour of day over non-holiday weekdays, over the mean of the 24."""
    volumes: dict[int, list[int]] = defaultdict(list)
    with gzip.open(I94, "rb") as raw:
        for row in csv.DictReader(io.TextIOWrapper(raw, encoding="utf-8")):
            when = datetime.fromisoformat(row["date_time"])
            if row["holiday"] == "None" and when.weekday() < 5:
                volumes[when.hour].append(int(row["traffic_volume"]))
    means = [sum(volumes[h]) / len(volumes[h]) for h in range(24)]
    overall = sum(means) / 24
    return [m / overall for m in means]


def test_the_profile_is_the_i94_weekday() -> None:
    profile = load_scenario(CITY_DAY).demand.profile
    assert isinstance(profile, list)
    assert [start for start, _ in profile] == [3600.0 * h for h in range(24)]
    expected = _weekday_hourly_profile()
    assert [w for _, w in profile] == pytest.approx(expected, abs=5e-4)
    assert max(range(24), key=lambda h: expected[h]) in (7, 16)  # a peak hour, morning or evening


def test_the_day_holds_a_million_trips() -> None:
    scenario = load_scenario(CITY_DAY)
    expected = table_trips(scenario) * scenario.demand.scale
    assert expected > 1_010_000  # clear of 1M by > 10 standard deviations of the Poisson draw
    assert scenario.scenario.duration_s == 86400


def test_a_scaled_day_runs_to_the_end(tmp_path: Path) -> None:
    scenario = scaled(load_scenario(CITY_DAY), 3000)
    network = build_network(scenario)
    trips = build_trips(scenario, network, np.random.default_rng(scenario.scenario.seed))
    assert abs(len(trips) - 3000) < 5 * math.sqrt(3000)
    depart_h = np.asarray(trips.depart_s) // 3600
    night, peak = np.isin(depart_h, [1, 2, 3]).sum(), np.isin(depart_h, [7, 16, 17]).sum()
    assert peak > 10 * night  # the profile shapes the day
    run = TwinRun(scenario, store_url=f"sqlite:///{tmp_path / 'day.db'}")
    try:
        summary = run.run(chunk_s=3600.0).summary
    finally:
        run.close()
    assert abs(summary["trips_total"] - 3000) < 5 * math.sqrt(3000)  # its own draw of the trips
    assert summary["trips_completed"] >= 0.98 * summary["trips_total"]
    assert not summary["gridlocked"]
    assert summary["observations_stored"] > 0
