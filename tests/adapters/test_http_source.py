"""The HTTP/JSON source against a real loopback provider that behaves well
or badly; every fault ends in a coded AdapterError."""

from __future__ import annotations

import gzip
import json
import logging
import threading
import time

import pytest

from adapters.errors import (
    AdapterConfigError,
    BindingMismatch,
    CircuitOpen,
    InvalidData,
    InvalidSubject,
    MalformedResponse,
    ProviderRejected,
    ProviderTimeout,
    ProviderUnavailable,
    ResponseTooLarge,
)
from adapters.sources import BindingRegistry, fetch_records
from adapters.sources.breaker import CircuitState
from tests.adapters import loopback
from tests.adapters.tls import make_pki
from tests.factories.adapters import COMPANY, ENTERPRISE_DATA
from tests.factories.catalog import uscc

pytestmark = pytest.mark.slow  # real provider servers on loopback, timeouts and retries

GOOD = {"data": {"entName": "福州示例餐饮有限公司", "reg": {"status": "存续"}, "estDate": "2015-06-01", "capital": 500}}
FIELDS = {"name": "/data/entName", "status": "data.reg.status", "founded": "/data/estDate", "capital": "data.capital"}


def _json(document) -> loopback.Route:
    return lambda h: h.reply(200, json.dumps(document, ensure_ascii=False).encode())


def _registry(base_url: str, *, environ=None, **overrides) -> BindingRegistry:
    binding = {
        "name": "samr_enterprise",
        "url": base_url + "/enterprises/{subject}",
        "fields": FIELDS,
        "timeouts": {"connect": 0.5, "read": 0.5, "deadline": 1.0},
        "retries": {"attempts": 3, "backoff": 0.01, "max_backoff": 0.02},
        "circuit": {"failure_threshold": 3, "cooldown": 0.2},
    }
    binding.update(overrides)
    return BindingRegistry.from_mapping({"http": [binding]}, environ=environ if environ is not None else {})


@pytest.fixture
def fetch(db_session, adapters_catalog):
    registries = []

    def run(registry: BindingRegistry, subject: str = COMPANY):
        registries.append(registry)
        return fetch_records(session=db_session, registry=registry, data_item_code=ENTERPRISE_DATA, subject=subject)

    yield run
    for registry in registries:
        registry.close()


def test_records_are_mapped_to_catalog_fields_with_the_auth_header(provider, fetch):
    provider.routes["/enterprises"] = _json(GOOD)
    registry = _registry(
        provider.base_url, environ={"SAMR_TOKEN": "s3cret-token"}, auth={"env": "SAMR_TOKEN"}
    )
    records = fetch(registry)
    assert records == [{"name": "福州示例餐饮有限公司", "status": "存续", "founded": "2015-06-01", "capital": 500}]
    (seen,) = provider.requests_to("/enterprises/")
    assert seen.path == f"/enterprises/{COMPANY}"
    assert seen.headers["authorization"] == "Bearer s3cret-token"


def test_a_list_of_records_and_absent_fields(provider, fetch):
    provider.routes["/enterprises"] = _json({"items": [{"entName": "甲"}, {"entName": "乙", "estDate": "2020-01-31"}]})
    registry = _registry(provider.base_url, records="/items", fields={
        "name": "entName", "status": "reg.status", "founded": "estDate", "capital": "capital"})
    assert fetch(registry) == [
        {"name": "甲", "status": None, "founded": None, "capital": None},
        {"name": "乙", "status": None, "founded": "2020-01-31", "capital": None},
    ]


def test_not_found_means_no_records(provider, fetch):
    assert fetch(_registry(provider.base_url)) == []  # no route: the loopback answers 404


def test_provider_down_is_provider_unavailable_after_the_retries(fetch):
    with pytest.raises(ProviderUnavailable) as caught:
        fetch(_registry(f"http://127.0.0.1:{loopback.closed_port()}"))
    assert caught.value.code == "provider_unavailable"


def test_a_slow_provider_times_out(provider, fetch):
    provider.routes["/enterprises"] = lambda h: (time.sleep(0.5), h.reply(200, b"{}"))
    registry = _registry(provider.base_url, timeouts={"connect": 0.5, "read": 0.1, "deadline": 0.3})
    with pytest.raises(ProviderTimeout) as caught:
        fetch(registry)
    assert caught.value.code == "provider_timeout"


