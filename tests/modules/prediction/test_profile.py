"""Calendar and time-of-day profile against plain-loop references on small random data."""

from __future__ import annotations

import numpy as np
import pytest

from twin.modules.prediction.calendar import DAY_TYPE_WEEKDAY, DAY_TYPE_WEEKEND, RowCalendar
from twin.modules.prediction.profile import TimeOfDayProfile

CAL = RowCalendar(np.datetime64("2012-03-01T00:00"))  # a Thursday


def test_calendar_of_the_metr_la_week() -> None:
    rows = np.array([0, 287, 288, 576, 864, 1151, 1152, 1611, 2015])
    assert CAL.slot_of_day(rows).tolist() == [0, 287, 0, 0, 0, 287, 0, 171, 287]
    # Thu, Thu, Fri, Sat, Sun, Sun, Mon, Tue, Wed
    w, e = DAY_TYPE_WEEKDAY, DAY_TYPE_WEEKEND
    assert CAL.day_type(rows).tolist() == [w, w, w, e, e, e, w, w, w]
    assert RowCalendar(np.datetime64("2012-03-01T00:00"), split_weekend=False).day_type(rows).max() == 0
    with pytest.raises(ValueError, match="not aligned"):
        RowCalendar(np.datetime64("2012-03-01T00:01"))
    with pytest.raises(ValueError, match="divide a day"):
        RowCalendar(np.datetime64("2012-03-01T00:00"), step_s=7)


def _naive(x: np.ndarray, cal: RowCalendar, w: int, rows: np.ndarray, skip_own_day: bool) -> np.ndarray:
    """Mean over the fit rows of the same day type within w slots (circularly), per sensor.

    Where that has no observation: the same over all day types, then the sensor's mean.
    """
    spd = cal.slots_per_day
    fit_rows = np.arange(x.shape[0])
    dtype, day, slot = cal.day_type(fit_rows), cal.day_number(fit_rows), cal.slot_of_day(fit_rows)
    out = np.full((len(rows), x.shape[1]), np.nan)
    for k, r in enumerate(rows):
        r_type, r_day, r_slot = (f(np.array([r]))[0] for f in (cal.day_type, cal.day_number, cal.slot_of_day))
        usable = ~(skip_own_day & (day == r_day))
        near = np.minimum((slot - r_slot) % spd, (r_slot - slot) % spd) <= w
        for i in range(x.shape[1]):
            for sel in (usable & near & (dtype == r_type), usable & near, usable):
                vals = x[sel, i]
                if np.isfinite(vals).any():
                    out[k, i] = np.nanmean(vals)
                    break
    return out


@pytest.mark.parametrize("w", [0, 2])
def test_profile_and_leave_day_out_match_a_plain_loop(w: int) -> None:
    cal = RowCalendar(np.datetime64("2012-03-01T00:00"), step_s=3600)  # 24 slots a day
    rng = np.random.default_rng(w)
    x = rng.uniform(20, 70, size=(24 * 9, 3))  # Thu .. Fri of the next week
    x[rng.random(x.shape) < 0.1] = np.nan
    prof = TimeOfDayProfile.fit(x, cal, smoothing_slots=w)
    rows = np.arange(0, 24 * 11, 5)  # includes rows after the fit data
    np.testing.assert_allclose(prof.values(rows), _naive(x, cal, w, rows, False), rtol=1e-12)
    fit_rows = np.arange(0, x.shape[0], 3)
    np.testing.assert_allclose(prof.leave_day_out(fit_rows), _naive(x, cal, w, fit_rows, True), rtol=1e-12)


def test_neighbour_sets_of_a_directed_graph() -> None:
    """DCRNN's graph is directed: 'both' symmetrises it, 'split' keeps rows and columns apart."""
    from twin.modules.prediction.features import neighbour_deviations, neighbour_tables

    a = np.array([[1.0, 0.5, 0.0], [0.0, 1.0, 0.2], [0.0, 0.0, 1.0]])  # 0 -> 1 -> 2
    dev = np.array([[1.0, 2.0, 4.0]])
    fresh = np.ones_like(dev, dtype=bool)
    (both,) = neighbour_tables(a, 3, "both")
    np.testing.assert_allclose(neighbour_deviations(dev, fresh, both), [[2.0, (0.5 + 0.8) / 0.7, 2.0]])
    down, up = neighbour_tables(a, 3, "split")
    np.testing.assert_allclose(neighbour_deviations(dev, fresh, down), [[2.0, 4.0, 0.0]])
    np.testing.assert_allclose(neighbour_deviations(dev, fresh, up), [[0.0, 1.0, 2.0]])
    assert len(neighbour_tables(np.maximum(a, a.T), 3, "split")) == 1  # symmetric: one set
    stale = np.array([[True, True, False]])  # a stale neighbour is left out of the mean
    np.testing.assert_allclose(neighbour_deviations(np.array([[1.0, 2.0, 0.0]]), stale, both)[0, 1], 1.0)
