"""Time-of-day profile: the historical mean per day type, slot of the day and sensor.

The profile is both the historical-average baseline and the reference the forecaster
predicts deviations from. With only a few days of history each slot has a handful of
samples, so the profile can pool ``smoothing_slots`` neighbouring slots on each side.

For training a forecaster on the same rows the profile was built from,
:meth:`TimeOfDayProfile.leave_day_out` gives each row the profile computed *without
that row's own day*: otherwise the target would sit inside its own feature and the
model would learn to trust the profile far more than it deserves out of sample.

Where a (day type, slot) has no sample for a sensor, the value falls back to all day
types at that slot, then to the sensor's overall mean, then NaN (a sensor never seen).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
from numpy.typing import NDArray

from .calendar import RowCalendar

__all__ = ["TimeOfDayProfile"]

FloatArray = NDArray[np.float64]


def _smooth_slots(a: FloatArray, half_width: int) -> FloatArray:
    """Circular box sum over the slot axis (axis -2) of ``half_width`` slots each side."""
    if half_width == 0:
        return a
    out = a.copy()
    for k in range(1, half_width + 1):
        out += np.roll(a, k, axis=-2) + np.roll(a, -k, axis=-2)
    return out


@dataclass(frozen=True)
class TimeOfDayProfile:
    """Mean of a history matrix per day type, slot of the day and sensor.

    Build it with :meth:`fit`. Attributes are the smoothed sums and counts, kept so
    that one day's contribution can be taken out again (:meth:`leave_day_out`).
    """

    calendar: RowCalendar
    smoothing_slots: int
    sums: FloatArray
    """(n_day_types, slots_per_day, n_sensors) smoothed sums."""
    counts: FloatArray
    """Same shape: number of observations behind each sum."""
    day_numbers: NDArray[np.int64]
    """Calendar days present in the fit rows."""
    day_sums: FloatArray
    """(n_days, slots_per_day, n_sensors): each day's own smoothed sums."""
    day_counts: FloatArray

    @classmethod
    def fit(cls, history: FloatArray, calendar: RowCalendar, smoothing_slots: int = 0) -> TimeOfDayProfile:
        """Build the profile from ``history`` (rows 0.. of ``calendar``, NaN = missing).

        Parameters
        ----------
        history : (n_rows, n_sensors) float array
        calendar : RowCalendar, the time of row 0 and the step
        smoothing_slots : int >= 0, neighbouring slots pooled on each side

        Returns
        -------
        TimeOfDayProfile
        """
        x = np.asarray(history, dtype=np.float64)
        if x.ndim != 2:
            raise ValueError(f"history must be (rows, sensors), got shape {x.shape}")
        if smoothing_slots < 0:
            raise ValueError("smoothing_slots must be >= 0")
        rows = np.arange(x.shape[0])
        days = calendar.day_number(rows)
        day_numbers, day_idx = np.unique(days, return_inverse=True)
        slots = calendar.slot_of_day(rows)
        spd = calendar.slots_per_day
        observed = np.isfinite(x)
        day_sums = np.zeros((len(day_numbers), spd, x.shape[1]))
        day_counts = np.zeros_like(day_sums)
        day_sums[day_idx, slots] = np.where(observed, x, 0.0)
        day_counts[day_idx, slots] = observed
        day_sums = _smooth_slots(day_sums, smoothing_slots)
        day_counts = _smooth_slots(day_counts, smoothing_slots)
        # day type of each calendar day (its first row decides; a day has one type)
        first_row = np.searchsorted(days, day_numbers)
        types = calendar.day_type(first_row)
        sums = np.zeros((calendar.n_day_types, spd, x.shape[1]))
        counts = np.zeros_like(sums)
        np.add.at(sums, types, day_sums)
        np.add.at(counts, types, day_counts)
        return cls(calendar, smoothing_slots, sums, counts, day_numbers, day_sums, day_counts)

    @property
    def n_sensors(self) -> int:
        """Number of sensors (columns)."""
        return int(self.sums.shape[2])

    @cached_property
    def table(self) -> FloatArray:
        """The profile (n_day_types, slots_per_day, n_sensors), fallbacks resolved."""
        zero = np.zeros(self.sums.shape[1:])
        s_all, c_all = self.sums.sum(axis=0), self.counts.sum(axis=0)
        return np.stack([self._resolve(self.sums[d], self.counts[d], s_all, c_all, zero, zero)
                         for d in range(self.sums.shape[0])])

    def values(self, rows: NDArray[np.int64]) -> FloatArray:
        """Profile value at each absolute row, (len(rows), n_sensors)."""
        rows = np.asarray(rows, dtype=np.int64)
        return self.table[self.calendar.day_type(rows), self.calendar.slot_of_day(rows)]

    def leave_day_out(self, rows: NDArray[np.int64]) -> FloatArray:
        """Profile at each row without the contribution of that row's own calendar day.

        Rows on days outside the fit data get the plain :meth:`values`.
        """
        rows = np.asarray(rows, dtype=np.int64)
        dtype, slot = self.calendar.day_type(rows), self.calendar.slot_of_day(rows)
        days = self.calendar.day_number(rows)
        pos = np.searchsorted(self.day_numbers, days)
        known = (pos < len(self.day_numbers)) & (self.day_numbers[np.minimum(pos, len(self.day_numbers) - 1)]
                                                 == days)
        pos = np.where(known, pos, 0)
        own_s = np.where(known[:, None], self.day_sums[pos, slot], 0.0)
        own_c = np.where(known[:, None], self.day_counts[pos, slot], 0.0)
        day_tot_s = np.where(known[:, None], self.day_sums.sum(axis=1)[pos], 0.0)
        day_tot_c = np.where(known[:, None], self.day_counts.sum(axis=1)[pos], 0.0)
        return self._resolve(self.sums[dtype, slot] - own_s, self.counts[dtype, slot] - own_c,
                             self.sums.sum(axis=0)[slot] - own_s, self.counts.sum(axis=0)[slot] - own_c,
                             day_tot_s, day_tot_c)

    def _resolve(self, s: FloatArray, c: FloatArray, s_all: FloatArray, c_all: FloatArray,
                 less_s: FloatArray, less_c: FloatArray) -> FloatArray:
        """Mean of the day type, else of all day types, else the sensor mean (minus ``less_*``)."""
        tot_s = self.day_sums.sum(axis=(0, 1)) - less_s
        tot_c = self.day_counts.sum(axis=(0, 1)) - less_c
        with np.errstate(invalid="ignore", divide="ignore"):
            out = np.where(c > 0.5, s / c, np.where(c_all > 0.5, s_all / c_all,
                                                    np.where(tot_c > 0.5, tot_s / tot_c, np.nan)))
        return out
