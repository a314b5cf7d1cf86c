"""Holder identity: a real OpenID provider on loopback, ID tokens it signs,
the session exchange, the demo login, and the wall between holder session
tokens and department access tokens."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi.testclient import TestClient

from catalog.service import document
from certhub.app import create_app
from certhub.settings import Settings
from identity.codes import citizen_id_check_character
from identity.config import IdentityConfig
from identity.errors import AuthError, InvalidCode, InvalidIdToken
from identity.holder_auth import (
    HolderAuthority,
    HolderPrincipal,
    JwksCache,
    OidcVerifier,
    validate_citizen_id,
)
from identity.tokens import TokenAuthority
from storage.cache import InProcessCache
from tests.factories.catalog import CITY_SAMR, catalog_mapping, uscc
from tests.factories.oidc import OidcProvider
from tests.factories.settings import TEST_SECRET

AUDIENCE = "certhub-wallet"
# GB 11643-1999's own example number (check character X).
CITIZEN_ID = "11010519491231002X"
COMPANY = uscc("91350100MA00000001"[:17])


def citizen_id(first17: str) -> str:
    return first17 + citizen_id_check_character(first17)


def holders_provider() -> OidcProvider:
    """The province's provider as the wallet's client sees it: a citizen's claims."""
    return OidcProvider(audience=AUDIENCE, claims={"id_number": CITIZEN_ID, "name": "张三丰"})


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@pytest.fixture(scope="module")
def provider() -> Iterator[OidcProvider]:
    instance = holders_provider()
    yield instance
    instance.close()


@pytest.fixture(autouse=True)
def _default_keys(provider):
    provider.publish(rsa_kid="rsa-1")


@pytest.fixture
def settings(tmp_path, provider) -> Settings:
    return Settings(
        secret_key=TEST_SECRET,
        data_dir=tmp_path,
        registry_id="https://registry.test",
        oidc_issuer=provider.issuer,
        oidc_audience=AUDIENCE,
    )


def _demo_client(tmp_path, migrated_engine, session_factory, *, demo: bool) -> TestClient:
    config = Settings(
        demo=demo, secret_key=TEST_SECRET, data_dir=tmp_path, registry_id="https://registry.test"
    )
    application = create_app(config, engine=migrated_engine, cache=InProcessCache(), sessions=session_factory)
    return TestClient(application)


def _login(client, id_token: str, **extra):
    return client.post("/api/v1/holders/session", json={"id_token": id_token, **extra})


def _bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


# --- codes ---------------------------------------------------------------


def test_citizen_id_check_character_follows_gb_11643():
    assert validate_citizen_id(CITIZEN_ID) == CITIZEN_ID
    assert citizen_id_check_character("35010219900101123") == "8"
    with pytest.raises(InvalidCode, match="check character"):
        validate_citizen_id("110105194912310021")
    with pytest.raises(InvalidCode, match="birth date"):
        validate_citizen_id(citizen_id("11010519491331002"))
    with pytest.raises(InvalidCode) as caught:
        validate_citizen_id("350102199001011230")
    assert "350102199001011230" not in str(caught.value)  # never echo an ID number


# --- OIDC sign-in --------------------------------------------------------


@pytest.mark.parametrize("alg", ["RS256", "ES256", "EdDSA"])
@pytest.mark.slow
def test_valid_id_token_opens_a_session_for_me(client, provider, alg):
    response = _login(client, provider.id_token(alg=alg))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 900
    me = client.get("/api/v1/holders/me", headers=_bearer(body["session_token"]))
    assert me.status_code == 200, me.text
    assert me.json() == {
        "holder_code": "1101**********002X",
        "holder_code_type": "111",
        "name": "张*丰",
        "operator_name": None,
        "auth_method": "oidc",
        "session_id": body["holder"]["session_id"],
    }
    assert CITIZEN_ID not in response.text and CITIZEN_ID not in me.text


def test_session_token_is_a_short_lived_holder_token(client, provider):
    token = _login(client, provider.id_token()).json()["session_token"]
    header = jwt.get_unverified_header(token)
    claims = jwt.decode(token, options={"verify_signature": False})
    assert header["typ"] == "holder+jwt"
    assert claims["aud"] == "certhub-holder" and claims["iss"] == "https://registry.test"
    assert claims["exp"] - claims["iat"] == 900


