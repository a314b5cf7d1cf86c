"""private_key_jwt at the token endpoint: one test per way an assertion is
refused, key rotation and revocation, the operator claim, key registration."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from datetime import timedelta

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat
from fastapi.testclient import TestClient

from certhub.app import create_app
from identity import clients
from identity.client_assertions import (
    ASSERTION_TYPE,
    InvalidClientAssertion,
    InvalidClientKey,
    jwk_thumbprint,
    operator_of,
    parse_public_key,
    public_jwk,
    verify_client_assertion,
)
from identity.errors import Forbidden, InvalidClient, InvalidCode, InvalidRegistration
from identity.tokens import Principal, TokenAuthority
from storage.base import utcnow
from storage.cache import InProcessCache
from tests.factories.catalog import CITY_SAMR
from tests.factories.clients import (
    TOKEN_URL,
    admin_headers,
    cli_on_a_loaded_catalog,
    public_pem,
    token_request,
)
from tests.factories.settings import REGISTRY_ID


@pytest.fixture
def client_on_cache(settings, migrated_engine, session_factory, cache):
    """The app on each cache backend: replay protection lives in the cache."""
    application = create_app(settings, engine=migrated_engine, cache=cache, sessions=session_factory)
    with TestClient(application) as test_client:
        yield test_client


def _refused(response, reason: str) -> None:
    assert response.status_code == 401, response.text
    body = response.json()
    assert body["error"] == "invalid_client"
    assert f"({reason})" in body["message"], body["message"]


@pytest.mark.slow
def test_a_signed_assertion_gets_a_token_without_any_secret(client, app, dept):
    response = token_request(client, dept.assertion())
    assert response.status_code == 200, response.text
    principal = app.state.services.find(TokenAuthority).verify(response.json()["access_token"])
    assert (principal.client_id, principal.department_code) == (dept.client_id, CITY_SAMR)
    assert principal.scopes == {"exchange:query", "licence:issue"} and principal.operator is None


def test_eddsa_keys_and_the_registry_id_as_audience_work(client, db_session, dept):
    dept.add(db_session, "ed-1", Ed25519PrivateKey.generate(), "EdDSA")
    db_session.commit()
    response = token_request(client, dept.assertion("ed-1", aud=REGISTRY_ID), scope="exchange:query")
    assert response.status_code == 200, response.text
    assert response.json()["scope"] == "exchange:query"


def test_a_wrong_signature_is_refused(client, dept):
    impostor = ec.generate_private_key(ec.SECP256R1())
    _refused(token_request(client, dept.assertion(signer=impostor)), "signature_invalid")


def test_an_unknown_kid_is_refused(client, dept):
    _refused(token_request(client, dept.assertion("es-9", signer=dept.keys["es-1"][0])), "unknown_key")


def test_an_expired_assertion_is_refused(client, dept):
    _refused(token_request(client, dept.assertion(exp_in=-120, iat_in=-300)), "expired")


def test_an_assertion_issued_in_the_future_is_refused(client, dept):
    _refused(token_request(client, dept.assertion(iat_in=600, exp_in=240)), "issued_in_future")


def test_an_assertion_living_too_long_is_refused(client, dept):
    # An hour (Authlib's default) is accepted (test_oauth_conformance); longer is not.
    _refused(token_request(client, dept.assertion(exp_in=3600 + 120)), "lifetime_too_long")


def test_a_wrong_audience_is_refused(client, dept):
    _refused(token_request(client, dept.assertion(aud="https://other-registry.test/api/v1/oauth/token")), "wrong_audience")


def test_a_replayed_jti_is_refused(client_on_cache, dept):
    client = client_on_cache
    assertion = dept.assertion()
    assert token_request(client, assertion).status_code == 200
    _refused(token_request(client, assertion), "replayed")
    # The same jti in a fresh assertion is a replay too.
    jti = secrets.token_urlsafe(8)
    assert token_request(client, dept.assertion(jti=jti)).status_code == 200
    _refused(token_request(client, dept.assertion(jti=jti)), "replayed")


def test_the_database_refuses_a_replay_the_cache_forgot(db_session, dept):
    assertion = dept.assertion()
    verify_client_assertion(session=db_session, cache=InProcessCache(), assertion=assertion,
                            assertion_type=ASSERTION_TYPE, registry_id=REGISTRY_ID)
    with pytest.raises(InvalidClientAssertion) as refused:
        # A restarted (empty) cache, or another process without Redis.
        verify_client_assertion(session=db_session, cache=InProcessCache(), assertion=assertion,
                                assertion_type=ASSERTION_TYPE, registry_id=REGISTRY_ID)
    assert refused.value.reason == "replayed"


def test_iss_and_sub_must_be_the_client(client, dept):
    _refused(token_request(client, dept.assertion(sub="someone-else")), "invalid_claims")
    other = dept.assertion(iss="nobody", sub="nobody")
    _refused(token_request(client, other), "unknown_client")


def test_alg_none_is_refused(client, dept):
    unsigned = jwt.encode({"iss": dept.client_id, "sub": dept.client_id, "aud": TOKEN_URL, "iat": int(time.time()),
                           "exp": int(time.time()) + 60, "jti": "n1"}, None, algorithm="none", headers={"kid": "es-1"})
    _refused(token_request(client, unsigned), "algorithm_refused")


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def test_hs256_keyed_with_the_public_key_is_refused(client, dept):
    """Algorithm confusion: the attacker knows the public key and MACs with it."""
    now = int(time.time())
    header = _b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": "es-1"}).encode())
    payload = _b64(json.dumps({"iss": dept.client_id, "sub": dept.client_id, "aud": TOKEN_URL, "iat": now,
                               "exp": now + 60, "jti": "hs1"}).encode())
    key_bytes = public_pem(dept.keys["es-1"][0]).encode()
    mac = hmac.new(key_bytes, f"{header}.{payload}".encode(), hashlib.sha256).digest()
    _refused(token_request(client, f"{header}.{payload}.{_b64(mac)}"), "algorithm_refused")


def test_an_algorithm_other_than_the_keys_is_refused(client, db_session, dept):
    dept.add(db_session, "ed-1", Ed25519PrivateKey.generate(), "EdDSA")
    db_session.commit()
    # An ES256 signature presented under the Ed25519 key's kid.
    _refused(token_request(client, dept.assertion("ed-1", signer=dept.keys["es-1"][0], alg="ES256")),
             "algorithm_mismatch")


def test_a_revoked_key_is_refused_at_once(client, db_session, dept):
    assert token_request(client, dept.assertion()).status_code == 200
    clients.revoke_key(session=db_session, client_id=dept.client_id, kid="es-1", reason="laptop stolen")
    db_session.commit()
    _refused(token_request(client, dept.assertion()), "revoked")


def test_rotation_keeps_both_keys_valid_until_the_old_one_is_retired(client, db_session, dept):
    dept.add(db_session, "es-2", ec.generate_private_key(ec.SECP256R1()), "ES256")
    db_session.commit()
    assert token_request(client, dept.assertion("es-1")).status_code == 200
    assert token_request(client, dept.assertion("es-2")).status_code == 200
    # A retirement in the future is a grace period: still accepted.
    clients.retire_key(session=db_session, client_id=dept.client_id, kid="es-1", at=utcnow() + timedelta(hours=1))
    db_session.commit()
    assert token_request(client, dept.assertion("es-1")).status_code == 200
    clients.retire_key(session=db_session, client_id=dept.client_id, kid="es-1")
    db_session.commit()
    _refused(token_request(client, dept.assertion("es-1")), "retired")
    assert token_request(client, dept.assertion("es-2")).status_code == 200
    # The last active key cannot be retired (the client would be locked out); revoking is always allowed.
    with pytest.raises(InvalidRegistration, match="last active key"):
        clients.retire_key(session=db_session, client_id=dept.client_id, kid="es-2")


def test_a_private_key_jwt_client_has_no_secret_to_use(client, db_session, dept):
    response = client.post("/api/v1/oauth/token", data={"grant_type": "client_credentials"},
                           auth=(dept.client_id, "!"))
    assert response.status_code == 401
    with pytest.raises(InvalidClient):
        clients.authenticate(session=db_session, client_id=dept.client_id, client_secret="!")


def test_one_authentication_method_per_request(client, dept):
    response = client.post("/api/v1/oauth/token", auth=(dept.client_id, "x"), data={
        "grant_type": "client_credentials", "client_assertion_type": ASSERTION_TYPE,
        "client_assertion": dept.assertion()})
    assert response.status_code == 401 and "one client authentication method" in response.json()["message"]
    _refused(token_request(client, dept.assertion(), client_assertion_type="urn:other"), "unsupported_assertion_type")
    mismatch = token_request(client, dept.assertion(), client_id="another-client")
    assert mismatch.status_code == 401 and "client_id differs" in mismatch.json()["message"]


def test_a_secret_client_moves_to_private_key_jwt(client, db_session, loaded):
    new = clients.create(session=db_session, department_code=CITY_SAMR, name="old system", scopes=["exchange:query"])
    key = ec.generate_private_key(ec.SECP256R1())
    with pytest.raises(InvalidRegistration, match="no usable key"):
        clients.use_private_key_jwt(session=db_session, client_id=new.client_id)
    clients.add_key(session=db_session, client_id=new.client_id, public_key=public_pem(key), kid="k1")
    db_session.commit()
    now = int(time.time())
    claims = {"iss": new.client_id, "sub": new.client_id, "aud": TOKEN_URL, "iat": now, "exp": now + 60}
    # Keys are staged while the client still uses its secret: assertions are not accepted yet.
    staged = jwt.encode({**claims, "jti": "a"}, key, algorithm="ES256", headers={"kid": "k1"})
    _refused(token_request(client, staged), "unknown_client")
    clients.use_private_key_jwt(session=db_session, client_id=new.client_id)
    db_session.commit()
    assert client.post("/api/v1/oauth/token", data={"grant_type": "client_credentials"},
                       auth=(new.client_id, new.client_secret)).status_code == 401
    switched = jwt.encode({**claims, "jti": "b"}, key, algorithm="ES256", headers={"kid": "k1"})
    assert token_request(client, switched).status_code == 200


# -- the operator ------------------------------------------------------------


def test_the_operator_claim_is_carried_by_the_token(client, app, dept):
    response = token_request(client, dept.assertion(operator="clerk-007"))
    assert response.status_code == 200, response.text
    assert app.state.services.find(TokenAuthority).verify(response.json()["access_token"]).operator == "clerk-007"


def test_a_bad_operator_claim_is_refused(client, dept):
    _refused(token_request(client, dept.assertion(operator="张三 ")), "invalid_claims")


def _principal(operator=None) -> Principal:
    return Principal(client_id="c", department_code=CITY_SAMR, scopes=frozenset(), operator=operator)


def test_operator_resolution():
    # The token names the operator: the header may be left out, or must agree.
    assert operator_of(principal=_principal("clerk-7"), operator_id=None) == "clerk-7"
    assert operator_of(principal=_principal("clerk-7"), operator_id="clerk-7") == "clerk-7"
    with pytest.raises(Forbidden):
        operator_of(principal=_principal("clerk-7"), operator_id="clerk-8")
    # No operator in the token: the header is required.
    assert operator_of(principal=_principal(), operator_id="clerk-8") == "clerk-8"
    with pytest.raises(InvalidCode):
        operator_of(principal=_principal(), operator_id=None)
    with pytest.raises(InvalidCode):
        operator_of(principal=_principal(), operator_id="bad id")


# -- keys --------------------------------------------------------------------


def test_rfc8037_ed25519_thumbprint_vector():
    # SPEC: RFC 8037 Appendix A.3.
    jwk = {"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}
    parsed = parse_public_key(json.dumps(jwk))
    assert parsed.algorithm == "EdDSA"
    assert parsed.thumbprint == "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"


def test_pem_and_jwk_round_trip(db_session, dept):
    key = clients.list_keys(session=db_session, client_id=dept.client_id)[0]
    jwk = public_jwk(key)
    again = parse_public_key(json.dumps(jwk))
    assert (again.spki_der, again.thumbprint, again.kid_hint, again.algorithm) == (
        key.public_key, key.thumbprint, "es-1", "ES256")
    assert jwk_thumbprint(dept.keys["es-1"][0].public_key()) == key.thumbprint


@pytest.mark.parametrize("make, message", [
    (lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
     .public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo).decode(), "only P-256"),
    (lambda: public_pem(ec.generate_private_key(ec.SECP384R1())), "only P-256"),
    (lambda: ec.generate_private_key(ec.SECP256R1()).private_bytes(
        Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()).decode(), "private key"),
    (lambda: json.dumps({"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo",
                         "d": "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"}), "private key material"),
    (lambda: json.dumps({"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo",
                         "alg": "ES256"}), "says alg ES256"),
    (lambda: "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----", "not a readable"),
    (lambda: "not a key", "neither PEM nor"),
    (lambda: "x" * 9000, "longer than"),
])
def test_unusable_keys_are_refused_with_a_reason(make, message):
    with pytest.raises(InvalidClientKey, match=message):
        parse_public_key(make())


def test_the_same_key_or_kid_twice_is_refused(db_session, dept):
    with pytest.raises(InvalidRegistration, match="already registered"):
        clients.add_key(session=db_session, client_id=dept.client_id, public_key=public_pem(dept.keys["es-1"][0]))
    with pytest.raises(InvalidRegistration, match="already has a key es-1"):
        clients.add_key(session=db_session, client_id=dept.client_id, kid="es-1",
                        public_key=public_pem(ec.generate_private_key(ec.SECP256R1())))


def test_admin_api_adds_lists_and_revokes_keys(client, db_session, dept):
    admin = admin_headers(client, db_session)
    ed = Ed25519PrivateKey.generate()
    jwk = {**public_jwk_of(ed), "kid": "ed-api"}
    added = client.post(f"/api/v1/oauth/clients/{dept.client_id}/keys", json={"public_key": jwk}, headers=admin)
    assert added.status_code == 201, added.text
    assert added.json()["kid"] == "ed-api" and added.json()["state"] == "active"
    dept.keys["ed-api"] = (ed, "EdDSA")
    assert token_request(client, dept.assertion("ed-api")).status_code == 200

    listed = client.get(f"/api/v1/oauth/clients/{dept.client_id}/keys", headers=admin).json()
    assert [k["kid"] for k in listed] == ["es-1", "ed-api"]
    revoked = client.post(f"/api/v1/oauth/clients/{dept.client_id}/keys/ed-api/revoke",
                          json={"reason": "key file leaked"}, headers=admin)
    assert revoked.status_code == 200 and revoked.json()["state"] == "revoked"
    _refused(token_request(client, dept.assertion("ed-api")), "revoked")
    retired = client.post(f"/api/v1/oauth/clients/{dept.client_id}/keys/es-1/retire", json={}, headers=admin)
    assert retired.status_code == 422 and "last active key" in retired.json()["message"]


def test_admin_api_needs_the_admin_scope(client, db_session, dept):
    token = token_request(client, dept.assertion()).json()["access_token"]
    response = client.get(f"/api/v1/oauth/clients/{dept.client_id}/keys", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 403
    assert client.get(f"/api/v1/oauth/clients/{dept.client_id}/keys").status_code == 401


def public_jwk_of(private_key) -> dict:
    raw = private_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return {"kty": "OKP", "crv": "Ed25519", "x": _b64(raw)}


def test_cli_adds_lists_retires_and_revokes_keys(tmp_path, monkeypatch):
    run = cli_on_a_loaded_catalog(tmp_path, monkeypatch)
    created = run("clients", "create", "-d", CITY_SAMR, "-n", "system", "-s", "exchange:query",
                  "--auth", "private_key_jwt")
    assert "client_secret" not in created
    client_id = created.split("client_id:", 1)[1].split()[0]
    pem_file, jwk_file = tmp_path / "k1.pem", tmp_path / "k2.jwk"
    pem_file.write_text(public_pem(ec.generate_private_key(ec.SECP256R1())))
    jwk_file.write_text(json.dumps(public_jwk_of(Ed25519PrivateKey.generate())))
    assert "added key k1 (ES256" in run("clients", "add-key", client_id, "--public-key", str(pem_file), "--kid", "k1")
    assert "(EdDSA" in run("clients", "add-key", client_id, "--public-key", str(jwk_file))
    run("clients", "retire-key", client_id, "k1")
    run("clients", "revoke-key", client_id, "k1", "--reason", "rotated out")
    lines = run("clients", "keys", client_id).strip().splitlines()
    assert lines[0].startswith("k1\tES256\trevoked") and "\tEdDSA\tactive\t" in lines[1]
