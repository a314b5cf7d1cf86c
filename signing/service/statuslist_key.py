"""The registry's status-list key (purpose `status_list`): it signs every
status list token, and verifiers find it where they find every other key, in
the signed trust list (owner: the registry id) — never beside the list.

A status-list key signs only once the latest published trust list names it:
a new key (the first, or one made by `rotate_status_list_key`) is published
in a new trust list, in the same transaction, before its first signature. A
verifier holding the current trust list therefore never meets a status list
signed by a key it cannot check.
"""

from __future__ import annotations

import json
from datetime import datetime
from functools import lru_cache

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from signing.algorithms import Algorithm, PrivateKey
from signing.encoding import b64url_encode
from signing.keystore import open_key_store
from signing.models import SigningKey, TrustListIssuance
from signing.service import _validate
from signing.service.keys import lock_trust_root
from signing.service.trust import build_trust_list
from signing.statuses import KeyPurpose, KeyStatus

_PUBLISH_ATTEMPTS = 3


def status_list_signing_key(
    *, session: Session, registry_id: str, key_secret: bytes | str, now: datetime | None = None
) -> PrivateKey:
    """The key to sign a status list token with now: the newest active status-list
    key, created on first use and published in the trust list before it signs."""
    moment = _validate.now_or(now)
    row = _active(session=session) or _create(session=session, key_secret=key_secret, now=moment)
    if not _published(session=session, registry_id=registry_id, row=row):
        publish_key(session=session, registry_id=registry_id, key_secret=key_secret, row=row, now=moment)
    return open_key_store(session=session, secret=key_secret).private_key(handle=row.id)


def rotate_status_list_key(
    *, session: Session, registry_id: str, key_secret: bytes | str, now: datetime | None = None
) -> str:
    """A new status-list key, published in a new trust list; the old ones are
    retired now (what they signed before stays checkable). Returns the new kid."""
    moment = _validate.now_or(now)
    lock_trust_root(session=session)
    store = open_key_store(session=session, secret=key_secret)
    for old in session.scalars(_active_query()).all():
        store.set_status(handle=old.id, status=KeyStatus.RETIRED, at=moment)
    row = _create(session=session, key_secret=key_secret, now=moment)
    publish_key(session=session, registry_id=registry_id, key_secret=key_secret, row=row, now=moment)
    return row.kid


def _active_query():
    return (
        select(SigningKey)
        .where(SigningKey.purpose == str(KeyPurpose.STATUS_LIST), SigningKey.status == str(KeyStatus.ACTIVE))
        .order_by(SigningKey.id.desc())
    )


def _active(*, session: Session) -> SigningKey | None:
    return session.scalars(_active_query()).first()


def _create(*, session: Session, key_secret: bytes | str, now: datetime) -> SigningKey:
    lock_trust_root(session=session)
    existing = _active(session=session)  # re-read under the lock
    if existing is not None:
        return existing
    stored = open_key_store(session=session, secret=key_secret).generate(
        algorithm=Algorithm.ES256, purpose=KeyPurpose.STATUS_LIST, created_at=now
    )
    return session.get_one(SigningKey, stored.handle)


def _latest_issuance(*, session: Session, registry_id: str) -> TrustListIssuance | None:
    return session.scalars(
        select(TrustListIssuance)
        .where(TrustListIssuance.registry_id == registry_id)
        .order_by(TrustListIssuance.sequence.desc())
        .limit(1)
    ).first()


def _published(*, session: Session, registry_id: str, row: SigningKey) -> bool:
    latest = _latest_issuance(session=session, registry_id=registry_id)
    listed = _listed_keys(latest.signed_json, row.purpose) if latest is not None else frozenset()
    return (row.kid, b64url_encode(row.public_key)) in listed


@lru_cache(maxsize=8)
def _listed_keys(signed_json: bytes, purpose: str) -> frozenset[tuple[str, str]]:
    """(kid, base64url SPKI) of every key of `purpose` a published list names.
    Our own signed bytes, read back from our database: no verification needed."""
    keys = json.loads(signed_json)["payload"]["keys"]
    return frozenset((k["kid"], k["public_key"]) for k in keys if k["purpose"] == purpose)


def publish_key(*, session: Session, registry_id: str, key_secret: bytes | str, row: SigningKey, now: datetime) -> None:
    """A new trust list naming `row` (a registry-wide key about to sign), unless
    the latest already does; another writer publishing the same sequence number
    first only means trying again on top of theirs."""
    lock_trust_root(session=session)
    for attempt in range(_PUBLISH_ATTEMPTS):
        if _published(session=session, registry_id=registry_id, row=row):
            return
        try:
            with session.begin_nested():
                build_trust_list(session=session, registry_id=registry_id, key_secret=key_secret, now=now)
            return
        except IntegrityError:
            if attempt == _PUBLISH_ATTEMPTS - 1:
                raise
