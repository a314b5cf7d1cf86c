"""Web Push of use notices against a real push service on loopback.

The push service here is a small HTTP server in a thread that does what a
browser vendor's does with a message, and what the browser then does with
it: it checks the VAPID token (RFC 8292) against the hub's public key and
the audience, and the test, acting as the user agent, decrypts the body
with the subscription's private key (RFC 8291, http_ece). The platform's
allow-list names only this server's origin."""

from __future__ import annotations

import time
from datetime import timedelta

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from py_vapid import Vapid02
from sqlalchemy import select

from adapters.models import WebhookDelivery
from catalog.access import UseLog, UseRecord
from certhub.settings import Settings
from exchange.subscriptions.callbacks import CallbackPolicy
from exchange.subscriptions.models import DispatchCursor
from exchange.webpush import service as web_push
from exchange.webpush.config import PushEndpointRefused, WebPushConfig, WebPushOff
from exchange.webpush.models import WebPushSubscription
from registry.config import RegistryConfig
from storage.base import utcnow
from tests.adapters import loopback
from tests.factories.catalog import CITY_SAMR
from tests.factories.licences import REGISTRY_ID, build_world, citizen_id, holder_headers, publish_log_checkpoint
from tests.factories.settings import TEST_SECRET
from tests.factories.web_push import UserAgent, b64url, start_push_service, unb64url

ALICE = citizen_id("35010219900101123")
BOB = citizen_id("35010219851231002")
LOOPBACK = CallbackPolicy(allow_loopback=True)


@pytest.fixture
def push_service():
    running = start_push_service()
    yield running
    loopback.stop(running)


@pytest.fixture
def settings(tmp_path, push_service) -> Settings:
    return Settings(secret_key=TEST_SECRET, data_dir=tmp_path, registry_id=REGISTRY_ID, demo=True,
                    web_push_origins=push_service.base_url, web_push_contact="mailto:ops@registry.test")


@pytest.fixture
def world(db_session):
    build_world(db_session)
    publish_log_checkpoint(db_session)


def _use(app, session, subject: str, *, basis: str = "holder_presentation", kind: str = "redemption") -> None:
    app.state.services.find(UseLog).append(session=session, records=[UseRecord(
        kind=kind, department_code=CITY_SAMR, operator_id="clerk-7" if basis != "holder_self" else "holder",
        basis=basis, subject_code=subject, licence_ids=("1.2.156.3005.2.X.Y.00000001.001.K",),
        matter_code="M1", purpose="核验身份")])
    session.commit()


def _worker(app, session_factory) -> web_push.WebPushWorker:
    services = app.state.services
    return web_push.WebPushWorker(sessions=session_factory, key_secret=services.find(RegistryConfig).key_secret,
                                  config=services.find(WebPushConfig), policy=LOOPBACK)


def _subscribe(client, headers, agent: UserAgent):
    return client.post("/api/v1/holders/me/web-push/subscriptions", headers=headers, json=agent.subscription)


