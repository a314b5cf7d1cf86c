"""Other registries' documents from a loopback server: last good copy,
conditional refresh, validation, grace period, then refusal."""

from __future__ import annotations

import ssl
import threading
from datetime import timedelta

import pytest

from adapters.errors import AdapterConfigError, StaleSource
from adapters.federation import FAILED, NOT_MODIFIED, UPDATED, Federation, FederationSource, run_schedule
from adapters.http_client import HttpClient
from storage.base import utcnow
from tests.adapters import loopback
from tests.adapters.tls import make_pki

TRUST_LIST = b'{"registry":"https://gd.example","keys":["k1"]}'


class Publisher:
    def __init__(self, body: bytes, etag: str = '"v1"'):
        self.body, self.etag, self.status = body, etag, 200
        self.conditional = 0

    def __call__(self, handler):
        if self.status != 200:
            handler.reply(self.status, b"")
            return
        if handler.headers.get("If-None-Match") == self.etag:
            self.conditional += 1
            handler.send_response(304)
            handler.send_header("ETag", self.etag)
            handler.end_headers()
            return
        handler.reply(200, self.body, headers={"ETag": self.etag})


def _must_be_json_object(body: bytes) -> None:
    if not body.startswith(b"{"):
        raise ValueError("not a trust list")


@pytest.fixture
def federation(provider):
    publisher = Publisher(TRUST_LIST)
    provider.routes["/trust-list"] = publisher
    source = FederationSource(
        name="guangdong", url=provider.base_url + "/trust-list", refresh_interval=timedelta(hours=1),
        grace_period=timedelta(hours=24), validate=_must_be_json_object, max_bytes=10_000, deadline=2.0,
    )
    with HttpClient() as client:
        yield Federation([source], client=client), publisher


def test_a_fetched_document_is_served_with_its_age(db_session, federation):
    fed, _ = federation
    now = utcnow()
    assert fed.refresh(session=db_session, name="guangdong", now=now) == UPDATED
    copy = fed.get(session=db_session, name="guangdong", now=now + timedelta(minutes=5))
    # the publisher sends "ETag" and "Content-Type": looked up whatever their case
    assert (copy.body, copy.etag, copy.age) == (TRUST_LIST, '"v1"', timedelta(minutes=5))
    assert copy.content_type == "application/json"
    (status,) = fed.report(session=db_session, now=now + timedelta(hours=2))
    assert (status.source, status.age_seconds, status.servable, status.last_error) == ("guangdong", 7200, True, None)


def test_refresh_is_conditional_on_the_etag(db_session, federation):
    fed, publisher = federation
    now = utcnow()
    fed.refresh(session=db_session, name="guangdong", now=now)
    assert fed.refresh(session=db_session, name="guangdong", now=now + timedelta(hours=1)) == NOT_MODIFIED
    assert publisher.conditional == 1
    assert fed.get(session=db_session, name="guangdong", now=now + timedelta(hours=1)).age == timedelta(0)


def test_a_document_failing_validation_is_not_stored(db_session, federation):
    fed, publisher = federation
    now = utcnow()
    fed.refresh(session=db_session, name="guangdong", now=now)
    publisher.body, publisher.etag = b"<html>captive portal</html>", '"v2"'
    assert fed.refresh(session=db_session, name="guangdong", now=now + timedelta(hours=1)) == FAILED
    assert fed.get(session=db_session, name="guangdong", now=now + timedelta(hours=1)).body == TRUST_LIST
    (status,) = fed.report(session=db_session, now=now + timedelta(hours=1))
    assert status.last_error.startswith("document_rejected")


