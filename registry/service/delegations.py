"""Holder proxies (委托人/监护人): a holder delegates to another holder the
right to act for them — show (亮证) or consent to the use of — listed licence
types, within a period. Delegations are revoked, never deleted.

`check_proxy` is the one question every proxy action asks; it raises when no
active delegation covers the action.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from catalog.service import licence_types
from identity.errors import InvalidCode
from identity.holder_auth import validate_holder_code
from registry.errors import DelegationInactive, DelegationNotFound, InvalidPresentationRequest, ProxyNotAllowed
from registry.models import Delegation, DelegationStatus
from storage.units import write_lock

ACTIONS = ("present", "consent")
RELATIONS = ("guardian", "agent", "family")  # 监护人, 委托代理人, 家属
MAX_TYPES = 50
MAX_PERIOD = timedelta(days=5 * 366)
MAX_PER_PRINCIPAL = 200


def create(
    *,
    session: Session,
    principal_code: str,
    principal_code_type: str,
    proxy_code: str,
    proxy_code_type: str,
    relation: str,
    type_codes: Sequence[str],
    actions: Sequence[str],
    valid_from: datetime,
    valid_until: datetime,
    now: datetime,
) -> Delegation:
    """Record a delegation from the principal (the signed-in holder) to a proxy."""
    write_lock(session=session)
    try:
        proxy_code, proxy_code_type = validate_holder_code(code=proxy_code, code_type=proxy_code_type)
    except InvalidCode as exc:
        raise InvalidPresentationRequest(f"proxy: {exc}") from None
    if proxy_code == principal_code:
        raise InvalidPresentationRequest("proxy: a holder cannot delegate to themselves")
    if relation not in RELATIONS:
        raise InvalidPresentationRequest(f"relation: one of {', '.join(RELATIONS)}")
    types = _check_types(session=session, type_codes=type_codes)
    wanted = _check_actions(actions)
    _check_period(valid_from=valid_from, valid_until=valid_until, now=now)
    held = session.scalars(select(Delegation.id).where(Delegation.principal_code == principal_code)).all()
    if len(held) >= MAX_PER_PRINCIPAL:
        raise InvalidPresentationRequest(f"a holder keeps at most {MAX_PER_PRINCIPAL} delegations")
    row = Delegation(
        principal_code=principal_code, principal_code_type=principal_code_type, proxy_code=proxy_code,
        proxy_code_type=proxy_code_type, relation=relation, type_codes=types, actions=wanted,
        valid_from=valid_from, valid_until=valid_until, status=DelegationStatus.ACTIVE, created_at=now,
    )
    session.add(row)
    session.flush()
    return row


def _check_types(*, session: Session, type_codes: Sequence[str]) -> list[str]:
    codes = sorted(set(type_codes))
    if not 1 <= len(codes) <= MAX_TYPES:
        raise InvalidPresentationRequest(f"type_codes: 1 to {MAX_TYPES} licence type codes")
    for code in codes:
        if licence_types.get_current(session=session, code=code) is None:
            raise InvalidPresentationRequest(f"type_codes: {code} is not a licence type of the catalog")
    return codes


def _check_actions(actions: Sequence[str]) -> list[str]:
    wanted = sorted(set(actions))
    if not wanted or any(a not in ACTIONS for a in wanted):
        raise InvalidPresentationRequest(f"actions: one or more of {', '.join(ACTIONS)}")
    return wanted


def _check_period(*, valid_from: datetime, valid_until: datetime, now: datetime) -> None:
    if valid_from.tzinfo is None or valid_until.tzinfo is None:
        raise InvalidPresentationRequest("valid_from, valid_until: times with their offset")
    if valid_until <= valid_from or valid_until <= now:
        raise InvalidPresentationRequest("valid_until: after valid_from and in the future")
    if valid_until - valid_from > MAX_PERIOD:
        raise InvalidPresentationRequest("a delegation lasts at most five years; renew it after")


def list_for_holder(*, session: Session, holder_code: str) -> list[Delegation]:
    """Delegations the holder gave and received, newest first."""
    return list(session.scalars(
        select(Delegation)
        .where(or_(Delegation.principal_code == holder_code, Delegation.proxy_code == holder_code))
        .order_by(Delegation.id.desc())
    ))


def revoke(*, session: Session, delegation_id: int, principal_code: str, now: datetime) -> Delegation:
    """The principal ends a delegation (idempotent); nobody else may. The
    consents the proxy gave under it stop counting at once: the exchange
    asks `check_proxy` about each such consent at query time."""
    write_lock(session=session)
    row = session.scalar(select(Delegation).where(Delegation.id == delegation_id).with_for_update())
    if row is None or row.principal_code != principal_code:
        raise DelegationNotFound(f"you gave no delegation {delegation_id}")
    if row.status != DelegationStatus.REVOKED:
        row.status = DelegationStatus.REVOKED
        row.revoked_at = now
        session.flush()
    return row


def get_received_or_raise(*, session: Session, delegation_id: int, proxy_code: str, now: datetime) -> Delegation:
    """The delegation `delegation_id` given to `proxy_code`, while it is in
    force. Another holder's delegation gets the same answer as one that does
    not exist; a revoked, expired or not yet begun one is refused (fail
    closed: the proxy sees nothing of the principal's under it)."""
    row = session.get(Delegation, delegation_id)
    if row is None or row.proxy_code != proxy_code:
        raise DelegationNotFound(f"no delegation {delegation_id} was given to you")
    if not is_active(row, now=now):
        raise DelegationInactive(f"delegation {delegation_id} is revoked, expired or not yet in force")
    return row


def is_active(row: Delegation, *, now: datetime) -> bool:
    return row.status == DelegationStatus.ACTIVE and row.valid_from <= now < row.valid_until


def check_proxy(
    *, session: Session, proxy_code: str, principal_code: str, action: str, type_code: str, now: datetime,
    given_by: datetime | None = None,
) -> Delegation:
    """The active delegation letting `proxy_code` do `action` on the principal's
    licences of `type_code` at `now`; raises ProxyNotAllowed when there is none.

    `given_by`: only a delegation recorded by then counts. What a proxy did
    under a delegation (a consent) stands only while that delegation does,
    and a delegation given afresh after the revocation does not revive it.
    """
    if action not in ACTIONS:
        raise InvalidPresentationRequest(f"action: one of {', '.join(ACTIONS)}")
    query = select(Delegation).where(
        Delegation.proxy_code == proxy_code,
        Delegation.principal_code == principal_code,
        Delegation.status == DelegationStatus.ACTIVE,
    )
    if given_by is not None:
        query = query.where(Delegation.created_at <= given_by)
    rows = session.scalars(query.order_by(Delegation.id))
    for row in rows:
        if is_active(row, now=now) and action in row.actions and type_code in row.type_codes:
            return row
    raise ProxyNotAllowed(f"no active delegation lets you {action} licences of type {type_code} for this holder")