def test_a_dripping_provider_is_cut_off_at_the_deadline(provider, fetch):
    def drip(h):
        h.send_response(200)
        h.end_headers()
        for _ in range(20):
            h.wfile.write(b" ")
            h.wfile.flush()
            time.sleep(0.05)

    provider.routes["/enterprises"] = drip
    registry = _registry(provider.base_url, timeouts={"connect": 0.5, "read": 0.2, "deadline": 0.3},
                         retries={"attempts": 1})
    with pytest.raises(ProviderTimeout):
        fetch(registry)


def test_5xx_is_retried_and_a_later_success_is_returned(provider, fetch):
    answers = iter([503, 502, 200])

    def flaky(h):
        status = next(answers)
        h.reply(status, json.dumps(GOOD).encode() if status == 200 else b"busy")

    provider.routes["/enterprises"] = flaky
    assert fetch(_registry(provider.base_url))[0]["status"] == "存续"
    assert len(provider.requests_to("/enterprises/")) == 3


def test_persistent_5xx_is_provider_unavailable(provider, fetch):
    provider.routes["/enterprises"] = lambda h: h.reply(500, b"oops")
    with pytest.raises(ProviderUnavailable, match="HTTP 500"):
        fetch(_registry(provider.base_url))
    assert len(provider.requests_to("/enterprises/")) == 3


def test_4xx_is_not_retried(provider, fetch):
    provider.routes["/enterprises"] = lambda h: h.reply(403, b"no")
    with pytest.raises(ProviderRejected):
        fetch(_registry(provider.base_url))
    assert len(provider.requests_to("/enterprises/")) == 1


def test_malformed_json(provider, fetch):
    provider.routes["/enterprises"] = lambda h: h.reply(200, b'{"data": {"entName": ')
    with pytest.raises(MalformedResponse) as caught:
        fetch(_registry(provider.base_url))
    assert caught.value.code == "malformed_response"
    assert len(provider.requests_to("/enterprises/")) == 1


def test_records_that_are_not_objects_are_malformed(provider, fetch):
    provider.routes["/enterprises"] = _json({"data": [1, 2]})
    with pytest.raises(MalformedResponse):
        fetch(_registry(provider.base_url, records="/data", fields={k: k for k in FIELDS}))


def test_oversized_streamed_response_is_aborted(provider, fetch):
    def endless(h):
        h.send_response(200)
        h.end_headers()  # no Content-Length: the size is only known by reading
        for _ in range(200):
            h.wfile.write(b"x" * 65536)

    provider.routes["/enterprises"] = endless
    with pytest.raises(ResponseTooLarge) as caught:
        fetch(_registry(provider.base_url, max_response_bytes=100_000))
    assert caught.value.code == "response_too_large"


def test_oversized_declared_length_is_refused_before_reading(provider, fetch):
    provider.routes["/enterprises"] = lambda h: h.reply(200, b" " * 200_000)
    with pytest.raises(ResponseTooLarge, match="declares"):
        fetch(_registry(provider.base_url, max_response_bytes=100_000))


def test_too_many_records(provider, fetch):
    provider.routes["/enterprises"] = _json({"items": [{"entName": "甲"}] * 5})
    with pytest.raises(ResponseTooLarge, match="records"):
        fetch(_registry(provider.base_url, records="/items", max_records=4, fields={k: k for k in FIELDS}))


@pytest.mark.parametrize(
    ("field", "value"),
    [("founded", "2015/06/01"), ("founded", "2015-02-30"), ("capital", "500"), ("capital", True),
     ("status", "营业中"), ("name", {"zh": "甲"}), ("name", "长" * 101)],
)

def test_mis_typed_data_is_an_error_not_passed_through(provider, fetch, field, value):
    document = {"data": {"entName": "甲", "reg": {"status": "存续"}, "estDate": "2015-06-01", "capital": 1}}
    target = {"name": ("entName",), "status": ("reg", "status"), "founded": ("estDate",), "capital": ("capital",)}[field]
    holder = document["data"]
    for step in target[:-1]:
        holder = holder[step]
    holder[target[-1]] = value
    provider.routes["/enterprises"] = _json(document)
    with pytest.raises(InvalidData) as caught:
        fetch(_registry(provider.base_url))
    assert caught.value.code == "invalid_data" and repr(field) in str(caught.value)
    assert str(value) not in str(caught.value)  # provider data stays out of messages


