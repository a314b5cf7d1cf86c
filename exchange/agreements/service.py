"""Sharing agreements: apply, decide (approve, narrow or refuse), revoke,
withdraw, list — and the question every other part asks: which agreements
cover this consumer, item and matter right now?

The catalog's sharing attribute governs the first decision: an
unconditional data item is approved as applied for, a not-shared one is
refused with the catalog's legal reason, a conditional one (and every
licence type) waits for the provider.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row, bindparam, or_, select
from sqlalchemy.orm import Session

from catalog.errors import UnknownMatter
from catalog.service import departments
from catalog.service import matters as matters_service
from exchange.agreements import items
from exchange.agreements.models import Agreement, AgreementStatus, ItemKind
from exchange.errors import AgreementNotFound, IllegalTransition, InvalidExchangeRequest, NotParty
from storage.driver_statements import DriverStatement

MAX_PERIOD = timedelta(days=3 * 366)
MAX_MATTERS = 50
MAX_REASON = 500
CATALOG_DECIDER = "catalog"


def _check_reason(reason: str | None, *, what: str, required: bool) -> str | None:
    if reason is None or not reason.strip():
        if required:
            raise InvalidExchangeRequest(f"{what} is required")
        return None
    reason = reason.strip()
    if len(reason) > MAX_REASON or any(ord(ch) < 0x20 for ch in reason):
        raise InvalidExchangeRequest(f"{what}: at most {MAX_REASON} characters, no control characters")
    return reason


def _check_matters(*, session: Session, codes: Sequence[str]) -> list[str]:
    codes = list(dict.fromkeys(codes))
    if not 1 <= len(codes) <= MAX_MATTERS:
        raise InvalidExchangeRequest(f"matters: 1 to {MAX_MATTERS} matter codes")
    try:
        matters_service.require_existing(session=session, codes=codes)
    except UnknownMatter as unknown:
        raise InvalidExchangeRequest(f"matters: {unknown}") from None
    return codes


def _check_fields(item: items.SharedItem, fields: Sequence[str], *, what: str, allow_empty: bool = False) -> list[str]:
    fields = list(dict.fromkeys(fields))
    if not fields and not allow_empty:
        raise InvalidExchangeRequest(f"{what}: name at least one field")
    unknown = [f for f in fields if f not in item.field_keys]
    if unknown:
        raise InvalidExchangeRequest(f"{what}: {unknown[0]!r} is not a field of {item.name} ({item.code})")
    # Keep the catalog's order: stable answers, stable hashes.
    return [key for key in item.field_keys if key in fields]


def _check_period(valid_until: datetime, *, now: datetime) -> datetime:
    if valid_until.tzinfo is None:
        raise InvalidExchangeRequest("valid_until must carry a time zone")
    if valid_until <= now:
        raise InvalidExchangeRequest("valid_until must be in the future")
    if valid_until - now > MAX_PERIOD:
        raise InvalidExchangeRequest("an agreement runs for at most three years; apply again to renew")
    return valid_until


def _provider_for(item: items.SharedItem, provider_code: str | None) -> str:
    if provider_code is None:
        if len(item.providers) != 1:
            raise InvalidExchangeRequest(
                f"{item.name} ({item.code}) is issued by {len(item.providers)} departments: name the provider "
                f"(one of {', '.join(item.providers)}); an agreement covers the licences its provider issued"
            )
        return item.providers[0]
    if provider_code not in item.providers:
        raise InvalidExchangeRequest(f"provider {provider_code} does not provide {item.name} ({item.code})")
    return provider_code


def apply(
    *,
    session: Session,
    consumer_code: str,
    operator: str,
    item_code: str,
    provider_code: str | None,
    matters: Sequence[str],
    fields: Sequence[str],
    clear_fields: Sequence[str],
    valid_until: datetime,
    reason: str,
    now: datetime,
) -> Agreement:
    """File an application; the catalog's sharing attribute may decide it at once."""
    departments.get_or_raise(session=session, code=consumer_code)
    item = items.find_or_raise(session=session, code=item_code)
    provider = _provider_for(item, provider_code)
    if provider == consumer_code:
        raise InvalidExchangeRequest("a department needs no agreement with itself")
    field_keys = _check_fields(item, fields, what="fields")
    clear = _check_fields(item, clear_fields, what="clear_fields", allow_empty=True)
    if not set(clear) <= set(field_keys):
        raise InvalidExchangeRequest("clear_fields must be among the fields applied for")
    matter_codes = _check_matters(session=session, codes=matters)
    until = _check_period(valid_until, now=now)
    terms = {"matters": matter_codes, "fields": field_keys, "clear_fields": clear, "valid_until": until.isoformat()}
    agreement = Agreement(
        consumer_code=consumer_code, provider_code=provider, item_kind=item.kind, item_code=item.code,
        matters=matter_codes, fields=field_keys, clear_fields=clear, valid_from=now, valid_until=until,
        requested=terms, reason=_check_reason(reason, what="reason", required=True),
        status=AgreementStatus.PENDING, applied_by=operator, created_at=now, updated_at=now,
    )
    if item.sharing_attribute == "not_shared":
        _decide(agreement, status=AgreementStatus.REFUSED, by=CATALOG_DECIDER, now=now,
                reason=f"不予共享: {item.not_shared_reason}", automatic=True)
    elif item.sharing_attribute == "unconditional":
        _decide(agreement, status=AgreementStatus.APPROVED, by=CATALOG_DECIDER, now=now,
                reason="无条件共享: approved as applied for under the catalog's sharing attribute", automatic=True)
    session.add(agreement)
    session.flush()
    return agreement


