"""Sealing a record with a department seal, after the checks signing requires."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from signing.errors import KeyNotFound, NotAuthorized, SealNotActive
from signing.keystore import open_key_store
from signing.sealed import SealSignature, seal_record
from signing.service import _validate
from signing.service.authorization import active_authorization
from signing.service.lifecycle import active_seal_key
from signing.service.seals import get_seal_or_raise
from signing.statuses import ANY_LICENCE_TYPE, SealStatus


def sign_record(
    *,
    session: Session,
    es_id: str,
    record: Mapping[str, Any],
    licence_type_code: str,
    acting_department_code: str,
    registry_id: str,
    key_secret: bytes | str,
    now: datetime | None = None,
) -> SealSignature:
    """Seal `record` for `licence_type_code`, acting as `acting_department_code`.

    1. Lock the seal row for share, so a concurrent revoke waits for this signature.
    2. The seal must be active and within its validity now.
    3. The seal must cover the licence type.
    4. A department other than the owner needs an active cross-level authorization.
    5. Sign with the seal's current key.
    """
    moment = _validate.now_or(now)
    acting = _validate.department_code(acting_department_code, name="acting department code")
    seal = get_seal_or_raise(session=session, es_id=es_id, for_share=True)  # 1.
    if seal.status != SealStatus.ACTIVE:  # 2.
        raise SealNotActive(f"seal {es_id} is {seal.status}")
    if not seal.valid_from <= moment <= seal.valid_to:
        raise SealNotActive(f"seal {es_id} is outside its validity")
    if ANY_LICENCE_TYPE not in seal.licence_type_codes and licence_type_code not in seal.licence_type_codes:  # 3.
        raise NotAuthorized(f"seal {es_id} may not seal licence type {licence_type_code}")
    if acting != seal.owner_department_code and active_authorization(  # 4.
        session=session, seal=seal, grantee_department_code=acting, licence_type_code=licence_type_code, at=moment
    ) is None:
        raise NotAuthorized(f"{acting} holds no authorization to use seal {es_id} for {licence_type_code}")
    current = active_seal_key(seal)  # 5.
    if current is None:
        raise KeyNotFound(f"seal {es_id} has no active key; rotate it first")
    key = open_key_store(session=session, secret=key_secret).private_key(handle=current.id)
    return seal_record(
        record=record,
        key=key,
        registry_id=registry_id,
        es_id=seal.es_id,
        licence_type_code=licence_type_code,
        signer_department_code=acting,
        signed_at=moment,
    )