def test_last_good_copy_is_served_within_grace_then_refused(db_session, federation):
    fed, publisher = federation
    now = utcnow()
    fed.refresh(session=db_session, name="guangdong", now=now)
    publisher.status = 503
    later = now + timedelta(hours=23)
    assert fed.refresh(session=db_session, name="guangdong", now=later) == FAILED
    assert fed.get(session=db_session, name="guangdong", now=later).body == TRUST_LIST
    with pytest.raises(StaleSource) as caught:
        fed.get(session=db_session, name="guangdong", now=now + timedelta(hours=24, seconds=1))
    assert caught.value.code == "stale_source"
    (status,) = fed.report(session=db_session, now=now + timedelta(hours=25))
    assert not status.servable and "HTTP 503" in status.last_error


def test_never_fetched_is_refused(db_session, federation):
    fed, _ = federation
    with pytest.raises(StaleSource, match="no good copy"):
        fed.get(session=db_session, name="guangdong", now=utcnow())
    with pytest.raises(AdapterConfigError):
        fed.get(session=db_session, name="nowhere", now=utcnow())


def test_unreachable_and_oversized_sources_fail_without_raising(db_session, provider):
    provider.routes["/big"] = lambda h: h.reply(200, b"{" + b" " * 20_000)
    sources = [
        FederationSource(name="down", url=f"http://127.0.0.1:{loopback.closed_port()}/tl"),
        FederationSource(name="big", url=provider.base_url + "/big", max_bytes=10_000),
    ]
    with HttpClient() as client:
        fed = Federation(sources, client=client)
        outcomes = fed.refresh_due(session=db_session, now=utcnow())
        assert outcomes == {"down": FAILED, "big": FAILED}
        errors = {s.source: s.last_error for s in fed.report(session=db_session, now=utcnow())}
    assert errors["down"].startswith("provider_unavailable") and errors["big"].startswith("response_too_large")


def test_refresh_due_respects_each_interval(db_session, federation):
    fed, _ = federation
    now = utcnow()
    assert fed.refresh_due(session=db_session, now=now) == {"guangdong": UPDATED}
    assert fed.refresh_due(session=db_session, now=now + timedelta(minutes=59)) == {}
    assert fed.refresh_due(session=db_session, now=now + timedelta(hours=1)) == {"guangdong": NOT_MODIFIED}


def test_the_schedule_loop_refreshes_and_stops(db_session, session_factory, provider, federation):
    fed, publisher = federation
    stop = threading.Event()

    def serve_then_stop(handler):
        publisher(handler)
        stop.set()

    provider.routes["/trust-list"] = serve_then_stop
    thread = threading.Thread(
        target=run_schedule, args=(fed,), kwargs={"sessions": session_factory, "stop": stop, "tick_seconds": 0.05}
    )
    thread.start()
    thread.join(10)
    assert not thread.is_alive()
    assert fed.get(session=db_session, name="guangdong", now=utcnow()).body == TRUST_LIST


def test_a_grace_period_shorter_than_the_interval_is_refused():
    with pytest.raises(AdapterConfigError):
        FederationSource(name="x", url="https://x.invalid/tl", refresh_interval=timedelta(hours=2), grace_period=timedelta(hours=1))


def test_the_clients_tls_context_decides_whom_the_fetcher_trusts(db_session, tmp_path):
    pki = make_pki(tmp_path)
    running = loopback.start(pki.server_context())
    try:
        running.routes["/trust-list"] = Publisher(TRUST_LIST)
        source = FederationSource(name="guangdong", url=running.base_url + "/trust-list", deadline=5.0)
        with HttpClient() as default_trust:  # the system CAs: the test CA is unknown
            fed = Federation([source], client=default_trust)
            assert fed.refresh(session=db_session, name="guangdong", now=utcnow()) == FAILED
            (status,) = fed.report(session=db_session, now=utcnow())
            assert status.last_error.startswith("provider_unavailable")
        with HttpClient(ssl_context=ssl.create_default_context(cafile=str(pki.ca_cert))) as test_ca:
            assert Federation([source], client=test_ca).refresh(session=db_session, name="guangdong", now=utcnow()) == UPDATED
    finally:
        loopback.stop(running)
