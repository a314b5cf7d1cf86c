"""Sealed records verified offline against trust lists built from plain objects."""

import dataclasses
import hashlib
import json

import pytest

from signing.algorithms import Algorithm
from signing.canonical import canonical_json
from signing.errors import InvalidInput, VerificationError
from signing.keys import generate_private_key
from signing.sealed import SealSignature, SealSigner, payload_digest, seal_record, verify_sealed_record
from signing.statuses import AuthorizationStatus, KeyPurpose, KeyStatus, SealStatus
from signing.trust_entries import Suspension, TrustedAuthorization, TrustedKey, TrustedSeal
from signing.trustlist import TrustListContent, sign_trust_list
from signing.truststore import TrustStore
from tests.factories.signing import LICENCE_TYPE, OTHER_LICENCE_TYPE, OWNER, PROVINCE, REGISTRY_ID, T0, at

ES_ID = "5f0c6f3a9d2e4b7c8a1b2c3d4e5f6a7b"


class Setup:
    """A registry with one seal and one seal key, as plain objects."""

    def __init__(self, algorithm=Algorithm.ES256):
        self.root = generate_private_key()
        self.seal_key = generate_private_key(algorithm)
        self.key_entry = TrustedKey(
            kid=self.seal_key.kid, public_key=self.seal_key.public_key, purpose=KeyPurpose.SEAL, es_id=ES_ID,
            owner=OWNER, valid_from=T0, status=KeyStatus.ACTIVE,
        )
        self.seal_entry = TrustedSeal(
            es_id=ES_ID, name="福州市市场监督管理局电子证照专用章", seal_type="电子证照专用章", owner=OWNER,
            licence_type_codes=(LICENCE_TYPE,), valid_from=T0, valid_to=at(days=365), status=SealStatus.ACTIVE,
        )
        self.authorizations: tuple[TrustedAuthorization, ...] = ()

    def sign(self, record, *, signed_at=None, signer=OWNER, licence_type=LICENCE_TYPE, key=None):
        return seal_record(
            record=record, key=key or self.seal_key, registry_id=REGISTRY_ID, es_id=ES_ID,
            licence_type_code=licence_type, signer_department_code=signer, signed_at=signed_at or at(hours=1),
        )

    def store(self, *, extra_keys=()):
        content = TrustListContent(
            registry_id=REGISTRY_ID, keys=(self.key_entry, *extra_keys), seals=(self.seal_entry,),
            authorizations=self.authorizations,
        )
        trust_list = sign_trust_list(content=content, root_key=self.root, sequence=1, issued_at=at(hours=2))
        store = TrustStore()
        store.pin_root(registry_id=REGISTRY_ID, root_public_key=self.root.public_key)
        store.add_json(trust_list.to_json(), now=at(hours=3))
        return store


def _verify(setup, record, signature, **store_args):
    return verify_sealed_record(record=record, signature=signature, trust=setup.store(**store_args), now=at(hours=3))


def _code(setup, record, signature, **store_args) -> str:
    with pytest.raises(VerificationError) as caught:
        _verify(setup, record, signature, **store_args)
    return caught.value.code


@pytest.mark.parametrize("algorithm", list(Algorithm))
def test_sealed_record_verifies_and_returns_the_payload(algorithm, licence_record):
    setup = Setup(algorithm)
    signature = setup.sign(licence_record)
    assert _verify(setup, licence_record, signature) == licence_record


def test_signature_object_dict_round_trip(licence_record):
    signature = Setup().sign(licence_record)
    assert SealSignature.from_dict(signature.to_dict()) == signature


def test_signature_object_json_round_trip(licence_record):
    signature = Setup().sign(licence_record)
    assert SealSignature.from_json(signature.to_json()) == signature
    assert json.loads(signature.to_json())["format"] == "certhub-seal-signature/1"


def test_signing_input_is_the_rfc8785_form_of_the_header(licence_record):
    signature = Setup().sign(licence_record)
    header = {k: v for k, v in signature.to_dict().items() if k != "signature"}
    assert signature.signing_input() == b"certhub-seal-signature/1\n" + canonical_json(header)


def test_seal_signer_signs_many_records_like_seal_record(licence_record):
    setup = Setup()
    signer = SealSigner(
        key=setup.seal_key, registry_id=REGISTRY_ID, es_id=ES_ID, licence_type_code=LICENCE_TYPE,
        signer_department_code=OWNER,
    )
    second_record = {**licence_record, "licence_number": "91350100MA2Y000002"}
    for record in (licence_record, second_record):
        signature = signer.sign(record, signed_at=at(hours=1))
        assert _verify(setup, record, signature) == record
    precomputed = signer.sign(licence_record, signed_at=at(hours=1), digest=payload_digest(licence_record))
    assert precomputed.payload_sha256 == setup.sign(licence_record).payload_sha256


