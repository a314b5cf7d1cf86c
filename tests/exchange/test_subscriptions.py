"""Push subscriptions below HTTP: callback URL rules (SSRF), the outbox
dispatcher and its cursor, the agreement check per event, secrets."""

from __future__ import annotations

import ipaddress
import ssl
from datetime import timedelta

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from adapters.models import WebhookDelivery
from exchange.agreements import service as agreements
from exchange.subscriptions import service
from exchange.subscriptions.callbacks import (
    CallbackPolicy,
    GuardedClient,
    UnsafeDestination,
    check_address,
    check_callback_url,
)
from exchange.subscriptions.dispatcher import dispatch, event_id, registry_tag
from exchange.subscriptions.errors import InvalidSubscription, NoAgreement, UnsafeCallbackUrl
from exchange.subscriptions.models import DispatchCursor, Subscription
from registry.models import LicenceEvent
from storage.base import utcnow
from storage.egress import DIRECT, Egress, EgressUnreachable
from tests.adapters import loopback
from tests.adapters.tls import make_pki
from tests.factories.agreements import approve_agreement
from tests.factories.catalog import BUSINESS_LICENCE, CITY_SAMR, COUNTY_CENTRE, FOOD_LICENCE
from tests.factories.licences import KEY_SECRET, REGISTRY_ID, build_world, issue_licence, revoke_licence

LOOPBACK = CallbackPolicy(allow_loopback=True)
PUBLIC_ONLY = CallbackPolicy()
CALLBACK = "http://127.0.0.1:9/hooks"


# -- callback URLs -------------------------------------------------------------


@pytest.mark.parametrize("url, message", [
    ("http://8.8.8.8/hooks", "https"),
    ("ftp://8.8.8.8/hooks", "absolute https"),
    ("https://user:pw@8.8.8.8/hooks", "credentials"),
    ("https://8.8.8.8/hooks#frag", "fragment"),
    ("https://10.1.2.3/hooks", "not a public address"),
    ("https://192.168.1.1/hooks", "not a public address"),
    ("https://100.64.0.1/hooks", "not a public address"),
    ("https://169.254.169.254/latest/meta-data", "link-local"),
    ("https://[fe80::1]/hooks", "link-local"),
    ("https://[::ffff:10.0.0.1]/hooks", "not a public address"),
    ("https://0.0.0.0/hooks", "link-local, multicast or reserved"),
    ("https://127.0.0.1/hooks", "loopback"),
    ("https://[::1]/hooks", "loopback"),
    ("https://localhost/hooks", "loopback"),
    ("https://8.8.8.8:99999/hooks", "invalid port"),
    ("https://no-such-host.invalid/hooks", "does not resolve"),
])
def test_unsafe_callback_urls_are_refused(url, message):
    with pytest.raises(UnsafeCallbackUrl, match=message):
        check_callback_url(url, policy=PUBLIC_ONLY)


def test_public_https_urls_pass_and_development_allows_loopback():
    assert check_callback_url("https://8.8.8.8/hooks", policy=PUBLIC_ONLY) == "https://8.8.8.8/hooks"
    assert check_callback_url("http://127.0.0.1:8080/hooks", policy=LOOPBACK)
    with pytest.raises(UnsafeCallbackUrl, match="https"):
        check_callback_url("http://8.8.8.8/hooks", policy=LOOPBACK)
    # Demo mode allows loopback, and no other address that is not public.
    demo = CallbackPolicy.for_deployment(demo=True, allow_loopback=False)
    check_address(ipaddress.ip_address("127.0.0.1"), policy=demo)
    check_address(ipaddress.ip_address("::1"), policy=demo)
    with pytest.raises(UnsafeCallbackUrl):
        check_address(ipaddress.ip_address("169.254.169.254"), policy=demo)


DEMO = CallbackPolicy.for_deployment(demo=True, allow_loopback=False)


@pytest.mark.parametrize("address", [
    "10.0.0.5", "172.16.0.1", "172.31.255.254", "192.168.1.1", "100.64.0.1", "169.254.169.254", "198.18.0.1",
    "192.0.2.1", "fc00::1", "fd12:3456::1", "fe80::1", "::ffff:192.168.0.1", "2002:c0a8:101::1", "64:ff9b::a00:5",
])
def test_demo_mode_refuses_every_non_public_address_but_loopback(address):
    """Checked on the literal before any connection: nothing is sent anywhere."""
    host = f"[{address}]" if ":" in address else address
    with pytest.raises(UnsafeCallbackUrl):
        check_callback_url(f"https://{host}/hooks", policy=DEMO)


