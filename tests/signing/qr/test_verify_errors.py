"""verify_qr: one test per failure mode, in the order the verifier checks them."""

from __future__ import annotations

import io
import zlib
from datetime import UTC, datetime, timedelta

import base45
import cbor2
import pytest
from PIL import Image

from signing.encoding import b64url_decode
from signing.keys import generate_private_key
from signing.qr import QrSigner, QrVerificationError, verify_qr
from signing.qr.claims import CLAIM_LICENCE
from signing.qr.container import wrap
from signing.qr.cose import encode_sign1, signature_input
from signing.statuses import KeyPurpose, KeyStatus, SealStatus
from signing.statuslist import TokenStatus
from signing.trust_entries import Suspension
from tests.factories.qr import (
    OTHER_LICENCE_TYPE,
    OWNER,
    REGISTRY_ID,
    STATUS_URI,
    T0,
    at,
    key_entry,
    seal_entry,
)


def _code(call) -> str:
    with pytest.raises(QrVerificationError) as caught:
        call()
    return caught.value.code


def _verify(world, text, **options):
    options.setdefault("trust_store", world.store())
    options.setdefault("now", at(days=1))
    return verify_qr(text, **options)


def _signed(world, claims: dict, *, key=None) -> str:
    key = key or world.seal_key
    return wrap(encode_sign1(key=key, kid=b64url_decode(key.kid), payload=cbor2.dumps(claims)))


def _cose_of(text: str) -> bytes:
    return zlib.decompress(base45.b45decode(text[4:]))


def _rewrap(cose: bytes) -> str:
    return "EL1:" + base45.b45encode(zlib.compress(cose)).decode()


# 0. image


def test_unreadable_image(world):
    assert _code(lambda: _verify(world, b"\x89PNG\r\n\x1a\n" + b"garbage")) == "image_invalid"


def test_image_without_a_qr_code(world):
    out = io.BytesIO()
    Image.new("L", (200, 200), 255).save(out, format="PNG")
    assert _code(lambda: _verify(world, out.getvalue())) == "image_invalid"


@pytest.mark.slow
def test_image_over_the_pixel_bound(world):
    out = io.BytesIO()
    Image.new("1", (6000, 6000), 1).save(out, format="PNG")  # small file, 36 M pixels
    assert _code(lambda: _verify(world, out.getvalue())) == "image_invalid"


# 1. size and prefix


def test_text_over_the_size_bound(world):
    assert _code(lambda: _verify(world, "EL1:" + "A" * 9000)) == "payload_too_large"


@pytest.mark.parametrize("text", ["", "EL2:NCF", "el1:NCF", "NCFOXN", "HC2:NCF"])
def test_prefix_invalid(world, text):
    assert _code(lambda: _verify(world, text)) == "prefix_invalid"


def test_trailing_newline_of_a_scanner_gun_is_accepted(world):
    assert _verify(world, world.licence_qr() + "\r\n").kind == "licence"


# 2. Base45


@pytest.mark.parametrize("body", ["abc", "A", "GGW", "::::"])  # lower case, dangling char, value > 0xFFFF
def test_base45_invalid(world, body):
    assert _code(lambda: _verify(world, "EL1:" + body)) == "base45_invalid"


# 3. zlib


def test_zlib_invalid(world):
    assert _code(lambda: _verify(world, "EL1:" + base45.b45encode(b"not zlib at all").decode())) == "zlib_invalid"


def test_truncated_zlib_stream(world):
    compressed = base45.b45decode(world.licence_qr()[4:])
    assert _code(lambda: _verify(world, "EL1:" + base45.b45encode(compressed[:-10]).decode())) == "zlib_invalid"


def test_bytes_after_the_zlib_stream(world):
    compressed = base45.b45decode(world.licence_qr()[4:]) + b"\x00\x01"
    assert _code(lambda: _verify(world, "EL1:" + base45.b45encode(compressed).decode())) == "zlib_invalid"


def test_zip_bomb_is_stopped_at_the_bound(world):
    bomb = zlib.compress(b"\x00" * (16 << 20), 9)  # 16 MiB of zeros in about 16 KiB
    text = "EL1:" + base45.b45encode(bomb[:5000]).decode()[:8000]
    assert _code(lambda: _verify(world, text, max_inflated=4096)) == "payload_too_large"
    small_bomb = "EL1:" + base45.b45encode(zlib.compress(b"\x00" * 100_000, 9)).decode()
    assert _code(lambda: _verify(world, small_bomb)) == "payload_too_large"  # default bound: 64 KiB


# 4. COSE structure


def test_cose_untagged(world):
    item = cbor2.loads(_cose_of(world.licence_qr()))
    assert _code(lambda: _verify(world, _rewrap(cbor2.dumps(item.value)))) == "cose_invalid"


