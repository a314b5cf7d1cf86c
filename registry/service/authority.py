"""Who may issue and manage a licence, and with which seal.

The issuing department itself, with an active seal of its own covering the
type; or a department holding a cross-level authorization (跨层级签章) for
the type on the issuer's seal — it then acts on the issuer's behalf: the
licence carries the issuer's code, the history the acting department.

Which seal: the one the issuer names (its esID), else the issuer's default —
the newest usable 电子证照专用章 covering the type (of the algorithm asked
for, if one is), then the newest other usable seal covering it. A new seal
takes over from its creation, and a seal made for one type takes that type
over alone: that is how a department moves one licence type to SM2.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from catalog.service import licence_types
from registry.errors import (
    InvalidLicenceRequest,
    NotIssuer,
    NotIssuersSeal,
    NoUsableSeal,
    SealAlgorithmMismatch,
    SealNotUsable,
    SealWrongPurpose,
    UnknownSeal,
)
from signing import service as signing_service
from signing.algorithms import Algorithm
from signing.models import Seal
from signing.service.lifecycle import active_seal_key
from signing.statuses import ANY_LICENCE_TYPE, AuthorizationStatus, SealStatus, SealType


@dataclass(frozen=True)
class Actor:
    """Who asks: the department's system (client), and the operator it names."""

    department_code: str
    client_id: str | None = None
    operator: str | None = None


MAX_ES_ID = 64  # the length of signing_seals.es_id


@dataclass(frozen=True)
class SealChoice:
    """What the issuer asks for: a seal by its esID, or the default seal among
    those whose key is of `algorithm`; neither: the default seal."""

    es_id: str | None = None
    algorithm: str | None = None

    def __post_init__(self) -> None:
        if self.algorithm is not None and self.algorithm not in set(Algorithm):
            raise InvalidLicenceRequest(f"algorithm: one of {', '.join(Algorithm)}", field="algorithm")
        if self.es_id is not None and not 0 < len(self.es_id) <= MAX_ES_ID:
            raise InvalidLicenceRequest(f"seal: an esID of 1 to {MAX_ES_ID} characters", field="seal")


DEFAULT_SEAL = SealChoice()


def _covers(codes: list[str], type_code: str) -> bool:
    return ANY_LICENCE_TYPE in codes or type_code in codes


def _usable(seal: Seal, *, type_code: str, now: datetime) -> bool:
    return seal.status == SealStatus.ACTIVE and seal.valid_from <= now <= seal.valid_to and _covers(
        seal.licence_type_codes, type_code
    )


def _algorithm(seal: Seal) -> str | None:
    key = active_seal_key(seal)
    return key.algorithm if key is not None else None


def _default_seal(seals: list[Seal], *, algorithm: str | None) -> Seal | None:
    """The dedicated e-licence seal first, then the newest (the highest id):
    a seal a department creates takes over from then on."""
    fitting = [s for s in seals if algorithm is None or _algorithm(s) == algorithm]
    fitting.sort(key=lambda s: (s.seal_type != SealType.E_LICENCE, -s.id))
    return fitting[0] if fitting else None


def _own_seal(
    *, session: Session, department_code: str, type_code: str, now: datetime, algorithm: str | None = None
) -> Seal | None:
    seals = [
        s
        for s in signing_service.list_seals(
            session=session, owner_department_code=department_code, status=SealStatus.ACTIVE
        )
        if _usable(s, type_code=type_code, now=now)
    ]
    return _default_seal(seals, algorithm=algorithm)


def _no_seal(department_code: str, type_code: str, algorithm: str | None) -> NoUsableSeal:
    of = f" with an {algorithm} key" if algorithm else ""
    return NoUsableSeal(f"department {department_code} holds no active seal{of} covering licence type {type_code}")


