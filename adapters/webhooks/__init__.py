"""Signed webhook delivery with retries and dead letters."""

from adapters.webhooks.service import (
    WEB_PUSH,
    WEBHOOK,
    DeliveryReport,
    Gone,
    RetryPolicy,
    deliver_channel,
    deliver_due,
    enqueue,
    list_dead,
    requeue,
)
from adapters.webhooks.signature import (
    EVENT_ID_HEADER,
    SIGNATURE_HEADER,
    signature_header,
    standard_webhooks_headers,
    standard_webhooks_secret,
    verify_signature,
)

__all__ = [
    "WEB_PUSH",
    "WEBHOOK",
    "DeliveryReport",
    "Gone",
    "deliver_channel",
    "RetryPolicy",
    "deliver_due",
    "enqueue",
    "list_dead",
    "requeue",
    "EVENT_ID_HEADER",
    "SIGNATURE_HEADER",
    "signature_header",
    "standard_webhooks_headers",
    "standard_webhooks_secret",
    "verify_signature",
]
