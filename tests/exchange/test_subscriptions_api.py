"""Push subscriptions end to end: a department subscribes over HTTP, the
issuer revokes a licence, the worker delivers a signed webhook to a real
receiver on loopback, which verifies it the documented way; failures are
retried on the schedule and end as dead letters the subscriber can see and
redeliver; every attempt carries the same event id."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from datetime import timedelta

import pytest
import standardwebhooks

from adapters.webhooks import RetryPolicy, verify_signature
from exchange.subscriptions.callbacks import CallbackPolicy, GuardedClient
from exchange.subscriptions.dispatcher import WebhookWorker, registry_tag
from storage.base import utcnow
from tests.adapters import loopback
from tests.factories.agreements import approve_agreement
from tests.factories.catalog import BUSINESS_LICENCE, CITY_SAMR, COUNTY_CENTRE, FOOD_LICENCE, PROVINCE_SAMR
from tests.factories.licences import REGISTRY_ID, build_world, business_licence_body, token_headers
from tests.factories.settings import TEST_SECRET

pytestmark = pytest.mark.slow  # most of its tests are the slow tail (HTTP and database round trips)


@pytest.fixture
def settings(settings):
    return settings.model_copy(update={"webhooks_allow_loopback": True})


class Receiver:
    """A subscriber's endpoint: verifies like docs/adapters.md says, answers
    with the next status of `statuses` (then 204), records event ids."""

    def __init__(self, statuses=()):
        self.secret: bytes | None = None
        self.statuses = list(statuses)
        self.attempts: list[str] = []
        self.accepted: dict[str, dict] = {}

    def __call__(self, handler):
        header = handler.headers.get("X-Certhub-Signature", "")
        parts = dict(p.split("=", 1) for p in header.split(","))
        mac = hmac.new(self.secret, parts["t"].encode() + b"." + handler.body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(mac, parts["v1"]) or abs(time.time() - int(parts["t"])) > 300:
            handler.reply(401, b"bad signature")
            return
        event_id = handler.headers["X-Certhub-Event-Id"]
        self.attempts.append(event_id)
        status = self.statuses.pop(0) if self.statuses else 204
        if status < 300:
            self.accepted.setdefault(event_id, json.loads(handler.body))  # deduplicated by event id
        handler.reply(status, b"")


@pytest.fixture
def receiver():
    running = loopback.start()
    endpoint = Receiver()
    running.routes["/hooks"] = endpoint
    yield running, endpoint
    loopback.stop(running)


@pytest.fixture
def world(db_session):
    return build_world(db_session)


@pytest.fixture
def issuer(client, db_session, world):
    return token_headers(client, db_session, CITY_SAMR)


@pytest.fixture
def consumer(client, db_session, world):
    return token_headers(client, db_session, COUNTY_CENTRE, scopes=("exchange:query",))


@pytest.fixture
def worker(app, session_factory):
    client = GuardedClient(policy=CallbackPolicy(allow_loopback=True), timeout=5)
    running = WebhookWorker(sessions=session_factory, key_secret=TEST_SECRET.encode(), registry_id=REGISTRY_ID,
                            policy=CallbackPolicy(allow_loopback=True), client=client,
                            retry_policy=RetryPolicy(schedule=(10, 60), max_attempts=3))
    yield running
    client.close()


def _subscribe(client, consumer, url, *, kinds=("revoked",)):
    response = client.post("/api/v1/exchange/subscriptions", headers=consumer, json={
        "callback_url": url, "event_kinds": list(kinds), "licence_type_codes": [BUSINESS_LICENCE]})
    assert response.status_code == 201, response.text
    return response.json()


def _issue_and_revoke(client, issuer) -> dict:
    issued = client.post("/api/v1/licences", json=business_licence_body(), headers=issuer)
    assert issued.status_code == 201, issued.text
    revoked = client.post(f"/api/v1/licences/{issued.json()['identifier']}/revoke",
                          json={"reason": "虚假登记"}, headers=issuer)
    assert revoked.status_code == 200, revoked.text
    return issued.json()


def test_a_revoked_licence_triggers_a_signed_webhook(client, db_session, issuer, consumer, receiver, worker):
    running, endpoint = receiver
    approve_agreement(db_session)
    created = _subscribe(client, consumer, running.base_url + "/hooks")
    endpoint.secret = created["secret"].encode()
    licence = _issue_and_revoke(client, issuer)

    dispatched, delivered = worker.run_once()
    assert dispatched.enqueued == 1 and len(delivered.delivered) == 1
    [seen] = running.requests_to("/hooks")
    # The library's own check agrees with the receiver's.
    verify_signature(secret=endpoint.secret, header=seen.headers["x-certhub-signature"], body=seen.body,
                     now=int(time.time()))
    [(event_id, payload)] = endpoint.accepted.items()
    assert event_id.startswith(f"evt-{registry_tag(REGISTRY_ID)}-") and payload["id"] == event_id
    assert payload["type"] == "licence.revoked" and payload["licence_type"] == BUSINESS_LICENCE
    assert payload["licence"] == licence["base_identifier"] and payload["identifier"] == licence["identifier"]
    assert payload["status"] == "revoked" and payload["issuer"] == CITY_SAMR
    assert licence["holder_code"] not in seen.body.decode() and licence["holder_name"] not in seen.body.decode()
    # Nothing more to send next round.
    again, nothing = worker.run_once()
    assert again.enqueued == 0 and nothing.delivered == []


def test_a_delivery_verifies_with_the_standard_webhooks_library(client, db_session, issuer, consumer, receiver, worker):
    """The receiver knows only the whsec_ secret the subscription answered and
    the Standard Webhooks reference library (PyPI standardwebhooks)."""
    running, endpoint = receiver
    approve_agreement(db_session)
    created = _subscribe(client, consumer, running.base_url + "/hooks")
    endpoint.secret = created["secret"].encode()
    assert created["standard_webhooks_secret"].startswith("whsec_")
    _issue_and_revoke(client, issuer)
    worker.run_once()
    [seen] = running.requests_to("/hooks")

    verified = standardwebhooks.Webhook(created["standard_webhooks_secret"]).verify(seen.body, seen.headers)
    assert verified["type"] == "licence.revoked"
    assert seen.headers["webhook-id"] == seen.headers["x-certhub-event-id"] == verified["id"]
    assert seen.headers["webhook-signature"].startswith("v1,")
    # A body changed on the way does not verify.
    with pytest.raises(standardwebhooks.webhooks.WebhookVerificationError):
        standardwebhooks.Webhook(created["standard_webhooks_secret"]).verify(seen.body + b" ", seen.headers)


def test_failures_back_off_then_dead_letter_then_redelivery(client, db_session, issuer, consumer, receiver, worker):
    running, endpoint = receiver
    endpoint.statuses = [503, 500, 503]
    approve_agreement(db_session)
    created = _subscribe(client, consumer, running.base_url + "/hooks")
    endpoint.secret = created["secret"].encode()
    _issue_and_revoke(client, issuer)
    start = utcnow()

    _, first = worker.run_once(now=start)
    assert len(first.retrying) == 1
    _, early = worker.run_once(now=start + timedelta(seconds=9))  # backoff: not due before 10 s
    assert early.retrying == early.delivered == []
    _, second = worker.run_once(now=start + timedelta(seconds=10))
    assert len(second.retrying) == 1
    _, early = worker.run_once(now=start + timedelta(seconds=69))  # then 60 s
    assert early.retrying == []
    _, third = worker.run_once(now=start + timedelta(seconds=70))
    assert len(third.dead) == 1

    dead = client.get(f"/api/v1/exchange/subscriptions/{created['id']}/dead-letters", headers=consumer).json()
    assert len(dead) == 1 and dead[0]["attempts"] == 3 and dead[0]["last_error"] == "HTTP 503"
    assert dead[0]["payload"]["type"] == "licence.revoked"
    redone = client.post(f"/api/v1/exchange/subscriptions/{created['id']}/dead-letters/{dead[0]['id']}/redeliver",
                         headers=consumer)
    assert redone.status_code == 200 and redone.json()["status"] == "pending"
    _, last = worker.run_once()
    assert len(last.delivered) == 1
    # At least once, never a new id: all four attempts carried the same event id.
    assert len(endpoint.attempts) == 4 and len(set(endpoint.attempts)) == 1
    assert list(endpoint.accepted) == [dead[0]["event_id"]]
    assert client.get(f"/api/v1/exchange/subscriptions/{created['id']}/dead-letters", headers=consumer).json() == []


def test_subscribing_is_refused_without_an_agreement_or_with_an_unsafe_url(client, db_session, consumer):
    no_scope = token_headers(client, db_session, COUNTY_CENTRE, scopes=("licence:issue",))
    response = client.get("/api/v1/exchange/subscriptions", headers=no_scope)
    assert response.status_code == 403 and "exchange:query" in response.json()["message"]
    body = {"callback_url": "https://8.8.8.8/hooks", "event_kinds": ["revoked"], "licence_type_codes": [BUSINESS_LICENCE]}
    refused = client.post("/api/v1/exchange/subscriptions", headers=consumer, json=body)
    assert refused.status_code == 403 and refused.json()["error"] == "no_agreement"
    approve_agreement(db_session)
    for url in ("https://169.254.169.254/latest", "https://10.0.0.8/hooks", "http://8.8.8.8/hooks"):
        unsafe = client.post("/api/v1/exchange/subscriptions", headers=consumer, json={**body, "callback_url": url})
        assert unsafe.status_code == 422 and unsafe.json()["error"] == "unsafe_callback_url", url
    wrong_kind = client.post("/api/v1/exchange/subscriptions", headers=consumer, json={**body, "event_kinds": ["x"]})
    assert wrong_kind.status_code == 422
    food = client.post("/api/v1/exchange/subscriptions", headers=consumer,
                       json={**body, "licence_type_codes": [FOOD_LICENCE]})
    assert food.status_code == 403 and FOOD_LICENCE in food.json()["message"]


def test_a_department_sees_and_manages_only_its_own(client, db_session, world, consumer, receiver):
    running, _ = receiver
    approve_agreement(db_session)
    created = _subscribe(client, consumer, running.base_url + "/hooks")
    approve_agreement(db_session, consumer=PROVINCE_SAMR)
    other = token_headers(client, db_session, PROVINCE_SAMR, scopes=("exchange:query",))
    url = f"/api/v1/exchange/subscriptions/{created['id']}"
    assert client.get(url, headers=other).status_code == 404
    assert client.get(url + "/dead-letters", headers=other).status_code == 404
    assert client.delete(url, headers=other).status_code == 404
    assert client.get("/api/v1/exchange/subscriptions", headers=other).json() == []

    listed = client.get("/api/v1/exchange/subscriptions", headers=consumer).json()
    assert [s["id"] for s in listed] == [created["id"]] and "secret" not in listed[0]
    rotated = client.post(url + "/secret", headers=consumer).json()
    assert rotated["secret"] != created["secret"]
    assert client.delete(url, headers=consumer).status_code == 204
    assert client.get(url, headers=consumer).json()["status"] == "cancelled"


def test_the_app_delivers_in_a_background_thread(settings, tmp_path, receiver):
    """With background_jobs the app runs the worker itself (as `certhub serve` does)."""
    from fastapi.testclient import TestClient

    from certhub.app import create_app
    from certhub.db import create_db_engine, create_sessionmaker, upgrade
    from tests.factories.licences import issue_licence, revoke_licence

    running, endpoint = receiver
    engine = create_db_engine(f"sqlite:///{tmp_path / 'background.sqlite3'}")
    upgrade(engine)
    with create_sessionmaker(engine)() as session:
        build_world(session)
        approve_agreement(session)
        with TestClient(create_app(settings, engine=engine)) as setup:
            consumer = token_headers(setup, session, COUNTY_CENTRE, scopes=("exchange:query",))
            endpoint.secret = _subscribe(setup, consumer, running.base_url + "/hooks")["secret"].encode()
        revoke_licence(session, issue_licence(session))
    with TestClient(create_app(settings, engine=engine, background_jobs=True)):
        deadline = time.monotonic() + 30
        while not endpoint.accepted and time.monotonic() < deadline:
            time.sleep(0.05)
    engine.dispose()
    [payload] = endpoint.accepted.values()
    assert payload["type"] == "licence.revoked"
