"""Key rotation end to end, one test per registry key kind: make an artefact,
rotate, make another, and check both with what a verifier holds — the
published trust list (history included), never the database.

(The use log's checkpoint key: tests/exchange/test_checkpoint_key_rotation.py.)
"""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from signing import service
from signing.errors import VerificationError
from signing.keys import load_public_key
from signing.models import TrustListIssuance
from signing.qr import LicenceSummary, encode_licence_qr, encode_presentation_qr, verify_qr
from signing.sealed import SealSignature, verify_sealed_record
from signing.seals.gbt38540 import signer_chain_verifies, verify_seal_file
from signing.service.rotation import rotate_presentation_key, rotate_trust_root
from signing.statuses import KeyPurpose, KeyStatus
from signing.statuslist import StatusList, sign_status_list_token, verify_trusted_status_list_token
from signing.trustlist import TrustList
from signing.truststore import TrustStore
from tests.factories.signing import KEY_SECRET, LICENCE_TYPE, OWNER, REGISTRY_ID, at

IDENTIFIER = f"1.2.156.3005.2.{LICENCE_TYPE}.{OWNER}.0000001.001.K"
STATUS_URI = f"{REGISTRY_ID}/api/v1/status-lists/1"


def _published(db_session, *, now) -> bytes:
    return service.trust_list_json(session=db_session, registry_id=REGISTRY_ID, key_secret=KEY_SECRET, now=now)


def _verifier(db_session, *, pins, now) -> TrustStore:
    """A verifier that pinned `pins` and fetched the trust list served at `now`."""
    store = TrustStore()
    for pin in pins:
        store.pin_root(registry_id=REGISTRY_ID, root_public_key=pin)
    store.add_json(_published(db_session, now=now), now=now)
    return store


def _issued_list(db_session, sequence: int) -> bytes:
    return db_session.scalars(select(TrustListIssuance.signed_json).where(TrustListIssuance.sequence == sequence)).one()


def _seal_record(db_session, seal, record, *, now) -> SealSignature:
    signature = service.sign_record(
        session=db_session, es_id=seal.es_id, record=record, licence_type_code=LICENCE_TYPE,
        acting_department_code=OWNER, registry_id=REGISTRY_ID, key_secret=KEY_SECRET, now=now,
    )
    return SealSignature.from_json(signature.to_json())


def _summary() -> LicenceSummary:
    return LicenceSummary(
        type_code=LICENCE_TYPE, identifier=IDENTIFIER, holder_name_masked="王**", issuer_code=OWNER,
        valid_from=date(2025, 3, 1), valid_until=None, status_idx=7, status_uri=STATUS_URI,
    )


def test_seal_key_rotation_keeps_old_records_codes_and_seal_files_verifiable(db_session, seal, trust_root, licence_record):
    old_record = _seal_record(db_session, seal, licence_record, now=at(hours=1))
    old_signer = service.seal_qr_signer(session=db_session, es_id=seal.es_id, key_secret=KEY_SECRET, now=at(hours=1))
    old_code = encode_licence_qr(signer=old_signer, issuer=REGISTRY_ID, summary=_summary(), issued_at=at(hours=1), expires_at=None)
    old_seal_file = seal.der

    new_key = service.rotate_key(session=db_session, es_id=seal.es_id, key_secret=KEY_SECRET, algorithm="SM2", now=at(hours=2))

    new_record = _seal_record(db_session, seal, licence_record, now=at(hours=3))
    new_signer = service.seal_qr_signer(session=db_session, es_id=seal.es_id, key_secret=KEY_SECRET, now=at(hours=3))
    new_code = encode_licence_qr(signer=new_signer, issuer=REGISTRY_ID, summary=_summary(), issued_at=at(hours=3), expires_at=None)
    store = _verifier(db_session, pins=[trust_root.public_key], now=at(hours=4))
    assert new_record.kid == new_signer.kid == new_key.kid != old_record.kid
    for record in (old_record, new_record):
        assert verify_sealed_record(record=licence_record, signature=record, trust=store, now=at(hours=4)) == licence_record
    for code in (old_code, new_code):
        assert verify_qr(code, trust_store=store, now=at(hours=4)).key.es_id == seal.es_id
    # The seal file the maker wrote before the rotation still verifies; the new one names the new (SM2) key.
    for der in (old_seal_file, seal.der):
        assert signer_chain_verifies(verify_seal_file(der))
    # A signature the old key makes after its retirement does not count.
    [old] = [r.key for r in store.resolve_kid(old_record.kid)]
    assert old.status == KeyStatus.RETIRED and old.retired_at == at(hours=2)


