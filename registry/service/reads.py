"""Reading licences: by identifier (for the issuer, disclosure and exchange),
a holder's licences, their status, their history, what expires soon."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from catalog.db import utcnow
from registry.errors import LicenceNotFound
from registry.identifiers import LicenceIdentifier
from registry.models import Licence, LicenceEvent, LicenceStatus, LicenceVersion
from registry.service.authority import Actor, check_may_manage
from registry.service.records import china_date
from signing.sealed import SealSignature


@dataclass(frozen=True)
class LicenceView:
    """A licence with one of its versions: the record and its seal signature."""

    licence: Licence
    version: LicenceVersion

    @property
    def signature(self) -> SealSignature:
        return SealSignature.from_json(self.version.signature)


def get(session: Session, *, identifier: str) -> LicenceView | None:
    """The licence and the version the identifier names (no access check:
    callers decide who may see it)."""
    parsed = LicenceIdentifier.parse(identifier)
    licence = session.scalar(select(Licence).where(Licence.base_identifier == parsed.base))
    if licence is None:
        return None
    version = session.scalar(
        select(LicenceVersion).where(LicenceVersion.licence_id == licence.id, LicenceVersion.version == parsed.version)
    )
    return None if version is None else LicenceView(licence=licence, version=version)


def get_or_raise(session: Session, *, identifier: str) -> LicenceView:
    view = get(session, identifier=identifier)
    if view is None:
        raise LicenceNotFound(f"licence {identifier} not found")
    return view


def check_may_read(session: Session, *, view: LicenceView, actor: Actor, now: datetime | None = None) -> None:
    """The issuing department (or one it authorized) may read its licences.

    Hook for holder access: the holder's own authentication adds a second
    way in here (a holder principal whose code equals `licence.holder_code`).
    """
    licence = view.licence
    check_may_manage(session, acting=actor.department_code, issuer_code=licence.issuer_code,
                     type_code=licence.type_code, now=now or utcnow())


def versions(session: Session, *, licence: Licence) -> list[LicenceVersion]:
    return list(session.scalars(
        select(LicenceVersion).where(LicenceVersion.licence_id == licence.id).order_by(LicenceVersion.version)
    ))


def history(session: Session, *, licence: Licence) -> list[LicenceEvent]:
    return list(session.scalars(
        select(LicenceEvent).where(LicenceEvent.licence_id == licence.id).order_by(LicenceEvent.id)
    ))


def list_for_holder(
    session: Session, *, holder_code: str, holder_code_type: str | None = None, type_code: str | None = None,
    live_only: bool = False,
) -> list[Licence]:
    """A holder's licences (for the wallet and the exchange), newest first."""
    query = select(Licence).where(Licence.holder_code == holder_code)
    if holder_code_type is not None:
        query = query.where(Licence.holder_code_type == holder_code_type)
    if type_code is not None:
        query = query.where(Licence.type_code == type_code)
    if live_only:
        query = query.where(Licence.status.in_((LicenceStatus.VALID, LicenceStatus.SUSPENDED)))
    return list(session.scalars(query.order_by(Licence.id.desc())))


def status(session: Session, *, identifier: str) -> str:
    return get_or_raise(session, identifier=identifier).licence.status


def list_expiring(session: Session, *, issuer_code: str, days: int, now: datetime | None = None) -> list[Licence]:
    """Live licences of an issuer whose last valid day falls within `days` days (China time)."""
    today = china_date(now or utcnow())
    return list(session.scalars(
        select(Licence).where(
            Licence.issuer_code == issuer_code,
            Licence.status.in_((LicenceStatus.VALID, LicenceStatus.SUSPENDED)),
            Licence.valid_until.is_not(None),
            Licence.valid_until >= today,
            Licence.valid_until <= today + timedelta(days=days),
        ).order_by(Licence.valid_until, Licence.id)
    ))
