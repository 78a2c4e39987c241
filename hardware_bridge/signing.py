"""HMAC-SHA256 signatures on device pushes over HTTP.

A device signs the exact body bytes with its registry secret and sends
``X-Kota-Device: <device_id>`` and ``X-Kota-Signature: sha256=<hex>``. Freshness
(``seq``, ``sent_at``) travels inside the signed body, so a captured request
replayed later is caught by the ingest gate's replay window and skew check.
"""

from __future__ import annotations

import hashlib
import hmac

__all__ = ["DEVICE_HEADER", "SIGNATURE_HEADER", "sign", "verify"]

DEVICE_HEADER = "X-Kota-Device"
SIGNATURE_HEADER = "X-Kota-Signature"


def sign(secret: str, body: bytes) -> str:
    """The signature header value of ``body`` under ``secret``."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def verify(secret: str, body: bytes, signature: str | None) -> bool:
    """Whether ``signature`` is ``body``'s signature under ``secret`` (constant time)."""
    return signature is not None and hmac.compare_digest(sign(secret, body), signature)
