"""Webhook delivery: an outbox table, and a worker that POSTs due deliveries
signed, retries on a backoff schedule, and moves hopeless ones to dead
letters. Receivers get each event at least once and deduplicate by
X-Certhub-Event-Id.

The same outbox carries Web Push messages (channel "web_push",
exchange.webpush): `deliver_channel` runs the schedule for any channel with
the channel's own way of sending one delivery."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from adapters.errors import InvalidWebhook
from adapters.models import WebhookDelivery
from adapters.webhooks.signature import (
    EVENT_ID_HEADER,
    SIGNATURE_HEADER,
    signature_header,
    standard_webhooks_headers,
)
from storage.egress import EgressError, EgressTimeout, Requester
from storage.units import write_lock

log = logging.getLogger("certhub.adapters.webhooks")

MAX_PAYLOAD_BYTES = 256 * 1024
PENDING, DELIVERED, DEAD = "pending", "delivered", "dead"
WEBHOOK, WEB_PUSH = "webhook", "web_push"
CHANNELS = (WEBHOOK, WEB_PUSH)


@dataclass(frozen=True)
class Gone:
    """The receiver says the address no longer exists (HTTP 404 or 410): the
    delivery is dead at once, with no retry, and its subscriber is reported."""

    reason: str


# How a channel sends one delivery: None when it was accepted, else why not
# (retried on the schedule), or Gone.
Sender = Callable[[WebhookDelivery], "str | Gone | None"]


@dataclass(frozen=True)
class RetryPolicy:
    """Delay after the n-th failure is schedule[n-1]; after max_attempts failures, dead."""

    schedule: tuple[int, ...] = (10, 60, 300, 1800, 7200, 21600)
    max_attempts: int = 7

    def delay_after(self, failures: int) -> timedelta:
        return timedelta(seconds=self.schedule[min(failures, len(self.schedule)) - 1])


@dataclass
class DeliveryReport:
    delivered: list[str] = field(default_factory=list)
    retrying: list[str] = field(default_factory=list)
    dead: list[str] = field(default_factory=list)
    gone: list[str] = field(default_factory=list)  # subscriber keys whose address no longer exists


def canonical_body(payload: dict) -> bytes:
    return json.dumps(payload, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


def enqueue(
    *, session: Session, event_id: str, subscriber_key: str, url: str, payload: dict, now: datetime,
    channel: str = WEBHOOK,
) -> WebhookDelivery:
    """Queue one event for one subscriber; enqueueing it again returns the existing row."""
    _check(event_id=event_id, subscriber_key=subscriber_key, url=url, payload=payload)
    if channel not in CHANNELS:
        raise InvalidWebhook(f"channel: one of {', '.join(CHANNELS)}")
    existing = session.scalar(
        select(WebhookDelivery).where(
            WebhookDelivery.event_id == event_id, WebhookDelivery.subscriber_key == subscriber_key
        )
    )
    if existing is not None:
        return existing
    delivery = WebhookDelivery(
        event_id=event_id, subscriber_key=subscriber_key, url=url, payload=payload, channel=channel,
        status=PENDING, attempts=0, next_attempt_at=now, created_at=now,
    )
    session.add(delivery)
    session.flush()
    return delivery


def deliver_due(
    *,
    session: Session,
    now: datetime,
    client: Requester,
    secret_for: Callable[[str], bytes],
    policy: RetryPolicy = RetryPolicy(),
    limit: int = 100,
) -> DeliveryReport:
    """POST every due webhook once. The rows stay locked until the caller
    commits, so two workers never send the same event at the same time."""
    return deliver_channel(session=session, now=now, channel=WEBHOOK, policy=policy, limit=limit,
                           send=lambda delivery: _post(delivery, client=client, secret_for=secret_for))


def deliver_channel(
    *, session: Session, now: datetime, channel: str, send: Sender, policy: RetryPolicy = RetryPolicy(),
    limit: int = 100,
) -> DeliveryReport:
    """Send every due delivery of `channel` once with `send`, and schedule
    the retries; the rows stay locked until the caller commits."""
    report = DeliveryReport()
    for delivery in _lock_due(session=session, now=now, channel=channel, limit=limit):
        _record(delivery, error=send(delivery), now=now, policy=policy, report=report)
    session.flush()
    return report


def list_dead(*, session: Session, limit: int = 100, channel: str = WEBHOOK) -> list[WebhookDelivery]:
    query = (select(WebhookDelivery).where(WebhookDelivery.channel == channel, WebhookDelivery.status == DEAD)
             .order_by(WebhookDelivery.id).limit(limit))
    return list(session.scalars(query))


def requeue(*, session: Session, delivery_id: int, now: datetime) -> WebhookDelivery:
    """Give a dead letter a fresh schedule (after the subscriber is fixed)."""
    delivery = session.get(WebhookDelivery, delivery_id, with_for_update=True)
    if delivery is None or delivery.status != DEAD:
        raise InvalidWebhook(f"delivery {delivery_id} is not a dead letter")
    delivery.status, delivery.attempts, delivery.next_attempt_at = PENDING, 0, now
    session.flush()
    return delivery


def _lock_due(*, session: Session, now: datetime, channel: str, limit: int) -> list[WebhookDelivery]:
    # SQLite has no row locks: the write lock serialises workers until this transaction ends.
    write_lock(session=session)
    query = (
        select(WebhookDelivery)
        .where(WebhookDelivery.channel == channel, WebhookDelivery.status == PENDING,
               WebhookDelivery.next_attempt_at <= now)
        .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    return list(session.scalars(query))


def _post(delivery: WebhookDelivery, *, client: Requester, secret_for: Callable[[str], bytes]) -> str | None:
    """None on a 2xx answer, else a short description of the failure."""
    try:
        secret = secret_for(delivery.subscriber_key)
    except KeyError:
        return "no signing secret for the subscriber"
    body = canonical_body(delivery.payload)
    headers = _signed_headers(delivery, secret=secret, body=body)
    try:
        # The receiver's answer body is never read, however large (its
        # connection is closed rather than reused).
        with client.request("POST", delivery.url, body=body, headers=headers) as response:
            if 200 <= response.status < 300:
                return None
            return f"HTTP {response.status}"
    except EgressTimeout:
        return "timeout"
    except EgressError as exc:
        return f"transport error ({exc.reason})"


def _signed_headers(delivery: WebhookDelivery, *, secret: bytes, body: bytes) -> dict[str, str]:
    """Both signature schemes over the same bytes: certhub's own and
    Standard Webhooks' (adapters.webhooks.signature)."""
    # Signed at the wall-clock time of sending (not the scheduler's `now`):
    # receivers compare it with their own clock.
    timestamp = int(time.time())
    return {
        "Content-Type": "application/json",
        SIGNATURE_HEADER: signature_header(secret=secret, timestamp=timestamp, body=body),
        EVENT_ID_HEADER: delivery.event_id,
        **standard_webhooks_headers(secret=secret, message_id=delivery.event_id, timestamp=timestamp, body=body),
    }


