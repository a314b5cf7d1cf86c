"""verify_sd_jwt_vc: a licence's SD-JWT VC checked offline with the trust list and the status list."""

from __future__ import annotations

from datetime import timedelta

import pytest

from signing.errors import InvalidInput
from signing.jwk import canonical_public_jwk, jwk_from_public_key, public_key_from_jwk
from signing.keys import generate_private_key
from signing.sdjwt import SdJwt, SdJwtVerificationError, verify_sd_jwt_vc
from signing.statuses import KeyPurpose, KeyStatus, SealStatus
from signing.statuslist import StatusList as BitList
from signing.statuslist import TokenStatus, sign_status_list_token
from signing.trust_entries import Suspension
from tests.factories.qr import (
    LICENCE_TYPE,
    OTHER_LICENCE_TYPE,
    OWNER,
    REGISTRY_ID,
    STATUS_URI,
    T0,
    at,
    key_entry,
    seal_entry,
)
from tests.factories.sdjwt import AUDIENCE, CLAIMS, NONCE, STATUS_INDEX, credential, presentation

NOW = at(minutes=1)


def _verify(world, token, **options):
    options.setdefault("trust_store", world.store())
    options.setdefault("now", NOW)
    if "fetch_status_list" not in options:
        options.setdefault("status_lists", {STATUS_URI: world.status_token()})
    return verify_sd_jwt_vc(token, **options)


def _code(call) -> str:
    with pytest.raises(SdJwtVerificationError) as caught:
        call()
    return caught.value.code


def test_an_issued_credential_verifies(world):
    verified = _verify(world, credential(world).serialize())
    assert verified.vct == f"{REGISTRY_ID}/vct/{LICENCE_TYPE}"
    assert verified.type_code == LICENCE_TYPE
    assert (verified.issuer.registry_id, verified.issuer.department_code, verified.issuer.kid) == (
        REGISTRY_ID, OWNER, world.seal_key.kid)
    assert verified.status == "valid"
    assert verified.disclosed == CLAIMS
    assert verified.issued_at == T0 and verified.expires_at == at(days=1826)


def test_the_issuer_jwt_carries_what_the_draft_asks_in_the_clear(world, holder_key):
    issued = credential(world, holder_key=holder_key)
    payload = issued.unverified_payload()
    assert {"iss", "vct", "iat", "nbf", "exp", "status", "cnf", "_sd", "_sd_alg"} == set(payload)
    assert payload["status"] == {"status_list": {"idx": STATUS_INDEX, "uri": STATUS_URI}}
    assert payload["cnf"] == {"jwk": jwk_from_public_key(holder_key.public_key)}
    header = SdJwt.parse(issued.serialize()).issuer_jwt.split(".")[0]
    from signing.encoding import b64url_decode

    assert b64url_decode(header) and b'"typ":"dc+sd-jwt"' in b64url_decode(header)


def test_two_of_five_claims_disclosed_returns_exactly_those(world, holder_key):
    token = presentation(credential(world, holder_key=holder_key), names=["holder_name", "face"], holder_key=holder_key)
    verified = _verify(world, token, expected_nonce=NONCE, expected_aud=AUDIENCE)
    assert verified.disclosed == {"holder_name": CLAIMS["holder_name"], "face": CLAIMS["face"]}
    assert "holder_code" not in verified.claims and "identifier" not in verified.claims
    assert verified.key_bound_at == T0


def test_a_revoked_licence_fails_the_status_check(world):
    lists = {STATUS_URI: world.status_token(statuses={STATUS_INDEX: TokenStatus.INVALID})}
    assert _code(lambda: _verify(world, credential(world).serialize(), status_lists=lists)) == "revoked"


def test_a_suspended_licence_fails_the_status_check(world):
    lists = {STATUS_URI: world.status_token(statuses={STATUS_INDEX: TokenStatus.SUSPENDED})}
    assert _code(lambda: _verify(world, credential(world).serialize(), status_lists=lists)) == "suspended"