def test_organisation_signs_in_through_a_named_person(client, provider):
    token = provider.id_token(id_number=COMPANY, id_number_type="001", name="福州某某科技有限公司", operator_name="李四")
    response = _login(client, token)
    assert response.status_code == 200, response.text
    me = client.get("/api/v1/holders/me", headers=_bearer(response.json()["session_token"])).json()
    assert me["holder_code_type"] == "001" and me["operator_name"] == "李*"
    missing_operator = provider.id_token(id_number=COMPANY, id_number_type="001", name="福州某某科技有限公司")
    response = _login(client, missing_operator)
    assert response.status_code == 401
    assert "operator_name" in response.json()["message"]


def test_provider_keys_come_from_discovery_and_are_cached(client, provider):
    provider.requests.clear()
    for _ in range(3):
        assert _login(client, provider.id_token()).status_code == 200
    assert provider.requests == ["/.well-known/openid-configuration", "/jwks.json"]


def test_id_token_opens_one_session_only(client, provider):
    token = provider.id_token()
    assert _login(client, token).status_code == 200
    replay = _login(client, token)
    assert replay.status_code == 401
    assert replay.json() == {
        "error": "invalid_id_token",
        "message": "this ID token was already exchanged for a session; sign in again",
    }


def _tampered(token: str) -> str:
    head, payload, signature = token.split(".")
    raw = bytearray(base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4)))
    raw[10] ^= 0x01
    return f"{head}.{payload}.{_b64(bytes(raw))}"


def _alg_none(provider: OidcProvider) -> str:
    header = _b64(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    return f"{header}.{_b64(json.dumps(provider.claims()).encode())}."


def _hs256_with_public_key(provider: OidcProvider) -> str:
    # The classic key-confusion attack: HMAC keyed with the provider's public key.
    public_pem = provider.rsa.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    header = _b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": provider.rsa_kid}).encode())
    payload = _b64(json.dumps(provider.claims()).encode())
    signature = hmac.new(public_pem, f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return f"{header}.{payload}.{_b64(signature)}"


def _foreign_key_token(provider: OidcProvider) -> str:
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return jwt.encode(provider.claims(), stranger, algorithm="RS256", headers={"kid": "someone-else"})


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p.id_token(iss="https://idp.elsewhere.test"), "ID token issuer (iss) is not the configured OpenID provider"),
        (lambda p: p.id_token(aud="another-client"), "ID token audience (aud) is not this registry's client id"),
        (lambda p: p.id_token(aud=[AUDIENCE, "another-client"]), "ID token has several audiences but no azp claim"),
        (lambda p: p.id_token(azp="another-client"), "ID token authorized party (azp) is not this registry's client id"),
        (lambda p: p.id_token(iat=int(time.time()) - 600, exp=int(time.time()) - 300), "ID token expired"),
        (lambda p: p.id_token(iat=int(time.time()) + 3600, exp=int(time.time()) + 7200), "ID token is not valid yet (iat or nbf lies in the future)"),
        (lambda p: p.id_token(nbf=int(time.time()) + 3600), "ID token is not valid yet (iat or nbf lies in the future)"),
        (lambda p: p.id_token(iat=int(time.time()) - 3600, exp=int(time.time()) + 3600), "ID token was issued more than 600 seconds ago; sign in again"),
        (lambda p: p.id_token(exp=None), "ID token lacks the required exp claim"),
        (lambda p: _tampered(p.id_token()), "ID token signature does not verify"),
        (lambda p: _tampered(p.id_token(alg="ES256")), "ID token signature does not verify"),
        (_foreign_key_token, "ID token is signed with a key the OpenID provider does not publish for RS256 (unknown kid)"),
        (lambda p: p.id_token(alg="RS256", kid="ec-1"), "ID token is signed with a key the OpenID provider does not publish for RS256 (unknown kid)"),
        (_alg_none, "ID token algorithm 'none' is not accepted; use one of RS256, ES256, EdDSA"),
        (_hs256_with_public_key, "ID token algorithm 'HS256' is not accepted; use one of RS256, ES256, EdDSA"),
        (lambda p: "not-a-jwt", "ID token is malformed (not a signed JWT)"),
        (lambda p: p.id_token(id_number=None), "ID token lacks the id_number claim (the holder code)"),
        (lambda p: p.id_token(id_number="110105194912310021"), "ID token holder identity is not acceptable: the citizen ID number's check character is wrong (ISO 7064 MOD 11-2)"),
        (lambda p: p.id_token(id_number=COMPANY[:-1] + ("0" if COMPANY[-1] != "0" else "1"), id_number_type="001", operator_name="李四"), "ID token holder identity is not acceptable: holder code is not a valid unified social credit code (GB 32100)"),
        (lambda p: p.id_token(id_number_type="999"), "ID token holder identity is not acceptable: holder code type must be one of 111, 001"),
        (lambda p: p.id_token(name=None), "ID token holder identity is not acceptable: the name claim is required"),
    ],
    ids=[
        "wrong-issuer", "wrong-audience", "multi-aud-no-azp", "wrong-azp", "expired", "iat-future",
        "nbf-future", "issued-long-ago", "no-exp", "tampered-rs256", "tampered-es256", "unknown-kid",
        "kid-of-other-key-type", "alg-none", "hs256-public-key", "garbage", "no-holder-code",
        "bad-id-check-digit", "bad-uscc", "bad-code-type", "no-name",
    ],
)
@pytest.mark.slow
def test_bad_id_tokens_are_refused_with_a_clear_message(client, provider, make, message):
    response = _login(client, make(provider))
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json() == {"error": "invalid_id_token", "message": message}
    assert CITIZEN_ID not in response.text


