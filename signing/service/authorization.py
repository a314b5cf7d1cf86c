"""跨层级签章: a department lets another sign with its seal for some licence types."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from signing.errors import AuthorizationNotFound, InvalidInput, NotAuthorized, SealNotActive
from signing.models import CrossLevelAuthorization, Seal
from signing.service import _validate
from signing.service.seals import get_seal_or_raise
from signing.statuses import ANY_LICENCE_TYPE, AuthorizationStatus, SealStatus


def authorize_cross_level(
    *,
    session: Session,
    es_id: str,
    grantor_department_code: str,
    grantee_department_code: str,
    licence_type_codes: Sequence[str],
    valid_from: datetime,
    valid_to: datetime,
    now: datetime | None = None,
) -> CrossLevelAuthorization:
    """The seal's owner (grantor) authorizes `grantee` to sign with the seal."""
    grantor = _validate.department_code(grantor_department_code, name="grantor department code")
    grantee = _validate.department_code(grantee_department_code, name="grantee department code")
    codes = _validate.licence_type_codes(licence_type_codes)
    start, end = _validate.period(valid_from, valid_to)
    seal = get_seal_or_raise(session=session, es_id=es_id, for_update=True)
    if seal.owner_department_code != grantor:
        raise NotAuthorized(f"only the seal's owner {seal.owner_department_code} may authorize its use")
    if grantee == grantor:
        raise InvalidInput("a department needs no authorization for its own seal")
    if seal.status == SealStatus.REVOKED:
        raise SealNotActive(f"seal {es_id} is revoked")
    if ANY_LICENCE_TYPE not in seal.licence_type_codes:
        outside = [c for c in codes if c not in seal.licence_type_codes]
        if outside:
            raise NotAuthorized(f"seal {es_id} itself may not seal {outside}")
    authorization = CrossLevelAuthorization(
        seal_id=seal.id,
        grantee_department_code=grantee,
        licence_type_codes=codes,
        valid_from=start,
        valid_to=end,
        status=str(AuthorizationStatus.ACTIVE),
        created_at=_validate.now_or(now),
    )
    session.add(authorization)
    session.flush()
    return authorization


def revoke_authorization(
    *, session: Session, authorization_id: int, now: datetime | None = None
) -> CrossLevelAuthorization:
    authorization = session.scalars(
        select(CrossLevelAuthorization)
        .where(CrossLevelAuthorization.id == authorization_id)
        .with_for_update(of=CrossLevelAuthorization)
    ).unique().one_or_none()
    if authorization is None:
        raise AuthorizationNotFound(f"no cross-level authorization {authorization_id}")
    if authorization.status == AuthorizationStatus.REVOKED:
        raise InvalidInput(f"authorization {authorization_id} is already revoked")
    authorization.status = str(AuthorizationStatus.REVOKED)
    authorization.revoked_at = _validate.now_or(now)
    session.flush()
    return authorization


def list_authorizations(
    *, session: Session, es_id: str | None = None, grantee_department_code: str | None = None
) -> list[CrossLevelAuthorization]:
    query = select(CrossLevelAuthorization).order_by(CrossLevelAuthorization.id)
    if es_id is not None:
        query = query.join(Seal, CrossLevelAuthorization.seal_id == Seal.id).where(Seal.es_id == es_id)
    if grantee_department_code is not None:
        query = query.where(CrossLevelAuthorization.grantee_department_code == grantee_department_code)
    return list(session.scalars(query).unique())


def active_authorization(
    *, session: Session, seal: Seal, grantee_department_code: str, licence_type_code: str, at: datetime
) -> CrossLevelAuthorization | None:
    for authorization in list_authorizations(
        session=session, es_id=seal.es_id, grantee_department_code=grantee_department_code
    ):
        if authorization.status != AuthorizationStatus.ACTIVE:
            continue
        if not authorization.valid_from <= at <= authorization.valid_to:
            continue
        if ANY_LICENCE_TYPE in authorization.licence_type_codes or licence_type_code in authorization.licence_type_codes:
            return authorization
    return None