def _decide(agreement: Agreement, *, status: str, by: str, now: datetime, reason: str | None,
            automatic: bool = False) -> None:
    agreement.status = status
    agreement.automatic = automatic
    agreement.decided_by = by
    agreement.decided_at = now
    agreement.decision_reason = reason
    agreement.updated_at = now


def _locked(*, session: Session, agreement_id: int, department_code: str) -> Agreement:
    """The agreement under a row lock, if the department is a party to it."""
    agreement = session.scalar(
        select(Agreement)
        .where(Agreement.id == agreement_id,
               or_(Agreement.consumer_code == department_code, Agreement.provider_code == department_code))
        .with_for_update()
    )
    if agreement is None:
        raise AgreementNotFound(f"agreement {agreement_id} not found")
    return agreement


def _narrowed(requested: Sequence[str], granted: Sequence[str] | None, *, what: str) -> list[str]:
    if granted is None:
        return list(requested)
    extra = [g for g in granted if g not in requested]
    if extra:
        raise InvalidExchangeRequest(f"{what}: {extra[0]!r} was not applied for; a decision may only narrow")
    return [r for r in requested if r in granted]


def decide(
    *,
    session: Session,
    agreement_id: int,
    provider_code: str,
    operator: str,
    approve: bool,
    reason: str | None,
    matters: Sequence[str] | None = None,
    fields: Sequence[str] | None = None,
    clear_fields: Sequence[str] | None = None,
    valid_until: datetime | None = None,
    now: datetime,
) -> Agreement:
    """The provider approves (possibly narrowed) or refuses with a reason."""
    agreement = _locked(session=session, agreement_id=agreement_id, department_code=provider_code)
    if agreement.provider_code != provider_code:
        raise NotParty("only the provider decides on an application")
    if agreement.status != AgreementStatus.PENDING:
        raise IllegalTransition(f"agreement {agreement_id} is {agreement.status}, not pending")
    if not approve:
        _decide(agreement, status=AgreementStatus.REFUSED, by=operator, now=now,
                reason=_check_reason(reason, what="reason (the legal basis of a refusal)", required=True))
        return agreement
    granted_fields = _narrowed(agreement.fields, fields, what="fields")
    if not granted_fields:
        raise InvalidExchangeRequest("fields: an approval grants at least one field; refuse instead")
    granted_matters = _narrowed(agreement.matters, matters, what="matters")
    if not granted_matters:
        raise InvalidExchangeRequest("matters: an approval names at least one matter; refuse instead")
    granted_clear = _narrowed(agreement.clear_fields, clear_fields, what="clear_fields")
    until = agreement.valid_until
    if valid_until is not None:
        if valid_until.tzinfo is None or valid_until > agreement.valid_until:
            raise InvalidExchangeRequest("valid_until: a decision may only shorten the period applied for")
        until = _check_period(valid_until, now=now)
    agreement.fields = granted_fields
    agreement.matters = granted_matters
    agreement.clear_fields = [f for f in granted_clear if f in granted_fields]
    agreement.valid_from = now
    agreement.valid_until = until
    _decide(agreement, status=AgreementStatus.APPROVED, by=operator, now=now,
            reason=_check_reason(reason, what="reason", required=False))
    return agreement


def _end(agreement: Agreement, *, status: str, reason: str | None, by: str, now: datetime) -> Agreement:
    if agreement.status not in (AgreementStatus.PENDING, AgreementStatus.APPROVED):
        raise IllegalTransition(f"agreement {agreement.id} is already {agreement.status}")
    agreement.status = status
    agreement.ended_at = now
    agreement.ended_reason = reason
    agreement.ended_by = by
    agreement.updated_at = now
    return agreement


