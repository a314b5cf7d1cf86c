"""Supervision mandates, recorded by a catalog administrator: which
enforcement department may query without consent, for which matters, on
which legal basis. A mandate stands in for the holder's consent, never for
the provider's agreement: the provider still decides which fields go out."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from catalog.errors import UnknownMatter
from catalog.service import departments
from catalog.service import matters as matters_service
from exchange.errors import IllegalTransition, InvalidExchangeRequest, MandateNotFound
from exchange.mandates.models import Mandate

MAX_MATTERS = 100
MAX_TEXT = 500
# The longest a covert mandate may hide its uses from the holders (five years).
MAX_EMBARGO = timedelta(days=5 * 365)


def _text(value: str | None, *, what: str, required: bool) -> str | None:
    if value is None or not value.strip():
        if required:
            raise InvalidExchangeRequest(f"{what} is required")
        return None
    value = value.strip()
    if len(value) > MAX_TEXT or any(ord(ch) < 0x20 for ch in value):
        raise InvalidExchangeRequest(f"{what}: at most {MAX_TEXT} characters, no control characters")
    return value


def create(*, session: Session, department_code: str, matters: Sequence[str], legal_basis: str,
           valid_until: datetime | None, created_by: str, now: datetime,
           embargo_until: datetime | None = None) -> Mandate:
    """Record a mandate. ``embargo_until`` makes it covert: uses under it go
    into the log at once (counted, proven, visible to auditors) but the
    holder's view reveals them only from that instant (at most
    ``MAX_EMBARGO`` ahead: an investigation's secrecy is bounded)."""
    if departments.get(session=session, code=department_code) is None:
        raise InvalidExchangeRequest(f"department: {department_code!r} is not a department in the catalog")
    codes = list(dict.fromkeys(matters))
    if not 1 <= len(codes) <= MAX_MATTERS:
        raise InvalidExchangeRequest(f"matters: 1 to {MAX_MATTERS} matter codes")
    try:
        matters_service.require_existing(session=session, codes=codes)
    except UnknownMatter as unknown:
        raise InvalidExchangeRequest(f"matters: {unknown}") from None
    if valid_until is not None and (valid_until.tzinfo is None or valid_until <= now):
        raise InvalidExchangeRequest("valid_until: a future time with its offset, or none")
    if embargo_until is not None and (embargo_until.tzinfo is None
                                      or not now < embargo_until <= now + MAX_EMBARGO):
        raise InvalidExchangeRequest(f"embargo_until: a future time with its offset, at most {MAX_EMBARGO.days} "
                                     "days ahead, or none")
    mandate = Mandate(
        department_code=department_code, matters=codes, legal_basis=_text(legal_basis, what="legal_basis",
                                                                          required=True),
        valid_from=now, valid_until=valid_until, created_by=created_by, created_at=now,
        embargo_until=embargo_until,
    )
    session.add(mandate)
    session.flush()
    return mandate


def revoke(*, session: Session, mandate_id: int, reason: str, now: datetime) -> Mandate:
    mandate = session.scalar(select(Mandate).where(Mandate.id == mandate_id).with_for_update())
    if mandate is None:
        raise MandateNotFound(f"mandate {mandate_id} not found")
    if mandate.revoked_at is not None:
        raise IllegalTransition(f"mandate {mandate_id} is already revoked")
    mandate.revoked_at = now
    mandate.revoked_reason = _text(reason, what="reason", required=True)
    session.flush()
    return mandate


def list_(*, session: Session, department_code: str | None = None) -> list[Mandate]:
    query = select(Mandate).order_by(Mandate.id.desc()).limit(1000)
    if department_code is not None:
        query = query.where(Mandate.department_code == department_code)
    return list(session.scalars(query))


def is_active(mandate: Mandate, *, now: datetime) -> bool:
    return (mandate.revoked_at is None and mandate.valid_from <= now
            and (mandate.valid_until is None or now < mandate.valid_until))


def covering(*, session: Session, department_code: str, matter_code: str, now: datetime) -> Mandate | None:
    """The department's active mandate listing the matter, if any."""
    for mandate in session.scalars(select(Mandate).where(Mandate.department_code == department_code)
                                   .order_by(Mandate.id)):
        if is_active(mandate, now=now) and matter_code in mandate.matters:
            return mandate
    return None
