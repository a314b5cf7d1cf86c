"""The X.509 credentials a seal's key signs PDF documents with: the key, its
document-signing certificate and the registry's document root, issued once
and kept in `signing_document_certificates` (signing/x509docs.py says why
they exist and how they are built).

Which key is the root: the registry's trust-root key when it is ES256 (the
default), so the one key a verifier pins for the trust list also anchors the
PDFs; otherwise (an SM2 or Ed25519 trust root) a dedicated ES256 key of
purpose `document_root`, created on first use and published in the trust list
like every other key.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from cryptography import x509
from sqlalchemy import select
from sqlalchemy.orm import Session

from signing.algorithms import Algorithm, PrivateKey
from signing.errors import KeyNotFound, SealNotActive, SigningError
from signing.keystore import open_key_store
from signing.models import DocumentCertificate, Seal, SigningKey
from signing.service import _validate
from signing.service.keys import get_trust_root_key_or_raise, lock_trust_root
from signing.service.lifecycle import active_seal_key
from signing.service.seals import get_seal_or_raise
from signing.statuses import KeyPurpose, KeyStatus, SealStatus
from signing.x509docs import (
    PDF_SIGNING_ALGORITHM,
    CertificateName,
    issue_document_root,
    issue_document_signing_certificate,
)

ROOT_VALIDITY = timedelta(days=20 * 365)


class NoPdfSigningKey(SigningError):
    """The seal's key is of an algorithm PDF readers cannot verify (SM2, Ed25519)."""

    code = "no_pdf_signing_key"


@dataclass(frozen=True)
class PdfCredentials:
    """What a PAdES signature is made with: the key, its certificate, the chain up to the root (DER)."""

    key: PrivateKey = field(repr=False)
    certificate: bytes
    root_certificate: bytes
    es_id: str


def pdf_credentials(
    *, session: Session, es_id: str, registry_id: str, key_secret: bytes | str, now: datetime | None = None,
) -> PdfCredentials:
    """The seal's active key with its document-signing certificate (issued on first use),
    naming the seal (its name says whose it is) and its owner department's code.

    Refuses a seal that cannot sign now (SealNotActive, KeyNotFound) and one
    whose key is not ES256 (NoPdfSigningKey).
    """
    moment = _validate.now_or(now)
    seal = get_seal_or_raise(session=session, es_id=es_id)
    _check_usable(seal, moment)
    key_row = active_seal_key(seal)
    if key_row is None:
        raise KeyNotFound(f"seal {es_id} has no active key")
    if key_row.algorithm != str(PDF_SIGNING_ALGORITHM):
        raise NoPdfSigningKey(f"seal {es_id} signs with {key_row.algorithm}; a PDF signature needs an "
                              f"{PDF_SIGNING_ALGORITHM} key (PDF readers do not verify SM2 or Ed25519)")
    store = open_key_store(session=session, secret=key_secret)
    key = store.private_key(handle=key_row.id)
    root_row = _document_root_key(session=session, key_secret=key_secret, now=moment)
    # The root's private half is only opened to issue a certificate, not on every download.
    def root_key() -> PrivateKey:
        return store.private_key(handle=root_row.id)

    root_der = _root_certificate(session=session, root_row=root_row, root_key=root_key, registry_id=registry_id,
                                 now=moment)
    leaf = _stored(session=session, key_id=key_row.id, issuer_key_id=root_row.id)
    if leaf is None:
        lock_trust_root(session=session)  # one issuer at a time; re-read under the lock
        leaf = _stored(session=session, key_id=key_row.id, issuer_key_id=root_row.id)
    if leaf is None:
        der = issue_document_signing_certificate(
            root_key=root_key(), root_certificate=root_der, subject_key=key.public_key,
            name=CertificateName(common_name=seal.name, organization=registry_id, unit=seal.owner_department_code),
            not_before=key_row.created_at, not_after=seal.valid_to,
        )
        leaf = _keep(session=session, key_id=key_row.id, issuer_key_id=root_row.id, der=der, now=moment)
    return PdfCredentials(key=key, certificate=leaf.der, root_certificate=root_der,
                          es_id=seal.es_id)


def document_root_certificate(*, session: Session, registry_id: str, key_secret: bytes | str,
                              now: datetime | None = None) -> bytes:
    """The registry's document root (DER), issued on first use: what a PDF reader is told to trust."""
    moment = _validate.now_or(now)
    root_row = _document_root_key(session=session, key_secret=key_secret, now=moment)
    store = open_key_store(session=session, secret=key_secret)
    return _root_certificate(session=session, root_row=root_row, root_key=lambda: store.private_key(handle=root_row.id),
                             registry_id=registry_id, now=moment)


def _check_usable(seal: Seal, moment: datetime) -> None:
    if seal.status != SealStatus.ACTIVE:
        raise SealNotActive(f"seal {seal.es_id} is {seal.status}")
    if not seal.valid_from <= moment <= seal.valid_to:
        raise SealNotActive(f"seal {seal.es_id} is outside its validity")


def _document_root_key(*, session: Session, key_secret: bytes | str, now: datetime) -> SigningKey:
    trust_root = get_trust_root_key_or_raise(session=session)
    if trust_root.algorithm == str(PDF_SIGNING_ALGORITHM):
        return trust_root
    existing = _active_document_root(session=session)
    if existing is not None:
        return existing
    lock_trust_root(session=session)
    existing = _active_document_root(session=session)
    if existing is not None:
        return existing
    stored = open_key_store(session=session, secret=key_secret).generate(
        algorithm=Algorithm.ES256, purpose=KeyPurpose.DOCUMENT_ROOT, created_at=now)
    row = session.get(SigningKey, stored.handle)
    assert row is not None  # just flushed
    return row


def _active_document_root(*, session: Session) -> SigningKey | None:
    return session.scalars(
        select(SigningKey)
        .where(SigningKey.purpose == str(KeyPurpose.DOCUMENT_ROOT), SigningKey.status == str(KeyStatus.ACTIVE))
        .order_by(SigningKey.id.desc())
    ).first()


def _root_certificate(*, session: Session, root_row: SigningKey, root_key: Callable[[], PrivateKey],
                      registry_id: str, now: datetime) -> bytes:
    row = _stored(session=session, key_id=root_row.id, issuer_key_id=root_row.id)
    if row is None:
        lock_trust_root(session=session)
        row = _stored(session=session, key_id=root_row.id, issuer_key_id=root_row.id)
    if row is None:
        not_before = root_row.created_at.replace(microsecond=0)
        der = issue_document_root(root_key=root_key(), name=root_name(registry_id), not_before=not_before,
                                  not_after=not_before + ROOT_VALIDITY)
        row = _keep(session=session, key_id=root_row.id, issuer_key_id=root_row.id, der=der, now=now)
    return row.der


def root_name(registry_id: str) -> CertificateName:
    return CertificateName(common_name=f"{registry_id} 文档签名根证书", organization=registry_id)


def _stored(*, session: Session, key_id: int, issuer_key_id: int) -> DocumentCertificate | None:
    return session.scalars(
        select(DocumentCertificate).where(DocumentCertificate.key_id == key_id,
                                          DocumentCertificate.issuer_key_id == issuer_key_id)
    ).first()


def _keep(*, session: Session, key_id: int, issuer_key_id: int, der: bytes, now: datetime) -> DocumentCertificate:
    not_after = x509.load_der_x509_certificate(der).not_valid_after_utc
    row = DocumentCertificate(key_id=key_id, issuer_key_id=issuer_key_id, der=der, not_after=not_after,
                              created_at=now)
    session.add(row)
    session.flush()
    return row
