"""Lifecycle changes in the database, seen by an offline verifier through the trust list."""

import pytest

from signing import service
from signing.algorithms import Algorithm
from signing.errors import InvalidInput, KeyNotFound, NotAuthorized, SealNotActive, VerificationError
from signing.sealed import SealSignature, verify_sealed_record
from signing.seals.certificates import load_certificate
from signing.seals.gbt38540 import verify_seal_file
from signing.statuses import KeyStatus, SealStatus
from signing.truststore import TrustStore
from tests.factories.signing import KEY_SECRET, LICENCE_TYPE, OTHER_LICENCE_TYPE, OWNER, PROVINCE, REGISTRY_ID, at


def _sign(db_session, seal, record, *, now, acting=OWNER, licence_type=LICENCE_TYPE) -> SealSignature:
    return service.sign_record(
        session=db_session, es_id=seal.es_id, record=record, licence_type_code=licence_type,
        acting_department_code=acting, registry_id=REGISTRY_ID, key_secret=KEY_SECRET, now=now,
    )


def _verifier(db_session, trust_root, *, now) -> TrustStore:
    data = service.trust_list_json(session=db_session, registry_id=REGISTRY_ID, key_secret=KEY_SECRET, now=now)
    store = TrustStore()
    store.pin_root(registry_id=REGISTRY_ID, root_public_key=trust_root.public_key)
    store.add_json(data, now=now)
    return store


def _verify(store, record, signature, *, now):
    # Round-trip through JSON as a relying party would receive it.
    return verify_sealed_record(record=record, signature=SealSignature.from_json(signature.to_json()), trust=store, now=now)


def _code(store, record, signature, *, now) -> str:
    with pytest.raises(VerificationError) as caught:
        _verify(store, record, signature, now=now)
    return caught.value.code


def test_sign_and_verify_through_the_service(db_session, seal, trust_root, licence_record):
    signature = _sign(db_session, seal, licence_record, now=at(hours=1))
    store = _verifier(db_session, trust_root, now=at(hours=2))
    assert _verify(store, licence_record, signature, now=at(hours=2)) == licence_record


def test_rotation_keeps_old_signatures_and_signs_with_the_new_key(db_session, seal, trust_root, licence_record):
    before = _sign(db_session, seal, licence_record, now=at(hours=1))
    new_key = service.rotate_key(
        session=db_session, es_id=seal.es_id, key_secret=KEY_SECRET, algorithm=Algorithm.EDDSA, now=at(hours=2)
    )
    after = _sign(db_session, seal, licence_record, now=at(hours=3))
    assert after.kid == new_key.kid != before.kid
    assert after.algorithm == Algorithm.EDDSA
    store = _verifier(db_session, trust_root, now=at(hours=4))
    assert _verify(store, licence_record, before, now=at(hours=4)) == licence_record
    assert _verify(store, licence_record, after, now=at(hours=4)) == licence_record
    [old] = list(store.resolve_kid(before.kid))
    assert old.key.status == KeyStatus.RETIRED


def test_rotation_reissues_the_seal_structure_for_the_new_key(db_session, seal):
    new_key = service.rotate_key(session=db_session, es_id=seal.es_id, key_secret=KEY_SECRET, now=at(hours=2))
    document = verify_seal_file(service.get_seal_or_raise(session=db_session, es_id=seal.es_id).der)
    certified = load_certificate(document.signer_certificates[0])["tbs_certificate"]["subject_public_key_info"]
    assert certified.dump() == new_key.public_key.spki_der


def test_suspended_seal_cannot_sign_and_its_signatures_fail(db_session, seal, trust_root, licence_record):
    signature = _sign(db_session, seal, licence_record, now=at(hours=1))
    service.suspend_seal(session=db_session, es_id=seal.es_id, reason="核查中", now=at(hours=2))
    with pytest.raises(SealNotActive):
        _sign(db_session, seal, licence_record, now=at(hours=3))
    store = _verifier(db_session, trust_root, now=at(hours=3))
    assert _code(store, licence_record, signature, now=at(hours=3)) == "seal_suspended"


def test_resumed_seal_signs_and_verifies_again(db_session, seal, trust_root, licence_record):
    before = _sign(db_session, seal, licence_record, now=at(hours=1))
    service.suspend_seal(session=db_session, es_id=seal.es_id, now=at(hours=2))
    resumed = service.resume_seal(session=db_session, es_id=seal.es_id, now=at(hours=3))
    assert resumed.status == SealStatus.ACTIVE
    after = _sign(db_session, seal, licence_record, now=at(hours=4))
    store = _verifier(db_session, trust_root, now=at(hours=5))
    assert _verify(store, licence_record, before, now=at(hours=5)) == licence_record
    assert _verify(store, licence_record, after, now=at(hours=5)) == licence_record


def test_revocation_with_compromise_time(db_session, seal, trust_root, licence_record):
    early = _sign(db_session, seal, licence_record, now=at(hours=1))
    late = _sign(db_session, seal, licence_record, now=at(hours=3))
    service.revoke_seal(
        session=db_session, es_id=seal.es_id, reason="私钥泄露", compromised_at=at(hours=2), now=at(hours=4)
    )
    store = _verifier(db_session, trust_root, now=at(hours=5))
    assert _verify(store, licence_record, early, now=at(hours=5)) == licence_record
    assert _code(store, licence_record, late, now=at(hours=5)) == "seal_revoked"
    with pytest.raises(SealNotActive):
        _sign(db_session, seal, licence_record, now=at(hours=5))


