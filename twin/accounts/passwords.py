"""Salted scrypt password hashes with a constant-time check (stdlib only).

A hash is stored as ``scrypt$<n>$<r>$<p>$<salt b64>$<digest b64>``, so the cost can be
raised later without breaking stored hashes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

MIN_PASSWORD_LENGTH = 12
"""Shorter passwords are refused (NIST SP 800-63B asks for at least 8; we ask more)."""
SCRYPT_N = 2**14
SCRYPT_R = 8
SCRYPT_P = 1
_SALT_BYTES = 16
_DIGEST_BYTES = 32


class WeakPassword(ValueError):
    """The password is empty, too short or only whitespace."""


def check_strength(password: str) -> None:
    """Raise :class:`WeakPassword` unless ``password`` is acceptable."""
    if not password or not password.strip():
        raise WeakPassword("the password is empty")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise WeakPassword(f"the password is shorter than {MIN_PASSWORD_LENGTH} characters")


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p,
                          maxmem=256 * n * r * p, dklen=_DIGEST_BYTES)


def hash_password(password: str) -> str:
    """A new salted scrypt hash of ``password`` (checked with :func:`check_strength`)."""
    check_strength(password)
    salt = secrets.token_bytes(_SALT_BYTES)
    digest = _scrypt(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    b64 = base64.b64encode
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${b64(salt).decode()}${b64(digest).decode()}"


def verify_password(password: str, stored: str) -> bool:
    """True when ``password`` matches the ``stored`` hash (constant-time comparison).

    A malformed ``stored`` value is a mismatch, never an exception.
    """
    try:
        scheme, n, r, p, salt_b64, digest_b64 = stored.split("$")
        if scheme != "scrypt":
            return False
        salt, digest = base64.b64decode(salt_b64), base64.b64decode(digest_b64)
        actual = _scrypt(password, salt, int(n), int(r), int(p))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, digest)
