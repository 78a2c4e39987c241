"""How a virtual ANPR camera reads a plate: mostly right, sometimes not.

Each read draws one uniform number from the camera's own seeded generator (so adding
a camera changes no other camera's reads) and falls into one of four outcomes, at the
shares of :class:`~twin.scenario.PlateReadSpec`:

- **unreadable**: no plate found (``plate`` None, ``confidence`` 0.0);
- **misread**: one character of the plate replaced by another of its kind (a digit by
  a digit, a letter by a letter), so the text is a well-formed plate of somebody else
  or of nobody, read with a confidence as high as a good read's (OCR errors rarely
  announce themselves);
- **low confidence**: the right text with a confidence of 0.30-0.70;
- **good**: the right text with a confidence of 0.86-0.995.
"""

from __future__ import annotations

import string
from dataclasses import dataclass

import numpy as np

from twin.scenario import PlateReadSpec

__all__ = ["GOOD_CONFIDENCE", "LOW_CONFIDENCE", "PlateRead", "read_plate"]

GOOD_CONFIDENCE = (0.86, 0.995)
"""Range of a good (or misread) read's confidence."""
LOW_CONFIDENCE = (0.30, 0.70)
"""Range of a low-confidence read's confidence."""


@dataclass(frozen=True, slots=True)
class PlateRead:
    """One read: the text (None when unreadable), its confidence and what happened."""

    plate: str | None
    confidence: float
    outcome: str  # "good", "misread", "low_confidence" or "unreadable"


def read_plate(plate: str, spec: PlateReadSpec, rng: np.random.Generator) -> PlateRead:
    """Read ``plate`` (normal form ``"B 1234 XYZ"``) as a camera does.

    Parameters
    ----------
    plate : str, the true plate
    spec : PlateReadSpec, the outcome shares
    rng : numpy Generator, the camera's own
    """
    u = float(rng.random())
    if u < spec.unreadable_share:
        return PlateRead(None, 0.0, "unreadable")
    u -= spec.unreadable_share
    if u < spec.misread_share:
        return PlateRead(_misread(plate, rng), _uniform(rng, GOOD_CONFIDENCE), "misread")
    u -= spec.misread_share
    if u < spec.low_confidence_share:
        return PlateRead(plate, _uniform(rng, LOW_CONFIDENCE), "low_confidence")
    return PlateRead(plate, _uniform(rng, GOOD_CONFIDENCE), "good")


def _uniform(rng: np.random.Generator, bounds: tuple[float, float]) -> float:
    return round(float(rng.uniform(*bounds)), 3)


def _misread(plate: str, rng: np.random.Generator) -> str:
    """``plate`` with one character replaced by a different one of its kind."""
    where = [i for i, c in enumerate(plate) if c != " "]
    i = where[int(rng.integers(len(where)))]
    pool = string.digits if plate[i].isdigit() else string.ascii_uppercase
    if plate[i].isdigit() and (i == 0 or plate[i - 1] == " "):
        pool = string.digits[1:]  # plate numbers have no leading zero
    choices = [c for c in pool if c != plate[i]]
    return plate[:i] + choices[int(rng.integers(len(choices)))] + plate[i + 1:]