def test_nonce_must_match_when_given(client, provider):
    assert _login(client, provider.id_token(nonce="n-1"), nonce="n-2").json()["message"] == (
        "ID token nonce does not match the one sent with the login request"
    )
    assert _login(client, provider.id_token(nonce="n-1"), nonce="n-1").status_code == 200


def test_rotated_key_is_fetched_once_for_an_unknown_kid(provider):
    verifier = OidcVerifier(
        issuer=provider.issuer,
        audience=AUDIENCE,
        jwks=JwksCache(issuer=provider.issuer, jwks_url=provider.issuer + "/jwks.json", min_refetch_seconds=0),
    )
    assert verifier.verify(provider.id_token()).holder_code == CITIZEN_ID
    assert verifier.jwks.fetch_count == 1
    provider.publish(rsa_kid="rsa-2")  # same key, new kid: a rotation as seen by clients
    assert verifier.verify(provider.id_token(kid="rsa-2")).name == "张三丰"
    assert verifier.jwks.fetch_count == 2
    with pytest.raises(InvalidIdToken, match="unknown kid"):
        verifier.verify(provider.id_token(kid="nope"))
    assert verifier.jwks.fetch_count == 3  # one refetch per unknown kid, no more


def test_unknown_kids_cannot_make_us_hammer_the_provider(provider):
    cache = JwksCache(issuer=provider.issuer, jwks_url=provider.issuer + "/jwks.json", min_refetch_seconds=60)
    verifier = OidcVerifier(issuer=provider.issuer, audience=AUDIENCE, jwks=cache)
    verifier.verify(provider.id_token())
    for n in range(5):
        with pytest.raises(InvalidIdToken, match="unknown kid"):
            verifier.verify(provider.id_token(kid=f"made-up-{n}"))
    assert cache.fetch_count == 1


def test_unreachable_provider_is_503_not_the_callers_fault(tmp_path, migrated_engine, session_factory):
    closed = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    issuer = f"http://127.0.0.1:{closed.server_address[1]}"
    closed.server_close()
    config = Settings(
        secret_key=TEST_SECRET, data_dir=tmp_path, registry_id="https://registry.test",
        oidc_issuer=issuer, oidc_audience=AUDIENCE,
    )
    application = create_app(config, engine=migrated_engine, cache=InProcessCache(), sessions=session_factory)
    with TestClient(application) as client:
        fake = jwt.encode({"sub": "x"}, rsa.generate_private_key(public_exponent=65537, key_size=2048), algorithm="RS256")
        response = _login(client, fake)
    assert response.status_code == 503
    assert response.json()["error"] == "identity_provider_unavailable"


