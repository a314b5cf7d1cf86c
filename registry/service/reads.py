"""Reading licences: by identifier (for the issuer, disclosure and exchange),
a holder's licences, their status, their history, what expires soon."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Select, and_, bindparam, func, select
from sqlalchemy.orm import Session, lazyload

from catalog.access import UseLog, UseRecord
from catalog.models import LicenceType
from identity.holder_auth import HolderPrincipal
from registry.errors import LicenceNotFound
from registry.identifiers import LicenceIdentifier
from registry.models import DisputeStatus, Licence, LicenceDispute, LicenceEvent, LicenceStatus, LicenceVersion
from registry.service.authority import Actor, check_may_manage
from registry.service.records import china_date
from signing.sealed import SealSignature
from storage.base import utcnow


@dataclass(frozen=True)
class LicenceView:
    """A licence with one of its versions: the record and its seal signature."""

    licence: Licence
    version: LicenceVersion

    @property
    def signature(self) -> SealSignature:
        return SealSignature.from_json(self.version.signature)


def record_shown(
    *, recorder: UseLog, session: Session, subject_code: str, shown: Iterable[tuple[Licence, str]], kind: str,
    basis: str, operator_id: str, purpose: str, fields: Iterable[str] = (),
) -> None:
    """Log the licences shown to a holder or their proxy (each with the
    identifier shown), in the caller's transaction: one record per issuing
    department (the log's department is the one whose data it is). Nothing
    shown, nothing recorded; when the log refuses, nothing is shown."""
    by_issuer: dict[str, list[str]] = {}
    for licence, identifier in shown:
        by_issuer.setdefault(licence.issuer_code, []).append(identifier)
    if by_issuer:
        recorder.append(session=session, records=[UseRecord(
            kind=kind, department_code=issuer_code, operator_id=operator_id, basis=basis, subject_code=subject_code,
            licence_ids=tuple(identifiers), fields=tuple(fields), purpose=purpose,
        ) for issuer_code, identifiers in by_issuer.items()])


# The licence and the version an identifier names, in one round trip.
_NAMED_VERSION = and_(Licence.base_identifier == bindparam("base"), LicenceVersion.version == bindparam("version"))

# The licence's other versions are not loaded (a read by identifier never
# needs them). Built once: a statement object reused with parameters skips
# SQLAlchemy's per-call construction and cache-key work.
_BY_IDENTIFIER = (
    select(Licence, LicenceVersion)
    .join(LicenceVersion, LicenceVersion.licence_id == Licence.id)
    .where(_NAMED_VERSION)
    .options(lazyload(Licence.versions))
)


def _parameters(identifier: str) -> dict:
    parsed = LicenceIdentifier.parse(identifier)
    return {"base": parsed.base, "version": parsed.version}


def get(*, session: Session, identifier: str) -> LicenceView | None:
    """The licence and the version the identifier names (no access check:
    callers decide who may see it)."""
    row = session.execute(_BY_IDENTIFIER, _parameters(identifier)).one_or_none()
    return None if row is None else LicenceView(licence=row[0], version=row[1])


@dataclass(frozen=True)
class ShownLicence:
    """One licence version as a counter may be shown it, with what deciding
    whether it may be shown needs (status, validity, superseded), as plain
    values: read on every redemption, never changed by it."""

    identifier: str
    type_code: str
    type_version: int
    holder_name: str
    holder_code: str
    holder_code_type: str
    status: str
    licence_valid_until: date | None  # the licence's own end of validity, as it is now
    valid_from: date  # the version's, as sealed
    valid_until: date | None
    superseded: bool
    face: dict[str, Any]
    record: dict[str, Any]
    signature: str  # SealSignature JSON


# Only the columns a redemption uses, as a Core statement: the ORM read of
# both rows cost more than the rest of the disclosure.
_SHOWN = (
    select(LicenceVersion.identifier, Licence.type_code, Licence.type_version, Licence.holder_name,
           Licence.holder_code, Licence.holder_code_type, Licence.status,
           Licence.valid_until.label("licence_valid_until"), LicenceVersion.valid_from, LicenceVersion.valid_until,
           LicenceVersion.superseded, LicenceVersion.face, LicenceVersion.record, LicenceVersion.signature)
    .join(LicenceVersion, LicenceVersion.licence_id == Licence.id)
    .where(_NAMED_VERSION)
)


def get_shown(*, session: Session, identifier: str) -> ShownLicence | None:
    """The version the identifier names as a counter is shown it, or None
    (InvalidIdentifier when it is not an identifier at all). No access
    check: redemption decides."""
    row = session.connection().execute(_SHOWN, _parameters(identifier)).one_or_none()
    return None if row is None else ShownLicence(**row._mapping)


def get_or_raise(*, session: Session, identifier: str) -> LicenceView:
    view = get(session=session, identifier=identifier)
    if view is None:
        raise LicenceNotFound(f"licence {identifier} not found")
    return view


def check_may_read(
    *, session: Session, view: LicenceView, actor: Actor | None = None, holder: HolderPrincipal | None = None,
    now: datetime | None = None,
) -> None:
    """The issuing department (or one it authorized) may read its licences;
    a holder may read their own, and only their own.

    A holder asking for another holder's licence is told it does not exist
    (LicenceNotFound, never a refusal), so its existence does not leak.
    """
    if (actor is None) == (holder is None):
        raise ValueError("check_may_read needs exactly one of actor or holder")
    licence = view.licence
    if holder is not None:
        if not holds(licence, holder):
            raise LicenceNotFound(f"licence {view.version.identifier} not found")
        return
    assert actor is not None  # exactly one of the two was given, and it was not the holder
    check_may_manage(session=session, acting=actor.department_code, issuer_code=licence.issuer_code,
                     type_code=licence.type_code, now=now or utcnow())


def holds(licence: Licence, holder: HolderPrincipal) -> bool:
    return licence.holder_code == holder.holder_code and licence.holder_code_type == holder.holder_code_type


def get_for_holder(*, session: Session, identifier: str, holder: HolderPrincipal) -> LicenceView:
    """A version of one of the holder's own licences; any other is "not found"."""
    view = get(session=session, identifier=identifier)
    if view is None:
        raise LicenceNotFound(f"licence {identifier} not found")
    check_may_read(session=session, view=view, holder=holder)
    return view


@dataclass(frozen=True)
class WalletEntry:
    licence: Licence
    type_name: str
    open_disputes: int


def _wallet_statement(*, by_status: bool) -> Select:
    open_count = (
        select(func.count()).where(LicenceDispute.licence_id == Licence.id,
                                   LicenceDispute.status == DisputeStatus.OPEN)
        .correlate(Licence).scalar_subquery()
    )
    query = (
        select(Licence, LicenceType.name, open_count)
        .join(LicenceType, and_(LicenceType.code == Licence.type_code, LicenceType.version == Licence.type_version))
        .where(Licence.holder_code == bindparam("holder_code"),
               Licence.holder_code_type == bindparam("holder_code_type"))
        .options(lazyload(Licence.versions))  # the list needs no versions; don't load them
    )
    if by_status:
        query = query.where(Licence.status == bindparam("status"))
    return query.order_by(Licence.id.desc()).limit(bindparam("limit")).offset(bindparam("offset"))


# Built once: the wallet is the hottest read, and building the statement
# costs more than running it (bound values only change per call).
_WALLET = {False: _wallet_statement(by_status=False), True: _wallet_statement(by_status=True)}


def wallet_query(
    *, holder_code: str, holder_code_type: str, status: str | None = None, limit: int = 50, offset: int = 0
) -> tuple[Select, dict]:
    """The wallet list's one query and its parameters: a page of the holder's
    licences with their type names and open dispute counts, newest first."""
    params = {"holder_code": holder_code, "holder_code_type": holder_code_type, "limit": limit, "offset": offset}
    if status is not None:
        params["status"] = status
    return _WALLET[status is not None], params


def wallet(
    *, session: Session, holder_code: str, holder_code_type: str, status: str | None = None, limit: int = 50,
    offset: int = 0,
) -> list[WalletEntry]:
    """One page of a holder's licences, every status, newest first, with the
    type's name (of the version issued) and how many disputes are open."""
    query, params = wallet_query(holder_code=holder_code, holder_code_type=holder_code_type, status=status,
                                 limit=limit, offset=offset)
    return [WalletEntry(licence=licence, type_name=name, open_disputes=count)
            for licence, name, count in session.execute(query, params).all()]


def open_disputes(*, session: Session, licence: Licence) -> list[LicenceDispute]:
    return list(session.scalars(
        select(LicenceDispute).where(LicenceDispute.licence_id == licence.id,
                                     LicenceDispute.status == DisputeStatus.OPEN).order_by(LicenceDispute.id)
    ))


def versions(*, session: Session, licence: Licence) -> list[LicenceVersion]:
    return list(session.scalars(
        select(LicenceVersion).where(LicenceVersion.licence_id == licence.id).order_by(LicenceVersion.version)
    ))


def history(*, session: Session, licence: Licence) -> list[LicenceEvent]:
    return list(session.scalars(
        select(LicenceEvent).where(LicenceEvent.licence_id == licence.id).order_by(LicenceEvent.id)
    ))


def list_for_holder(
    *, session: Session, holder_code: str, holder_code_type: str | None = None, type_code: str | None = None,
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


def status(*, session: Session, identifier: str) -> str:
    return get_or_raise(session=session, identifier=identifier).licence.status


def list_expiring(
    *, session: Session, days: int, issuer_code: str | None = None, holder_code: str | None = None,
    holder_code_type: str | None = None, now: datetime | None = None,
) -> list[Licence]:
    """Live licences whose last valid day falls within `days` days (China
    time): an issuer's (for renewal reminders), a holder's (无感续证), or both."""
    if issuer_code is None and holder_code is None:
        raise ValueError("list_expiring needs an issuer, a holder or both")
    today = china_date(now or utcnow())
    query = select(Licence).where(
        Licence.status.in_((LicenceStatus.VALID, LicenceStatus.SUSPENDED)),
        Licence.valid_until.is_not(None),
        Licence.valid_until >= today,
        Licence.valid_until <= today + timedelta(days=days),
    )
    if issuer_code is not None:
        query = query.where(Licence.issuer_code == issuer_code)
    if holder_code is not None:
        query = query.where(Licence.holder_code == holder_code)
    if holder_code_type is not None:
        query = query.where(Licence.holder_code_type == holder_code_type)
    return list(session.scalars(query.order_by(Licence.valid_until, Licence.id)))
