"""The keys behind QR codes: the registry's presentation key and seals' QR signers.

The presentation key (purpose `presentation`) signs the dynamic 亮证 codes;
like every key in `signing_keys` it appears in the trust list (owner: the
registry id), so an offline verifier checks presentation codes with the
same trust list as licence codes. Static licence codes are signed by the
issuing seal's current key instead.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from signing.algorithms import Algorithm
from signing.errors import KeyNotFound
from signing.keystore import open_key_store
from signing.models import SigningKey
from signing.qr.el1 import QrSigner
from signing.service import _validate
from signing.service.keys import lock_trust_root
from signing.service.lifecycle import signing_seal_key
from signing.statuses import KeyPurpose, KeyStatus


def _active_presentation_key(*, session: Session) -> SigningKey | None:
    return session.scalars(
        select(SigningKey)
        .where(SigningKey.purpose == str(KeyPurpose.PRESENTATION), SigningKey.status == str(KeyStatus.ACTIVE))
        .order_by(SigningKey.id.desc())
    ).first()


def ensure_presentation_key(*, session: Session, key_secret: bytes | str, now: datetime | None = None) -> str:
    """The kid of the registry's active presentation key, creating an ES256 one when there is none.

    Idempotent, also under concurrency: creators first lock the active
    trust-root row, so two requests cannot both see "none" and both create.
    """
    existing = _active_presentation_key(session=session)
    if existing is not None:
        return existing.kid
    lock_trust_root(session=session)
    existing = _active_presentation_key(session=session)  # re-read under the lock
    if existing is not None:
        return existing.kid
    store = open_key_store(session=session, secret=key_secret)
    stored = store.generate(
        algorithm=Algorithm.ES256, purpose=KeyPurpose.PRESENTATION, created_at=_validate.now_or(now)
    )
    return stored.kid


def presentation_qr_signer(*, session: Session, key_secret: bytes | str) -> QrSigner:
    """A signer for 亮证 codes with the active presentation key (created on first use)."""
    ensure_presentation_key(session=session, key_secret=key_secret)
    row = _active_presentation_key(session=session)
    if row is None:  # pragma: no cover - ensure_presentation_key just made one
        raise KeyNotFound("the registry has no presentation key")
    key = open_key_store(session=session, secret=key_secret).private_key(handle=row.id)
    return QrSigner(kid=key.kid, private_key=key)


def seal_qr_signer(
    *, session: Session, es_id: str, key_secret: bytes | str, now: datetime | None = None
) -> QrSigner:
    """A signer for static licence codes with the seal's current key.

    The seal must be active and within its validity (verifiers refuse codes
    from a suspended seal or made outside its validity anyway).
    """
    _, key = signing_seal_key(session=session, es_id=es_id, key_secret=key_secret, now=now)
    return QrSigner(kid=key.kid, private_key=key)
