"""The two reference forecasts every model is compared with.

* last value: the forecast of row ``t + h`` is row ``t`` (NaN where row ``t`` is missing);
* historical average: the time-of-day mean (weekday or weekend) of the fit rows at the
  slot of ``t + h``, without smoothing.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from .calendar import RowCalendar
from .profile import TimeOfDayProfile

__all__ = ["HistoricalAverage", "last_value"]

FloatArray = NDArray[np.float64]


def last_value(history: FloatArray, issue_rows: NDArray[np.int64]) -> FloatArray:
    """Persistence forecast for any horizon: the observation at the issue row, (len(issue_rows), sensors)."""
    return np.asarray(history, dtype=np.float64)[np.asarray(issue_rows, dtype=np.int64)]


class HistoricalAverage:
    """Time-of-day mean per day type from a fit history.

    Parameters
    ----------
    fit_history : (rows, sensors) from the calendar's row 0, NaN = missing
    calendar : RowCalendar
    """

    def __init__(self, fit_history: FloatArray, calendar: RowCalendar) -> None:
        self.profile = TimeOfDayProfile.fit(fit_history, calendar, smoothing_slots=0)

    def forecast(self, issue_rows: NDArray[np.int64], steps: int) -> FloatArray:
        """Forecast of rows ``issue_rows + steps``, (len(issue_rows), sensors)."""
        return self.profile.values(np.asarray(issue_rows, dtype=np.int64) + steps)