def test_circuit_opens_after_repeated_failures_and_closes_after_cooldown_and_success(provider, fetch):
    provider.routes["/enterprises"] = lambda h: h.reply(503, b"down")
    registry = _registry(provider.base_url, retries={"attempts": 1}, circuit={"failure_threshold": 2, "cooldown": 0.2})
    breaker = registry.source(kind="http", name="samr_enterprise").breaker
    for _ in range(2):
        with pytest.raises(ProviderUnavailable):
            fetch(registry)
    assert breaker.state is CircuitState.open
    with pytest.raises(CircuitOpen) as caught:
        fetch(registry)
    assert caught.value.code == "circuit_open"
    assert len(provider.requests_to("/enterprises/")) == 2  # the open circuit spared the provider

    time.sleep(0.25)  # the cool-down passes; the provider recovers
    provider.routes["/enterprises"] = _json(GOOD)
    assert breaker.state is CircuitState.half_open
    assert fetch(registry)[0]["name"] == "福州示例餐饮有限公司"
    assert breaker.state is CircuitState.closed


def test_a_failed_trial_reopens_the_circuit(provider, fetch):
    provider.routes["/enterprises"] = lambda h: h.reply(503, b"down")
    registry = _registry(provider.base_url, retries={"attempts": 1}, circuit={"failure_threshold": 1, "cooldown": 0.2})
    with pytest.raises(ProviderUnavailable):
        fetch(registry)
    time.sleep(0.25)
    with pytest.raises(ProviderUnavailable):
        fetch(registry)  # the half-open trial fails
    with pytest.raises(CircuitOpen):
        fetch(registry)


def test_logs_mask_the_subject(provider, fetch, caplog):
    provider.routes["/enterprises"] = lambda h: h.reply(500, b"oops")
    with caplog.at_level(logging.INFO, logger="certhub.adapters"), pytest.raises(ProviderUnavailable):
        fetch(_registry(provider.base_url))
    text = caplog.text
    assert "provider_unavailable" in text and COMPANY[:4] + "*" * 10 + COMPANY[-4:] in text
    assert COMPANY not in text


def test_an_invalid_subject_never_reaches_the_provider(provider, fetch):
    with pytest.raises(InvalidSubject):
        fetch(_registry(provider.base_url), subject="91350100MA0000001X")
    with pytest.raises(InvalidSubject):
        fetch(_registry(provider.base_url), subject="../../admin")
    assert provider.requests_to("/") == []


def test_a_mapping_that_does_not_match_the_data_item_is_refused(provider, fetch):
    with pytest.raises(BindingMismatch, match="unmapped"):
        fetch(_registry(provider.base_url, fields={"name": "/data/entName"}))


def test_a_missing_credential_variable_is_a_config_error(provider, fetch):
    with pytest.raises(AdapterConfigError, match="SAMR_TOKEN"):
        fetch(_registry(provider.base_url, auth={"env": "SAMR_TOKEN"}))


def test_client_certificate_authenticates_over_mutual_tls(tmp_path, fetch):
    pki = make_pki(tmp_path)
    running = loopback.start(pki.server_context(require_client_cert=True))
    try:
        running.routes["/enterprises"] = _json(GOOD)
        with_cert = _registry(running.base_url, ca_bundle=str(pki.ca_cert),
                              client_cert={"cert": str(pki.client_cert), "key": str(pki.client_key)})
        assert fetch(with_cert)[0]["capital"] == 500
        without_cert = _registry(running.base_url, ca_bundle=str(pki.ca_cert), retries={"attempts": 1})
        with pytest.raises(ProviderUnavailable):
            fetch(without_cert)
    finally:
        loopback.stop(running)


