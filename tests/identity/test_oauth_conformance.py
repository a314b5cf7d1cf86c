"""OAuth conformance with a real OAuth client: Authlib (PyPI authlib)
against certhub served on loopback, for each client authentication method
certhub supports: client_secret_basic, client_secret_post and
private_key_jwt (certhub has no client_secret_jwt: its secrets are stored
hashed, so it could not check an HMAC made with one).

SPEC: RFC 8414 (metadata), RFC 6749 §2.3.1, §5.2 (errors), RFC 7523 §2.2
(assertions), RFC 6750 §3 (bearer challenges)."""

from __future__ import annotations

import httpx
import jwt
import pytest
from authlib.integrations.httpx_client import OAuth2Client, OAuthError
from authlib.oauth2.rfc7523 import PrivateKeyJWT
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
from joserfc.jwk import ECKey

from identity import clients
from tests.factories.catalog import CITY_SAMR
from tests.factories.clients import Department
from tests.factories.settings import REGISTRY_ID
from tests.web.live import ServerThread

pytestmark = pytest.mark.slow  # a served app and real HTTP round trips

SCOPE = "exchange:query"
PROTECTED = "/api/v1/exchange/subscriptions"  # any route needing SCOPE; a new client has none yet


@pytest.fixture
def served(app):
    server = ServerThread(app)
    port = server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def secret_client(db_session, loaded):
    new = clients.create(session=db_session, department_code=CITY_SAMR, name="authlib", scopes=[SCOPE])
    db_session.commit()
    return new


def test_metadata_names_the_token_endpoint_methods_and_limits(served):
    metadata = httpx.get(served + "/.well-known/oauth-authorization-server").json()
    assert metadata["issuer"] == REGISTRY_ID
    assert metadata["token_endpoint"] == REGISTRY_ID + "/api/v1/oauth/token"
    assert metadata["grant_types_supported"] == ["client_credentials", "urn:ietf:params:oauth:grant-type:pre-authorized_code"]
    assert set(metadata["token_endpoint_auth_methods_supported"]) == {
        "client_secret_basic", "client_secret_post", "private_key_jwt"}
    assert set(metadata["token_endpoint_auth_signing_alg_values_supported"]) == {"ES256", "EdDSA"}
    assert SCOPE in metadata["scopes_supported"]
    assert metadata["client_assertion_max_lifetime_seconds"] >= 3600


@pytest.mark.parametrize("method", ["client_secret_basic", "client_secret_post"])
def test_authlib_gets_a_token_with_a_secret_and_calls_the_api(served, secret_client, method):
    with OAuth2Client(secret_client.client_id, secret_client.client_secret, scope=SCOPE,
                      token_endpoint_auth_method=method) as oauth:
        token = oauth.fetch_token(served + "/api/v1/oauth/token", grant_type="client_credentials")
        assert token["token_type"] == "Bearer" and token["scope"] == SCOPE
        answer = oauth.get(served + PROTECTED)
    assert answer.status_code == 200, answer.text


def test_authlib_private_key_jwt_with_its_default_hour_long_assertion(served, db_session, loaded):
    department = Department(db_session, scopes=(SCOPE,))
    private_key, _alg = department.keys["es-1"]
    pem = private_key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    metadata = httpx.get(served + "/.well-known/oauth-authorization-server").json()
    # The assertion's audience is the published token endpoint (the public URL, not loopback).
    signer = PrivateKeyJWT(token_endpoint=metadata["token_endpoint"], alg="ES256", headers={"kid": "es-1"})
    sent: list[str] = []

    def record(request: httpx.Request) -> None:
        sent.append(request.content.decode())

    with OAuth2Client(department.client_id, ECKey.import_key(pem), scope=SCOPE,
                      token_endpoint_auth_method=signer, event_hooks={"request": [record]}) as oauth:
        token = oauth.fetch_token(served + "/api/v1/oauth/token", grant_type="client_credentials")
        assert oauth.get(served + PROTECTED).status_code == 200
    assert token["scope"] == SCOPE
    # Authlib signed for an hour, which certhub used to refuse (> 300 s).
    assertion = httpx.QueryParams(sent[0])["client_assertion"]
    claims = jwt.decode(assertion, options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] == 3600


def test_a_wrong_secret_is_invalid_client_with_a_description_and_a_basic_challenge(served, secret_client):
    with OAuth2Client(secret_client.client_id, "wrong", token_endpoint_auth_method="client_secret_basic") as oauth:
        with pytest.raises(OAuthError) as refused:
            oauth.fetch_token(served + "/api/v1/oauth/token", grant_type="client_credentials")
    assert refused.value.error == "invalid_client" and refused.value.description
    raw = httpx.post(served + "/api/v1/oauth/token", data={"grant_type": "client_credentials"},
                     auth=(secret_client.client_id, "wrong"))
    assert raw.status_code == 401 and raw.headers["www-authenticate"].startswith("Basic")
    assert raw.json()["error_description"] == raw.json()["message"]


def test_a_missing_grant_type_is_invalid_request(served, secret_client):
    raw = httpx.post(served + "/api/v1/oauth/token", auth=(secret_client.client_id, secret_client.client_secret))
    assert raw.status_code == 400
    assert raw.json()["error"] == "invalid_request" and "grant_type" in raw.json()["error_description"]
    too_long = httpx.post(served + "/api/v1/oauth/token", data={"grant_type": "client_credentials", "scope": "x" * 1001},
                          auth=(secret_client.client_id, secret_client.client_secret))
    assert too_long.status_code == 400 and too_long.json()["error"] == "invalid_request"


def test_other_refusals_carry_error_description(served, secret_client):
    unsupported = httpx.post(served + "/api/v1/oauth/token", data={"grant_type": "password"})
    assert unsupported.status_code == 400 and unsupported.json()["error"] == "unsupported_grant_type"
    wider = httpx.post(served + "/api/v1/oauth/token", data={"grant_type": "client_credentials", "scope": "audit:read"},
                       auth=(secret_client.client_id, secret_client.client_secret))
    assert wider.status_code == 400 and wider.json()["error"] == "invalid_scope"
    assert "audit:read" in wider.json()["error_description"]


def test_bearer_challenges_say_invalid_token_only_when_a_token_was_sent(served):
    none = httpx.get(served + PROTECTED)
    assert none.status_code == 401 and none.headers["www-authenticate"] == "Bearer"
    forged = httpx.get(served + PROTECTED, headers={"Authorization": "Bearer not.a.token"})
    assert forged.status_code == 401 and forged.headers["www-authenticate"] == 'Bearer error="invalid_token"'
