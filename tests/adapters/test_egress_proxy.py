"""The egress proxy (CERTHUB_EGRESS_PROXY, CERTHUB_EGRESS_NO_PROXY) against a
real proxy on loopback: the outbound clients go through it, a no-proxy host
is reached directly, an unreachable proxy is an outage and never a way
around it, and the environment's proxy variables are not read."""

from __future__ import annotations

import base64
import json

import pytest
from pydantic import ValidationError

from adapters.errors import ProviderUnavailable
from adapters.sources import BindingRegistry
from certhub.cli import verify_cmd
from certhub.settings import Settings
from exchange.subscriptions.callbacks import CallbackPolicy, delivery_client
from identity.oidc import JwksCache
from storage.egress import DIRECT, Egress, EgressConfigError
from tests.adapters import loopback
from tests.adapters.tls import make_pki
from tests.factories.adapters import COMPANY

RECORD = {"data": {"entName": "福州示例餐饮有限公司"}}
ES256_JWK = {"kty": "EC", "crv": "P-256", "kid": "k1", "alg": "ES256", "use": "sig",
             "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU", "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}


@pytest.fixture
def proxy():
    running = loopback.EgressProxy()
    yield running
    running.close()


def _fetch(base_url: str, egress: Egress, **binding) -> list[dict]:
    registry = BindingRegistry.from_mapping({"http": [{
        "name": "samr_enterprise", "url": base_url + "/enterprises/{subject}", "fields": {"name": "/data/entName"},
        "timeouts": {"connect": 2, "read": 2, "deadline": 5}, "retries": {"attempts": 1}, **binding,
    }]}, environ={}, egress=egress)
    try:
        return registry.source(kind="http", name="samr_enterprise").fetch_raw(COMPANY)
    finally:
        registry.close()


def test_an_adapters_call_goes_through_the_proxy(provider, proxy):
    provider.routes["/enterprises"] = lambda h: h.reply(200, json.dumps(RECORD).encode())
    assert _fetch(provider.base_url, Egress(proxy=proxy.url)) == [{"name": "福州示例餐饮有限公司"}]
    assert proxy.asked == [("GET", f"{provider.base_url}/enterprises/{COMPANY}")]
    (seen,) = provider.requests_to("/enterprises/")
    assert seen.headers["user-agent"] == "certhub-adapter"


@pytest.mark.parametrize("no_proxy", [("127.0.0.1",), ("127.0.0.0/8",), ("*",)])
def test_a_no_proxy_host_is_reached_directly(provider, proxy, no_proxy):
    provider.routes["/enterprises"] = lambda h: h.reply(200, json.dumps(RECORD).encode())
    assert _fetch(provider.base_url, Egress(proxy=proxy.url, no_proxy=no_proxy)) == [{"name": "福州示例餐饮有限公司"}]
    assert proxy.asked == []
    assert len(provider.requests_to("/enterprises/")) == 1


def test_https_is_tunnelled_with_connect_and_the_provider_still_verified(tmp_path, proxy):
    pki = make_pki(tmp_path)
    running = loopback.start(pki.server_context())
    try:
        running.routes["/enterprises"] = lambda h: h.reply(200, json.dumps(RECORD).encode())
        port = running.server.server_address[1]
        assert _fetch(running.base_url, Egress(proxy=proxy.url), ca_bundle=str(pki.ca_cert))[0]["name"]
        assert proxy.asked == [("CONNECT", f"127.0.0.1:{port}")]
        # TLS ends at the provider, not at the proxy: an unknown CA is refused through the tunnel too.
        with pytest.raises(ProviderUnavailable, match="ConnectError"):
            _fetch(running.base_url, Egress(proxy=proxy.url))
    finally:
        loopback.stop(running)


def test_the_proxy_urls_credentials_go_to_the_proxy_only(tmp_path, provider, proxy):
    provider.routes["/enterprises"] = lambda h: h.reply(200, json.dumps(RECORD).encode())
    with_credentials = Egress(proxy=f"http://certhub:pa%40ss@127.0.0.1:{proxy.port}")
    assert _fetch(provider.base_url, with_credentials)[0]["name"]
    pki = make_pki(tmp_path)
    running = loopback.start(pki.server_context())
    try:
        running.routes["/enterprises"] = lambda h: h.reply(200, json.dumps(RECORD).encode())
        assert _fetch(running.base_url, with_credentials, ca_bundle=str(pki.ca_cert))[0]["name"]
        # SPEC: RFC 9110 §11.7.2 / RFC 7617: Basic, the userinfo percent-decoded; on the CONNECT too.
        assert proxy.credentials == ["Basic " + base64.b64encode(b"certhub:pa@ss").decode()] * 2
        assert [method for method, _ in proxy.asked] == ["GET", "CONNECT"]
        (seen,) = running.requests_to("/enterprises/")
        assert "proxy-authorization" not in seen.headers
    finally:
        loopback.stop(running)


def test_an_unreachable_proxy_is_an_outage_not_a_way_around_it(provider):
    provider.routes["/enterprises"] = lambda h: h.reply(200, json.dumps(RECORD).encode())
    with pytest.raises(ProviderUnavailable):
        _fetch(provider.base_url, Egress(proxy=f"http://127.0.0.1:{loopback.closed_port()}"))
    assert provider.requests_to("/") == []


def test_the_environments_proxy_variables_are_not_read(provider, proxy, monkeypatch):
    provider.routes["/enterprises"] = lambda h: h.reply(200, json.dumps(RECORD).encode())
    provider.routes["/hook"] = lambda h: h.reply(204, b"")
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.setenv(name, proxy.url)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    _fetch(provider.base_url, DIRECT)
    with delivery_client(policy=CallbackPolicy(allow_loopback=True)) as client, client.request(
            "POST", provider.base_url + "/hook", body=b"{}") as answer:
        assert answer.status == 204
    assert proxy.asked == []
    # Nor does the environment's NO_PROXY take a host away from the configured proxy.
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    _fetch(provider.base_url, Egress(proxy=proxy.url))
    assert proxy.asked == [("GET", f"{provider.base_url}/enterprises/{COMPANY}")]


def test_push_callbacks_go_through_the_proxy(provider, proxy):
    provider.routes["/hook"] = lambda h: h.reply(204, b"")
    egress = Egress(proxy=proxy.url)
    with delivery_client(policy=CallbackPolicy(allow_loopback=True), egress=egress) as client, client.request(
            "POST", provider.base_url + "/hook", body=b'{"event": 1}') as answer:
        assert answer.status == 204
    assert proxy.asked == [("POST", provider.base_url + "/hook")]
    (seen,) = provider.requests_to("/hook")
    assert seen.body == b'{"event": 1}'


def test_the_openid_providers_keys_are_fetched_through_the_proxy(provider, proxy):
    provider.routes["/jwks"] = lambda h: h.reply(200, json.dumps({"keys": [ES256_JWK]}).encode())
    keys = JwksCache(issuer=provider.base_url, jwks_url=provider.base_url + "/jwks", egress=Egress(proxy=proxy.url))
    assert keys.key_for(kid="k1", alg="ES256") is not None
    assert proxy.asked == [("GET", provider.base_url + "/jwks")]


def test_the_command_lines_fetches_take_the_proxy_from_the_settings(provider, proxy, monkeypatch):
    provider.routes["/trust-list.json"] = lambda h: h.reply(200, b'{"list": 1}')
    monkeypatch.setenv("CERTHUB_EGRESS_PROXY", proxy.url)
    assert verify_cmd._fetch(provider.base_url + "/trust-list.json", limit=1000) == b'{"list": 1}'
    assert proxy.asked == [("GET", provider.base_url + "/trust-list.json")]


def test_the_settings_refuse_a_proxy_that_is_not_an_http_url():
    for unusable in ("socks5://127.0.0.1:1080", "proxy.example:3128", "http://proxy.example:3128/path",
                     "http://proxy.example:99999"):
        with pytest.raises(ValidationError, match="CERTHUB_EGRESS_PROXY"):
            Settings(egress_proxy=unusable)
    egress = Settings(egress_proxy="http://user:pa55word@proxy.example:3128",
                      egress_no_proxy=" intranet.gov.example, 10.0.0.0/8 ,").egress()
    assert egress.no_proxy == ("intranet.gov.example", "10.0.0.0/8")
    assert egress.proxy_origin == "http://proxy.example:3128"
    assert "pa55word" not in repr(egress)
    assert Settings().egress() == DIRECT


@pytest.mark.parametrize(("host", "bypasses"), [
    ("intranet.gov.example", True),
    ("api.intranet.gov.example", True),  # subdomains too
    ("API.Intranet.Gov.Example", True),  # names are case-insensitive
    ("notintranet.gov.example", False),  # a suffix match is on a dot boundary
    ("dept.example", True),  # ".dept.example" matches the domain itself as well
    ("10.1.2.3", True),
    ("11.1.2.3", False),
    ("::1", True),
    ("provider.example", False),
])
def test_the_no_proxy_list_is_read_as_no_proxy_is(host, bypasses):
    egress = Egress(proxy="http://proxy.example:3128", no_proxy=("intranet.gov.example", ".dept.example",
                                                                 "10.0.0.0/8", "[::1]"))
    assert egress.bypasses(host) is bypasses
    assert DIRECT.bypasses(host) is True  # without a proxy everything goes straight


def test_an_egress_refuses_an_unusable_proxy_directly():
    with pytest.raises(EgressConfigError):
        Egress(proxy="ftp://proxy.example")