def _record(delivery: WebhookDelivery, *, error: str | Gone | None, now: datetime, policy: RetryPolicy,
            report: DeliveryReport) -> None:
    if isinstance(error, Gone):
        delivery.status, delivery.last_error = DEAD, error.reason
        delivery.attempts += 1
        report.dead.append(delivery.event_id)
        report.gone.append(delivery.subscriber_key)
        return
    if error is None:
        delivery.status, delivery.delivered_at, delivery.last_error = DELIVERED, now, None
        delivery.attempts += 1
        report.delivered.append(delivery.event_id)
        return
    delivery.attempts += 1
    delivery.last_error = error
    if delivery.attempts >= policy.max_attempts:
        delivery.status = DEAD
        report.dead.append(delivery.event_id)
        log.warning("webhook dead letter: event=%s subscriber=%s error=%s", delivery.event_id, delivery.subscriber_key, error)
        return
    delivery.next_attempt_at = now + policy.delay_after(delivery.attempts)
    report.retrying.append(delivery.event_id)


def _check(*, event_id: str, subscriber_key: str, url: str, payload: dict) -> None:
    if not (0 < len(event_id) <= 64) or not event_id.isprintable():
        raise InvalidWebhook("event id must be 1-64 printable characters")
    if not (0 < len(subscriber_key) <= 100):
        raise InvalidWebhook("subscriber key must be 1-100 characters")
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname or len(url) > 2000:
        raise InvalidWebhook("subscriber URL must be an absolute http(s) URL of at most 2000 characters")
    if not isinstance(payload, dict):
        raise InvalidWebhook("payload must be a JSON object")
    try:
        size = len(canonical_body(payload))
    except (TypeError, ValueError):
        raise InvalidWebhook("payload is not JSON-serialisable") from None
    if size > MAX_PAYLOAD_BYTES:
        raise InvalidWebhook(f"payload larger than {MAX_PAYLOAD_BYTES} bytes")
