"""Token Status List encoding, signing and offline verification.

SPEC: draft-ietf-oauth-status-list-05 §4.1 (the byte layout examples)."""

from __future__ import annotations

import base64
import json
import zlib
from datetime import UTC, datetime, timedelta

import pytest

from signing.errors import InvalidInput, VerificationError
from signing.keys import generate_private_key
from signing.statuses import KeyPurpose, KeyStatus
from signing.statuslist import (
    StatusList,
    TokenStatus,
    sign_status_list_token,
    verify_status_list_token,
    verify_trusted_status_list_token,
)
from signing.trust_entries import TrustedKey
from signing.trustlist import TrustListContent, sign_trust_list
from signing.truststore import TrustStore

NOW = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)
URI = "https://registry.test/api/v1/status-lists/1"


def _filled(bits: int, values: list[int]) -> StatusList:
    status_list = StatusList(size=len(values), bits=bits)
    for index, value in enumerate(values):
        status_list.set(index, value)
    return status_list


def test_one_bit_layout_matches_the_spec_example():
    values = [1, 0, 0, 1, 1, 1, 0, 1, 1, 1, 0, 0, 0, 1, 0, 1]
    assert _filled(1, values).to_bytes() == bytes([0xB9, 0xA3])


def test_two_bit_layout_matches_the_spec_example():
    values = [1, 2, 0, 3, 0, 1, 0, 1, 1, 2, 3, 3]
    assert _filled(2, values).to_bytes() == bytes([0xC9, 0x44, 0xF9])


def test_json_round_trip_is_zlib_and_base64url():
    original = _filled(2, [0, 1, 2, 1] * 100)
    encoded = original.to_json()
    assert encoded["bits"] == 2 and "=" not in encoded["lst"]
    raw = zlib.decompress(base64.urlsafe_b64decode(encoded["lst"] + "=" * (-len(encoded["lst"]) % 4)))
    assert raw == original.to_bytes()
    decoded = StatusList.from_json(encoded)
    assert [decoded.get(i) for i in range(400)] == [0, 1, 2, 1] * 100


@pytest.mark.parametrize("value", [
    {"bits": 3, "lst": "eNoDAAAAAAE"}, {"bits": 2}, {"bits": 2, "lst": "not zlib"}, {"bits": 2, "lst": "AAAA"},
    [], {"bits": 2, "lst": "eNoDAAAAAAE", "extra": 1},
])
def test_malformed_lists_are_refused(value):
    with pytest.raises(InvalidInput):
        StatusList.from_json(value)


def test_out_of_range_index_and_value_are_refused():
    status_list = StatusList(size=4, bits=2)
    with pytest.raises(InvalidInput):
        status_list.set(4, 1)
    with pytest.raises(InvalidInput):
        status_list.set(0, 4)


def test_signed_token_verifies_offline():
    key = generate_private_key("ES256")
    status_list = _filled(2, [TokenStatus.VALID, TokenStatus.INVALID, TokenStatus.SUSPENDED])
    token = sign_status_list_token(status_list=status_list, subject=URI, key=key, issued_at=NOW, ttl=300)
    header = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
    assert header == {"alg": "ES256", "kid": key.kid, "typ": "statuslist+jwt"}
    verified = verify_status_list_token(token, public_keys=[key.public_key], subject=URI, now=NOW)
    assert [verified.status(i) for i in range(3)] == [0, 1, 2] and verified.ttl == 300


def _failure(token, **kwargs) -> str:
    with pytest.raises(VerificationError) as caught:
        verify_status_list_token(token, **kwargs)
    return caught.value.code


def test_verification_failures():
    key, other = generate_private_key("ES256"), generate_private_key("ES256")
    token = sign_status_list_token(status_list=StatusList(size=8), subject=URI, key=key, issued_at=NOW)
    assert _failure(token, public_keys=[other.public_key], now=NOW) == "unknown_key"
    head, claims, signature = token.split(".")
    flipped = signature[:-2] + ("A" if signature[-2] != "A" else "B") + signature[-1]
    assert _failure(f"{head}.{claims}.{flipped}", public_keys=[key.public_key], now=NOW) in {
        "signature_invalid", "malformed"}
    assert _failure(token, public_keys=[key.public_key], subject=URI + "0", now=NOW) == "malformed"
    assert _failure(token, public_keys=[key.public_key], now=NOW - timedelta(hours=1)) == "malformed"
    assert _failure("a.b", public_keys=[key.public_key], now=NOW) == "malformed"