def test_payload_digest_is_over_rfc8785_bytes():
    assert payload_digest({"b": 1, "a": "福"}) == hashlib.sha256('{"a":"福","b":1}'.encode()).digest()
    assert payload_digest({"a": 1.0}) == payload_digest({"a": 1})  # ECMAScript number form


def test_record_that_json_cannot_carry_exactly_is_refused():
    with pytest.raises(InvalidInput):
        payload_digest({"n": 2**60})  # beyond IEEE 754 exact integers


# --- one test per failure mode ------------------------------------------------


def test_malformed_missing_field(licence_record):
    data = Setup().sign(licence_record).to_dict()
    del data["kid"]
    with pytest.raises(VerificationError) as caught:
        SealSignature.from_dict(data)
    assert caught.value.code == "malformed"


def test_malformed_unknown_field(licence_record):
    data = {**Setup().sign(licence_record).to_dict(), "extra": "x"}
    with pytest.raises(VerificationError) as caught:
        SealSignature.from_dict(data)
    assert caught.value.code == "malformed"


def test_malformed_bad_base64(licence_record):
    data = {**Setup().sign(licence_record).to_dict(), "signature": "not base64!"}
    with pytest.raises(VerificationError) as caught:
        SealSignature.from_dict(data)
    assert caught.value.code == "malformed"


def test_malformed_timestamp(licence_record):
    data = {**Setup().sign(licence_record).to_dict(), "signed_at": "2025-03-01 09:00"}
    with pytest.raises(VerificationError) as caught:
        SealSignature.from_dict(data)
    assert caught.value.code == "malformed"


def test_malformed_json(licence_record):
    with pytest.raises(VerificationError) as caught:
        SealSignature.from_json("{not json")
    assert caught.value.code == "malformed"


def test_too_large_signature_object():
    with pytest.raises(VerificationError) as caught:
        SealSignature.from_json("{" + " " * 5000 + "}")
    assert caught.value.code == "too_large"


def test_signing_time_in_the_future_is_malformed(licence_record):
    setup = Setup()
    assert _code(setup, licence_record, setup.sign(licence_record, signed_at=at(days=1))) == "malformed"


def test_unknown_key(licence_record):
    setup = Setup()
    stranger = generate_private_key()
    assert _code(setup, licence_record, setup.sign(licence_record, key=stranger)) == "unknown_key"


def test_signature_invalid_when_record_changed(licence_record):
    setup = Setup()
    signature = setup.sign(licence_record)
    changed = {**licence_record, "holder_name": "别的公司"}
    assert _code(setup, changed, signature) == "signature_invalid"


def test_signature_invalid_when_signature_bytes_changed(licence_record):
    setup = Setup()
    signature = setup.sign(licence_record)
    tampered = dataclasses.replace(signature, signature=bytes([signature.signature[0] ^ 1]) + signature.signature[1:])
    assert _code(setup, licence_record, tampered) == "signature_invalid"


def test_signature_invalid_when_signing_time_changed(licence_record):
    setup = Setup()
    signature = setup.sign(licence_record)
    moved = SealSignature.from_dict({**signature.to_dict(), "signed_at": "2025-03-01T08:30:00Z"})
    assert _code(setup, licence_record, moved) == "signature_invalid"


def test_signature_invalid_when_algorithm_label_changed(licence_record):
    setup = Setup()
    signature = setup.sign(licence_record)
    relabelled = SealSignature.from_dict({**signature.to_dict(), "alg": "EdDSA"})
    assert _code(setup, licence_record, relabelled) == "signature_invalid"


def test_kid_collision_tries_every_key(licence_record):
    setup = Setup()
    signature = setup.sign(licence_record)
    decoy_key = generate_private_key()
    decoy = dataclasses.replace(setup.key_entry, public_key=decoy_key.public_key)  # same kid, other key
    store = TrustStore()
    content = TrustListContent(registry_id=REGISTRY_ID, keys=(decoy, setup.key_entry), seals=(setup.seal_entry,))
    trust_list = sign_trust_list(content=content, root_key=setup.root, sequence=1, issued_at=at(hours=2))
    store.pin_root(registry_id=REGISTRY_ID, root_public_key=setup.root.public_key)
    store.add(trust_list)
    assert len(store.resolve_kid(signature.kid)) == 2
    assert verify_sealed_record(record=licence_record, signature=signature, trust=store, now=at(hours=3))


