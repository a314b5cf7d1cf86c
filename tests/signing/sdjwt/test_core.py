"""SD-JWT (RFC 9901): disclosures, the compact form, and one test per verifier failure."""

from __future__ import annotations

import hashlib
import json

import pytest

from signing.encoding import b64url_decode, b64url_encode
from signing.errors import InvalidInput
from signing.jws import sign_compact
from signing.keys import generate_private_key
from signing.sdjwt import Disclosure, KeyBindingCheck, SdJwt, SdJwtVerificationError, issue_sd_jwt, verify_sd_jwt
from signing.sdjwt.core import MAX_DISCLOSURES, MAX_TOKEN_CHARS
from tests.factories.qr import T0, at

TYP = "example+sd-jwt"
FIVE = {"given_name": "三", "family_name": "张", "birthdate": "1990-01-01", "nationality": "CN", "address": {"city": "福州"}}


@pytest.fixture(scope="module")
def issuer_key():
    return generate_private_key()


def _issue(issuer_key, *, holder_key=None, claims=None, disclosable=None, decoys=None) -> SdJwt:
    visible = {"iss": "https://issuer.example", "iat": int(T0.timestamp())} if claims is None else claims
    if holder_key is not None:
        visible["cnf"] = {"jwk": _jwk(holder_key)}
    return issue_sd_jwt(claims=visible, disclosable=FIVE if disclosable is None else disclosable, key=issuer_key,
                        header={"typ": TYP}, decoys=decoys)


def _jwk(key):
    from signing.jwk import jwk_from_public_key

    return jwk_from_public_key(key.public_key)


def _verify(token, issuer_key, *, key_binding=None, now=T0):
    return verify_sd_jwt(token, typ=TYP, resolve_keys=lambda header, claims: [issuer_key.public_key],
                         key_binding=key_binding, now=now)


def _code(call) -> str:
    with pytest.raises(SdJwtVerificationError) as caught:
        call()
    return caught.value.code


def _check(nonce="n-1", audience="https://verifier.example"):
    return KeyBindingCheck(nonce=nonce, audience=audience)


# --- disclosures and the compact form -------------------------------------------------------------------------

def test_the_digest_of_the_rfc_example_disclosure():
    # SPEC: RFC 9901 §4.2.1 and §4.2.3 (the example family_name disclosure and its digest).
    encoded = "WyJfMjZiYzRMVC1hYzZxMktJNmNCVzVlcyIsICJmYW1pbHlfbmFtZSIsICJNw7ZiaXVzIl0"
    disclosure = Disclosure.from_encoded(encoded)
    assert (disclosure.salt, disclosure.name, disclosure.value) == ("_26bc4LT-ac6q2KI6cBW5es", "family_name", "Möbius")
    assert disclosure.digest == "X9yH0Ajrdm1Oij4tWso9UzzKJvPoDxwmuEcO3XAdRC0"


def test_a_disclosure_round_trips_with_a_128_bit_salt():
    made = Disclosure.for_claim("holder_name", "张三")
    parsed = Disclosure.from_encoded(made.encoded)
    assert (parsed.name, parsed.value, parsed.digest) == ("holder_name", "张三", made.digest)
    assert len(b64url_decode(made.salt)) == 16
    assert Disclosure.for_claim("holder_name", "张三").salt != made.salt


def test_array_element_disclosures_round_trip():
    made = Disclosure.for_array_element({"city": "福州"})
    assert Disclosure.from_encoded(made.encoded).name is None
    assert Disclosure.from_encoded(made.encoded).value == {"city": "福州"}


@pytest.mark.parametrize("name", ["_sd", "...", "_sd_alg"])
def test_reserved_names_are_not_disclosable(name):
    with pytest.raises(InvalidInput):
        Disclosure.for_claim(name, 1)


def test_the_compact_form_round_trips(issuer_key, holder_key):
    issued = _issue(issuer_key, holder_key=holder_key)
    assert issued.serialize().endswith("~")  # SPEC: RFC 9901 §4 — an SD-JWT without KB-JWT ends in ~
    assert SdJwt.parse(issued.serialize()) == issued
    bound = issued.select(["given_name"]).with_key_binding(holder_key=holder_key, nonce="n", audience="a", issued_at=T0)
    assert SdJwt.parse(bound.serialize()) == bound
    assert bound.key_binding_jwt is not None


def test_issuance_sorts_digests_and_adds_decoys(issuer_key):
    issued = _issue(issuer_key, decoys=3)
    digests = issued.unverified_payload()["_sd"]
    assert len(digests) == len(FIVE) + 3 and digests == sorted(digests)
    assert {d.digest for d in issued.disclosures} < set(digests)
    assert issued.unverified_payload()["_sd_alg"] == "sha-256"
    assert not set(FIVE) & set(issued.unverified_payload())  # nothing disclosable in the clear


def test_a_holder_cannot_select_a_claim_that_is_not_there(issuer_key):
    with pytest.raises(InvalidInput):
        _issue(issuer_key).select(["shoe_size"])


