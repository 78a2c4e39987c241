"""Indonesian registration plates (TNKB): parsing, normal form, odd/even parity.

A plate is a region code of one or two letters (``B`` = Jakarta), a number of one to
four digits and a suffix of up to three letters: ``B 1234 XYZ``. Ganjil-genap looks at
the parity of the number's last digit.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_PLATE = re.compile(r"^([A-Z]{1,2})(\d{1,4})([A-Z]{0,3})$")
_NOT_ALNUM = re.compile(r"[^A-Z0-9]")


class PlateError(ValueError):
    """A string is not an Indonesian plate; the message quotes it."""


@dataclass(frozen=True, slots=True)
class Plate:
    """A parsed plate.

    Attributes
    ----------
    region : str, one or two letters (``B`` Jakarta, ``D`` Bandung, ...)
    number : str, one to four digits, without leading-zero changes
    suffix : str, zero to three letters
    """

    region: str
    number: str
    suffix: str

    @property
    def text(self) -> str:
        """The normal form, ``"B 1234 XYZ"`` (no trailing space without a suffix)."""
        return " ".join(p for p in (self.region, self.number, self.suffix) if p)

    @property
    def last_digit(self) -> int:
        """The number's last digit, which decides odd or even."""
        return int(self.number[-1])

    @property
    def is_odd(self) -> bool:
        """Whether the plate is *ganjil* (odd last digit)."""
        return self.last_digit % 2 == 1


def parse_plate(text: str) -> Plate:
    """Parse ``text`` (any spacing or case: ``"b1234xyz"``, ``"B-1234-XYZ"``).

    Raises
    ------
    PlateError
        If it is not region letters + 1-4 digits + up to 3 letters.
    """
    squeezed = _NOT_ALNUM.sub("", text.upper())
    m = _PLATE.match(squeezed)
    if m is None:
        raise PlateError(f"{text!r} is not an Indonesian plate (like 'B 1234 XYZ')")
    return Plate(m.group(1), m.group(2), m.group(3))


def normalise_plate(text: str) -> str:
    """``text`` in normal form (``"B 1234 XYZ"``); raises :class:`PlateError` if invalid."""
    return parse_plate(text).text


def try_parse_plate(text: str | None) -> Plate | None:
    """Like :func:`parse_plate` but None for ``None`` or an invalid plate."""
    if text is None:
        return None
    try:
        return parse_plate(text)
    except PlateError:
        return None
