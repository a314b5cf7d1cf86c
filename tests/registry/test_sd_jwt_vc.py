"""A licence as an SD-JWT VC: the holder fetches it (bound to their wallet's key or not), any
verifier checks it offline with the trust list and the status list, the sd-jwt reference
library reads it, and its vct resolves to the type's metadata."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from cryptography.hazmat.primitives import serialization
from jwcrypto.jwk import JWK
from sd_jwt.verifier import SDJWTVerifier
from sqlalchemy import select

from certhub.settings import Settings
from exchange.auditlog import LogEntry
from exchange.auditlog.records import parse_entry
from signing.encoding import b64url_decode
from signing.jwk import jwk_from_public_key
from signing.keys import generate_private_key
from signing.sdjwt import SdJwt, SdJwtVerificationError, verify_sd_jwt_vc
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

ALICE = citizen_id("35010219900101123")
BOB = citizen_id("35010219851231002")
NONCE, AUDIENCE = "n-5c1e", "https://hotel.example"


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(secret_key=TEST_SECRET, data_dir=tmp_path, registry_id=REGISTRY_ID, demo=True)


@pytest.fixture
def world(client, db_session):
    anchors, _seal = build_world(db_session)
    return anchors, issue_residence_permit_through_the_api(client, db_session, holder_code=ALICE)


def _url(identifier: str) -> str:
    return f"/api/v1/holders/me/licences/{identifier}/sd-jwt-vc"


def _fetch_from(client):
    """The verifier's status-list fetcher: the registry's public endpoint, over the test client."""
    return lambda uri: client.get(uri.removeprefix(REGISTRY_ID)).text


def _verify(client, anchors, token, **options):
    return verify_sd_jwt_vc(token, trust_store=trust_store(client, anchors), now=datetime.now(UTC),
                            fetch_status_list=_fetch_from(client), **options)


def test_the_holder_gets_a_credential_any_verifier_checks_offline(client, db_session, world):
    anchors, licence = world
    answer = client.get(_url(licence["identifier"]), headers=holder_headers(client, code=ALICE))
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["format"] == "dc+sd-jwt" and body["holder_bound"] is False
    assert body["vct"] == f"{REGISTRY_ID}/vct/{RESIDENCE_PERMIT}"
    verified = _verify(client, anchors, body["credential"])
    assert verified.status == "valid" and verified.vct == body["vct"]
    assert verified.issuer.registry_id == REGISTRY_ID and verified.issuer.department_code == CITY_SAMR
    assert verified.disclosed["holder_name"] == "张三" and verified.disclosed["holder_code"] == ALICE
    assert verified.disclosed["identifier"] == licence["identifier"]
    assert verified.disclosed["address"] == "福州市鼓楼区五四路1号"
    # Nothing about the holder is readable without a disclosure.
    assert ALICE not in SdJwt.parse(body["credential"]).issuer_jwt
    assert "张三" not in str(SdJwt.parse(body["credential"]).unverified_payload())

    [entry] = db_session.scalars(select(LogEntry).where(LogEntry.kind == "holder_access")).all()
    record = parse_entry(entry.entry)
    assert record["subject"] == ALICE and record["licence_ids"] == [licence["identifier"]]
    assert {"holder_code", "address"} <= set(record["fields"])


def test_the_reference_library_verifies_the_registrys_credential(client, world):
    anchors, licence = world
    token = client.get(_url(licence["identifier"]), headers=holder_headers(client, code=ALICE)).json()["credential"]
    [resolved] = trust_store(client, anchors).resolve_kid(_kid(token))
    pem = serialization.load_der_public_key(resolved.key.public_key.spki_der).public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    payload = SDJWTVerifier(token, lambda iss, header: JWK.from_pem(pem)).get_verified_payload()
    assert payload["iss"] == REGISTRY_ID and payload["address"] == "福州市鼓楼区五四路1号"


def _kid(token: str) -> str:
    return json.loads(b64url_decode(token.split(".")[0]))["kid"]


def test_a_bound_credential_presents_two_claims_with_key_binding(client, world):
    anchors, licence = world
    wallet = generate_private_key()
    answer = client.post(_url(licence["identifier"]), json={"holder_jwk": jwk_from_public_key(wallet.public_key)},
                         headers=holder_headers(client, code=ALICE))
    assert answer.status_code == 200, answer.text
    assert answer.json()["holder_bound"] is True
    presentation = SdJwt.parse(answer.json()["credential"]).select(["holder_name", "address"]).with_key_binding(
        holder_key=wallet, nonce=NONCE, audience=AUDIENCE, issued_at=datetime.now(UTC)).serialize()
    verified = _verify(client, anchors, presentation, expected_nonce=NONCE, expected_aud=AUDIENCE)
    assert verified.disclosed == {"holder_name": "张三", "address": "福州市鼓楼区五四路1号"}
    assert verified.holder_jwk == jwk_from_public_key(wallet.public_key)
    with pytest.raises(SdJwtVerificationError) as caught:
        _verify(client, anchors, presentation, expected_nonce=NONCE, expected_aud="https://bank.example")
    assert caught.value.code == "audience_mismatch"


def test_a_revoked_licence_fails_the_status_check(client, db_session, world):
    anchors, licence = world
    token = client.get(_url(licence["identifier"]), headers=holder_headers(client, code=ALICE)).json()["credential"]
    assert _verify(client, anchors, token).status == "valid"
    city = token_headers(client, db_session, CITY_SAMR)
    revoked = client.post(f"/api/v1/licences/{licence['identifier']}/revoke", json={"reason": "吊销"}, headers=city)
    assert revoked.status_code == 200, revoked.text
    with pytest.raises(SdJwtVerificationError) as caught:
        _verify(client, anchors, token)
    assert caught.value.code == "revoked"


@pytest.mark.parametrize("holder_jwk", [
    {**jwk_from_public_key(generate_private_key().public_key), "d": "c2VjcmV0"},  # a private key
    {"kty": "EC", "crv": "P-384", "x": "AA", "y": "AA"},
    {"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"},
])
def test_a_holder_key_that_is_not_a_public_p256_jwk_is_refused(client, world, holder_jwk):
    _anchors, licence = world
    answer = client.post(_url(licence["identifier"]), json={"holder_jwk": holder_jwk},
                         headers=holder_headers(client, code=ALICE))
    assert answer.status_code == 422 and answer.json()["error"] == "invalid_holder_key"
    assert "c2VjcmV0" not in answer.text  # the private part is never echoed


def test_another_holders_credential_is_not_found(client, world):
    _anchors, licence = world
    answer = client.get(_url(licence["identifier"]), headers=holder_headers(client, code=BOB, name="李四"))
    assert answer.status_code == 404 and answer.json()["error"] == "licence_not_found"


def test_the_vct_resolves_to_type_metadata_in_chinese_and_english(client, world):
    for path in (f"/vct/{RESIDENCE_PERMIT}", f"/.well-known/vct/vct/{RESIDENCE_PERMIT}"):
        answer = client.get(path)
        assert answer.status_code == 200, answer.text
        metadata = answer.json()
        assert metadata["vct"] == f"{REGISTRY_ID}/vct/{RESIDENCE_PERMIT}"
        assert metadata["display"] == [{"locale": "zh-CN", "name": "居住证"}, {"locale": "en", "name": "Residence permit"}]
        claims = {tuple(c["path"]): c for c in metadata["claims"]}
        assert claims[("address",)]["display"] == [{"locale": "zh-CN", "label": "居住地址"},
                                                    {"locale": "en", "label": "Address"}]
        assert claims[("address",)]["mandatory"] is True and claims[("address",)]["sd"] == "always"
        assert claims[("floor_area",)]["display"][1] == {"locale": "en", "label": "面积"}  # no English label given
        assert claims[("holder_code",)]["display"][1]["label"] == "Holder identifier"
    assert client.get("/vct/91350100M000100Y43999").status_code == 404


def test_the_credential_is_never_compressed(client, world):
    # Its salts guard the claims a holder keeps back: no compressed length may hint at them (docs/http.md).
    _anchors, licence = world
    answer = client.get(_url(licence["identifier"]), headers={**holder_headers(client, code=ALICE),
                                                               "Accept-Encoding": "gzip"})
    assert answer.status_code == 200 and len(answer.content) > 1024
    assert "content-encoding" not in answer.headers
