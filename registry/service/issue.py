"""Issuing e-licences: validate against the type's current schema, number
them (GB/T 36904), seal them, and index them in a status list."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from catalog.models import Department, LicenceType
from catalog.service import departments, licence_types
from registry.errors import IdempotencyConflict, ValidityEnded
from registry.identifiers import LicenceIdentifier
from registry.models import IdempotencyKey, Licence, LicenceStatus, LicenceVersion, SerialCounter
from registry.service import statuslists
from registry.service.authority import Actor, SealChoice, seal_for_issue
from registry.service.history import record_event
from registry.service.records import catalog_record, china_date, validate_face, validate_holder, validity_period
from signing.models import Seal
from signing.service import sign_record
from storage.base import utcnow
from storage.units import write_lock

MAX_IDEMPOTENCY_KEY = 200


@dataclass(frozen=True)
class IssueRequest:
    type_code: str
    holder_name: str
    holder_code: str
    holder_code_type: str
    face: dict[str, Any] = field(default_factory=dict)
    valid_from: date | None = None
    valid_until: date | None = None
    # The seal to use (its esID) or the algorithm of the default seal to use; neither: the default seal.
    seal: str | None = None
    algorithm: str | None = None

    @property
    def seal_choice(self) -> SealChoice:
        return SealChoice(es_id=self.seal, algorithm=self.algorithm)

    def digest(self) -> str:
        # Without a seal choice, the digest of a request from before there was one.
        body = {k: v for k, v in asdict(self).items() if v is not None or k not in ("seal", "algorithm")}
        return hashlib.sha256(json.dumps(body, sort_keys=True, default=str, ensure_ascii=False).encode()).hexdigest()


@dataclass(frozen=True)
class Signer:
    """What sealing needs from the deployment."""

    registry_id: str
    key_secret: bytes


def issue(
    *,
    session: Session,
    actor: Actor,
    request: IssueRequest,
    signer: Signer,
    idempotency_key: str | None = None,
    now: datetime | None = None,
) -> Licence:
    """Issue one licence. With an idempotency key, a retry returns the first
    licence; the same key with another request is refused."""
    moment = now or utcnow()
    write_lock(session=session)
    claim = None
    if idempotency_key is not None:
        claim, existing = _claim(session=session, department_code=actor.department_code, key=idempotency_key,
                                 digest=request.digest(), now=moment)
        if existing is not None:
            return existing
    licence = _issue(session=session, actor=actor, request=request, signer=signer, now=moment)
    if claim is not None:
        claim.licence_id = licence.id
        session.flush()
    return licence


def _claim(
    *, session: Session, department_code: str, key: str, digest: str, now: datetime
) -> tuple[IdempotencyKey | None, Licence | None]:
    if not 1 <= len(key) <= MAX_IDEMPOTENCY_KEY or not key.isprintable():
        raise IdempotencyConflict(f"Idempotency-Key must be 1-{MAX_IDEMPOTENCY_KEY} printable characters")
    query = select(IdempotencyKey).where(IdempotencyKey.department_code == department_code, IdempotencyKey.key == key)
    row = session.scalar(query)
    if row is None:
        # The unique constraint decides between two concurrent first requests:
        # the loser waits for the winner's commit, then reads its licence.
        try:
            with session.begin_nested():
                row = IdempotencyKey(department_code=department_code, key=key, request_sha256=digest, created_at=now)
                session.add(row)
            return row, None
        except IntegrityError:
            row = session.scalar(query)
    if row is None or row.request_sha256 != digest:
        raise IdempotencyConflict("this Idempotency-Key was used with a different request")
    if row.licence_id is None:
        raise IdempotencyConflict("a request with this Idempotency-Key is still being processed")
    return None, session.get(Licence, row.licence_id)


def _issue(*, session: Session, actor: Actor, request: IssueRequest, signer: Signer, now: datetime) -> Licence:
    licence_type = licence_types.get_or_raise(session=session, code=request.type_code)
    seal, issuer_code = seal_for_issue(session=session, acting=actor.department_code, type_code=licence_type.code, now=now,
                                       choice=request.seal_choice)
    holder = validate_holder(licence_type=licence_type, name=request.holder_name, code=request.holder_code,
                             code_type=request.holder_code_type)
    face = validate_face(licence_type=licence_type, face=request.face)
    issued_on = china_date(now)
    valid_from, valid_until = validity_period(licence_type=licence_type, issued_on=issued_on,
                                              valid_from=request.valid_from, valid_until=request.valid_until)
    refuse_ended(valid_until, today=issued_on)
    issuer = departments.get_or_raise(session=session, code=issuer_code)
    [serial] = reserve_serials(session=session, type_code=licence_type.code, issuer_code=issuer_code)
    identifier = LicenceIdentifier.for_issue(type_code=licence_type.code, issuer_code=issuer_code, serial=serial)
    [(list_id, index)] = statuslists.allocate(session=session, registry_id=signer.registry_id,
                                              key_secret=signer.key_secret, now=now)
    licence = Licence(
        base_identifier=identifier.base, type_code=licence_type.code, type_version=licence_type.version,
        issuer_code=issuer_code, serial=serial, holder_name=holder[0], holder_code=holder[1],
        holder_code_type=holder[2], status=LicenceStatus.VALID, current_version=1, valid_from=valid_from,
        valid_until=valid_until, status_list_id=list_id, status_index=index, issued_at=now, updated_at=now,
    )
    session.add(licence)
    session.flush()
    seal_version(session=session, licence=licence, licence_type=licence_type, issuer=issuer, seal=seal, actor=actor,
                 signer=signer, face=face, now=now)
    record_event(session=session, licence=licence, action="issue", from_status=None, actor=actor, at=now)
    session.flush()
    return licence


def refuse_ended(valid_until: date | None, *, today: date) -> None:
    """A fresh issue of a licence whose validity has already ended is refused:
    it would be published as valid until the expiry job ran. A historic
    licence is brought in by aggregation (归集, `registry.service.bulk`),
    which stores it as expired."""
    if valid_until is not None and Licence.status_at_issue(valid_until=valid_until, today=today) == LicenceStatus.EXPIRED:
        raise ValidityEnded(f"valid_until: the validity ended on {valid_until.isoformat()}, before today "
                            f"({today.isoformat()}); a licence no longer valid is not issued", field="valid_until")


def reserve_serials(*, session: Session, type_code: str, issuer_code: str, count: int = 1) -> list[str]:
    """`count` consecutive serials of (type, issuer), for one issue or a
    batch alike: one atomic increment of the counter (a row lock on
    PostgreSQL until the transaction ends), the counter created under its
    unique constraint by the first issue."""
    bump = (
        update(SerialCounter)
        .where(SerialCounter.type_code == type_code, SerialCounter.issuer_code == issuer_code)
        .values(last_serial=SerialCounter.last_serial + count)
        .returning(SerialCounter.last_serial)
    )
    for _attempt in range(2):
        last = session.execute(bump).scalar()
        if last is not None:
            return _serials(first=last - count + 1, count=count)
        try:
            with session.begin_nested():
                session.execute(
                    insert(SerialCounter).values(type_code=type_code, issuer_code=issuer_code, last_serial=count)
                )
            return _serials(first=1, count=count)
        except IntegrityError:
            continue  # another issuer created the row first: increment it
    raise RuntimeError("serial counter could not be created")  # pragma: no cover - the second update finds the row


def _serials(*, first: int, count: int) -> list[str]:
    return [f"{value:08d}" for value in range(first, first + count)]


def seal_version(
    *,
    session: Session,
    licence: Licence,
    licence_type: LicenceType,
    issuer: Department,
    seal: Seal,
    actor: Actor,
    signer: Signer,
    face: dict[str, Any],
    now: datetime,
) -> LicenceVersion:
    """Seal the licence's current version (its number, validity and holder as now set)."""
    identifier = str(
        LicenceIdentifier(licence.type_code, licence.issuer_code, licence.serial, licence.current_version)
    )
    record = catalog_record(
        licence_type=licence_type, identifier=identifier, version=licence.current_version,
        holder=(licence.holder_name, licence.holder_code, licence.holder_code_type), issuer=issuer,
        issued_on=china_date(now), valid_from=licence.valid_from, valid_until=licence.valid_until, face=face,
    )
    signature = sign_record(
        session=session, es_id=seal.es_id, record=record, licence_type_code=licence.type_code,
        acting_department_code=actor.department_code, registry_id=signer.registry_id,
        key_secret=signer.key_secret, now=now,
    )
    version = LicenceVersion(
        licence_id=licence.id, version=licence.current_version, identifier=identifier, face=face,
        valid_from=licence.valid_from, valid_until=licence.valid_until, record=record,
        signature=signature.to_json(), es_id=seal.es_id, superseded=False, created_at=now,
    )
    session.add(version)
    session.flush()
    return version