def test_demo_mode_subscription_to_a_private_address_is_refused(db_session, world):
    approve_agreement(db_session)
    with pytest.raises(UnsafeCallbackUrl):
        service.create(session=db_session, department_code=COUNTY_CENTRE, client_id="county-client",
                       callback_url="https://192.168.10.20/hooks", event_kinds=["issued"],
                       licence_type_codes=[BUSINESS_LICENCE], policy=DEMO, key_secret=KEY_SECRET, now=utcnow())


def test_demo_mode_delivery_refuses_a_name_that_now_resolves_private():
    """DNS rebinding: the name was public when subscribed and answers a
    private address at delivery. The policy's resolver is the test's own, so
    no DNS is asked, and the egress client under the guard shows any pool
    opened (a connection needs one)."""
    answers = {"hooks.county.example": [ipaddress.ip_address("93.184.216.34")]}
    rebinding = CallbackPolicy(allow_loopback=True, resolve=lambda host, port: answers[host])
    assert rebinding == DEMO  # the demo deployment's policy, with the test's resolver
    url = "https://hooks.county.example/hooks"
    assert check_callback_url(url, policy=rebinding) == url
    answers["hooks.county.example"] = [ipaddress.ip_address("10.20.30.40")]
    with DIRECT.client() as inner, GuardedClient(policy=rebinding, client=inner) as client:
        with pytest.raises(UnsafeDestination, match="not a public address"), client.request("POST", url, body=b"{}"):
            pass
        assert inner.pools_open() == 0


@pytest.mark.parametrize("through_proxy", [False, True])
def test_a_pinned_https_callback_is_verified_on_its_name(tmp_path, through_proxy):
    """The guard connects to the checked address (or asks the proxy for it),
    while SNI and the certificate check use the callback's host name: the
    server's certificate names only that host, not the address."""
    pki = make_pki(tmp_path, server_name="hooks.county.example")
    server = loopback.start(pki.server_context())
    server.routes["/hooks"] = lambda handler: handler.reply(204, b"")
    proxy = loopback.EgressProxy() if through_proxy else None
    port = server.server.server_address[1]
    to_loopback = CallbackPolicy(allow_loopback=True, resolve=lambda host, _port: [ipaddress.ip_address("127.0.0.1")])
    egress = Egress(proxy=proxy.url) if proxy else DIRECT
    try:
        with egress.client(ssl_context=ssl.create_default_context(cafile=str(pki.ca_cert))) as inner, \
                GuardedClient(policy=to_loopback, client=inner) as guarded:
            with guarded.request("POST", f"https://hooks.county.example:{port}/hooks", body=b"{}") as answer:
                assert answer.status == 204
            # A name the certificate does not carry is refused, though the address is the same.
            with pytest.raises(EgressUnreachable, match="ConnectError"), guarded.request(
                    "POST", f"https://other.county.example:{port}/hooks", body=b"{}"):
                pass
        (seen,) = server.requests_to("/hooks")
        assert seen.headers["host"] == f"hooks.county.example:{port}"
        if proxy:
            assert proxy.asked == [("CONNECT", f"127.0.0.1:{port}")] * 2
    finally:
        if proxy:
            proxy.close()
        loopback.stop(server)


def test_the_delivery_transport_checks_addresses_again():
    """A callback that later resolves to a refused address is not called."""
    server = loopback.start()
    server.routes["/hooks"] = lambda handler: handler.reply(204, b"")
    try:
        with GuardedClient(policy=PUBLIC_ONLY) as guarded:
            with pytest.raises(UnsafeDestination, match="loopback"), guarded.request("POST", server.base_url + "/hooks",
                                                                                      body=b"{}"):
                pass
        with GuardedClient(policy=LOOPBACK) as allowed, allowed.request(
                "POST", f"http://localhost:{server.server.server_address[1]}/hooks") as answer:
            assert answer.status == 204
        assert server.requests_to("/hooks")[0].headers["host"] == f"localhost:{server.server.server_address[1]}"
    finally:
        loopback.stop(server)


