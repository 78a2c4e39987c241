"""The clock: one owner of time, simulated or paced to the wall."""

import time
from datetime import datetime, timedelta, timezone

import pytest

from twin.clock import Clock, ProcessGenerator

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


def test_wake_first_fires_before_the_other_events_of_its_instant():
    """A process waiting on ``wake_first`` acts before processes whose plain timeouts,
    scheduled earlier, fall due at the same instant; later instants keep their order."""
    clock = Clock(START)
    order: list[tuple[float, str]] = []

    def plain(name: str, delay: float) -> ProcessGenerator:
        yield clock.env.timeout(delay)
        order.append((clock.now_s, name))

    def urgent() -> ProcessGenerator:
        yield clock.env.timeout(0)  # scheduled after the plain ones
        yield clock.wake_first(5.0)
        order.append((clock.now_s, "first"))

    clock.process(plain("plain-5", 5.0))
    clock.process(plain("plain-3", 3.0))
    clock.process(urgent())
    clock.run(10.0)
    assert order == [(3.0, "plain-3"), (5.0, "first"), (5.0, "plain-5")]
    with pytest.raises(ValueError, match="delay_s"):
        clock.wake_first(-1.0)