def _signed_claims(key, claims: dict) -> str:
    """A token with claims the signing function would never write (huge or negative times)."""
    encode = lambda value: base64.urlsafe_b64encode(  # noqa: E731
        json.dumps(value, separators=(",", ":")).encode()).rstrip(b"=").decode()
    signing_input = f"{encode({'alg': 'ES256', 'kid': key.kid, 'typ': 'statuslist+jwt'})}.{encode(claims)}"
    signature = base64.urlsafe_b64encode(key.sign(signing_input.encode())).rstrip(b"=").decode()
    return f"{signing_input}.{signature}"


@pytest.mark.parametrize("times", [
    {"iat": 10**20}, {"iat": -10**20}, {"iat": 253402300800},  # past 9999-12-31
    {"iat": 1740816000, "exp": 10**20}, {"iat": 1740816000, "exp": -1}, {"iat": 1740816000, "exp": 1.5e9},
    {"iat": 1740816000, "ttl": 10**20}, {"iat": 1.7e9},
])
def test_out_of_range_times_are_malformed_not_a_crash(times):
    key = generate_private_key("ES256")
    token = _signed_claims(key, {"sub": URI, "status_list": StatusList(size=8).to_json(), **times})
    assert _failure(token, public_keys=[key.public_key], now=NOW) == "malformed"


def _trust_store(root, entries, *, registry_id: str = "https://registry.test") -> TrustStore:
    content = TrustListContent(registry_id=registry_id, keys=tuple(entries))
    store = TrustStore()
    store.pin_root(registry_id=registry_id, root_public_key=root.public_key)
    store.add_json(sign_trust_list(content=content, root_key=root, sequence=1, issued_at=NOW).to_json(), now=NOW)
    return store


def _entry(key, *, purpose=KeyPurpose.STATUS_LIST, **changes) -> TrustedKey:
    fields = {"valid_from": NOW - timedelta(days=1), "status": KeyStatus.ACTIVE, **changes}
    return TrustedKey(kid=key.kid, public_key=key.public_key, purpose=purpose, es_id=None,
                      owner="https://registry.test", **fields)


def _trusted_failure(token, store) -> str:
    with pytest.raises(VerificationError) as caught:
        verify_trusted_status_list_token(token, trust_store=store, now=NOW)
    return caught.value.code


def test_a_status_list_key_is_taken_from_the_trust_list():
    root, key, other = (generate_private_key("ES256") for _ in range(3))
    token = sign_status_list_token(status_list=StatusList(size=8), subject=URI, key=key, issued_at=NOW)
    verified = verify_trusted_status_list_token(token, trust_store=_trust_store(root, [_entry(key)]), subject=URI,
                                                now=NOW)
    assert verified.kid == key.kid and verified.subject == URI
    assert _trusted_failure(token, _trust_store(root, [_entry(other)])) == "status_list_untrusted"  # not named
    for purpose in (KeyPurpose.SEAL, KeyPurpose.PRESENTATION, KeyPurpose.TRUST_ROOT):  # named for another use
        assert _trusted_failure(token, _trust_store(root, [_entry(key, purpose=purpose)])) == "status_list_untrusted"
    # Another registry's status-list key does not vouch for this registry's list.
    elsewhere = _trust_store(root, [_entry(key)], registry_id="https://registry.test.evil")
    assert _trusted_failure(token, elsewhere) == "status_list_untrusted"
    # Retired or revoked before the list was signed, or made after it: not for this token.
    for changes in ({"status": KeyStatus.RETIRED, "retired_at": NOW - timedelta(seconds=1)},
                    {"status": KeyStatus.REVOKED, "revoked_at": NOW},
                    {"valid_from": NOW + timedelta(seconds=1)}):
        assert _trusted_failure(token, _trust_store(root, [_entry(key, **changes)])) == "status_list_untrusted"
    retired_later = _entry(key, status=KeyStatus.RETIRED, retired_at=NOW + timedelta(days=1))
    assert verify_trusted_status_list_token(token, trust_store=_trust_store(root, [retired_later]), now=NOW).kid == key.kid


def test_a_trusted_kid_with_a_wrong_signature_is_signature_invalid():
    root, key, forger = (generate_private_key("ES256") for _ in range(3))
    genuine = sign_status_list_token(status_list=StatusList(size=8), subject=URI, key=key, issued_at=NOW)
    forged = sign_status_list_token(status_list=StatusList(size=8), subject=URI, key=forger, issued_at=NOW)
    head, claims, _ = genuine.split(".")
    mixed = f"{head}.{claims}.{forged.split('.')[2]}"
    assert _trusted_failure(mixed, _trust_store(root, [_entry(key)])) == "signature_invalid"