def test_a_use_is_pushed_encrypted_with_a_vapid_token_and_nothing_else_is(client, app, db_session, session_factory,
                                                                         world, push_service):
    alice = holder_headers(client, code=ALICE)
    state = client.get("/api/v1/holders/me/web-push", headers=alice).json()
    assert state["enabled"] and state["subscriptions"] == 0
    public_key = unb64url(state["public_key"])
    assert len(public_key) == 65 and public_key[0] == 4  # an uncompressed P-256 point: the applicationServerKey
    agent = UserAgent(push_service.base_url + "/push/alice-phone")
    assert _subscribe(client, alice, agent).status_code == 201
    assert client.get("/api/v1/holders/me/web-push", headers=alice).json()["subscriptions"] == 1

    worker = _worker(app, session_factory)
    try:
        worker.run_once()  # the log so far: nothing pushed
        _use(app, db_session, ALICE, basis="holder_self", kind="holder_access")  # her own view: not news
        _use(app, db_session, BOB)  # someone else's data
        _use(app, db_session, ALICE)
        dispatched, delivered = worker.run_once()
    finally:
        worker.close()
    assert dispatched.enqueued == 1 and len(delivered.delivered) == 1
    [message] = push_service.requests_to("/push/")
    assert message.path == "/push/alice-phone" and message.method == "POST"
    # SPEC: RFC 8030 §5.2 TTL; RFC 8291 §4 aes128gcm.
    assert message.headers["content-encoding"] == "aes128gcm" and int(message.headers["ttl"]) > 0
    # SPEC: RFC 8292 §3: "vapid t=<JWT>, k=<public key>", the JWT signed by that key, for this origin.
    authorization = message.headers["authorization"]
    assert authorization.startswith("vapid ") and Vapid02.verify(authorization)
    params = dict(part.strip().split("=", 1) for part in authorization[len("vapid "):].split(","))
    assert unb64url(params["k"]) == public_key
    key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), public_key)
    claims = jwt.decode(params["t"], key=key, algorithms=["ES256"], audience=push_service.base_url)
    assert claims["sub"] == "mailto:ops@registry.test" and time.time() < claims["exp"] <= time.time() + 24 * 3600
    # The service saw ciphertext; the user agent reads the notice: who, what, when — no licence, no purpose.
    assert b"\xe7\xa6\x8f\xe5\xb7\x9e" not in message.body  # "福州" is not in the clear
    notice = agent.decrypt(message.body)
    assert notice == {"type": "use", "kind": "redemption", "result": "granted", "time": notice["time"],
                      "department": "福州市市场监督管理局"}


def test_a_push_service_answering_410_drops_the_subscription_and_503_is_retried(
        client, app, db_session, session_factory, world, push_service):
    alice = holder_headers(client, code=ALICE)
    gone, busy = UserAgent(push_service.base_url + "/push/gone"), UserAgent(push_service.base_url + "/push/busy")
    push_service.statuses.update({"/push/gone": 410, "/push/busy": 503})
    assert _subscribe(client, alice, gone).status_code == 201
    assert _subscribe(client, alice, busy).status_code == 201
    worker = _worker(app, session_factory)
    try:
        worker.run_once()
        _use(app, db_session, ALICE)
        _dispatched, delivered = worker.run_once()
    finally:
        worker.close()
    assert len(delivered.dead) == 1 and len(delivered.retrying) == 1
    kept = db_session.scalars(select(WebPushSubscription.endpoint)).all()
    assert kept == [busy.endpoint]  # 410: the subscription is gone (RFC 8030 §7.3)
    retry = db_session.scalar(select(WebhookDelivery).where(WebhookDelivery.url == busy.endpoint))
    assert retry.status == "pending" and retry.attempts == 1 and retry.last_error == "HTTP 503"
    assert retry.next_attempt_at > utcnow() + timedelta(seconds=5)
    # Both were tried: the 503 one will be again, the 410 one never.
    assert {s.path for s in push_service.requests_to("/push/")} == {"/push/gone", "/push/busy"}


def test_an_endpoint_off_the_allow_list_is_refused_and_nothing_is_sent(client, push_service):
    alice = holder_headers(client, code=ALICE)
    other_port = loopback.closed_port()
    for endpoint in ("https://push.example.com/send/abc",  # not an allowed push service
                     f"http://127.0.0.1:{other_port}/push/x",  # the allowed host on another port
                     push_service.base_url.replace("http://", "https://") + "/push/x",  # another scheme
                     "http://user:pw@" + push_service.base_url[len("http://"):] + "/push/x"):  # credentials
        agent = UserAgent(endpoint)
        response = _subscribe(client, alice, agent)
        assert response.status_code == 422 and response.json()["error"] == "push_endpoint_refused", endpoint
    assert client.get("/api/v1/holders/me/web-push", headers=alice).json()["subscriptions"] == 0