# -- subscriptions ---------------------------------------------------------------


@pytest.fixture
def world(db_session):
    return build_world(db_session)


def _subscribe(session, *, kinds=("issued", "revoked"), types=(BUSINESS_LICENCE,), url=CALLBACK):
    new = service.create(session=session, department_code=COUNTY_CENTRE, client_id="county-client",
                         callback_url=url, event_kinds=list(kinds), licence_type_codes=list(types),
                         policy=LOOPBACK, key_secret=KEY_SECRET, now=utcnow())
    session.commit()
    return new


def test_subscribing_needs_an_active_agreement_for_every_type(db_session, world):
    with pytest.raises(NoAgreement, match=BUSINESS_LICENCE):
        _subscribe(db_session)
    approve_agreement(db_session)
    with pytest.raises(NoAgreement, match=FOOD_LICENCE):
        _subscribe(db_session, types=(BUSINESS_LICENCE, FOOD_LICENCE))
    with pytest.raises(InvalidSubscription, match="not a licence type"):
        _subscribe(db_session, types=("11100000MB00000049999",))
    with pytest.raises(InvalidSubscription, match="event_kinds"):
        _subscribe(db_session, kinds=("deleted",))
    assert _subscribe(db_session).subscription.event_kinds == ["issued", "revoked"]


def test_the_secret_is_derived_not_stored_and_rotates(db_session, world):
    approve_agreement(db_session)
    new = _subscribe(db_session)
    row = db_session.get(Subscription, new.subscription.id)
    assert new.secret not in str([getattr(row, c.key) for c in Subscription.__table__.columns])
    assert service.webhook_secret(key_secret=KEY_SECRET, subscription=row) == new.secret
    rotated = service.rotate_secret(session=db_session, subscription_id=row.id, department_code=COUNTY_CENTRE,
                                    key_secret=KEY_SECRET, now=utcnow())
    assert rotated.secret != new.secret and len(rotated.secret) == 43


def _deliveries(session, subscription_id):
    return list(session.scalars(select(WebhookDelivery).where(
        WebhookDelivery.subscriber_key == service.subscriber_key(subscription_id)).order_by(WebhookDelivery.id)))


def test_dispatch_enqueues_each_matching_event_once(db_session, world):
    approve_agreement(db_session)
    subscription = _subscribe(db_session, kinds=("revoked",)).subscription
    licence = issue_licence(db_session)
    first = dispatch(session=db_session, registry_id=REGISTRY_ID)
    db_session.commit()
    assert first.enqueued == 0 and first.events >= 1  # "issued" is not subscribed to
    revoke_licence(db_session, licence)
    second = dispatch(session=db_session, registry_id=REGISTRY_ID)
    db_session.commit()
    assert second.enqueued == 1
    [delivery] = _deliveries(db_session, subscription.id)
    revoked = db_session.scalars(select(LicenceEvent).where(LicenceEvent.action == "revoke")).one()
    assert delivery.event_id == f"evt-{registry_tag(REGISTRY_ID)}-{revoked.id}" == event_id(
        registry_id=REGISTRY_ID, event=revoked)
    payload = delivery.payload
    assert payload["kind"] == "revoked" and payload["type"] == "licence.revoked"
    assert payload["licence"] == licence.base_identifier and payload["licence_type"] == BUSINESS_LICENCE
    assert payload["status"] == "revoked" and payload["previous_status"] == "valid"
    # Nothing about the holder, and not the reason text.
    flat = str(payload)
    assert licence.holder_code not in flat and licence.holder_name not in flat and "虚假登记" not in flat
    # A second round finds nothing new: the cursor moved with the deliveries.
    again = dispatch(session=db_session, registry_id=REGISTRY_ID)
    assert again.events == 0 and len(_deliveries(db_session, subscription.id)) == 1


def test_events_from_before_the_subscription_are_not_sent(db_session, world):
    approve_agreement(db_session)
    licence = issue_licence(db_session)  # before anyone subscribed, and before the dispatcher ever ran
    subscription = _subscribe(db_session).subscription
    revoke_licence(db_session, licence)
    report = dispatch(session=db_session, registry_id=REGISTRY_ID)
    assert [d.payload["kind"] for d in _deliveries(db_session, subscription.id)] == ["revoked"]
    assert report.events == 2 and report.enqueued == 1


