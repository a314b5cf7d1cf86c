"""A licence issued to a wallet by OpenID4VCI 1.0 (pre-authorized code flow): the test wallet
(tests/registry/oid4vci_wallet.py) is written from the specification, and the credential it
receives is checked with the sd-jwt reference library."""

from __future__ import annotations

import base64
import json
import time
from datetime import UTC, datetime

import pytest
from cryptography.hazmat.primitives import serialization
from jwcrypto.jwk import JWK
from sd_jwt.verifier import SDJWTVerifier

from certhub.settings import Settings
from signing.sdjwt import SdJwtVerificationError, verify_sd_jwt_vc
from tests.factories.catalog import CITY_SAMR
from tests.factories.licences import (
    REGISTRY_ID,
    RESIDENCE_PERMIT,
    build_world,
    citizen_id,
    holder_headers,
    issue_residence_permit_through_the_api,
    token_headers,
    trust_store,
)
from tests.factories.settings import TEST_SECRET
from tests.registry.oid4vci_wallet import Wallet, parse_offer_uri

ALICE = citizen_id("35010219900101123")
BOB = citizen_id("35010219851231002")
CONFIGURATION = f"{RESIDENCE_PERMIT}_dc_sd_jwt"


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(secret_key=TEST_SECRET, data_dir=tmp_path, registry_id=REGISTRY_ID, demo=True)


@pytest.fixture
def world(client, db_session):
    anchors, _seal = build_world(db_session)
    return anchors, issue_residence_permit_through_the_api(client, db_session, holder_code=ALICE)


def _offer(client, identifier: str, *, tx_code: bool = False, holder: str = ALICE) -> dict:
    answer = client.post(f"/api/v1/holders/me/licences/{identifier}/credential-offer", json={"tx_code": tx_code},
                         headers=holder_headers(client, code=holder))
    assert answer.status_code == 200, answer.text
    return answer.json()


def _reference_verified(client, anchors, token: str) -> dict:
    kid = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))["kid"]
    [resolved] = trust_store(client, anchors).resolve_kid(kid)
    pem = serialization.load_der_public_key(resolved.key.public_key.spki_der).public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return SDJWTVerifier(token, lambda iss, header: JWK.from_pem(pem)).get_verified_payload()


def _status_checked(client, anchors, token: str):
    return verify_sd_jwt_vc(token, trust_store=trust_store(client, anchors), now=datetime.now(UTC),
                            fetch_status_list=lambda uri: client.get(uri.removeprefix(REGISTRY_ID)).text)


def test_the_metadata_offers_one_sd_jwt_vc_configuration_per_licence_type(client, world):
    metadata = client.get("/.well-known/openid-credential-issuer").json()
    assert metadata["credential_issuer"] == REGISTRY_ID
    assert metadata["nonce_endpoint"] == f"{REGISTRY_ID}/api/v1/oid4vci/nonce"
    configuration = metadata["credential_configurations_supported"][CONFIGURATION]
    assert configuration["format"] == "dc+sd-jwt" and configuration["vct"] == f"{REGISTRY_ID}/vct/{RESIDENCE_PERMIT}"
    assert configuration["cryptographic_binding_methods_supported"] == ["jwk"]
    assert configuration["proof_types_supported"]["jwt"]["proof_signing_alg_values_supported"] == ["ES256"]
    assert configuration["credential_metadata"]["display"] == [{"name": "居住证", "locale": "zh-CN"},
                                                               {"name": "Residence permit", "locale": "en"}]
    server = client.get("/.well-known/oauth-authorization-server").json()
    assert "urn:ietf:params:oauth:grant-type:pre-authorized_code" in server["grant_types_supported"]
    assert server["pre-authorized_grant_anonymous_access_supported"] is True


def test_a_wallet_receives_the_licence_bound_to_its_key(client, world):
    anchors, licence = world
    offer = _offer(client, licence["identifier"])
    assert offer["offer_uri"].startswith("openid-credential-offer://?credential_offer=")
    assert base64.b64decode(offer["qr_png_base64"]).startswith(b"\x89PNG")
    wallet = Wallet(client, REGISTRY_ID)
    answer, _token = wallet.receive(offer["offer_uri"])
    assert answer.status_code == 200, answer.text
    assert "content-encoding" not in answer.headers
    [issued] = answer.json()["credentials"]
    payload = _reference_verified(client, anchors, issued["credential"])
    assert payload["vct"] == f"{REGISTRY_ID}/vct/{RESIDENCE_PERMIT}" and payload["address"] == "福州市鼓楼区五四路1号"
    assert payload["cnf"]["jwk"]["x"] == wallet.key.export_public(as_dict=True)["x"]
    assert _status_checked(client, anchors, issued["credential"]).status == "valid"


def test_a_pre_authorized_code_is_used_once(client, world):
    _anchors, licence = world
    offer = parse_offer_uri(_offer(client, licence["identifier"])["offer_uri"])
    wallet = Wallet(client, REGISTRY_ID)
    assert wallet.token(offer).status_code == 200
    replayed = wallet.token(offer)
    assert replayed.status_code == 400 and replayed.json()["error"] == "invalid_grant"


def test_the_transaction_code_guards_the_offer(client, world):
    _anchors, licence = world
    shown = _offer(client, licence["identifier"], tx_code=True)
    offer = parse_offer_uri(shown["offer_uri"])
    assert offer["grants"]["urn:ietf:params:oauth:grant-type:pre-authorized_code"]["tx_code"]["length"] == 6
    wallet = Wallet(client, REGISTRY_ID)
    wrong = "000000" if shown["tx_code"] != "000000" else "111111"
    assert wallet.token(offer, wrong).json()["error"] == "invalid_grant"
    # A wrong guess used the code up: the right one comes too late.
    assert wallet.token(offer, shown["tx_code"]).json()["error"] == "invalid_grant"
    again = _offer(client, licence["identifier"], tx_code=True)
    assert Wallet(client, REGISTRY_ID).receive(again["offer_uri"], again["tx_code"])[0].status_code == 200


