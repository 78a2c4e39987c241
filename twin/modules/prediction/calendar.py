"""Which time of day and which kind of day each row of a sensor history falls on.

A history matrix has one row per fixed step (5 minutes for METR-LA) starting at a
known local time. :class:`RowCalendar` maps absolute row indices to the slot of the
day (0 .. slots_per_day - 1), the day number and the day type (weekday or weekend),
which is all the time-of-day profile needs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

__all__ = ["DAY_TYPE_WEEKDAY", "DAY_TYPE_WEEKEND", "RowCalendar"]

DAY_TYPE_WEEKDAY = 0
DAY_TYPE_WEEKEND = 1
_DAY_S = 86_400


@dataclass(frozen=True)
class RowCalendar:
    """Local time of every row: ``start + row * step_s``.

    Parameters
    ----------
    start : str or numpy.datetime64
        Local time of row 0 (e.g. ``"2012-03-01T00:00"``), aligned to ``step_s``.
    step_s : int
        Seconds between consecutive rows; must divide a day.
    split_weekend : bool
        Tell Saturdays and Sundays from weekdays (two day types) or not (one).
    """

    start: np.datetime64
    step_s: int = 300
    split_weekend: bool = True

    def __post_init__(self) -> None:
        start = np.datetime64(self.start, "s")
        if np.isnat(start):
            raise ValueError("start must be a valid time")
        if self.step_s <= 0 or _DAY_S % self.step_s:
            raise ValueError(f"step_s must divide a day (86400 s), got {self.step_s}")
        if int(start.astype(np.int64)) % self.step_s:
            raise ValueError(f"start {start} is not aligned to the {self.step_s} s step")
        object.__setattr__(self, "start", start)

    @property
    def slots_per_day(self) -> int:
        """Number of rows in one day."""
        return _DAY_S // self.step_s

    @property
    def n_day_types(self) -> int:
        """2 with ``split_weekend`` (weekday, weekend), else 1."""
        return 2 if self.split_weekend else 1

    def _seconds(self, rows: NDArray[np.int64]) -> NDArray[np.int64]:
        return int(self.start.astype(np.int64)) + np.asarray(rows, dtype=np.int64) * self.step_s

    def slot_of_day(self, rows: NDArray[np.int64]) -> NDArray[np.int64]:
        """Slot of the day (0 = the step starting at midnight) of each row."""
        return (self._seconds(rows) % _DAY_S) // self.step_s

    def day_number(self, rows: NDArray[np.int64]) -> NDArray[np.int64]:
        """Calendar day of each row, as days since 1970-01-01."""
        return self._seconds(rows) // _DAY_S

    def day_type(self, rows: NDArray[np.int64]) -> NDArray[np.int64]:
        """:data:`DAY_TYPE_WEEKDAY` or :data:`DAY_TYPE_WEEKEND` (always weekday without ``split_weekend``)."""
        if not self.split_weekend:
            return np.zeros(np.shape(rows), dtype=np.int64)
        weekday = (self.day_number(rows) + 3) % 7  # 1970-01-01 was a Thursday; Monday = 0
        return (weekday >= 5).astype(np.int64)
