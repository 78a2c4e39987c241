"""Days of the week as the rules that depend on them give them: 0 = Monday .. 6 = Sunday."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator

__all__ = ["Weekdays", "check_weekdays"]


def check_weekdays(days: list[int]) -> list[int]:
    """``days`` if each is 0 (Monday) to 6 (Sunday).

    Raises
    ------
    ValueError : a day outside 0..6.
    """
    if any(d < 0 or d > 6 for d in days):
        raise ValueError("weekdays are 0 (Monday) to 6 (Sunday)")
    return days


Weekdays = Annotated[list[int], AfterValidator(check_weekdays)]
"""A pydantic field type: a list of days, each 0 (Monday) to 6 (Sunday)."""