def test_oidc_settings_must_come_together_and_use_https(tmp_path):
    with pytest.raises(ValueError, match="together"):
        Settings(secret_key=TEST_SECRET, oidc_issuer="https://idp.test")
    with pytest.raises(ValueError, match="https"):
        OidcVerifier(issuer="http://idp.example.com", audience=AUDIENCE)


def test_session_without_oidc_configured_is_404(tmp_path, migrated_engine, session_factory):
    with _demo_client(tmp_path, migrated_engine, session_factory, demo=False) as client:
        response = _login(client, "a.b.c")
    assert response.status_code == 404
    assert response.json()["error"] == "login_unavailable"


# --- demo login ----------------------------------------------------------


def test_dev_login_works_in_demo_mode(tmp_path, migrated_engine, session_factory):
    with _demo_client(tmp_path, migrated_engine, session_factory, demo=True) as client:
        assert client.app.state.services.find(IdentityConfig).demo is True
        response = client.post(
            "/api/v1/holders/dev-login",
            json={"holder_code": CITIZEN_ID, "holder_code_type": "111", "name": "王五"},
        )
        assert response.status_code == 200, response.text
        me = client.get("/api/v1/holders/me", headers=_bearer(response.json()["session_token"])).json()
        assert me["auth_method"] == "dev" and me["name"] == "王*"
        bad = client.post("/api/v1/holders/dev-login", json={"holder_code": "110105194912310021", "name": "王五"})
        assert bad.status_code == 422 and "check character" in bad.json()["message"]


def test_dev_login_is_refused_outside_demo_mode(client):
    assert client.app.state.services.find(IdentityConfig).demo is False
    response = client.post(
        "/api/v1/holders/dev-login",
        json={"holder_code": CITIZEN_ID, "holder_code_type": "111", "name": "王五"},
    )
    assert response.status_code == 404
    assert response.json() == {
        "error": "login_unavailable",
        "message": "the development login exists only in demo mode (CERTHUB_DEMO=true)",
    }


# --- holder and department tokens never stand in for each other ---------


@pytest.fixture
def loaded(db_session):
    document.load(session=db_session, document=document.parse_mapping(catalog_mapping()))
    db_session.commit()


def test_department_token_is_refused_by_holder_endpoints(client, app):
    token = app.state.services.find(TokenAuthority).issue(client_id="c1", department_code=CITY_SAMR, scopes=["catalog:admin"])
    response = client.get("/api/v1/holders/me", headers=_bearer(token))
    assert response.status_code == 401
    assert response.json()["message"] == "not a holder session token (department access tokens cannot act for holders)"


def test_holder_token_is_refused_by_department_endpoints(client, app, provider, loaded):
    holder_token = _login(client, provider.id_token()).json()["session_token"]
    body = catalog_mapping()["departments"][1]
    path = f"/api/v1/catalog/departments/{body['code']}"
    response = client.put(path, json=body, headers=_bearer(holder_token))
    assert response.status_code == 401
    assert response.json() == {"error": "unauthenticated", "message": "access token invalid"}
    # The same call with a department token passes, so the refusal above is the token's doing.
    admin = app.state.services.find(TokenAuthority).issue(client_id="c1", department_code=CITY_SAMR, scopes=["catalog:admin"])
    assert client.put(path, json=body, headers=_bearer(admin)).status_code == 200


def test_holder_tokens_are_bound_to_their_key_and_expire(app):
    authority: HolderAuthority = app.state.services.find(HolderAuthority)
    principal = authority.new_principal(holder_code=CITIZEN_ID, holder_code_type="111", name="张三", auth_method="dev")
    assert authority.verify(authority.issue(principal=principal)) == principal
    other = HolderAuthority(secret=b"another deployment secret " * 2, issuer="https://registry.test")
    with pytest.raises(AuthError, match="holder session token invalid"):
        other.verify(authority.issue(principal=principal))
    old = authority.issue(principal=principal, now=datetime.now(UTC) - timedelta(hours=1))
    with pytest.raises(AuthError, match="holder session expired"):
        authority.verify(old)
    assert isinstance(principal, HolderPrincipal) and principal.operator_name is None


def test_me_needs_a_token(client):
    response = client.get("/api/v1/holders/me")
    assert response.status_code == 401
    assert "holder session token is required" in response.json()["message"]