def test_key_revoked(licence_record):
    setup = Setup()
    setup.key_entry = dataclasses.replace(
        setup.key_entry, status=KeyStatus.REVOKED, revoked_at=at(hours=2), compromised_at=at(minutes=30)
    )
    assert _code(setup, licence_record, setup.sign(licence_record, signed_at=at(hours=1))) == "key_revoked"


def test_key_revoked_still_verifies_before_compromise(licence_record):
    setup = Setup()
    setup.key_entry = dataclasses.replace(
        setup.key_entry, status=KeyStatus.REVOKED, revoked_at=at(hours=2), compromised_at=at(minutes=30)
    )
    signature = setup.sign(licence_record, signed_at=at(minutes=10))
    assert _verify(setup, licence_record, signature) == licence_record


def test_key_retired(licence_record):
    setup = Setup()
    setup.key_entry = dataclasses.replace(setup.key_entry, status=KeyStatus.RETIRED, retired_at=at(minutes=30))
    assert _code(setup, licence_record, setup.sign(licence_record, signed_at=at(hours=1))) == "key_retired"


def test_key_expired_before_its_validity(licence_record):
    setup = Setup()
    setup.key_entry = dataclasses.replace(setup.key_entry, valid_from=at(hours=1, minutes=30))
    assert _code(setup, licence_record, setup.sign(licence_record, signed_at=at(hours=1))) == "key_expired"


def test_seal_revoked(licence_record):
    setup = Setup()
    setup.seal_entry = dataclasses.replace(
        setup.seal_entry, status=SealStatus.REVOKED, revoked_at=at(hours=2), compromised_at=at(minutes=30)
    )
    assert _code(setup, licence_record, setup.sign(licence_record, signed_at=at(hours=1))) == "seal_revoked"


def test_seal_suspended(licence_record):
    setup = Setup()
    setup.seal_entry = dataclasses.replace(
        setup.seal_entry, status=SealStatus.SUSPENDED, suspensions=(Suspension(at(hours=2), None),)
    )
    assert _code(setup, licence_record, setup.sign(licence_record, signed_at=at(hours=1))) == "seal_suspended"


def test_seal_suspended_at_signing_time_even_after_resume(licence_record):
    setup = Setup()
    setup.seal_entry = dataclasses.replace(setup.seal_entry, suspensions=(Suspension(at(minutes=30), at(hours=2)),))
    assert _code(setup, licence_record, setup.sign(licence_record, signed_at=at(hours=1))) == "seal_suspended"


def test_seal_expired(licence_record):
    setup = Setup()
    setup.seal_entry = dataclasses.replace(setup.seal_entry, valid_to=at(minutes=30))
    assert _code(setup, licence_record, setup.sign(licence_record, signed_at=at(hours=1))) == "seal_expired"


def test_seal_not_authorized_for_type(licence_record):
    setup = Setup()
    signature = setup.sign(licence_record, licence_type=OTHER_LICENCE_TYPE)
    assert _code(setup, licence_record, signature) == "seal_not_authorized_for_type"


def test_cross_level_signature_without_authorization_fails(licence_record):
    setup = Setup()
    assert _code(setup, licence_record, setup.sign(licence_record, signer=PROVINCE)) == "seal_not_authorized_for_type"


def test_cross_level_signature_with_authorization_verifies(licence_record):
    setup = Setup()
    setup.authorizations = (
        TrustedAuthorization(
            id=1, es_id=ES_ID, grantee=PROVINCE, licence_type_codes=(LICENCE_TYPE,), valid_from=T0,
            valid_to=at(days=30), status=AuthorizationStatus.ACTIVE,
        ),
    )
    assert _verify(setup, licence_record, setup.sign(licence_record, signer=PROVINCE)) == licence_record


def test_cross_level_signature_after_authorization_revoked_fails(licence_record):
    setup = Setup()
    setup.authorizations = (
        TrustedAuthorization(
            id=1, es_id=ES_ID, grantee=PROVINCE, licence_type_codes=(LICENCE_TYPE,), valid_from=T0,
            valid_to=at(days=30), status=AuthorizationStatus.REVOKED, revoked_at=at(minutes=30),
        ),
    )
    signature = setup.sign(licence_record, signer=PROVINCE, signed_at=at(hours=1))
    assert _code(setup, licence_record, signature) == "seal_not_authorized_for_type"