def revoke(*, session: Session, agreement_id: int, provider_code: str, operator: str, reason: str,
           now: datetime) -> Agreement:
    """The provider ends an agreement (or a pending application) with a reason."""
    agreement = _locked(session=session, agreement_id=agreement_id, department_code=provider_code)
    if agreement.provider_code != provider_code:
        raise NotParty("only the provider revokes an agreement; the consumer withdraws it")
    return _end(agreement, status=AgreementStatus.REVOKED, now=now, by=operator,
                reason=_check_reason(reason, what="reason", required=True))


def withdraw(*, session: Session, agreement_id: int, consumer_code: str, operator: str, reason: str | None,
             now: datetime) -> Agreement:
    """The consumer gives up an application or an agreement."""
    agreement = _locked(session=session, agreement_id=agreement_id, department_code=consumer_code)
    if agreement.consumer_code != consumer_code:
        raise NotParty("only the consumer withdraws; the provider revokes")
    return _end(agreement, status=AgreementStatus.WITHDRAWN, now=now, by=operator,
                reason=_check_reason(reason, what="reason", required=False))


def get_for_party(*, session: Session, agreement_id: int, department_code: str) -> Agreement:
    agreement = session.get(Agreement, agreement_id)
    if agreement is None or department_code not in (agreement.consumer_code, agreement.provider_code):
        raise AgreementNotFound(f"agreement {agreement_id} not found")
    return agreement


def list_(*, session: Session, department_code: str, role: str | None = None, status: str | None = None,
          item_code: str | None = None, limit: int = 200) -> list[Agreement]:
    """Agreements the department is a party to, newest first."""
    if role == "consumer":
        query = select(Agreement).where(Agreement.consumer_code == department_code)
    elif role == "provider":
        query = select(Agreement).where(Agreement.provider_code == department_code)
    elif role is None:
        query = select(Agreement).where(
            or_(Agreement.consumer_code == department_code, Agreement.provider_code == department_code))
    else:
        raise InvalidExchangeRequest("role must be consumer or provider")
    if status is not None:
        if status not in AgreementStatus.ALL:
            raise InvalidExchangeRequest(f"status must be one of {', '.join(AgreementStatus.ALL)}")
        query = query.where(Agreement.status == status)
    if item_code is not None:
        query = query.where(Agreement.item_code == item_code)
    return list(session.scalars(query.order_by(Agreement.id.desc()).limit(max(1, min(limit, 500)))))


# Both take the ORM object or a row of its terms (``for_item``, the query's hot path).
def effective_status(agreement: Agreement | Row[Any], *, now: datetime) -> str:
    """The stored status, or "expired" for an approved agreement past its period."""
    if agreement.status == AgreementStatus.APPROVED and agreement.valid_until <= now:
        return "expired"
    return agreement.status


def is_active(agreement: Agreement | Row[Any], *, now: datetime) -> bool:
    return agreement.status == AgreementStatus.APPROVED and agreement.valid_from <= now < agreement.valid_until


# What a query's policy reads of each agreement: built once, selected as
# plain rows (the hot path of every exchange query needs no ORM objects).
_TERMS_FOR_ITEM = (
    select(Agreement.id, Agreement.provider_code, Agreement.matters, Agreement.fields, Agreement.clear_fields,
           Agreement.valid_from, Agreement.valid_until, Agreement.status)
    .where(Agreement.consumer_code == bindparam("consumer_code"), Agreement.item_code == bindparam("item_code"))
    .order_by(Agreement.id)
)
# Run on psycopg's own connection on the exchange query's event loop (storage.driver_statements).
_TERMS_ON_THE_DRIVER = DriverStatement(_TERMS_FOR_ITEM)


def for_item(*, session: Session, consumer_code: str, item_code: str) -> list[Row]:
    """The terms of every agreement (any status) between the consumer and
    the item's providers: rows with the attributes ``is_active``,
    ``effective_status`` and the masking read (id, provider_code, matters,
    fields, clear_fields, valid_from, valid_until, status)."""
    # A Core statement: the ORM's execution layer would cost a query about 5% more.
    parameters = {"consumer_code": consumer_code, "item_code": item_code}
    return _TERMS_ON_THE_DRIVER.execute(session.connection(), parameters)


def has_active_agreement(*, session: Session, consumer_code: str, licence_type_code: str, now: datetime) -> bool:
    """Whether the consumer holds an approved, unexpired agreement for the
    licence type (with any of its issuers, for any matter)."""
    return session.scalar(
        select(Agreement.id).where(
            Agreement.consumer_code == consumer_code,
            Agreement.item_kind == ItemKind.LICENCE_TYPE,
            Agreement.item_code == licence_type_code,
            Agreement.status == AgreementStatus.APPROVED,
            Agreement.valid_from <= now,
            Agreement.valid_until > now,
        ).limit(1)
    ) is not None
