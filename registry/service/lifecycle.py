"""A licence's life after issue: change (a new sealed version), suspend and
resume, revoke (吊销), cancel (注销) with joint cancellation of dependent
licences (证照并销), and automatic expiry.

Every transition locks the licence row first, so two racing changes are
applied one after the other and neither is lost; each lands in the history.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from catalog.service import departments, licence_types
from registry.errors import InvalidLicenceRequest, InvalidTransition, LicenceNotFound
from registry.identifiers import MAX_VERSION, LicenceIdentifier
from registry.models import Licence, LicenceStatus, LicenceVersion
from registry.service import statuslists
from registry.service.authority import Actor, check_may_manage, seal_for_licence
from registry.service.history import record_event
from registry.service.issue import Signer, seal_version
from registry.service.records import china_date, validate_face
from storage.base import utcnow
from storage.units import write_lock

MAX_REASON = 2000
_LIVE = (LicenceStatus.VALID, LicenceStatus.SUSPENDED)


def lock_licence(*, session: Session, identifier: str) -> Licence:
    """The licence an identifier (of any of its versions) names, row-locked."""
    base = LicenceIdentifier.parse(identifier).base
    licence = session.scalar(select(Licence).where(Licence.base_identifier == base).with_for_update())
    if licence is None:
        raise LicenceNotFound(f"licence {identifier} not found")
    return licence


def _managed(*, session: Session, actor: Actor, identifier: str, now: datetime) -> Licence:
    write_lock(session=session)
    licence = lock_licence(session=session, identifier=identifier)
    check_may_manage(session=session, acting=actor.department_code, issuer_code=licence.issuer_code,
                     type_code=licence.type_code, now=now)
    return licence


def _reason(reason: str | None, *, required: bool) -> str | None:
    reason = (reason or "").strip() or None
    if required and reason is None:
        raise InvalidLicenceRequest("reason is required", field="reason")
    if reason is not None and len(reason) > MAX_REASON:
        raise InvalidLicenceRequest(f"reason: at most {MAX_REASON} characters", field="reason")
    return reason


def _set_status(
    *, session: Session, licence: Licence, to: str, action: str, actor: Actor | None, signer: Signer,
    now: datetime, reason: str | None,
) -> None:
    before = licence.status
    licence.status = to
    licence.updated_at = now
    statuslists.set_status(session=session, list_id=licence.status_list_id, index=licence.status_index, status=to,
                           registry_id=signer.registry_id, key_secret=signer.key_secret, now=now)
    record_event(
        session=session, licence=licence, action=action, from_status=before, actor=actor, at=now, reason=reason
    )
    session.flush()


def change(
    *,
    session: Session,
    actor: Actor,
    identifier: str,
    face: dict[str, Any],
    signer: Signer,
    reason: str | None = None,
    now: datetime | None = None,
) -> LicenceVersion:
    """A new sealed version with `face` merged onto the current face (a null
    value removes an optional field); older versions stay readable, superseded."""
    moment = now or utcnow()
    licence = _managed(session=session, actor=actor, identifier=identifier, now=moment)
    if licence.status not in _LIVE:
        raise InvalidTransition(f"licence {licence.base_identifier} is {licence.status}; it can no longer change")
    if licence.current_version >= MAX_VERSION:
        raise InvalidTransition(f"licence {licence.base_identifier} has reached version {MAX_VERSION}")
    if not isinstance(face, dict):
        raise InvalidLicenceRequest("face: expected an object of field values", field="face")
    current = current_version(session=session, licence=licence)
    merged = {k: v for k, v in {**current.face, **face}.items() if v is not None}
    licence_type = licence_types.get_or_raise(session=session, code=licence.type_code)
    cleaned = validate_face(licence_type=licence_type, face=merged)
    seal = seal_for_licence(session=session, acting=actor.department_code, issuer_code=licence.issuer_code,
                            type_code=licence.type_code, now=moment)
    session.execute(update(LicenceVersion).where(LicenceVersion.licence_id == licence.id).values(superseded=True))
    licence.current_version += 1
    licence.type_version = licence_type.version
    licence.updated_at = moment
    version = seal_version(
        session=session, licence=licence, licence_type=licence_type,
        issuer=departments.get_or_raise(session=session, code=licence.issuer_code), seal=seal, actor=actor,
        signer=signer, face=cleaned, now=moment,
    )
    record_event(session=session, licence=licence, action="change", from_status=licence.status, actor=actor, at=moment,
                 reason=_reason(reason, required=False))
    session.flush()
    return version


def current_version(*, session: Session, licence: Licence) -> LicenceVersion:
    return session.scalars(
        select(LicenceVersion).where(LicenceVersion.licence_id == licence.id,
                                     LicenceVersion.version == licence.current_version)
    ).one()


def suspend(*, session: Session, actor: Actor, identifier: str, signer: Signer, reason: str | None = None,
            now: datetime | None = None) -> Licence:
    moment = now or utcnow()
    licence = _managed(session=session, actor=actor, identifier=identifier, now=moment)
    if licence.status != LicenceStatus.VALID:
        raise InvalidTransition(f"only a valid licence can be suspended; this one is {licence.status}")
    _set_status(
        session=session,
        licence=licence,
        to=LicenceStatus.SUSPENDED,
        action="suspend",
        actor=actor,
        signer=signer,
        now=moment,
        reason=_reason(reason, required=False),
    )
    return licence


def resume(*, session: Session, actor: Actor, identifier: str, signer: Signer, reason: str | None = None,
           now: datetime | None = None) -> Licence:
    moment = now or utcnow()
    licence = _managed(session=session, actor=actor, identifier=identifier, now=moment)
    if licence.status != LicenceStatus.SUSPENDED:
        raise InvalidTransition(f"only a suspended licence can be resumed; this one is {licence.status}")
    _set_status(session=session, licence=licence, to=LicenceStatus.VALID, action="resume", actor=actor, signer=signer,
                now=moment, reason=_reason(reason, required=False))
    return licence


def revoke(*, session: Session, actor: Actor, identifier: str, reason: str, signer: Signer,
           now: datetime | None = None) -> Licence:
    """吊销/撤销: final; a reason is required (it is shown to the holder)."""
    moment = now or utcnow()
    why = _reason(reason, required=True)
    licence = _managed(session=session, actor=actor, identifier=identifier, now=moment)
    if licence.status not in _LIVE:
        raise InvalidTransition(f"licence {licence.base_identifier} is already {licence.status}")
    _set_status(session=session, licence=licence, to=LicenceStatus.REVOKED, action="revoke", actor=actor, signer=signer,
                now=moment, reason=why)
    return licence


def cancel(*, session: Session, actor: Actor, identifier: str, signer: Signer, reason: str | None = None,
           now: datetime | None = None) -> list[Licence]:
    """注销, then 证照并销: the same holder's live licences of the type's
    dependent types are cancelled with it. Returns every licence cancelled."""
    moment = now or utcnow()
    why = _reason(reason, required=False)
    licence = _managed(session=session, actor=actor, identifier=identifier, now=moment)
    if licence.status not in _LIVE:
        raise InvalidTransition(f"licence {licence.base_identifier} is already {licence.status}")
    _set_status(
        session=session,
        licence=licence,
        to=LicenceStatus.CANCELLED,
        action="cancel",
        actor=actor,
        signer=signer,
        now=moment,
        reason=why,
    )
    cancelled = [licence]
    dependents = licence_types.get_or_raise(session=session, code=licence.type_code).dependents or []
    if dependents:
        # Ordered by id: every joint cancellation locks rows in the same order.
        rows = session.scalars(
            select(Licence).where(
                Licence.type_code.in_(dependents), Licence.holder_code == licence.holder_code,
                Licence.holder_code_type == licence.holder_code_type, Licence.status.in_(_LIVE),
            ).order_by(Licence.id).with_for_update()
        )
        note = f"证照并销: {licence.base_identifier} cancelled" + (f" ({why})" if why else "")
        for dependent in rows:
            _set_status(
                session=session,
                licence=dependent,
                to=LicenceStatus.CANCELLED,
                action="joint_cancel",
                actor=actor,
                signer=signer,
                now=moment,
                reason=note,
            )
            cancelled.append(dependent)
    return cancelled


def expire_due(*, session: Session, signer: Signer, now: datetime | None = None) -> int:
    """Mark live licences whose last valid day (China time) has passed as
    expired; run by a scheduled job. Returns how many expired."""
    moment = now or utcnow()
    write_lock(session=session)
    today = china_date(moment)
    rows = session.scalars(
        select(Licence).where(Licence.validity_ended(today), Licence.status.in_(_LIVE))
        .order_by(Licence.id).with_for_update()
    ).all()
    for licence in rows:
        _set_status(
            session=session,
            licence=licence,
            to=LicenceStatus.EXPIRED,
            action="expire",
            actor=None,
            signer=signer,
            now=moment,
            reason=f"validity ended {licence.valid_until}"  # a date: str() is its ISO form,
        )
    return len(rows)
