"""Keyed pseudonyms of plates for analytics and exports (UU PDP, DOMAIN.md section 5.1).

``plate_token = HMAC-SHA256(k_period, plate_normal_form)``, where the key of each
analysis period is derived from a master key: ``k_period = HMAC-SHA256(master, label)``.
Tokens of one period can be joined with each other (the same plate gives the same token
within a period) but not across periods, and they cannot be reversed without the master
key, so they are *pseudonymised*, not anonymised data. Only case records hold plates in
clear; violations, section-speed state and every export carry tokens.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime

from .plates import try_parse_plate

TOKEN_HEX_CHARS = 32
"""Token length in hex characters (128 bits of the HMAC)."""


class PlateTokenizer:
    """Makes plate tokens with a key that rotates every ``period_days``.

    Parameters
    ----------
    master_key : bytes
        At least 16 bytes; kept out of the database and out of exports.
    period_days : int
        Length of one analysis period; periods start at 1970-01-01 UTC.
    """

    def __init__(self, master_key: bytes, period_days: int = 30) -> None:
        if len(master_key) < 16:
            raise ValueError("the pseudonym master key must be at least 16 bytes")
        if period_days < 1:
            raise ValueError(f"period_days must be >= 1, got {period_days}")
        self._master = master_key
        self.period_days = period_days
        self._keys: dict[int, bytes] = {}

    def period_of(self, at: datetime) -> int:
        """The number of the analysis period ``at`` falls in."""
        if at.tzinfo is None:
            raise ValueError(f"{at!r} is a naive datetime; give it a timezone")
        return int(at.astimezone(UTC).timestamp() // (86400 * self.period_days))

    def _key(self, period: int) -> bytes:
        key = self._keys.get(period)
        if key is None:
            key = hmac.new(self._master, f"plate-token/{period}".encode(), hashlib.sha256).digest()
            self._keys[period] = key
        return key

    def token(self, plate: str | None, at: datetime) -> str | None:
        """The token of ``plate`` in the period of ``at``; None for no or an invalid plate.

        The plate is normalised first, so ``"b1234xyz"`` and ``"B 1234 XYZ"`` agree.
        """
        parsed = try_parse_plate(plate)
        if parsed is None:
            return None
        digest = hmac.new(self._key(self.period_of(at)), parsed.text.encode(), hashlib.sha256)
        return digest.hexdigest()[:TOKEN_HEX_CHARS]