def test_without_a_status_list_the_status_is_unavailable(world):
    assert _code(lambda: _verify(world, credential(world).serialize(), status_lists={})) == "status_unavailable"


def test_status_unchecked_only_when_asked(world):
    assert _verify(world, credential(world).serialize(), status_lists=None, check_status=False).status is None


def _status_token_text(world, statuses=None, key=None):
    bits = BitList(size=1 << 16)
    for index, value in (statuses or {}).items():
        bits.set(index, value)
    return sign_status_list_token(status_list=bits, subject=STATUS_URI, key=key or world.status_key, issued_at=T0)


def test_a_fetched_status_list_is_verified_against_the_trust_list(world):
    fetched = []

    def fetch(uri):
        fetched.append(uri)
        return _status_token_text(world, {STATUS_INDEX: TokenStatus.INVALID})

    assert _code(lambda: _verify(world, credential(world).serialize(), fetch_status_list=fetch)) == "revoked"
    assert fetched == [STATUS_URI]
    assert _verify(world, credential(world).serialize(), fetch_status_list=lambda uri: _status_token_text(world)).status == "valid"


def test_a_fetched_status_list_signed_by_an_untrusted_key_is_refused(world):
    intruder = generate_private_key()
    code = _code(lambda: _verify(world, credential(world).serialize(),
                                 fetch_status_list=lambda uri: _status_token_text(world, key=intruder)))
    assert code == "status_list_untrusted"


def test_a_status_list_of_another_registry_is_refused(world):
    vc = credential(world, status_uri="https://elsewhere.example/api/v1/status-lists/1")
    assert _code(lambda: _verify(world, vc.serialize())) == "status_list_untrusted"


def test_an_expired_credential_is_refused(world):
    vc = credential(world, expires_at=at(seconds=30))
    assert _code(lambda: _verify(world, vc.serialize())) == "expired"


def test_a_credential_not_yet_valid_is_refused(world):
    vc = credential(world, issued_at=at(hours=1))
    assert _code(lambda: _verify(world, vc.serialize())) == "not_yet_valid"


def test_an_issuer_whose_trust_list_is_not_held_is_unknown(world):
    vc = credential(world, registry_id="https://other-registry.example")
    assert _code(lambda: _verify(world, vc.serialize())) == "unknown_key"


def test_a_key_not_in_the_trust_list_is_unknown(world):
    assert _code(lambda: _verify(world, credential(world, key=generate_private_key()).serialize())) == "unknown_key"


def test_a_status_list_key_cannot_issue_credentials(world):
    vc = credential(world, key=world.status_key)
    assert _code(lambda: _verify(world, vc.serialize())) == "key_not_valid"


def test_a_key_revoked_before_issue_is_refused(world):
    keys = (key_entry(world.seal_key, status=KeyStatus.REVOKED, revoked_at=at(days=-1)),
            key_entry(world.status_key, purpose=KeyPurpose.STATUS_LIST))
    assert _code(lambda: _verify(world, credential(world).serialize(), trust_store=world.store(keys=keys))) == "key_not_valid"


def test_a_suspended_seal_is_refused(world):
    seals = (seal_entry(status=SealStatus.SUSPENDED, suspensions=(Suspension(at(days=-1), None),)),)
    assert _code(lambda: _verify(world, credential(world).serialize(), trust_store=world.store(seals=seals))) == "key_not_valid"


def test_a_seal_not_listing_the_licence_type_is_refused(world):
    vc = credential(world, type_code=OTHER_LICENCE_TYPE)
    assert _code(lambda: _verify(world, vc.serialize())) == "type_not_allowed"


def test_a_disclosed_issuer_code_must_be_the_seal_owners(world):
    vc = credential(world, claims={**CLAIMS, "issuer_code": "91350100M000100Y43"})
    assert _code(lambda: _verify(world, vc.serialize())) == "key_not_valid"


