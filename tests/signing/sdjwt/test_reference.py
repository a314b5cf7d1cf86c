"""Interoperability with the OpenWallet Foundation's `sd-jwt` reference library (PyPI sd-jwt, jwcrypto underneath).

Its verifier checks what our issuer signs; its holder makes presentations
(key binding included) that our verifier accepts; its issuer's nested and
array disclosures are read by our verifier. Nothing of ours runs on its side.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives import serialization
from jwcrypto.jwk import JWK
from jwcrypto.jws import InvalidJWSSignature
from sd_jwt.common import SDObj
from sd_jwt.holder import SDJWTHolder
from sd_jwt.issuer import SDJWTIssuer
from sd_jwt.verifier import SDJWTVerifier

from signing.keys import generate_private_key, load_public_key
from signing.sdjwt import SdJwtVerificationError, verify_sd_jwt, verify_sd_jwt_vc
from tests.factories.qr import STATUS_URI
from tests.factories.sdjwt import AUDIENCE, CLAIMS, NONCE, credential


def _jwcrypto_key(public_key) -> JWK:
    pem = serialization.load_der_public_key(public_key.spki_der).public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return JWK.from_pem(pem)


def _now() -> datetime:
    # The reference holder stamps its KB-JWT with the wall clock, so these credentials live in the present.
    return datetime.now(UTC).replace(microsecond=0)


@pytest.fixture(scope="module")
def wallet_key() -> JWK:
    return JWK.generate(kty="EC", crv="P-256")


def test_the_reference_verifier_accepts_our_credential(world):
    issued = credential(world)
    issuer_key = _jwcrypto_key(world.seal_key.public_key)
    seen = []

    def issuer_key_for(issuer, header):
        seen.append((issuer, header["kid"], header["typ"]))
        return issuer_key

    payload = SDJWTVerifier(issued.serialize(), issuer_key_for).get_verified_payload()
    assert {k: payload[k] for k in CLAIMS} == CLAIMS
    assert payload["vct"].endswith("/vct/11100000000013338W011")
    assert seen == [(payload["iss"], world.seal_key.kid, "dc+sd-jwt")]


def test_the_reference_verifier_rejects_our_credential_under_another_key(world):
    with pytest.raises(InvalidJWSSignature):
        SDJWTVerifier(credential(world).serialize(), lambda iss, header: JWK.generate(kty="EC", crv="P-256"))


def test_a_reference_holders_presentation_verifies_with_ours(world, wallet_key):
    now = _now()
    vc = credential(world, issued_at=now - timedelta(minutes=1), expires_at=now + timedelta(days=365),
                    holder_jwk=wallet_key.export_public(as_dict=True))
    holder = SDJWTHolder(vc.serialize())
    holder.create_presentation({"holder_name": True, "face": True}, nonce=NONCE, aud=AUDIENCE, holder_key=wallet_key,
                               sign_alg="ES256")
    verified = verify_sd_jwt_vc(holder.sd_jwt_presentation, trust_store=world.store(), now=_now(),
                                status_lists={STATUS_URI: world.status_token()},
                                expected_nonce=NONCE, expected_aud=AUDIENCE)
    assert verified.disclosed == {"holder_name": CLAIMS["holder_name"], "face": CLAIMS["face"]}
    assert verified.key_bound_at is not None and verified.status == "valid"
    with pytest.raises(SdJwtVerificationError) as caught:
        verify_sd_jwt_vc(holder.sd_jwt_presentation, trust_store=world.store(), now=_now(),
                         status_lists={STATUS_URI: world.status_token()},
                         expected_nonce=NONCE, expected_aud="https://hotel.example")
    assert caught.value.code == "audience_mismatch"


def test_a_reference_issuers_nested_and_array_disclosures_verify_with_ours():
    issuer_key = JWK.generate(kty="EC", crv="P-256")
    user_claims = {
        "iss": "https://issuer.example",
        SDObj("given_name"): "三",
        SDObj("address"): {SDObj("city"): "福州", "country": "CN"},
        "nationalities": [SDObj("CN"), SDObj("HK")],
    }
    issued = SDJWTIssuer(user_claims, issuer_key, add_decoy_claims=True).sd_jwt_issuance
    ours = generate_private_key()  # not the issuer: proves the resolver's key is the one checked
    key = load_public_key(serialization.load_pem_public_key(issuer_key.export_to_pem()).public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo))
    verified = verify_sd_jwt(issued, typ="example+sd-jwt", resolve_keys=lambda header, claims: [key],
                             key_binding=None, now=_now())
    assert verified.claims["address"] == {"city": "福州", "country": "CN"}
    assert verified.claims["nationalities"] == ["CN", "HK"]
    assert verified.disclosed == {"given_name": "三", "address": {"city": "福州", "country": "CN"}}
    with pytest.raises(SdJwtVerificationError) as caught:
        verify_sd_jwt(issued, typ="example+sd-jwt", resolve_keys=lambda header, claims: [ours.public_key],
                      key_binding=None, now=_now())
    assert caught.value.code == "signature_invalid"