def test_subscriptions_need_real_keys_and_can_be_removed(client, push_service):
    alice = holder_headers(client, code=ALICE)
    agent = UserAgent(push_service.base_url + "/push/alice")
    not_a_point = dict(agent.subscription, keys={"p256dh": b64url(b"\x04" + b"\x01" * 64),
                                                 "auth": agent.subscription["keys"]["auth"]})
    assert client.post("/api/v1/holders/me/web-push/subscriptions", headers=alice,
                       json=not_a_point).status_code == 422
    assert _subscribe(client, alice, agent).status_code == 201
    removed = client.post("/api/v1/holders/me/web-push/subscriptions/remove", headers=alice,
                          json={"endpoint": agent.endpoint})
    assert removed.status_code == 204
    assert client.get("/api/v1/holders/me/web-push", headers=alice).json()["subscriptions"] == 0
    assert client.get("/api/v1/holders/me/web-push").status_code == 401


def test_an_empty_allow_list_turns_web_push_off():
    off = WebPushConfig(origins=(), contact="https://registry.test")
    assert not off.enabled
    with pytest.raises(WebPushOff):
        off.check_endpoint("https://fcm.googleapis.com/fcm/send/abc")
    vendors = WebPushConfig(origins=Settings.split_origins(Settings().web_push_origins), contact="https://r.test")
    assert vendors.check_endpoint("https://fcm.googleapis.com/fcm/send/abc")
    assert vendors.check_endpoint("https://wns2-par02p.notify.windows.com/w/?token=abc")
    for endpoint in ("https://notify.windows.com.evil.example/w", "https://evilnotify.windows.com/w",
                     "http://fcm.googleapis.com/fcm/send/abc", "https://fcm.googleapis.com:8443/fcm/send/abc"):
        with pytest.raises(PushEndpointRefused):
            vendors.check_endpoint(endpoint)


def test_with_nobody_subscribed_a_round_writes_nothing(app, db_session, session_factory, world):
    _use(app, db_session, ALICE)
    worker = _worker(app, session_factory)
    try:
        dispatched, delivered = worker.run_once()
    finally:
        worker.close()
    assert (dispatched.entries, dispatched.enqueued, delivered.delivered) == (0, 0, [])
    assert db_session.scalar(select(DispatchCursor).where(DispatchCursor.name == web_push.CURSOR_NAME)) is None


def test_a_use_before_the_first_round_after_the_first_subscription_is_pushed(
        client, app, db_session, session_factory, world, push_service):
    _use(app, db_session, ALICE)  # before anyone subscribed: not pushed
    agent = UserAgent(push_service.base_url + "/push/alice-new-phone")
    assert _subscribe(client, holder_headers(client, code=ALICE), agent).status_code == 201
    _use(app, db_session, ALICE)  # between the first subscription and the worker's first round
    worker = _worker(app, session_factory)
    try:
        dispatched, delivered = worker.run_once()
    finally:
        worker.close()
    assert dispatched.enqueued == 1 and len(delivered.delivered) == 1
    assert len(push_service.requests_to("/push/alice-new-phone")) == 1


def test_a_browser_that_changes_holder_gets_nothing_queued_for_the_first(
        client, app, db_session, session_factory, world, push_service):
    shared = UserAgent(push_service.base_url + "/push/shared-tablet")
    assert _subscribe(client, holder_headers(client, code=ALICE), shared).status_code == 201
    push_service.statuses["/push/shared-tablet"] = 503  # Alice's notice waits for a retry
    worker = _worker(app, session_factory)
    try:
        worker.run_once()
        _use(app, db_session, ALICE)
        worker.run_once()
        assert db_session.scalar(select(WebhookDelivery).where(WebhookDelivery.url == shared.endpoint)) is not None
        bob_device = UserAgent(shared.endpoint)  # Bob signs in on the same browser: new keys, same endpoint
        assert _subscribe(client, holder_headers(client, code=BOB), bob_device).status_code == 201
        assert db_session.scalar(select(WebhookDelivery).where(WebhookDelivery.url == shared.endpoint,
                                                               WebhookDelivery.status == "pending")) is None
    finally:
        worker.close()
    assert db_session.scalar(select(WebPushSubscription.holder_code)) == BOB