def test_a_vct_of_another_registry_is_malformed(world):
    from signing.jws import sign_compact

    claims = {"iss": REGISTRY_ID, "vct": f"https://elsewhere.example/vct/{LICENCE_TYPE}", "iat": int(T0.timestamp()),
              "status": {"status_list": {"idx": 1, "uri": STATUS_URI}}}
    jwt = sign_compact(header={"typ": "dc+sd-jwt", "kid": world.seal_key.kid}, claims=claims, key=world.seal_key)
    assert _code(lambda: _verify(world, jwt + "~")) == "malformed"


def test_key_binding_is_required_when_the_verifier_sends_a_nonce(world, holder_key):
    token = credential(world, holder_key=holder_key).select(["holder_name"]).serialize()
    assert _code(lambda: _verify(world, token, expected_nonce=NONCE, expected_aud=AUDIENCE)) == "key_binding_missing"


def test_a_replayed_presentation_is_refused(world, holder_key):
    token = presentation(credential(world, holder_key=holder_key), names=["holder_name"], holder_key=holder_key)
    code = _code(lambda: _verify(world, token, now=at(minutes=30), expected_nonce=NONCE, expected_aud=AUDIENCE))
    assert code == "replayed"


def test_a_re_audienced_presentation_is_refused(world, holder_key):
    token = presentation(credential(world, holder_key=holder_key), names=["holder_name"], holder_key=holder_key)
    code = _code(lambda: _verify(world, token, expected_nonce=NONCE, expected_aud="https://hotel.example"))
    assert code == "audience_mismatch"


def test_a_presentation_for_another_nonce_is_refused(world, holder_key):
    token = presentation(credential(world, holder_key=holder_key), names=["holder_name"], holder_key=holder_key)
    assert _code(lambda: _verify(world, token, expected_nonce="n-other", expected_aud=AUDIENCE)) == "nonce_mismatch"


def test_nonce_and_audience_go_together(world):
    with pytest.raises(InvalidInput):
        _verify(world, credential(world).serialize(), expected_nonce=NONCE)


def test_sm2_keys_do_not_sign_sd_jwt_vcs(world):
    with pytest.raises(InvalidInput):
        credential(world, key=generate_private_key("SM2"))


def test_claims_the_issuer_sets_cannot_be_disclosable(world):
    with pytest.raises(InvalidInput):
        credential(world, claims={"iss": "https://forger.example"})


# --- holder keys ----------------------------------------------------------------------------------------------

def test_a_holder_jwk_round_trips(holder_key):
    jwk = jwk_from_public_key(holder_key.public_key)
    assert public_key_from_jwk(jwk) == holder_key.public_key
    assert canonical_public_jwk({**jwk, "kid": "wallet-1", "use": "sig"}) == jwk


@pytest.mark.parametrize("change", [
    {"d": "AAAA"},  # a private key
    {"kty": "RSA"},
    {"crv": "P-384"},
    {"x": "AAAA"},  # not 32 bytes
    {"y": "A" * 43},  # a point not on the curve
    {"alg": "ES384"},
    {"x5u": "https://example.com/key"},  # unknown members are refused
])
def test_holder_jwks_are_validated(holder_key, change):
    with pytest.raises(InvalidInput):
        public_key_from_jwk({**jwk_from_public_key(holder_key.public_key), **change})


def test_key_binding_window_is_bounded():
    from signing.sdjwt import KeyBindingCheck

    with pytest.raises(InvalidInput):
        KeyBindingCheck(nonce="n", audience="a", max_age=timedelta(days=1))


def test_a_credential_without_iat_is_malformed(world):
    from signing.jws import sign_compact

    claims = {"iss": REGISTRY_ID, "vct": f"{REGISTRY_ID}/vct/{LICENCE_TYPE}",
              "status": {"status_list": {"idx": 1, "uri": STATUS_URI}}}
    jwt = sign_compact(header={"typ": "dc+sd-jwt", "kid": world.seal_key.kid}, claims=claims, key=world.seal_key)
    assert _code(lambda: _verify(world, jwt + "~")) == "malformed"
