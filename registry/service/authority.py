"""Who may issue and manage a licence, and with which seal.

The issuing department itself, with an active seal of its own covering the
type; or a department holding a cross-level authorization (跨层级签章) for
the type on the issuer's seal — it then acts on the issuer's behalf: the
licence carries the issuer's code, the history the acting department.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from catalog.service import licence_types
from registry.errors import NotIssuer, NoUsableSeal
from signing import service as signing_service
from signing.models import Seal
from signing.statuses import ANY_LICENCE_TYPE, AuthorizationStatus, SealStatus, SealType


@dataclass(frozen=True)
class Actor:
    """Who asks: the department's system (client), and the operator it names."""

    department_code: str
    client_id: str | None = None
    operator: str | None = None


def _covers(codes: list[str], type_code: str) -> bool:
    return ANY_LICENCE_TYPE in codes or type_code in codes


def _usable(seal: Seal, *, type_code: str, now: datetime) -> bool:
    return seal.status == SealStatus.ACTIVE and seal.valid_from <= now <= seal.valid_to and _covers(
        seal.licence_type_codes, type_code
    )


def _own_seal(session: Session, *, department_code: str, type_code: str, now: datetime) -> Seal | None:
    seals = [
        s for s in signing_service.list_seals(session, owner_department_code=department_code, status=SealStatus.ACTIVE)
        if _usable(s, type_code=type_code, now=now)
    ]
    # The dedicated e-licence seal first, then the oldest: the choice is stable between requests.
    seals.sort(key=lambda s: (s.seal_type != SealType.E_LICENCE, s.id))
    return seals[0] if seals else None


def _authorized_seals(session: Session, *, acting: str, type_code: str, now: datetime) -> list[Seal]:
    found = []
    for grant in signing_service.list_authorizations(session, grantee_department_code=acting):
        if grant.status != AuthorizationStatus.ACTIVE or not grant.valid_from <= now <= grant.valid_to:
            continue
        if _covers(grant.licence_type_codes, type_code) and _usable(grant.seal, type_code=type_code, now=now):
            found.append(grant.seal)
    return found


def seal_for_issue(session: Session, *, acting: str, type_code: str, now: datetime) -> tuple[Seal, str]:
    """(seal, issuer code) for a new licence of `type_code` requested by `acting`."""
    if licence_types.may_issue(session=session, type_code=type_code, department_code=acting):
        seal = _own_seal(session, department_code=acting, type_code=type_code, now=now)
        if seal is None:
            raise NoUsableSeal(f"department {acting} holds no active seal covering licence type {type_code}")
        return seal, acting
    for seal in _authorized_seals(session, acting=acting, type_code=type_code, now=now):
        owner = seal.owner_department_code
        if licence_types.may_issue(session=session, type_code=type_code, department_code=owner):
            return seal, owner
    raise NotIssuer(f"department {acting} may not issue licence type {type_code}")


def seal_for_licence(session: Session, *, acting: str, issuer_code: str, type_code: str, now: datetime) -> Seal:
    """The seal `acting` uses for a new version of a licence `issuer_code` issued."""
    if acting == issuer_code:
        seal = _own_seal(session, department_code=acting, type_code=type_code, now=now)
        if seal is None:
            raise NoUsableSeal(f"department {acting} holds no active seal covering licence type {type_code}")
        return seal
    for seal in _authorized_seals(session, acting=acting, type_code=type_code, now=now):
        if seal.owner_department_code == issuer_code:
            return seal
    raise NotIssuer(f"department {acting} may not manage licences issued by {issuer_code}")


def check_may_manage(session: Session, *, acting: str, issuer_code: str, type_code: str, now: datetime) -> None:
    if acting == issuer_code:
        return
    if not any(
        s.owner_department_code == issuer_code
        for s in _authorized_seals(session, acting=acting, type_code=type_code, now=now)
    ):
        raise NotIssuer(f"department {acting} may not manage licences issued by {issuer_code}")