@pytest.mark.slow
def test_revoked_key_with_compromise_time(db_session, seal, trust_root, licence_record):
    early = _sign(db_session, seal, licence_record, now=at(hours=1))
    late = _sign(db_session, seal, licence_record, now=at(hours=3))
    service.revoke_key(
        session=db_session, kid=early.kid, key_secret=KEY_SECRET, compromised_at=at(hours=2), now=at(hours=4)
    )
    with pytest.raises(KeyNotFound):
        _sign(db_session, seal, licence_record, now=at(hours=5))
    service.rotate_key(session=db_session, es_id=seal.es_id, key_secret=KEY_SECRET, now=at(hours=5))
    fresh = _sign(db_session, seal, licence_record, now=at(hours=6))
    store = _verifier(db_session, trust_root, now=at(hours=7))
    assert _verify(store, licence_record, early, now=at(hours=7)) == licence_record
    assert _code(store, licence_record, late, now=at(hours=7)) == "key_revoked"
    assert _verify(store, licence_record, fresh, now=at(hours=7)) == licence_record


def test_compromise_time_in_the_future_is_refused(db_session, seal):
    with pytest.raises(InvalidInput):
        service.revoke_seal(session=db_session, es_id=seal.es_id, reason="x", compromised_at=at(days=2), now=at(days=1))


def test_revoked_seal_cannot_be_resumed_or_rotated(db_session, seal):
    service.revoke_seal(session=db_session, es_id=seal.es_id, reason="撤销", now=at(hours=1))
    with pytest.raises(SealNotActive):
        service.resume_seal(session=db_session, es_id=seal.es_id, now=at(hours=2))
    with pytest.raises(SealNotActive):
        service.rotate_key(session=db_session, es_id=seal.es_id, key_secret=KEY_SECRET, now=at(hours=2))


def test_seal_refuses_a_licence_type_it_does_not_cover(db_session, seal, licence_record):
    with pytest.raises(NotAuthorized):
        _sign(db_session, seal, licence_record, now=at(hours=1), licence_type=OTHER_LICENCE_TYPE)


# --- 跨层级签章 -----------------------------------------------------------------


def _authorize(db_session, seal, **overrides):
    arguments = {
        "es_id": seal.es_id, "grantor_department_code": OWNER, "grantee_department_code": PROVINCE,
        "licence_type_codes": [LICENCE_TYPE], "valid_from": at(hours=0), "valid_to": at(days=30),
    }
    return service.authorize_cross_level(session=db_session, **{**arguments, **overrides})


def test_cross_level_signing_needs_an_authorization(db_session, seal, licence_record):
    with pytest.raises(NotAuthorized):
        _sign(db_session, seal, licence_record, now=at(hours=1), acting=PROVINCE)


def test_cross_level_signing_with_authorization_verifies(db_session, seal, trust_root, licence_record):
    _authorize(db_session, seal)
    signature = _sign(db_session, seal, licence_record, now=at(hours=1), acting=PROVINCE)
    assert signature.signer_department_code == PROVINCE
    store = _verifier(db_session, trust_root, now=at(hours=2))
    assert _verify(store, licence_record, signature, now=at(hours=2)) == licence_record


def test_revoked_authorization_stops_cross_level_signing(db_session, seal, trust_root, licence_record):
    authorization = _authorize(db_session, seal)
    before = _sign(db_session, seal, licence_record, now=at(hours=1), acting=PROVINCE)
    service.revoke_authorization(session=db_session, authorization_id=authorization.id, now=at(hours=2))
    with pytest.raises(NotAuthorized):
        _sign(db_session, seal, licence_record, now=at(hours=3), acting=PROVINCE)
    store = _verifier(db_session, trust_root, now=at(hours=3))
    assert _verify(store, licence_record, before, now=at(hours=3)) == licence_record


def test_authorization_outside_its_period_does_not_count(db_session, seal, licence_record):
    _authorize(db_session, seal, valid_from=at(days=1), valid_to=at(days=2))
    with pytest.raises(NotAuthorized):
        _sign(db_session, seal, licence_record, now=at(hours=1), acting=PROVINCE)


def test_only_the_owner_may_authorize(db_session, seal):
    with pytest.raises(NotAuthorized):
        _authorize(db_session, seal, grantor_department_code=PROVINCE, grantee_department_code="11350200MB0000003Z")


def test_authorization_cannot_exceed_the_seals_licence_types(db_session, seal):
    with pytest.raises(NotAuthorized):
        _authorize(db_session, seal, licence_type_codes=[OTHER_LICENCE_TYPE])


def test_list_authorizations(db_session, seal):
    authorization = _authorize(db_session, seal)
    assert service.list_authorizations(session=db_session, es_id=seal.es_id) == [authorization]
    assert service.list_authorizations(session=db_session, grantee_department_code=OWNER) == []