def test_presentation_key_rotation_keeps_earlier_codes_verifiable(db_session, trust_root):
    def code(signer, minutes):
        return encode_presentation_qr(
            signer=signer, issuer=REGISTRY_ID, presentation_id=f"p{minutes}", licence_identifiers=[IDENTIFIER],
            disclosure="full", issued_at=at(minutes=minutes), expires_at=at(minutes=minutes + 60),
        )

    service.ensure_presentation_key(session=db_session, key_secret=KEY_SECRET, now=at(minutes=0))
    old_signer = service.presentation_qr_signer(session=db_session, key_secret=KEY_SECRET)
    old_code = code(old_signer, 1)
    before = TrustList.from_json(_published(db_session, now=at(minutes=1)), root_public_key=trust_root.public_key, now=at(minutes=1))

    new_kid = rotate_presentation_key(session=db_session, registry_id=REGISTRY_ID, key_secret=KEY_SECRET, now=at(minutes=2))

    new_signer = service.presentation_qr_signer(session=db_session, key_secret=KEY_SECRET)
    new_code = code(new_signer, 3)
    assert new_signer.kid == new_kid != old_signer.kid
    # Published with the rotation, before the new key signs anything.
    latest = db_session.scalars(select(TrustListIssuance).order_by(TrustListIssuance.sequence.desc())).first()
    listed = TrustList.from_json(latest.signed_json, root_public_key=trust_root.public_key, now=at(minutes=2))
    assert listed.sequence > before.sequence
    assert [k.purpose for k in listed.keys_for_kid(new_kid)] == [KeyPurpose.PRESENTATION]
    store = _verifier(db_session, pins=[trust_root.public_key], now=at(minutes=3))
    for text, kid in ((old_code, old_signer.kid), (new_code, new_kid)):
        result = verify_qr(text, trust_store=store, now=at(minutes=4))
        assert result.kind == "presentation" and result.key.kid == kid
    # The retired key's signature from after its retirement is refused.
    late = code(old_signer, 5)
    with pytest.raises(VerificationError) as caught:
        verify_qr(late, trust_store=store, now=at(minutes=6))
    assert caught.value.code == "key_not_valid"


def test_status_list_key_rotation_keeps_earlier_tokens_verifiable(db_session, trust_root):
    bits = StatusList(size=16)
    bits.set(3, 1)

    def token(minutes):
        key = service.status_list_signing_key(
            session=db_session, registry_id=REGISTRY_ID, key_secret=KEY_SECRET, now=at(minutes=minutes)
        )
        return sign_status_list_token(status_list=bits, subject=STATUS_URI, key=key, issued_at=at(minutes=minutes))

    old_token = token(1)
    new_kid = service.rotate_status_list_key(
        session=db_session, registry_id=REGISTRY_ID, key_secret=KEY_SECRET, now=at(minutes=2)
    )
    new_token = token(3)
    store = _verifier(db_session, pins=[trust_root.public_key], now=at(minutes=4))
    old = verify_trusted_status_list_token(old_token, trust_store=store, subject=STATUS_URI, now=at(minutes=4))
    new = verify_trusted_status_list_token(new_token, trust_store=store, subject=STATUS_URI, now=at(minutes=4))
    assert new.kid == new_kid != old.kid
    assert old.status(3) == new.status(3) == 1