# --- verification ---------------------------------------------------------------------------------------------

def test_all_disclosures_verify(issuer_key):
    verified = _verify(_issue(issuer_key).serialize(), issuer_key)
    assert verified.disclosed == FIVE
    assert verified.claims == {"iss": "https://issuer.example", "iat": int(T0.timestamp()), **FIVE}


def test_two_of_five_disclosed_returns_exactly_those(issuer_key):
    token = _issue(issuer_key).select(["given_name", "address"]).serialize()
    verified = _verify(token, issuer_key)
    assert verified.disclosed == {"given_name": "三", "address": {"city": "福州"}}
    assert not {"family_name", "birthdate", "nationality"} & set(verified.claims)


def test_a_token_over_the_bound_is_refused(issuer_key):
    assert _code(lambda: _verify("a" * (MAX_TOKEN_CHARS + 1), issuer_key)) == "too_large"


def test_too_many_disclosures_are_refused(issuer_key):
    issued = _issue(issuer_key)
    token = issued.issuer_jwt + "~" + "~".join([issued.disclosures[0].encoded] * (MAX_DISCLOSURES + 1)) + "~"
    assert _code(lambda: _verify(token, issuer_key)) == "too_large"


def test_no_separator_is_malformed(issuer_key):
    assert _code(lambda: _verify(_issue(issuer_key).issuer_jwt, issuer_key)) == "malformed"


def test_alg_none_is_malformed(issuer_key):
    issued = _issue(issuer_key)
    header = b64url_encode(json.dumps({"alg": "none", "typ": TYP}).encode())
    token = f"{header}.{issued.issuer_jwt.split('.')[1]}.~"
    assert _code(lambda: _verify(token, issuer_key)) == "malformed"


def test_another_typ_is_malformed(issuer_key):
    token = _issue(issuer_key).serialize()
    with pytest.raises(SdJwtVerificationError) as caught:
        verify_sd_jwt(token, typ="dc+sd-jwt", resolve_keys=lambda h, c: [issuer_key.public_key], key_binding=None,
                      now=T0)
    assert caught.value.code == "malformed"


def test_no_trusted_key_is_unknown_key(issuer_key):
    token = _issue(issuer_key).serialize()
    with pytest.raises(SdJwtVerificationError) as caught:
        verify_sd_jwt(token, typ=TYP, resolve_keys=lambda h, c: [], key_binding=None, now=T0)
    assert caught.value.code == "unknown_key"


def test_another_key_is_signature_invalid(issuer_key):
    token = _issue(issuer_key).serialize()
    assert _code(lambda: _verify(token, generate_private_key())) == "signature_invalid"


def test_a_changed_payload_is_signature_invalid(issuer_key):
    header, payload, signature = _issue(issuer_key).issuer_jwt.split(".")
    claims = json.loads(b64url_decode(payload))
    claims["iss"] = "https://forger.example"
    forged = f"{header}.{b64url_encode(json.dumps(claims).encode())}.{signature}~"
    assert _code(lambda: _verify(forged, issuer_key)) == "signature_invalid"


def test_another_hash_algorithm_is_malformed(issuer_key):
    jwt = sign_compact(header={"typ": TYP}, claims={"_sd": [], "_sd_alg": "sha-1"}, key=issuer_key)
    assert _code(lambda: _verify(jwt + "~", issuer_key)) == "malformed"


def test_a_tampered_disclosure_is_refused(issuer_key):
    issued = _issue(issuer_key)
    salt, name, _ = json.loads(b64url_decode(issued.disclosures[0].encoded))
    tampered = b64url_encode(json.dumps([salt, name, "someone else"]).encode())
    token = issued.issuer_jwt + "~" + tampered + "~"
    assert _code(lambda: _verify(token, issuer_key)) == "disclosure_unreferenced"


def test_a_foreign_disclosure_is_refused(issuer_key):
    token = _issue(issuer_key).select(["given_name"]).serialize() + Disclosure.for_claim("age_over_18", True).encoded + "~"
    assert _code(lambda: _verify(token, issuer_key)) == "disclosure_unreferenced"


def test_a_disclosure_given_twice_is_refused(issuer_key):
    issued = _issue(issuer_key)
    token = issued.issuer_jwt + "~" + issued.disclosures[0].encoded + "~" + issued.disclosures[0].encoded + "~"
    assert _code(lambda: _verify(token, issuer_key)) == "disclosure_duplicate"


def test_a_digest_signed_twice_is_refused(issuer_key):
    disclosure = Disclosure.for_claim("given_name", "三")
    jwt = sign_compact(header={"typ": TYP}, claims={"_sd": [disclosure.digest], "nested": {"_sd": [disclosure.digest]}},
                       key=issuer_key)
    assert _code(lambda: _verify(f"{jwt}~{disclosure.encoded}~", issuer_key)) == "disclosure_duplicate"


