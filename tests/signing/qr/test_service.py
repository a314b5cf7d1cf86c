"""The registry's QR signers from the database: presentation key and seal keys, checked via the trust list."""

from __future__ import annotations

from datetime import date

import pytest

from signing import service
from signing.errors import KeyNotFound, SealNotActive
from signing.keys import load_public_key
from signing.models import SigningKey
from signing.qr import LicenceSummary, QrVerificationError, encode_licence_qr, encode_presentation_qr, verify_qr
from signing.statuses import KeyPurpose
from signing.truststore import TrustStore
from tests.factories.signing import KEY_SECRET, LICENCE_TYPE, OWNER, REGISTRY_ID, T0, at

IDENTIFIER = f"1.2.156.3005.2.{LICENCE_TYPE}.{OWNER}.0000001.001.K"


def _verifier(session, *, now) -> TrustStore:
    """What a verifier holds: the root pinned, the published trust list added."""
    body = service.trust_list_json(session=session, registry_id=REGISTRY_ID, key_secret=KEY_SECRET, now=now)
    store = TrustStore()
    root = load_public_key(service.get_trust_root_key_or_raise(session=session).public_key)
    store.pin_root(registry_id=REGISTRY_ID, root_public_key=root)
    store.add_json(body, now=now)
    return store


def _summary() -> LicenceSummary:
    return LicenceSummary(
        type_code=LICENCE_TYPE, identifier=IDENTIFIER, holder_name_masked="王**", issuer_code=OWNER,
        valid_from=date(2025, 3, 1), valid_until=None, status_idx=7, status_uri=f"{REGISTRY_ID}/api/v1/status-lists/1",
    )


@pytest.mark.slow
def test_presentation_key_is_created_once_and_listed_in_the_trust_list(db_session, trust_root):
    kid = service.ensure_presentation_key(session=db_session, key_secret=KEY_SECRET, now=T0)
    assert service.ensure_presentation_key(session=db_session, key_secret=KEY_SECRET, now=at(days=1)) == kid
    rows = db_session.query(SigningKey).filter(SigningKey.purpose == str(KeyPurpose.PRESENTATION)).all()
    assert [row.kid for row in rows] == [kid]
    content = service.trust_list_content(session=db_session, registry_id=REGISTRY_ID)
    listed = [k for k in content.keys if k.kid == kid]
    assert len(listed) == 1 and listed[0].purpose == KeyPurpose.PRESENTATION and listed[0].owner == REGISTRY_ID


def test_presentation_key_needs_a_trust_root(db_session):
    with pytest.raises(KeyNotFound):
        service.ensure_presentation_key(session=db_session, key_secret=KEY_SECRET)


def test_presentation_code_verifies_with_the_published_trust_list(db_session, trust_root):
    kid = service.ensure_presentation_key(session=db_session, key_secret=KEY_SECRET, now=T0)
    signer = service.presentation_qr_signer(session=db_session, key_secret=KEY_SECRET)
    assert signer.kid == kid
    text = encode_presentation_qr(
        signer=signer, issuer=REGISTRY_ID, presentation_id="a1b2c3", licence_identifiers=[IDENTIFIER],
        disclosure="full", issued_at=at(minutes=1), expires_at=at(minutes=2),
    )
    result = verify_qr(text, trust_store=_verifier(db_session, now=at(minutes=1)), now=at(minutes=1, seconds=10))
    assert result.kind == "presentation" and result.presentation.licence_identifiers == (IDENTIFIER,)


def test_presentation_signer_creates_the_key_on_first_use(db_session, trust_root):
    signer = service.presentation_qr_signer(session=db_session, key_secret=KEY_SECRET)
    assert service.ensure_presentation_key(session=db_session, key_secret=KEY_SECRET) == signer.kid


@pytest.mark.slow
def test_licence_code_signed_by_the_seal_verifies_with_the_published_trust_list(db_session, seal):
    signer = service.seal_qr_signer(session=db_session, es_id=seal.es_id, key_secret=KEY_SECRET, now=at(hours=1))
    text = encode_licence_qr(signer=signer, issuer=REGISTRY_ID, summary=_summary(), issued_at=at(hours=1), expires_at=None)
    result = verify_qr(text, trust_store=_verifier(db_session, now=at(hours=1)), now=at(hours=2))
    assert result.summary == _summary() and result.key.es_id == seal.es_id


def test_codes_of_a_rotated_key_keep_verifying_and_the_new_key_signs(db_session, seal):
    old = service.seal_qr_signer(session=db_session, es_id=seal.es_id, key_secret=KEY_SECRET, now=at(hours=1))
    old_text = encode_licence_qr(signer=old, issuer=REGISTRY_ID, summary=_summary(), issued_at=at(hours=1), expires_at=None)
    service.rotate_key(session=db_session, es_id=seal.es_id, key_secret=KEY_SECRET, now=at(days=1))
    new = service.seal_qr_signer(session=db_session, es_id=seal.es_id, key_secret=KEY_SECRET, now=at(days=2))
    assert new.kid != old.kid
    store = _verifier(db_session, now=at(days=2))
    assert verify_qr(old_text, trust_store=store, now=at(days=2)).kid == old.kid
    late = encode_licence_qr(signer=old, issuer=REGISTRY_ID, summary=_summary(), issued_at=at(days=2), expires_at=None)
    with pytest.raises(QrVerificationError) as caught:  # the retired key signed after its retirement
        verify_qr(late, trust_store=store, now=at(days=2))
    assert caught.value.code == "key_not_valid"


def test_suspended_seal_gives_no_qr_signer(db_session, seal):
    service.suspend_seal(session=db_session, es_id=seal.es_id, now=at(hours=1))
    with pytest.raises(SealNotActive):
        service.seal_qr_signer(session=db_session, es_id=seal.es_id, key_secret=KEY_SECRET, now=at(hours=2))
