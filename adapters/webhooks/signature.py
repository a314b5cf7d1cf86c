"""Webhook signatures: HMAC-SHA256 over "<unix timestamp>.<raw body>",
sent as `X-Certhub-Signature: t=<unix>,v1=<hex>`.

The timestamp is inside the MAC so a captured request cannot be replayed
later than the receiver's tolerance; `v1` names the scheme so a later one
can be added alongside without breaking receivers.
"""

from __future__ import annotations

import hashlib
import hmac

from adapters.errors import InvalidWebhook

SIGNATURE_HEADER = "X-Certhub-Signature"
EVENT_ID_HEADER = "X-Certhub-Event-Id"
DEFAULT_TOLERANCE_SECONDS = 300


def signature_header(*, secret: bytes, timestamp: int, body: bytes) -> str:
    return f"t={timestamp},v1={_mac(secret, timestamp, body)}"


def verify_signature(*, secret: bytes, header: str, body: bytes, now: int, tolerance: int = DEFAULT_TOLERANCE_SECONDS) -> int:
    """The receiver's check; returns the signed timestamp or raises InvalidWebhook."""
    timestamp, candidates = _parse(header)
    if abs(now - timestamp) > tolerance:
        raise InvalidWebhook("signature timestamp outside the tolerance")
    expected = _mac(secret, timestamp, body)
    if not any(hmac.compare_digest(expected, c) for c in candidates):
        raise InvalidWebhook("signature does not match")
    return timestamp


def _mac(secret: bytes, timestamp: int, body: bytes) -> str:
    return hmac.new(secret, str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()


def _parse(header: str) -> tuple[int, list[str]]:
    timestamp: int | None = None
    candidates: list[str] = []
    for part in header.split(",")[:10]:
        key, _, value = part.strip().partition("=")
        if key == "t" and value.isdigit():
            timestamp = int(value)
        elif key == "v1":
            candidates.append(value)
    if timestamp is None or not candidates:
        raise InvalidWebhook("malformed signature header")
    return timestamp, candidates