def _chosen_seal(
    *, session: Session, choice: SealChoice, issuers: set[str], type_code: str, now: datetime
) -> Seal:
    """The seal the issuer named, if it may seal this licence; each refusal says why."""
    seal = signing_service.get_seal(session=session, es_id=choice.es_id) if choice.es_id else None
    if seal is None:
        raise UnknownSeal(f"no seal has esID {choice.es_id!r}")
    if seal.owner_department_code not in issuers:
        raise NotIssuersSeal(f"seal {seal.es_id} belongs to department {seal.owner_department_code}, "
                             "not to the issuing department")
    if seal.status != SealStatus.ACTIVE or not seal.valid_from <= now <= seal.valid_to or _algorithm(seal) is None:
        raise SealNotUsable(f"seal {seal.es_id} is {seal.status}, valid {seal.valid_from.date().isoformat()} to "
                            f"{seal.valid_to.date().isoformat()}: it cannot seal now")
    if seal.seal_type != SealType.E_LICENCE:
        raise SealWrongPurpose(f"seal {seal.es_id} is a {seal.seal_type}; licences take a {SealType.E_LICENCE}")
    if not _covers(seal.licence_type_codes, type_code):
        raise SealWrongPurpose(f"seal {seal.es_id} does not cover licence type {type_code}")
    if choice.algorithm is not None and _algorithm(seal) != choice.algorithm:
        raise SealAlgorithmMismatch(f"seal {seal.es_id} has an {_algorithm(seal)} key, not {choice.algorithm}")
    return seal


def _authorized_seals(*, session: Session, acting: str, type_code: str, now: datetime) -> list[Seal]:
    found = []
    for grant in signing_service.list_authorizations(session=session, grantee_department_code=acting):
        if grant.status != AuthorizationStatus.ACTIVE or not grant.valid_from <= now <= grant.valid_to:
            continue
        if _covers(grant.licence_type_codes, type_code) and _usable(grant.seal, type_code=type_code, now=now):
            found.append(grant.seal)
    return found


def seal_for_issue(
    *, session: Session, acting: str, type_code: str, now: datetime, choice: SealChoice = DEFAULT_SEAL
) -> tuple[Seal, str]:
    """(seal, issuer code) for a new licence of `type_code` requested by `acting`."""
    if licence_types.may_issue(session=session, type_code=type_code, department_code=acting):
        if choice.es_id is not None:
            return _chosen_seal(session=session, choice=choice, issuers={acting}, type_code=type_code, now=now), acting
        seal = _own_seal(
            session=session, department_code=acting, type_code=type_code, now=now, algorithm=choice.algorithm
        )
        if seal is None:
            raise _no_seal(acting, type_code, choice.algorithm)
        return seal, acting
    authorized = [
        seal for seal in _authorized_seals(session=session, acting=acting, type_code=type_code, now=now)
        if licence_types.may_issue(session=session, type_code=type_code, department_code=seal.owner_department_code)
    ]
    if not authorized:
        raise NotIssuer(f"department {acting} may not issue licence type {type_code}")
    if choice.es_id is not None:
        seal = _chosen_seal(session=session, choice=choice, issuers={s.owner_department_code for s in authorized},
                            type_code=type_code, now=now)
        if seal not in authorized:
            raise NotIssuersSeal(f"no authorization lets department {acting} seal licence type {type_code} "
                                 f"with seal {seal.es_id}")
        return seal, seal.owner_department_code
    # Acting for another issuer: that issuer's seals it is authorized on, in the default order.
    seal = _default_seal(authorized, algorithm=choice.algorithm)
    if seal is None:
        raise _no_seal(authorized[0].owner_department_code, type_code, choice.algorithm)
    return seal, seal.owner_department_code


def seal_for_licence(*, session: Session, acting: str, issuer_code: str, type_code: str, now: datetime) -> Seal:
    """The seal `acting` uses for a new version of a licence `issuer_code` issued."""
    if acting == issuer_code:
        seal = _own_seal(session=session, department_code=acting, type_code=type_code, now=now)
        if seal is None:
            raise NoUsableSeal(f"department {acting} holds no active seal covering licence type {type_code}")
        return seal
    for seal in _authorized_seals(session=session, acting=acting, type_code=type_code, now=now):
        if seal.owner_department_code == issuer_code:
            return seal
    raise NotIssuer(f"department {acting} may not manage licences issued by {issuer_code}")


def own_seal_with_algorithm(*, session: Session, department_code: str, type_code: str, algorithm: str,
                            now: datetime) -> Seal | None:
    """The department's own default seal for the type among those whose key is of `algorithm`
    (the signed PDF needs an ES256 one: registry.service.pdfsigning)."""
    return _own_seal(session=session, department_code=department_code, type_code=type_code, now=now,
                     algorithm=algorithm)


def check_may_manage(*, session: Session, acting: str, issuer_code: str, type_code: str, now: datetime) -> None:
    if acting == issuer_code:
        return
    if not any(
        s.owner_department_code == issuer_code
        for s in _authorized_seals(session=session, acting=acting, type_code=type_code, now=now)
    ):
        raise NotIssuer(f"department {acting} may not manage licences issued by {issuer_code}")
