"""The clock: one owner of time, simulated or paced to the wall."""

import time
from datetime import datetime, timedelta, timezone

import pytest

from twin.clock import Clock

WIB = timezone(timedelta(hours=7))
START = datetime(2026, 3, 2, 7, 0, tzinfo=WIB)


def ticker(env, log, every_s):
    while True:
        yield env.timeout(every_s)
        log.append(env.now)


def test_simulated_clock_runs_processes_and_maps_to_datetimes():
    clock = Clock(START)
    log = []
    clock.process(ticker(clock.env, log, 10))
    clock.run(until_s=35)
    assert log == [10, 20, 30]
    assert clock.now_s == 35
    assert clock.now == START + timedelta(seconds=35)


def test_naive_start_and_bad_speedup_are_rejected():
    with pytest.raises(ValueError, match="timezone"):
        Clock(datetime(2026, 3, 2, 7, 0))
    with pytest.raises(ValueError, match="speedup"):
        Clock(START, realtime=True, speedup=0)


def test_realtime_clock_is_paced_to_the_wall():
    clock = Clock(START, realtime=True, speedup=20.0)  # 20 simulated s per wall s
    log = []
    clock.process(ticker(clock.env, log, 1))
    t0 = time.monotonic()
    clock.run(until_s=4)
    wall = time.monotonic() - t0
    assert log == [1, 2, 3]
    assert wall >= 4 / 20.0 * 0.9  # it waited for the wall clock instead of racing
