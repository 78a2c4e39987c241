"""Indonesian registration plates: re-exported from :mod:`twin.vehicles.plates`.

The plate format belongs to the simulated (and the real) world's vehicles, so it lives
in ``twin.vehicles``; this module keeps ETLE's import path.
"""

from __future__ import annotations

from twin.vehicles.plates import Plate, PlateError, normalise_plate, parse_plate, try_parse_plate

__all__ = ["Plate", "PlateError", "normalise_plate", "parse_plate", "try_parse_plate"]
