"""Seal and key lifecycle: rotate, suspend, resume, revoke.

Every change locks the seal row first (SELECT ... FOR UPDATE), so a revoke
cannot interleave with a rotation or a signature being made.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from signing.algorithms import Algorithm, PrivateKey
from signing.errors import InvalidInput, KeyNotFound, SealNotActive
from signing.keys import parse_algorithm
from signing.keystore import StoredKey, open_key_store
from signing.models import Seal, SealSuspension, SigningKey
from signing.picture import check_png
from signing.service import _validate
from signing.service.seals import get_seal_or_raise, issue_seal_document
from signing.statuses import KeyPurpose, KeyStatus, SealStatus


def active_seal_key(seal: Seal) -> SigningKey | None:
    active = [k for k in seal.keys if k.status == KeyStatus.ACTIVE]
    return active[-1] if active else None


def signing_seal_key(
    *, session: Session, es_id: str, key_secret: bytes | str, now: datetime | None = None
) -> tuple[Seal, PrivateKey]:
    """The seal and its current private key, for making something it vouches
    for now (a static code, an OFD 签章): SealNotActive when the seal is not
    active or outside its validity (verifiers would refuse what it made),
    KeyNotFound when it has no active key."""
    moment = _validate.now_or(now)
    seal = get_seal_or_raise(session=session, es_id=es_id)
    if seal.status != SealStatus.ACTIVE or not seal.valid_from <= moment <= seal.valid_to:
        raise SealNotActive(f"seal {es_id} is {seal.status} or outside its validity")
    current = active_seal_key(seal)
    if current is None:
        raise KeyNotFound(f"seal {es_id} has no active key; rotate it first")
    return seal, open_key_store(session=session, secret=key_secret).private_key(handle=current.id)


def rotate_key(
    *, session: Session, es_id: str, key_secret: bytes | str, algorithm: Algorithm | str | None = None,
    now: datetime | None = None,
) -> StoredKey:
    """Give the seal a new key; the old one is retired and keeps verifying what it signed before."""
    moment = _validate.now_or(now)
    seal = get_seal_or_raise(session=session, es_id=es_id, for_update=True)
    if seal.status == SealStatus.REVOKED:
        raise SealNotActive(f"seal {es_id} is revoked; a revoked seal gets no new key")
    store = open_key_store(session=session, secret=key_secret)
    current = active_seal_key(seal)
    if current is not None:
        store.set_status(handle=current.id, status=KeyStatus.RETIRED, at=moment)
    chosen = parse_algorithm(algorithm) if algorithm is not None else Algorithm(current.algorithm) if current else Algorithm.ES256
    stored = store.generate(algorithm=chosen, purpose=KeyPurpose.SEAL, seal_id=seal.id, created_at=moment)
    new_key = store.private_key(handle=stored.handle)
    seal.der = issue_seal_document(
        session=session, seal=seal, maker=seal.maker, seal_key=new_key, key_secret=key_secret, now=moment
    )
    session.flush()
    session.expire(seal, ["keys"])
    return stored


def suspend_seal(*, session: Session, es_id: str, reason: str | None = None, now: datetime | None = None) -> Seal:
    moment = _validate.now_or(now)
    seal = get_seal_or_raise(session=session, es_id=es_id, for_update=True)
    if seal.status != SealStatus.ACTIVE:
        raise SealNotActive(f"seal {es_id} is {seal.status}; only an active seal can be suspended")
    seal.status = str(SealStatus.SUSPENDED)
    session.add(SealSuspension(seal_id=seal.id, suspended_at=moment, reason=reason))
    session.flush()
    session.expire(seal, ["suspensions"])
    return seal


def resume_seal(*, session: Session, es_id: str, now: datetime | None = None) -> Seal:
    moment = _validate.now_or(now)
    seal = get_seal_or_raise(session=session, es_id=es_id, for_update=True)
    if seal.status != SealStatus.SUSPENDED:
        raise SealNotActive(f"seal {es_id} is {seal.status}, not suspended")
    for suspension in seal.suspensions:
        if suspension.resumed_at is None:
            suspension.resumed_at = moment
    seal.status = str(SealStatus.ACTIVE)
    session.flush()
    return seal


def revoke_seal(
    *, session: Session, es_id: str, reason: str, compromised_at: datetime | None = None,
    now: datetime | None = None,
) -> Seal:
    """Revoke for good. Signatures dated at/after `compromised_at` (default: now) fail; earlier ones verify."""
    moment = _validate.now_or(now)
    compromise = _validate.aware(compromised_at, name="compromised_at") if compromised_at else None
    if compromise is not None and compromise > moment:
        raise InvalidInput("compromise time cannot be in the future")
    if not isinstance(reason, str) or not reason.strip():
        raise InvalidInput("a revocation needs a reason")
    seal = get_seal_or_raise(session=session, es_id=es_id, for_update=True)
    if seal.status == SealStatus.REVOKED:
        raise SealNotActive(f"seal {es_id} is already revoked")
    for suspension in seal.suspensions:
        if suspension.resumed_at is None:
            suspension.resumed_at = moment
    seal.status = str(SealStatus.REVOKED)
    seal.revoked_at = moment
    seal.compromised_at = compromise
    seal.revocation_reason = reason.strip()
    session.flush()
    return seal


def revoke_key(
    *, session: Session, kid: str, key_secret: bytes | str, compromised_at: datetime | None = None,
    now: datetime | None = None,
) -> list[StoredKey]:
    """Revoke every key with `kid` (a compromised key); its seal needs `rotate_key` to sign again."""
    moment = _validate.now_or(now)
    compromise = _validate.aware(compromised_at, name="compromised_at") if compromised_at else None
    if compromise is not None and compromise > moment:
        raise InvalidInput("compromise time cannot be in the future")
    rows = session.scalars(select(SigningKey).where(SigningKey.kid == kid).order_by(SigningKey.id)).all()
    if not rows:
        raise KeyNotFound(f"no key {kid}")
    store = open_key_store(session=session, secret=key_secret)
    return [store.set_status(handle=row.id, status=KeyStatus.REVOKED, at=moment, compromised_at=compromise) for row in rows]


def replace_picture(
    *, session: Session, es_id: str, picture_png: bytes, key_secret: bytes | str, now: datetime | None = None
) -> Seal:
    """Upload a new seal picture; the maker re-signs the seal information
    (the picture is part of what GB/T 38540 signs)."""
    moment = _validate.now_or(now)
    seal = get_seal_or_raise(session=session, es_id=es_id, for_update=True)
    if seal.status == SealStatus.REVOKED:
        raise SealNotActive(f"seal {es_id} is revoked; its picture can no longer change")
    try:
        check_png(picture_png)
    except ValueError as error:
        raise InvalidInput(str(error)) from None
    current = active_seal_key(seal)
    if current is None:
        raise KeyNotFound(f"seal {es_id} has no active key")
    seal_key = open_key_store(session=session, secret=key_secret).private_key(handle=current.id)
    seal.picture_png = picture_png
    seal.der = issue_seal_document(
        session=session, seal=seal, maker=seal.maker, seal_key=seal_key, key_secret=key_secret, now=moment
    )
    session.flush()
    return seal