@pytest.mark.parametrize("cose", [
    b"\xff\xff", cbor2.dumps(cbor2.CBORTag(18, [b"", {}, b""])), cbor2.dumps(cbor2.CBORTag(17, [b"", {}, b"", b"x"])),
    cbor2.dumps(cbor2.CBORTag(18, [b"\xa0", {}, None, b"x"])), cbor2.dumps(cbor2.CBORTag(18, [b"\x83", {}, b"", b"x"])),
    cbor2.dumps(cbor2.CBORTag(18, [b"\x80", {}, b"", b"x"])),
])
def test_cose_structure_invalid(world, cose):
    assert _code(lambda: _verify(world, _rewrap(cose))) == "cose_invalid"


def test_bytes_after_the_cose_structure(world):
    assert _code(lambda: _verify(world, _rewrap(_cose_of(world.licence_qr()) + b"\x00"))) == "cose_invalid"


def test_bytes_after_the_claims(world):
    payload = cbor2.loads(_cose_of(world.licence_qr())).value[2] + b"\x00"
    text = wrap(encode_sign1(key=world.seal_key, kid=b64url_decode(world.seal_key.kid), payload=payload))
    assert _code(lambda: _verify(world, text)) == "claims_invalid"


def _with_protected(world, protected: dict) -> str:
    payload = cbor2.loads(_cose_of(world.licence_qr())).value[2]
    protected_bytes = cbor2.dumps(protected)
    signature = world.seal_key.sign(signature_input(protected_bytes, payload))
    return _rewrap(cbor2.dumps(cbor2.CBORTag(18, [protected_bytes, {}, payload, signature])))


def test_cose_without_kid(world):
    assert _code(lambda: _verify(world, _with_protected(world, {1: -7}))) == "cose_invalid"


def test_cose_kid_only_in_the_unprotected_header_is_refused(world):
    item = cbor2.loads(_cose_of(world.licence_qr()))
    protected_bytes, _, payload, _ = item.value
    new_protected = cbor2.dumps({1: -7})
    signature = world.seal_key.sign(signature_input(new_protected, payload))
    kid = cbor2.loads(protected_bytes)[4]
    cose = cbor2.dumps(cbor2.CBORTag(18, [new_protected, {4: kid}, payload, signature]))
    assert _code(lambda: _verify(world, _rewrap(cose))) == "cose_invalid"


@pytest.mark.parametrize("protected", [{4: b"12345678"}, {1: -999, 4: b"12345678"}, {1: "ES256", 4: b"12345678"}])
def test_cose_without_a_known_alg(world, protected):
    assert _code(lambda: _verify(world, _with_protected(world, protected))) == "cose_invalid"


# 5. kid lookup


def test_unknown_key(world):
    stranger = generate_private_key()
    text = world.licence_qr(signer=QrSigner(kid=stranger.kid, private_key=stranger))
    assert _code(lambda: _verify(world, text)) == "unknown_key"


def test_every_key_with_the_kid_is_tried(world):
    decoy = key_entry(generate_private_key(), kid=world.seal_key.kid)  # a colliding kid, listed first
    store = world.store(keys=(decoy, key_entry(world.seal_key)), via_json=False)
    assert _verify(world, world.licence_qr(), trust_store=store).key.public_key == world.seal_key.public_key
    only_decoy = world.store(keys=(decoy,), via_json=False)
    assert _code(lambda: _verify(world, world.licence_qr(), trust_store=only_decoy)) == "signature_invalid"


# 6. signature


def test_signature_invalid(world):
    item = cbor2.loads(_cose_of(world.licence_qr()))
    protected, unprotected, payload, signature = item.value
    tampered = bytes([signature[0] ^ 1]) + signature[1:]
    cose = cbor2.dumps(cbor2.CBORTag(18, [protected, unprotected, payload, tampered]))
    assert _code(lambda: _verify(world, _rewrap(cose))) == "signature_invalid"


def test_tampered_payload_fails_the_signature(world):
    item = cbor2.loads(_cose_of(world.licence_qr()))
    protected, unprotected, payload, signature = item.value
    claims = cbor2.loads(payload)
    claims[CLAIM_LICENCE]["h"] = "李*"
    cose = cbor2.dumps(cbor2.CBORTag(18, [protected, unprotected, cbor2.dumps(claims), signature]))
    assert _code(lambda: _verify(world, _rewrap(cose))) == "signature_invalid"


def test_algorithm_confusion_fails_the_signature(world):
    text = _with_protected(world, {1: -8, 4: b64url_decode(world.seal_key.kid)})  # an ES256 key claimed as EdDSA
    assert _code(lambda: _verify(world, text)) == "signature_invalid"


# 7. claims


