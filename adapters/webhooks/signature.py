"""Webhook signatures: HMAC-SHA256 over "<unix timestamp>.<raw body>",
sent as `X-Certhub-Signature: t=<unix>,v1=<hex>`.

The timestamp is inside the MAC so a captured request cannot be replayed
later than the receiver's tolerance; `v1` names the scheme so a later one
can be added alongside without breaking receivers.

Beside it every delivery carries the Standard Webhooks headers
(`standard_webhooks_headers`), so receivers can verify with that spec's
libraries: the same key, the spec's `whsec_` form (`standard_webhooks_secret`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from adapters.errors import InvalidWebhook

SIGNATURE_HEADER = "X-Certhub-Signature"
EVENT_ID_HEADER = "X-Certhub-Event-Id"
DEFAULT_TOLERANCE_SECONDS = 300
# SPEC: Standard Webhooks v1 (standardwebhooks.com), "Signature scheme"
STANDARD_ID_HEADER = "webhook-id"
STANDARD_TIMESTAMP_HEADER = "webhook-timestamp"
STANDARD_SIGNATURE_HEADER = "webhook-signature"
STANDARD_SECRET_PREFIX = "whsec_"


def signature_header(*, secret: bytes, timestamp: int, body: bytes) -> str:
    return f"t={timestamp},v1={_mac(secret, timestamp, body)}"


def standard_webhooks_secret(secret: bytes) -> str:
    """The subscriber's key in the Standard Webhooks form: `whsec_` and the
    key's bytes in base64 (the same bytes X-Certhub-Signature is keyed with)."""
    return STANDARD_SECRET_PREFIX + base64.b64encode(secret).decode("ascii")


def standard_webhooks_headers(*, secret: bytes, message_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """webhook-id, webhook-timestamp and webhook-signature for one delivery.

    SPEC: Standard Webhooks v1: `v1,` and the base64 HMAC-SHA256 of
    `<id>.<timestamp>.<body>` under the secret's decoded bytes. The id stays
    the same across retries, so receivers deduplicate by it.
    """
    signed = message_id.encode() + b"." + str(timestamp).encode() + b"." + body
    mac = base64.b64encode(hmac.new(secret, signed, hashlib.sha256).digest()).decode("ascii")
    return {
        STANDARD_ID_HEADER: message_id,
        STANDARD_TIMESTAMP_HEADER: str(timestamp),
        STANDARD_SIGNATURE_HEADER: f"v1,{mac}",
    }


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