def test_events_stop_when_the_agreement_ends(db_session, world):
    agreement = approve_agreement(db_session)
    subscription = _subscribe(db_session).subscription
    agreements.revoke(session=db_session, agreement_id=agreement.id, provider_code=CITY_SAMR, operator="reviewer-1",
                      reason="协议终止", now=utcnow())
    db_session.commit()
    issue_licence(db_session)
    report = dispatch(session=db_session, registry_id=REGISTRY_ID)
    assert report.enqueued == 0 and report.skipped_no_agreement == 1
    assert _deliveries(db_session, subscription.id) == []


@pytest.mark.slow
def test_an_id_committed_late_is_dispatched_from_the_gaps(db_session, world):
    """PostgreSQL hands out ids at insert: a lower id may commit after a higher one."""
    approve_agreement(db_session)
    subscription = _subscribe(db_session, kinds=("changed",)).subscription
    licence = issue_licence(db_session)
    # Ids rolled back by earlier tests (PostgreSQL sequences never go back)
    # are gaps already, as many as the cap keeps: start this test without them.
    dispatch(session=db_session, registry_id=REGISTRY_ID)
    cursor = db_session.scalars(select(DispatchCursor)).one()
    cursor.gaps = {}
    db_session.commit()
    known_gaps = 0
    cursor_at = cursor.last_event_id

    def change_event(event_id_):
        db_session.add(LicenceEvent(id=event_id_, licence_id=licence.id, action="change", from_status="valid",
                                    to_status="valid", version=1, at=utcnow()))
        db_session.commit()

    change_event(cursor_at + 2)  # committed first
    report = dispatch(session=db_session, registry_id=REGISTRY_ID)
    db_session.commit()
    assert report.enqueued == 1 and report.cursor == cursor_at + 2 and report.gaps == known_gaps + 1
    change_event(cursor_at + 1)  # the slower transaction commits later
    report = dispatch(session=db_session, registry_id=REGISTRY_ID)
    db_session.commit()
    assert report.enqueued == 1 and report.gaps == known_gaps
    assert sorted(d.event_id for d in _deliveries(db_session, subscription.id)) == sorted(
        f"evt-{registry_tag(REGISTRY_ID)}-{i}" for i in (cursor_at + 1, cursor_at + 2))
    # A gap that never fills is given up after a while.
    change_event(cursor_at + 4)
    dispatch(session=db_session, registry_id=REGISTRY_ID)
    later = dispatch(session=db_session, registry_id=REGISTRY_ID, now=utcnow() + timedelta(hours=1))
    assert later.gaps == 0


def test_cancelling_turns_pending_deliveries_into_dead_letters(db_session, world):
    approve_agreement(db_session)
    subscription = _subscribe(db_session).subscription
    issue_licence(db_session)
    dispatch(session=db_session, registry_id=REGISTRY_ID)
    service.cancel(session=db_session, subscription_id=subscription.id, department_code=COUNTY_CENTRE, now=utcnow())
    db_session.commit()
    [delivery] = _deliveries(db_session, subscription.id)
    assert (delivery.status, delivery.last_error) == ("dead", "subscription cancelled")
    secret_for = service.secrets_by_subscriber(session=db_session, key_secret=KEY_SECRET)
    with pytest.raises(KeyError):
        secret_for(service.subscriber_key(subscription.id))
    with pytest.raises(InvalidSubscription):
        service.redeliver(session=db_session, subscription=subscription, delivery_id=delivery.id, now=utcnow())


def test_cli_runs_one_round(tmp_path, monkeypatch):
    from certhub.cli import app as cli

    monkeypatch.setenv("CERTHUB_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("CERTHUB_SECRET_KEY", "cli-test-secret-" + "y" * 40)
    monkeypatch.delenv("CERTHUB_DATABASE_URL", raising=False)
    runner = CliRunner()
    assert runner.invoke(cli, ["db", "upgrade"], catch_exceptions=False).exit_code == 0
    result = runner.invoke(cli, ["webhooks", "run", "--once"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "events read: 0; deliveries queued: 0; delivered: 0" in result.output