@pytest.mark.parametrize("claims", [
    {1: REGISTRY_ID, 6: 1740816000},  # neither licence nor presentation
    {1: REGISTRY_ID, 6: "yesterday", CLAIM_LICENCE: {}},
    {6: 1740816000, CLAIM_LICENCE: {}},  # no iss
    {1: REGISTRY_ID, CLAIM_LICENCE: {}},  # no iat
])
def test_claims_invalid(world, claims):
    if CLAIM_LICENCE in claims:
        claims[CLAIM_LICENCE] = cbor2.loads(cbor2.loads(_cose_of(world.licence_qr())).value[2])[CLAIM_LICENCE]
    assert _code(lambda: _verify(world, _signed(world, claims))) == "claims_invalid"


def test_malformed_licence_claim(world):
    claims = cbor2.loads(cbor2.loads(_cose_of(world.licence_qr())).value[2])
    claims[CLAIM_LICENCE]["x"] = -5
    assert _code(lambda: _verify(world, _signed(world, claims))) == "claims_invalid"


def test_payload_that_is_not_a_claims_map(world):
    text = wrap(encode_sign1(key=world.seal_key, kid=b64url_decode(world.seal_key.kid), payload=b"\x83\x01"))
    assert _code(lambda: _verify(world, text)) == "claims_invalid"


# 8. times


def test_expired(world):
    text = world.licence_qr(expires_at=at(days=30))
    assert _code(lambda: _verify(world, text, now=at(days=30, seconds=30))) == "expired"
    assert _verify(world, text, now=at(days=30, seconds=29)).kind == "licence"  # within the skew


def test_expired_presentation(world):
    text = world.presentation_qr(expires_at=at(seconds=60))
    assert _code(lambda: _verify(world, text, now=at(seconds=120))) == "expired"
    assert _code(lambda: _verify(world, text, now=at(seconds=61), skew=timedelta(0))) == "expired"


def test_an_exp_at_the_end_of_year_9999_is_no_overflow(world):
    text = world.licence_qr(expires_at=datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC))
    assert _verify(world, text).expires_at.year == 9999


@pytest.mark.parametrize("iat", [1 << 40, 10**20, -1, 253402300800])  # the last: 10000-01-01
def test_an_out_of_range_iat_is_claims_invalid_not_a_crash(world, iat):
    claims = cbor2.loads(cbor2.loads(_cose_of(world.licence_qr())).value[2])
    claims[6] = iat
    assert _code(lambda: _verify(world, _signed(world, claims))) == "claims_invalid"


def test_not_yet_valid(world):
    text = world.licence_qr(issued_at=at(minutes=5), expires_at=at(days=30))
    assert _code(lambda: _verify(world, text, now=T0)) == "not_yet_valid"
    assert _verify(world, text, now=at(minutes=5, seconds=-30)).kind == "licence"  # within the skew


# 9. key validity


def test_key_revoked_before_iat(world):
    revoked = key_entry(world.seal_key, status=KeyStatus.REVOKED, revoked_at=at(days=-2), compromised_at=at(days=-3))
    store = world.store(keys=(revoked,))
    assert _code(lambda: _verify(world, world.licence_qr(), trust_store=store)) == "key_not_valid"


def test_key_revoked_after_iat_still_verifies_older_codes(world):
    revoked = key_entry(world.seal_key, status=KeyStatus.REVOKED, revoked_at=at(days=2))
    assert _verify(world, world.licence_qr(), trust_store=world.store(keys=(revoked,)), now=at(days=3)).kind == "licence"


def test_key_retired_before_iat(world):
    retired = key_entry(world.seal_key, status=KeyStatus.RETIRED, retired_at=at(hours=-1))
    store = world.store(keys=(retired,))
    assert _code(lambda: _verify(world, world.licence_qr(), trust_store=store)) == "key_not_valid"


def test_key_not_yet_valid_at_iat(world):
    young = key_entry(world.seal_key, valid_from=at(days=1))
    store = world.store(keys=(young,))
    assert _code(lambda: _verify(world, world.licence_qr(), trust_store=store, now=at(days=2))) == "key_not_valid"


def test_seal_suspended(world):
    store = world.store(seals=(seal_entry(status=SealStatus.SUSPENDED, suspensions=(Suspension(at(days=-1), None),)),))
    assert _code(lambda: _verify(world, world.licence_qr(), trust_store=store)) == "key_not_valid"


def test_seal_revoked_before_iat(world):
    store = world.store(seals=(seal_entry(status=SealStatus.REVOKED, revoked_at=at(days=-1)),))
    assert _code(lambda: _verify(world, world.licence_qr(), trust_store=store)) == "key_not_valid"


def test_seal_outside_its_validity(world):
    store = world.store(seals=(seal_entry(valid_from=at(days=1)),))
    assert _code(lambda: _verify(world, world.licence_qr(), trust_store=store, now=at(days=2))) == "key_not_valid"


