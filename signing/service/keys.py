"""The registry's trust-root key and the platform seal maker (制章者)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from signing.algorithms import DEFAULT_ALGORITHM, Algorithm
from signing.errors import InvalidInput, KeyNotFound, MakerNotFound
from signing.keys import parse_algorithm
from signing.keystore import StoredKey, open_key_store
from signing.models import SealMaker, SigningKey
from signing.seals.certificates import self_issued_maker_certificate
from signing.service._validate import now_or
from signing.sm2 import SM2PrivateKey
from signing.statuses import KeyPurpose, KeyStatus

MAKER_CERTIFICATE_VALIDITY = timedelta(days=3650)


def create_trust_root_key(
    *, session: Session, key_secret: bytes | str, algorithm: Algorithm | str = DEFAULT_ALGORITHM,
    now: datetime | None = None,
) -> StoredKey:
    """A new key to sign the registry's trust lists; verifiers pin its public half."""
    store = open_key_store(session=session, secret=key_secret)
    return store.generate(algorithm=parse_algorithm(algorithm), purpose=KeyPurpose.TRUST_ROOT, created_at=now_or(now))


def _trust_root_query():
    return (
        select(SigningKey)
        .where(SigningKey.purpose == str(KeyPurpose.TRUST_ROOT), SigningKey.status == str(KeyStatus.ACTIVE))
        .order_by(SigningKey.id.desc())
    )


def get_trust_root_key_or_raise(*, session: Session) -> SigningKey:
    """The newest active trust-root key."""
    row = session.scalars(_trust_root_query()).first()
    if row is None:
        raise KeyNotFound("the registry has no active trust-root key")
    return row


def lock_trust_root(*, session: Session) -> SigningKey:
    """Lock the active trust-root row: whoever creates a registry-wide key (the
    presentation key, the status-list key) takes this lock first and re-reads,
    so two transactions never both see "none" and both create one (house rule 8)."""
    root = session.scalars(_trust_root_query().with_for_update()).first()
    if root is None:
        raise KeyNotFound("the registry has no active trust-root key: run `certhub signing init` first")
    return root


def create_seal_maker(
    *, session: Session, name: str, key_secret: bytes | str, now: datetime | None = None,
    validity: timedelta = MAKER_CERTIFICATE_VALIDITY,
) -> SealMaker:
    """The platform seal authority: an SM2 key and a self-issued certificate for it."""
    if not isinstance(name, str) or not 0 < len(name.strip()) <= 200:
        raise InvalidInput("seal maker name must have 1 to 200 characters")
    moment = now_or(now)
    key = SM2PrivateKey.generate()
    certificate = self_issued_maker_certificate(
        maker_key=key, maker_name=name.strip(), not_before=moment, not_after=moment + validity
    )
    maker = SealMaker(name=name.strip(), certificate=certificate, created_at=moment)
    session.add(maker)
    session.flush()
    open_key_store(session=session, secret=key_secret).put(
        key=key, purpose=KeyPurpose.SEAL_MAKER, maker_id=maker.id, created_at=moment
    )
    session.refresh(maker)
    return maker


def get_seal_maker_or_raise(*, session: Session, maker_id: int | None = None) -> SealMaker:
    """The maker with `maker_id`, or the platform's only (first) maker when not given."""
    query = select(SealMaker).order_by(SealMaker.id)
    if maker_id is not None:
        query = query.where(SealMaker.id == maker_id)
    maker = session.scalars(query).first()
    if maker is None:
        raise MakerNotFound("no seal maker is set up" if maker_id is None else f"no seal maker {maker_id}")
    return maker


def maker_private_key(*, session: Session, maker: SealMaker, key_secret: bytes | str) -> SM2PrivateKey:
    active = [k for k in maker.keys if k.status == KeyStatus.ACTIVE]
    if not active:
        raise KeyNotFound(f"seal maker {maker.name} has no active key")
    key = open_key_store(session=session, secret=key_secret).private_key(handle=active[-1].id)
    if not isinstance(key, SM2PrivateKey):
        raise KeyNotFound("the seal maker's key is not an SM2 key")
    return key