def test_a_redirect_is_not_followed(provider, fetch):
    elsewhere = f"{provider.base_url}/elsewhere/{COMPANY}"
    provider.routes["/enterprises"] = lambda h: h.reply(302, b"", headers={"Location": elsewhere})
    provider.routes["/elsewhere"] = _json(GOOD)
    with pytest.raises(ProviderRejected, match="HTTP 302"):
        fetch(_registry(provider.base_url))
    assert provider.requests_to("/elsewhere") == []  # the subject went nowhere else


def test_a_compression_bomb_is_refused_by_its_decoded_size(provider, fetch):
    bomb = gzip.compress(b" " * 10_000_000)
    provider.routes["/enterprises"] = lambda h: h.reply(200, bomb, headers={"Content-Encoding": "gzip"})
    with pytest.raises(ResponseTooLarge, match="exceeds"):
        fetch(_registry(provider.base_url, max_response_bytes=100_000))


def test_proxy_settings_in_the_environment_are_ignored(provider, fetch, monkeypatch):
    proxy = loopback.start()
    try:
        for name in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "ALL_PROXY", "all_proxy"):
            monkeypatch.setenv(name, proxy.base_url)
        for name in ("NO_PROXY", "no_proxy"):
            monkeypatch.delenv(name, raising=False)
        provider.routes["/enterprises"] = _json(GOOD)
        assert fetch(_registry(provider.base_url))[0]["capital"] == 500
        assert proxy.requests_to("") == [] and len(provider.requests_to("/enterprises/")) == 1
    finally:
        loopback.stop(proxy)


def test_outage_messages_never_carry_the_subject_or_the_address(provider, fetch):
    provider.routes["/enterprises"] = lambda h: (time.sleep(0.5), h.reply(200, b"{}"))
    for registry in (
        _registry(f"http://127.0.0.1:{loopback.closed_port()}", retries={"attempts": 1}),
        _registry(provider.base_url, timeouts={"connect": 0.5, "read": 0.1, "deadline": 0.3}, retries={"attempts": 1}),
    ):
        with pytest.raises((ProviderUnavailable, ProviderTimeout)) as caught:
            fetch(registry)
        assert COMPANY not in str(caught.value) and "127.0.0.1" not in str(caught.value)


def test_a_credential_that_cannot_be_sent_is_a_config_error_that_does_not_quote_it(provider, fetch):
    registry = _registry(provider.base_url, environ={"SAMR_TOKEN": "s3cret\r\nX-Injected: 1"}, auth={"env": "SAMR_TOKEN"})
    with pytest.raises(AdapterConfigError) as caught:
        fetch(registry)
    assert "s3cret" not in str(caught.value)
    assert provider.requests_to("/") == []


def test_connections_are_reused_by_the_threads_sharing_a_source_and_closed_with_it():
    running = loopback.start(keep_alive=True)
    try:
        subjects = [uscc(f"91350100MA{n:07d}") for n in range(1, 9)]
        running.routes["/enterprises"] = lambda h: h.reply(200, json.dumps(
            {"data": {"entName": h.path.rsplit("/", 1)[1], "reg": {"status": "存续"}, "estDate": "2015-06-01", "capital": 1}}
        ).encode())
        registry = _registry(running.base_url)
        source = registry.source(kind="http", name="samr_enterprise")
        names: dict[str, list[str]] = {}

        def ask(subject):
            names[subject] = [source.fetch_raw(subject)[0]["name"] for _ in range(10)]

        threads = [threading.Thread(target=ask, args=(s,)) for s in subjects]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert names == {s: [s] * 10 for s in subjects}  # each thread got its own answers
        assert len({seen.peer for seen in running.requests_to("/enterprises/")}) <= len(subjects)
        assert running.open_connections >= 1
        registry.close()
        assert running.wait_for_open_connections(0)
    finally:
        loopback.stop(running)


def test_the_server_certificate_is_checked_against_the_bindings_ca_bundle(tmp_path, fetch):
    pki = make_pki(tmp_path)
    running = loopback.start(pki.server_context())
    try:
        running.routes["/enterprises"] = _json(GOOD)
        with pytest.raises(ProviderUnavailable):  # the system CAs do not know the test CA
            fetch(_registry(running.base_url, retries={"attempts": 1}))
        assert fetch(_registry(running.base_url, ca_bundle=str(pki.ca_cert)))[0]["capital"] == 500
    finally:
        loopback.stop(running)
