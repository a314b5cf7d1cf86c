"""Holder consent: grant, list, withdraw — and the query-time question:
which consent lets this department use this item of this holder for this
matter now (or why none does)?

A proxy (guardian, agent) may grant consent for a holder within the scope
of a delegation (registry.service.delegations): action "consent" and the
licence type among the delegated ones. Delegations name licence types only,
so a proxy cannot consent to data items. Such a consent counts only while a
delegation given by its grant still covers it: checked at query time, so a
revoked or expired delegation ends it at once, with nothing to run.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from catalog.errors import UnknownMatter
from catalog.service import departments
from catalog.service import matters as matters_service
from exchange.agreements import items as catalog_items
from exchange.agreements.models import ItemKind
from exchange.consent.models import Consent, ConsentStatus
from exchange.errors import ConsentNotFound, InvalidExchangeRequest, Refusal
from registry.errors import ProxyNotAllowed
from registry.service import delegations

MAX_ITEMS = 50
MAX_PERIOD = timedelta(days=366)
MAX_ACTIVE_PER_HOLDER = 500
# The log's basis for a use refused for want of any consent.
NO_CONSENT = "consent:none"
# A proxy's consent whose delegation was revoked or expired (a refusal code and a status).
DELEGATION_ENDED = "delegation_ended"


@dataclass(frozen=True)
class Grantor:
    """Who signs the consent: the holder, or a proxy acting for them."""

    holder_code: str
    holder_code_type: str
    proxy_code: str | None = None


def grant(
    *,
    session: Session,
    grantor: Grantor,
    department_code: str,
    matter_code: str,
    item_codes: Sequence[str],
    valid_until: datetime,
    now: datetime,
) -> Consent:
    if departments.get(session=session, code=department_code) is None:
        raise InvalidExchangeRequest(f"department: {department_code!r} is not a department in the catalog")
    try:
        matters_service.require_existing(session=session, codes=[matter_code])
    except UnknownMatter as unknown:
        raise InvalidExchangeRequest(f"matter: {unknown}") from None
    codes = list(dict.fromkeys(item_codes))
    if not 1 <= len(codes) <= MAX_ITEMS:
        raise InvalidExchangeRequest(f"items: 1 to {MAX_ITEMS} licence type or data item codes")
    for code in codes:
        item = catalog_items.find_or_raise(session=session, code=code)
        if item.holder_code_type != grantor.holder_code_type:
            raise InvalidExchangeRequest(f"items: {item.name} ({code}) is not held by a holder of your kind")
        if grantor.proxy_code is not None:
            _check_proxy(session=session, grantor=grantor, proxy_code=grantor.proxy_code, item=item, now=now)
    if valid_until.tzinfo is None or valid_until <= now:
        raise InvalidExchangeRequest("valid_until: a future time with its offset")
    if valid_until - now > MAX_PERIOD:
        raise InvalidExchangeRequest("a consent lasts at most one year; grant it again after")
    active = session.scalars(select(Consent.id).where(
        Consent.holder_code == grantor.holder_code, Consent.status == ConsentStatus.ACTIVE)).all()
    if len(active) >= MAX_ACTIVE_PER_HOLDER:
        raise InvalidExchangeRequest(f"a holder keeps at most {MAX_ACTIVE_PER_HOLDER} active consents")
    consent = Consent(
        public_id=secrets.token_hex(16), holder_code=grantor.holder_code, holder_code_type=grantor.holder_code_type,
        department_code=department_code, matter_code=matter_code, items=codes, valid_from=now,
        valid_until=valid_until, status=ConsentStatus.ACTIVE, proxy_code=grantor.proxy_code, created_at=now,
    )
    session.add(consent)
    session.flush()
    return consent


def _check_proxy(
    *, session: Session, grantor: Grantor, proxy_code: str, item: catalog_items.SharedItem, now: datetime
) -> None:
    if item.kind != ItemKind.LICENCE_TYPE:
        raise InvalidExchangeRequest(
            f"items: {item.name} ({item.code}) is a data item; delegations cover licence types only, "
            "so only the holder can consent to it")
    delegations.check_proxy(session=session, proxy_code=proxy_code, principal_code=grantor.holder_code,
                            action="consent", type_code=item.code, now=now)


def list_for_holder(*, session: Session, holder_code: str) -> list[Consent]:
    """Consents about the holder, and those the holder granted as a proxy, newest first."""
    return list(session.scalars(
        select(Consent)
        .where(or_(Consent.holder_code == holder_code, Consent.proxy_code == holder_code))
        .order_by(Consent.id.desc())
        .limit(1000)
    ))


def withdraw(*, session: Session, public_id: str, holder_code: str, now: datetime) -> Consent:
    """The holder (or the proxy who granted it) withdraws a consent; idempotent."""
    consent = session.scalar(select(Consent).where(Consent.public_id == public_id).with_for_update())
    if consent is None or holder_code not in (consent.holder_code, consent.proxy_code):
        raise ConsentNotFound(f"no consent {public_id} of yours")
    if consent.status != ConsentStatus.WITHDRAWN:
        consent.status = ConsentStatus.WITHDRAWN
        consent.withdrawn_at = now
        consent.withdrawn_by = holder_code
        session.flush()
    return consent


def effective_status(consent: Consent, *, now: datetime, session: Session | None = None) -> str:
    """The status as the holder should see it; with a session, a proxy's
    consent whose delegation ended shows "delegation_ended"."""
    if consent.status == ConsentStatus.ACTIVE and consent.valid_until <= now:
        return "expired"
    if (consent.status == ConsentStatus.ACTIVE and session is not None
            and not all(_delegation_stands(session=session, consent=consent, item_code=code, now=now)
                        for code in consent.items)):
        return DELEGATION_ENDED
    return consent.status


def _delegation_stands(*, session: Session, consent: Consent, item_code: str, now: datetime) -> bool:
    """A holder's own consent always; a proxy's while a delegation given by
    the time of the grant still lets the proxy consent to the item."""
    if consent.proxy_code is None:
        return True
    try:
        delegations.check_proxy(session=session, proxy_code=consent.proxy_code, principal_code=consent.holder_code,
                                action="consent", type_code=item_code, now=now, given_by=consent.created_at)
    except ProxyNotAllowed:
        return False
    return True


def covering(*, session: Session, holder_code: str, department_code: str, matter_code: str, item_code: str,
             now: datetime) -> Consent:
    """The active consent covering the use, else a Refusal saying why none does."""
    rows = [c for c in session.scalars(
        select(Consent).where(
            Consent.holder_code == holder_code,
            Consent.department_code == department_code,
            Consent.matter_code == matter_code,
        ).order_by(Consent.id.desc())
    ) if item_code in c.items]
    ended = []
    for consent in rows:
        if consent.status == ConsentStatus.ACTIVE and consent.valid_from <= now < consent.valid_until:
            if _delegation_stands(session=session, consent=consent, item_code=item_code, now=now):
                return consent
            ended.append(consent)
    if ended:
        raise Refusal(DELEGATION_ENDED, "the delegation under which a proxy consented to this use has ended",
                      basis=f"consent:{ended[0].public_id}")
    withdrawn = [c for c in rows if c.status == ConsentStatus.WITHDRAWN]
    if withdrawn:
        raise Refusal("consent_withdrawn", "the holder withdrew their consent to this use",
                      basis=f"consent:{withdrawn[0].public_id}")
    if rows:
        raise Refusal("consent_expired", "the holder's consent to this use has expired",
                      basis=f"consent:{rows[0].public_id}")
    raise Refusal("consent_missing", "the holder has not consented to this use for this matter",
                  basis=NO_CONSENT)