def test_a_disclosure_may_not_overwrite_a_clear_claim(issuer_key):
    disclosure = Disclosure.for_claim("iss", "https://forger.example")
    jwt = sign_compact(header={"typ": TYP}, claims={"iss": "https://issuer.example", "_sd": [disclosure.digest]},
                       key=issuer_key)
    assert _code(lambda: _verify(f"{jwt}~{disclosure.encoded}~", issuer_key)) == "disclosure_invalid"


def test_a_disclosure_that_is_not_an_array_is_invalid(issuer_key):
    encoded = b64url_encode(json.dumps({"salt": "x"}).encode())
    assert _code(lambda: _verify(_issue(issuer_key).issuer_jwt + f"~{encoded}~", issuer_key)) == "disclosure_invalid"


def test_an_array_element_disclosure_in_an_objects_sd_is_invalid(issuer_key):
    disclosure = Disclosure.for_array_element("x")
    jwt = sign_compact(header={"typ": TYP}, claims={"_sd": [disclosure.digest]}, key=issuer_key)
    assert _code(lambda: _verify(f"{jwt}~{disclosure.encoded}~", issuer_key)) == "disclosure_invalid"


def test_nested_and_array_disclosures_are_unpacked(issuer_key):
    city = Disclosure.for_claim("city", "福州")
    element = Disclosure.for_array_element("CN")
    address = Disclosure.for_claim("address", {"_sd": [city.digest]})
    decoy = b64url_encode(hashlib.sha256(b"decoy").digest())
    jwt = sign_compact(header={"typ": TYP}, key=issuer_key,
                       claims={"_sd": [address.digest], "nationalities": [{"...": element.digest}, {"...": decoy}]})
    token = "~".join([jwt, address.encoded, city.encoded, element.encoded]) + "~"
    verified = _verify(token, issuer_key)
    assert verified.claims == {"address": {"city": "福州"}, "nationalities": ["CN"]}
    assert verified.disclosed == {"address": {"city": "福州"}}


# --- key binding ----------------------------------------------------------------------------------------------

def _bound(issuer_key, holder_key, *, names=("given_name",), nonce="n-1", audience="https://verifier.example",
           issued_at=T0, signer=None) -> str:
    return _issue(issuer_key, holder_key=holder_key).select(names).with_key_binding(
        holder_key=signer or holder_key, nonce=nonce, audience=audience, issued_at=issued_at).serialize()


def test_a_key_bound_presentation_verifies(issuer_key, holder_key):
    verified = _verify(_bound(issuer_key, holder_key), issuer_key, key_binding=_check(), now=at(seconds=30))
    assert verified.key_bound_at == T0
    assert verified.disclosed == {"given_name": "三"}


def test_a_missing_key_binding_is_refused(issuer_key, holder_key):
    token = _issue(issuer_key, holder_key=holder_key).select(["given_name"]).serialize()
    assert _code(lambda: _verify(token, issuer_key, key_binding=_check())) == "key_binding_missing"


def test_key_binding_without_cnf_is_refused(issuer_key, holder_key):
    token = _issue(issuer_key).select(["given_name"]).with_key_binding(
        holder_key=holder_key, nonce="n-1", audience="https://verifier.example", issued_at=T0).serialize()
    assert _code(lambda: _verify(token, issuer_key, key_binding=_check())) == "key_binding_missing"


def test_a_key_binding_by_another_key_is_refused(issuer_key, holder_key):
    token = _bound(issuer_key, holder_key, signer=generate_private_key())
    assert _code(lambda: _verify(token, issuer_key, key_binding=_check())) == "key_binding_invalid"


def test_a_key_binding_moved_to_another_selection_is_refused(issuer_key, holder_key):
    issued = _issue(issuer_key, holder_key=holder_key)
    bound = issued.select(["given_name"]).with_key_binding(
        holder_key=holder_key, nonce="n-1", audience="https://verifier.example", issued_at=T0)
    more = SdJwt(issuer_jwt=issued.issuer_jwt, disclosures=issued.select(["given_name", "birthdate"]).disclosures,
                 key_binding_jwt=bound.key_binding_jwt)
    assert _code(lambda: _verify(more.serialize(), issuer_key, key_binding=_check())) == "key_binding_invalid"


def test_a_wrong_nonce_is_refused(issuer_key, holder_key):
    token = _bound(issuer_key, holder_key, nonce="n-other")
    assert _code(lambda: _verify(token, issuer_key, key_binding=_check())) == "nonce_mismatch"


def test_a_wrong_audience_is_refused(issuer_key, holder_key):
    token = _bound(issuer_key, holder_key, audience="https://other-verifier.example")
    assert _code(lambda: _verify(token, issuer_key, key_binding=_check())) == "audience_mismatch"


def test_an_old_key_binding_is_a_replay(issuer_key, holder_key):
    token = _bound(issuer_key, holder_key, issued_at=at(minutes=-10))
    assert _code(lambda: _verify(token, issuer_key, key_binding=_check())) == "replayed"


def test_a_key_binding_from_the_future_is_refused(issuer_key, holder_key):
    token = _bound(issuer_key, holder_key, issued_at=at(minutes=10))
    assert _code(lambda: _verify(token, issuer_key, key_binding=_check())) == "key_binding_invalid"