def test_key_of_another_registry(world):
    assert _code(lambda: _verify(world, world.licence_qr(issuer="https://other.registry.test"))) == "key_not_valid"


def test_licence_signed_by_the_presentation_key(world):
    assert _code(lambda: _verify(world, world.licence_qr(signer=world.presentation_signer))) == "key_not_valid"


def test_presentation_signed_by_a_seal_key(world):
    assert _code(lambda: _verify(world, world.presentation_qr(signer=world.seal_signer), now=T0)) == "key_not_valid"


def test_presentation_key_retired_before_iat(world):
    retired = key_entry(world.presentation_key, purpose=KeyPurpose.PRESENTATION, status=KeyStatus.RETIRED,
                        retired_at=at(hours=-1))
    store = world.store(keys=(retired,))
    assert _code(lambda: _verify(world, world.presentation_qr(), trust_store=store, now=T0)) == "key_not_valid"


def test_seal_of_another_issuer(world):
    text = world.licence_qr(issuer_code="11350200MB0000003Z", identifier="LOCAL-1")
    assert _code(lambda: _verify(world, text)) == "key_not_valid"


def test_seal_without_trust_entry(world):
    store = world.store(seals=())
    assert _code(lambda: _verify(world, world.licence_qr(), trust_store=store)) == "key_not_valid"


# 10. licence type


def test_type_not_allowed(world):
    identifier = f"1.2.156.3005.2.{OTHER_LICENCE_TYPE}.{OWNER}.1.001.K"
    text = world.licence_qr(type_code=OTHER_LICENCE_TYPE, identifier=identifier)
    assert _code(lambda: _verify(world, text)) == "type_not_allowed"
    wildcard = world.store(seals=(seal_entry(licence_type_codes=("*",)),))
    assert _verify(world, text, trust_store=wildcard).summary.type_code == OTHER_LICENCE_TYPE


# 11. status


def test_status_valid_reports_the_age(world):
    token = world.status_token(issued_at=at(minutes=-2))
    result = _verify(world, world.licence_qr(), status_lists={STATUS_URI: token}, now=T0)
    assert result.status == "valid" and result.status_list_age == timedelta(minutes=2)


def test_revoked(world):
    token = world.status_token(statuses={40123: TokenStatus.INVALID})
    assert _code(lambda: _verify(world, world.licence_qr(), status_lists={STATUS_URI: token})) == "revoked"


def test_suspended(world):
    token = world.status_token(statuses={40123: TokenStatus.SUSPENDED})
    assert _code(lambda: _verify(world, world.licence_qr(), status_lists={STATUS_URI: token})) == "suspended"


def test_other_entries_do_not_matter(world):
    token = world.status_token(statuses={40122: TokenStatus.INVALID, 40124: TokenStatus.SUSPENDED})
    assert _verify(world, world.licence_qr(), status_lists={STATUS_URI: token}).status == "valid"


def test_status_stale(world):
    token = world.status_token(issued_at=at(hours=-2))
    lists = {STATUS_URI: token}
    assert _code(lambda: _verify(world, world.licence_qr(), status_lists=lists, now=T0,
                                 max_status_age=timedelta(hours=1))) == "status_stale"
    assert _verify(world, world.licence_qr(), status_lists=lists, now=T0, max_status_age=timedelta(hours=3)).status == "valid"


def test_status_unavailable(world):
    other = world.status_token(subject=f"{REGISTRY_ID}/api/v1/status-lists/13")
    assert _code(lambda: _verify(world, world.licence_qr(), status_lists={other.subject: other})) == "status_unavailable"
    assert _code(lambda: _verify(world, world.licence_qr(), max_status_age=timedelta(hours=1))) == "status_unavailable"


def test_status_index_outside_the_list(world):
    token = world.status_token()
    text = world.licence_qr(status_idx=(1 << 16) + 5)
    assert _code(lambda: _verify(world, text, status_lists={STATUS_URI: token})) == "status_unavailable"


def test_status_list_filed_under_the_wrong_uri(world):
    token = world.status_token(subject=f"{REGISTRY_ID}/api/v1/status-lists/13")
    assert _code(lambda: _verify(world, world.licence_qr(), status_lists={STATUS_URI: token})) == "status_unavailable"


def test_unknown_status_value_fails_closed(world):
    token = world.status_token(statuses={40123: 3})
    assert _code(lambda: _verify(world, world.licence_qr(), status_lists={STATUS_URI: token})) == "status_unavailable"


def test_errors_are_verification_errors_with_codes(world):
    from signing.errors import VerificationError

    with pytest.raises(VerificationError) as caught:
        _verify(world, "nope")
    assert isinstance(caught.value, QrVerificationError) and caught.value.code == "prefix_invalid"
    assert "prefix_invalid" in repr(caught.value)