def test_trust_root_rotation_hands_over_to_the_new_root(db_session, seal, trust_root, licence_record):
    record_before = _seal_record(db_session, seal, licence_record, now=at(hours=1))
    list_before = _published(db_session, now=at(hours=1))

    rotation = rotate_trust_root(session=db_session, registry_id=REGISTRY_ID, key_secret=KEY_SECRET, now=at(hours=2))

    record_after = _seal_record(db_session, seal, licence_record, now=at(hours=3))
    list_after = _published(db_session, now=at(hours=3))
    new_root = load_public_key(rotation.new_public_key_der)
    assert rotation.old_kid == trust_root.kid != rotation.new_kid == new_root.kid
    assert TrustList.from_json(list_after, root_public_key=new_root, now=at(hours=3)).sequence == rotation.first_sequence

    # A verifier that pinned both roots checks the old list, the new list, and everything sealed before and after.
    both = TrustStore()
    for pin in (trust_root.public_key, new_root):
        both.pin_root(registry_id=REGISTRY_ID, root_public_key=pin)
    both.add_json(list_before, now=at(hours=1))
    both.add_json(list_after, now=at(hours=3))
    for signature in (record_before, record_after):
        assert verify_sealed_record(record=licence_record, signature=signature, trust=both, now=at(hours=3))
    [old_root] = list(both.trust_list(REGISTRY_ID).keys_for_kid(trust_root.kid))
    assert old_root.purpose == KeyPurpose.TRUST_ROOT and old_root.status == KeyStatus.RETIRED

    # A verifier that pinned only the old root follows the handover list the old root signed.
    old_pin_only = TrustStore()
    old_pin_only.pin_root(registry_id=REGISTRY_ID, root_public_key=trust_root.public_key)
    old_pin_only.add_json(list_before, now=at(hours=1))
    old_pin_only.add_json(_issued_list(db_session, rotation.handover_sequence), now=at(hours=2))
    old_pin_only.add_json(list_after, now=at(hours=3))
    assert verify_sealed_record(record=licence_record, signature=record_after, trust=old_pin_only, now=at(hours=3))

    # Without the handover (or the new pin) the new root's list is not trusted.
    skipped = TrustStore()
    skipped.pin_root(registry_id=REGISTRY_ID, root_public_key=trust_root.public_key)
    skipped.add_json(list_before, now=at(hours=1))
    with pytest.raises(VerificationError) as caught:
        skipped.add_json(list_after, now=at(hours=3))
    assert caught.value.code == "trust_list_untrusted"


def test_a_rotated_out_root_cannot_take_the_registry_back(db_session, trust_root):
    from signing.keystore import DatabaseKeyStore
    from signing.trustlist import sign_trust_list

    _published(db_session, now=at(hours=1))
    rotation = rotate_trust_root(session=db_session, registry_id=REGISTRY_ID, key_secret=KEY_SECRET, now=at(hours=2))
    store = TrustStore()
    for pin in (trust_root.public_key, load_public_key(rotation.new_public_key_der)):
        store.pin_root(registry_id=REGISTRY_ID, root_public_key=pin)
    store.add_json(_published(db_session, now=at(hours=3)), now=at(hours=3))
    # The old root (still pinned by this verifier) signs a newer list after its retirement.
    old_key = DatabaseKeyStore(session=db_session, secret=KEY_SECRET).private_key(handle=trust_root.handle)
    content = service.trust_list_content(session=db_session, registry_id=REGISTRY_ID)
    forged = sign_trust_list(content=content, root_key=old_key, sequence=rotation.first_sequence + 1, issued_at=at(hours=4))
    with pytest.raises(VerificationError) as caught:
        store.add_json(forged.to_json(), now=at(hours=4))
    assert caught.value.code == "trust_list_untrusted"