def _token_and_metadata(client, licence):
    offer = parse_offer_uri(_offer(client, licence["identifier"])["offer_uri"])
    wallet = Wallet(client, REGISTRY_ID)
    return wallet, wallet.metadata(), wallet.token(offer).json()["access_token"]


@pytest.mark.parametrize(("change", "error"), [
    ({"audience": "https://other.example"}, "invalid_proof"),
    ({"nonce": "not-a-nonce-of-ours"}, "invalid_nonce"),
    ({"issued_at": int(time.time()) - 3600}, "invalid_proof"),
])
def test_a_proof_for_another_issuer_nonce_or_time_is_refused(client, world, change, error):
    _anchors, licence = world
    wallet, metadata, token = _token_and_metadata(client, licence)
    options = {"nonce": wallet.nonce(metadata), "audience": REGISTRY_ID, **change}
    answer = wallet.request_credential(metadata, token, CONFIGURATION, wallet.proof(**options))
    assert answer.status_code == 400 and answer.json()["error"] == error


def test_a_nonce_answers_one_proof(client, world):
    _anchors, licence = world
    wallet, metadata, token = _token_and_metadata(client, licence)
    nonce = wallet.nonce(metadata)
    first = wallet.request_credential(metadata, token, CONFIGURATION, wallet.proof(nonce=nonce, audience=REGISTRY_ID))
    assert first.status_code == 200, first.text
    again = wallet.request_credential(metadata, token, CONFIGURATION, wallet.proof(nonce=nonce, audience=REGISTRY_ID))
    assert again.json()["error"] == "invalid_nonce"


def test_a_proof_signed_by_another_key_than_its_header_names_is_refused(client, world):
    _anchors, licence = world
    wallet, metadata, token = _token_and_metadata(client, licence)
    proof = wallet.proof(nonce=wallet.nonce(metadata), audience=REGISTRY_ID)
    header, claims, _signature = proof.split(".")
    forged = f"{header}.{claims}." + Wallet(client, REGISTRY_ID).proof(nonce="x", audience="y").split(".")[2]
    answer = wallet.request_credential(metadata, token, CONFIGURATION, forged)
    assert answer.json()["error"] == "invalid_proof"


def test_the_credential_endpoint_wants_the_access_token(client, world):
    wallet = Wallet(client, REGISTRY_ID)
    metadata = wallet.metadata()
    answer = wallet.request_credential(metadata, "unknown", CONFIGURATION, "a.b.c")
    assert answer.status_code == 401 and answer.json()["error"] == "invalid_token"


def test_another_holders_licence_is_not_offered(client, world):
    _anchors, licence = world
    answer = client.post(f"/api/v1/holders/me/licences/{licence['identifier']}/credential-offer", json={},
                         headers=holder_headers(client, code=BOB, name="李四"))
    assert answer.status_code == 404


def test_a_suspended_licence_is_deferred_until_it_resumes(client, db_session, world):
    anchors, licence = world
    city = token_headers(client, db_session, CITY_SAMR)
    suspended = client.post(f"/api/v1/licences/{licence['identifier']}/suspend", json={"reason": "核查"}, headers=city)
    assert suspended.status_code == 200, suspended.text
    wallet = Wallet(client, REGISTRY_ID)
    answer, token = wallet.receive(_offer(client, licence["identifier"])["offer_uri"])
    assert answer.status_code == 202, answer.text
    transaction_id = answer.json()["transaction_id"]
    metadata = wallet.metadata()
    pending = wallet.deferred(metadata, token, transaction_id)
    assert pending.status_code == 202 and pending.json()["transaction_id"] == transaction_id
    resumed = client.post(f"/api/v1/licences/{licence['identifier']}/resume", json={"reason": "核查完毕"}, headers=city)
    assert resumed.status_code == 200, resumed.text
    ready = wallet.deferred(metadata, token, transaction_id)
    assert ready.status_code == 200, ready.text
    [issued] = ready.json()["credentials"]
    assert _reference_verified(client, anchors, issued["credential"])["cnf"]["jwk"]["x"] == \
        wallet.key.export_public(as_dict=True)["x"]
    done = wallet.deferred(metadata, token, transaction_id)
    assert done.json()["error"] == "invalid_transaction_id"


def test_a_revoked_licences_credential_shows_revoked(client, db_session, world):
    anchors, licence = world
    answer, _token = Wallet(client, REGISTRY_ID).receive(_offer(client, licence["identifier"])["offer_uri"])
    credential = answer.json()["credentials"][0]["credential"]
    city = token_headers(client, db_session, CITY_SAMR)
    revoked = client.post(f"/api/v1/licences/{licence['identifier']}/revoke", json={"reason": "吊销"}, headers=city)
    assert revoked.status_code == 200, revoked.text
    with pytest.raises(SdJwtVerificationError) as caught:
        _status_checked(client, anchors, credential)
    assert caught.value.code == "revoked"
    # And a wallet offered it now is refused the credential.
    offer = client.post(f"/api/v1/holders/me/licences/{licence['identifier']}/credential-offer", json={},
                        headers=holder_headers(client, code=ALICE))
    if offer.status_code == 200:
        refused, _ = Wallet(client, REGISTRY_ID).receive(offer.json()["offer_uri"])
        assert refused.json()["error"] == "credential_request_denied"
