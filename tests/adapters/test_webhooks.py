"""Webhook delivery to a loopback receiver that checks signatures the way
docs/adapters.md tells receivers to."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import delete
from sqlalchemy.orm import Session

from adapters.errors import InvalidWebhook
from adapters.models import WebhookDelivery
from adapters.webhooks import RetryPolicy, deliver_due, enqueue, list_dead, requeue, signature_header, verify_signature
from storage.base import utcnow
from storage.egress import DIRECT
from tests.adapters import loopback

SECRET = b"subscriber-secret-0123456789abcdef"
PAYLOAD = {"type": "licence.revoked", "licence": "1.2.156.3005.2.X", "at": "2026-01-01T00:00:00Z"}


def _secret_for(key: str) -> bytes:
    return {"market-regulator": SECRET}[key]


class Receiver:
    """Verifies per the documented recipe, fails the first `failures` times."""

    def __init__(self, failures: int = 0):
        self.failures = failures
        self.verified: list[tuple[str, dict]] = []
        self.rejected = 0

    def __call__(self, handler):
        header = handler.headers.get("X-Certhub-Signature", "")
        parts = dict(p.split("=", 1) for p in header.split(","))
        expected = hmac.new(SECRET, parts["t"].encode() + b"." + handler.body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, parts["v1"]) or abs(time.time() - int(parts["t"])) > 300:
            self.rejected += 1
            handler.reply(400, b"bad signature")
            return
        if self.failures > 0:
            self.failures -= 1
            handler.reply(503, b"try later")
            return
        self.verified.append((handler.headers["X-Certhub-Event-Id"], json.loads(handler.body)))
        handler.reply(204, b"")


@pytest.fixture
def http():
    with DIRECT.client(timeout=(2.0, 2.0)) as client:
        yield client


def test_signed_delivery_is_retried_on_the_schedule_until_it_succeeds(db_session, provider, http):
    receiver = Receiver(failures=3)
    provider.routes["/hooks"] = receiver
    start = utcnow()
    enqueue(session=db_session, event_id="evt-1", subscriber_key="market-regulator",
            url=provider.base_url + "/hooks", payload=PAYLOAD, now=start)
    db_session.commit()
    policy = RetryPolicy(schedule=(10, 60, 300), max_attempts=5)

    now = start
    for expected_delay in (10, 60, 300):
        report = deliver_due(session=db_session, now=now, client=http, secret_for=_secret_for, policy=policy)
        assert report.retrying == ["evt-1"]
        row = db_session.query(WebhookDelivery).filter_by(event_id="evt-1").one()
        assert row.next_attempt_at == now + timedelta(seconds=expected_delay) and row.last_error == "HTTP 503"
        # Not due a moment before the next attempt.
        early = deliver_due(session=db_session, now=row.next_attempt_at - timedelta(seconds=1), client=http, secret_for=_secret_for, policy=policy)
        assert early.delivered == early.retrying == []
        now = row.next_attempt_at
    report = deliver_due(session=db_session, now=now, client=http, secret_for=_secret_for, policy=policy)
    assert report.delivered == ["evt-1"]
    row = db_session.query(WebhookDelivery).filter_by(event_id="evt-1").one()
    assert (row.status, row.attempts, row.delivered_at) == ("delivered", 4, now)
    assert receiver.verified == [("evt-1", PAYLOAD)] and receiver.rejected == 0
    assert deliver_due(session=db_session, now=now + timedelta(days=1), client=http, secret_for=_secret_for).delivered == []


def test_after_max_attempts_a_delivery_becomes_a_dead_letter_and_can_be_requeued(db_session, provider, http):
    receiver = Receiver(failures=10)
    provider.routes["/hooks"] = receiver
    now = utcnow()
    delivery = enqueue(session=db_session, event_id="evt-dead", subscriber_key="market-regulator",
                       url=provider.base_url + "/hooks", payload=PAYLOAD, now=now)
    policy = RetryPolicy(schedule=(10,), max_attempts=2)
    deliver_due(session=db_session, now=now, client=http, secret_for=_secret_for, policy=policy)
    report = deliver_due(session=db_session, now=now + timedelta(seconds=10), client=http, secret_for=_secret_for, policy=policy)
    assert report.dead == ["evt-dead"]
    assert [d.event_id for d in list_dead(session=db_session)] == ["evt-dead"]
    receiver.failures = 0
    requeue(session=db_session, delivery_id=delivery.id, now=now + timedelta(hours=1))
    report = deliver_due(session=db_session, now=now + timedelta(hours=1), client=http, secret_for=_secret_for, policy=policy)
    assert report.delivered == ["evt-dead"]
    with pytest.raises(InvalidWebhook):
        requeue(session=db_session, delivery_id=delivery.id, now=now)


def test_an_unreachable_subscriber_is_retried_with_the_error_recorded(db_session, http):
    now = utcnow()
    enqueue(session=db_session, event_id="evt-down", subscriber_key="market-regulator",
            url=f"http://127.0.0.1:{loopback.closed_port()}/hooks", payload=PAYLOAD, now=now)
    report = deliver_due(session=db_session, now=now, client=http, secret_for=_secret_for)
    assert report.retrying == ["evt-down"]
    row = db_session.query(WebhookDelivery).filter_by(event_id="evt-down").one()
    assert row.last_error == "transport error (ConnectError)" and row.next_attempt_at == now + timedelta(seconds=10)


def test_enqueue_is_idempotent_per_event_and_subscriber(db_session):
    now = utcnow()
    first = enqueue(session=db_session, event_id="evt-2", subscriber_key="a", url="https://a.invalid/h", payload={}, now=now)
    again = enqueue(session=db_session, event_id="evt-2", subscriber_key="a", url="https://a.invalid/h", payload={}, now=now)
    other = enqueue(session=db_session, event_id="evt-2", subscriber_key="b", url="https://b.invalid/h", payload={}, now=now)
    assert first.id == again.id != other.id


@pytest.mark.parametrize(
    "kwargs",
    [{"url": "file:///etc/passwd"}, {"url": "https:///nohost"}, {"event_id": ""}, {"payload": {"x": "y" * 300_000}},
     {"payload": {"x": object()}}],
)
def test_enqueue_validates_its_inputs(db_session, kwargs):
    args = {"event_id": "e", "subscriber_key": "a", "url": "https://a.invalid/h", "payload": {}} | kwargs
    with pytest.raises(InvalidWebhook):
        enqueue(session=db_session, now=utcnow(), **args)


def test_signature_helper_round_trip_and_refusals():
    body = b'{"a":1}'
    now = int(time.time())
    header = signature_header(secret=SECRET, timestamp=now, body=body)
    assert verify_signature(secret=SECRET, header=header, body=body, now=now) == now
    for bad_header, bad_body, at in (
        (header, b'{"a":2}', now),
        (header, body, now + 301),
        ("t=1,v2=abc", body, now),
        (signature_header(secret=b"other", timestamp=now, body=body), body, now),
    ):
        with pytest.raises(InvalidWebhook):
            verify_signature(secret=SECRET, header=bad_header, body=bad_body, now=at)


def test_two_workers_never_send_the_same_event_at_once(migrated_engine, provider, http):
    """Worker A holds the row while the receiver is busy; worker B must not
    send it too (PostgreSQL: SKIP LOCKED; SQLite: the write lock)."""
    entered, release = threading.Event(), threading.Event()
    calls = []

    def slow_receiver(handler):
        calls.append(handler.headers["X-Certhub-Event-Id"])
        entered.set()
        release.wait(10)
        handler.reply(200, b"")

    provider.routes["/hooks"] = slow_receiver
    event_id = f"evt-concurrent-{secrets.token_hex(4)}"
    now = utcnow()
    with Session(migrated_engine) as session:
        enqueue(session=session, event_id=event_id, subscriber_key="market-regulator",
                url=provider.base_url + "/hooks", payload=PAYLOAD, now=now)
        session.commit()
    reports = {}

    def worker(name):
        with Session(migrated_engine) as session:
            reports[name] = deliver_due(session=session, now=now, client=http, secret_for=_secret_for)
            session.commit()

    try:
        a = threading.Thread(target=worker, args=("a",))
        a.start()
        assert entered.wait(10)
        b = threading.Thread(target=worker, args=("b",))
        b.start()
        if migrated_engine.dialect.name == "postgresql":
            b.join(10)  # skips the locked row and returns at once
            assert reports["b"].delivered == []
        release.set()
        a.join(10)
        b.join(10)
        assert reports["a"].delivered == [event_id] and reports["b"].delivered == []
        assert calls == [event_id]
    finally:
        release.set()
        with Session(migrated_engine) as session:
            session.execute(delete(WebhookDelivery).where(WebhookDelivery.event_id == event_id))
            session.commit()
