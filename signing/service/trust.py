"""Building and publishing the registry's signed trust list from the database."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import overload

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from signing.canonical import canonical_json
from signing.encoding import truncate_to_second
from signing.keys import load_public_key_for
from signing.keystore import open_key_store
from signing.models import CrossLevelAuthorization, Seal, SigningKey, TrustListIssuance
from signing.service import _validate
from signing.service.keys import get_trust_root_key_or_raise
from signing.statuses import AuthorizationStatus, KeyPurpose, KeyStatus, SealStatus
from signing.trust_entries import Suspension, TrustedAuthorization, TrustedKey, TrustedSeal
from signing.trustlist import DEFAULT_VALIDITY, TrustList, TrustListContent, sign_trust_list

DEFAULT_REFRESH_AFTER = timedelta(days=1)


@overload
def _second(value: datetime) -> datetime: ...
@overload
def _second(value: datetime | None) -> datetime | None: ...
def _second(value: datetime | None) -> datetime | None:
    return None if value is None else truncate_to_second(value)


def _trusted_key(row: SigningKey, *, registry_id: str, seals_by_row_id: dict[int, Seal]) -> TrustedKey:
    seal = seals_by_row_id.get(row.seal_id) if row.seal_id is not None else None
    return TrustedKey(
        kid=row.kid,
        public_key=load_public_key_for(row.algorithm, row.public_key),
        purpose=KeyPurpose(row.purpose),
        es_id=seal.es_id if seal else None,
        owner=seal.owner_department_code if seal else registry_id,
        valid_from=_second(row.created_at),
        status=KeyStatus(row.status),
        retired_at=_second(row.retired_at),
        revoked_at=_second(row.revoked_at),
        compromised_at=_second(row.compromised_at),
    )


def _trusted_seal(seal: Seal) -> TrustedSeal:
    return TrustedSeal(
        es_id=seal.es_id,
        name=seal.name,
        seal_type=seal.seal_type,
        owner=seal.owner_department_code,
        licence_type_codes=tuple(seal.licence_type_codes),
        valid_from=_second(seal.valid_from),
        valid_to=_second(seal.valid_to),
        status=SealStatus(seal.status),
        suspensions=tuple(Suspension(_second(s.suspended_at), _second(s.resumed_at)) for s in seal.suspensions),
        revoked_at=_second(seal.revoked_at),
        compromised_at=_second(seal.compromised_at),
    )


def _trusted_authorization(row: CrossLevelAuthorization) -> TrustedAuthorization:
    return TrustedAuthorization(
        id=row.id,
        es_id=row.seal.es_id,
        grantee=row.grantee_department_code,
        licence_type_codes=tuple(row.licence_type_codes),
        valid_from=_second(row.valid_from),
        valid_to=_second(row.valid_to),
        status=AuthorizationStatus(row.status),
        revoked_at=_second(row.revoked_at),
    )


def trust_list_content(*, session: Session, registry_id: str) -> TrustListContent:
    """Everything a verifier needs, including retired and revoked keys (old signatures stay checkable)."""
    seals = list(session.scalars(select(Seal).order_by(Seal.id)).unique())
    seals_by_row_id = {seal.id: seal for seal in seals}
    keys = session.scalars(select(SigningKey).order_by(SigningKey.id)).all()
    authorizations = session.scalars(select(CrossLevelAuthorization).order_by(CrossLevelAuthorization.id)).unique()
    return TrustListContent(
        registry_id=registry_id,
        keys=tuple(_trusted_key(row, registry_id=registry_id, seals_by_row_id=seals_by_row_id) for row in keys),
        seals=tuple(_trusted_seal(seal) for seal in seals),
        authorizations=tuple(_trusted_authorization(row) for row in authorizations),
    )


def _content_digest(content: TrustListContent) -> str:
    return hashlib.sha256(canonical_json({"registry_id": content.registry_id, **content.entries_dict()})).hexdigest()


def build_trust_list(
    *, session: Session, registry_id: str, key_secret: bytes | str, now: datetime | None = None,
    validity: timedelta = DEFAULT_VALIDITY, root_handle: int | None = None,
) -> TrustList:
    """Sign the current state with the trust-root key under the next sequence number and record it.

    The newest active root signs, or the root row `root_handle` (a root
    rollover has the outgoing root sign the list that names its successor).
    Two concurrent builders cannot publish the same sequence: the
    (registry_id, sequence) unique constraint makes the loser's flush fail.
    """
    moment = _validate.now_or(now)
    content = trust_list_content(session=session, registry_id=registry_id)
    last = session.scalar(
        select(func.max(TrustListIssuance.sequence)).where(TrustListIssuance.registry_id == registry_id)
    )
    handle = root_handle if root_handle is not None else get_trust_root_key_or_raise(session=session).id
    root_key = open_key_store(session=session, secret=key_secret).private_key(handle=handle)
    trust_list = sign_trust_list(
        content=content, root_key=root_key, sequence=(last or 0) + 1, issued_at=moment, validity=validity
    )
    session.add(
        TrustListIssuance(
            registry_id=registry_id,
            sequence=trust_list.sequence,
            content_digest=_content_digest(content),
            issued_at=trust_list.issued_at,
            expires_at=trust_list.expires_at,
            signed_json=trust_list.to_json(),
        )
    )
    session.flush()
    return trust_list


def trust_list_json(
    *, session: Session, registry_id: str, key_secret: bytes | str, now: datetime | None = None,
    refresh_after: timedelta = DEFAULT_REFRESH_AFTER, validity: timedelta = DEFAULT_VALIDITY,
) -> bytes:
    """The signed trust list bytes to serve at GET /.well-known/certhub/trust-list.

    Reuses the last published list while nothing changed and it is younger
    than `refresh_after`; otherwise publishes a new one (the caller commits).
    """
    moment = _validate.now_or(now)
    latest = session.scalars(
        select(TrustListIssuance)
        .where(TrustListIssuance.registry_id == registry_id)
        .order_by(TrustListIssuance.sequence.desc())
    ).first()
    if latest is not None and moment - latest.issued_at < refresh_after:
        if latest.content_digest == _content_digest(trust_list_content(session=session, registry_id=registry_id)):
            return latest.signed_json
    return build_trust_list(
        session=session, registry_id=registry_id, key_secret=key_secret, now=moment, validity=validity
    ).to_json()
