"""Issuing e-licences: validate against the type's current schema, number
them (GB/T 36904), seal them, and index them in a status list."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, lazyload

from catalog.models import Department, LicenceType
from catalog.service import departments, licence_types
from registry.errors import IdempotencyConflict, InvalidLicenceRequest, ValidityEnded
from registry.identifiers import LicenceIdentifier
from registry.models import IdempotencyKey, Licence, LicenceEvent, LicenceStatus, LicenceVersion, SerialCounter
from registry.service import statuslists
from registry.service.authority import Actor, SealChoice, seal_for_issue
from registry.service.history import record_event, write_gate
from registry.service.records import catalog_record, china_date, validate_face, validate_holder, validity_period
from signing.keystore import DatabaseKeyStore
from signing.models import Seal
from signing.sealed import SealSignature, SealSigner
from signing.service import sign_record
from signing.service.lifecycle import active_seal_key
from storage.base import utcnow

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
    session: Session,
    *,
    actor: Actor,
    request: IssueRequest,
    signer: Signer,
    idempotency_key: str | None = None,
    now: datetime | None = None,
) -> Licence:
    """Issue one licence. With an idempotency key, a retry returns the first
    licence; the same key with another request is refused."""
    moment = now or utcnow()
    write_gate(session=session)
    claim = None
    if idempotency_key is not None:
        claim, existing = _claim(session, department_code=actor.department_code, key=idempotency_key,
                                 digest=request.digest(), now=moment)
        if existing is not None:
            return existing
    licence = _issue(session, actor=actor, request=request, signer=signer, now=moment)
    if claim is not None:
        claim.licence_id = licence.id
        session.flush()
    return licence


def _claim(
    session: Session, *, department_code: str, key: str, digest: str, now: datetime
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


def _issue(session: Session, *, actor: Actor, request: IssueRequest, signer: Signer, now: datetime) -> Licence:
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
    serial = next_serial(session, type_code=licence_type.code, issuer_code=issuer_code)
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
    seal_version(session, licence=licence, licence_type=licence_type, issuer=issuer, seal=seal, actor=actor,
                 signer=signer, face=face, now=now)
    record_event(session=session, licence=licence, action="issue", from_status=None, actor=actor, at=now)
    session.flush()
    return licence


def refuse_ended(valid_until: date | None, *, today: date) -> None:
    """A fresh issue of a licence whose validity has already ended is refused:
    it would be published as valid until the expiry job ran. A historic
    licence is brought in by aggregation (归集, `registry.service.bulk`),
    which stores it as expired."""
    if Licence.status_at_issue(valid_until=valid_until, today=today) == LicenceStatus.EXPIRED:
        raise ValidityEnded(f"valid_until: the validity ended on {valid_until.isoformat()}, before today "
                            f"({today.isoformat()}); a licence no longer valid is not issued", field="valid_until")


def next_serial(session: Session, *, type_code: str, issuer_code: str) -> str:
    """The next serial of (type, issuer): an atomic increment (a row lock on
    PostgreSQL), the first one created under the unique constraint."""
    return f"{reserve_serials(session, type_code=type_code, issuer_code=issuer_code, count=1):08d}"


def reserve_serials(session: Session, *, type_code: str, issuer_code: str, count: int) -> int:
    """Reserve `count` consecutive serials of (type, issuer); returns the first."""
    bump = (
        update(SerialCounter)
        .where(SerialCounter.type_code == type_code, SerialCounter.issuer_code == issuer_code)
        .values(last_serial=SerialCounter.last_serial + count)
        .returning(SerialCounter.last_serial)
    )
    for _attempt in range(2):
        value = session.execute(bump).scalar()
        if value is not None:
            return value - count + 1
        try:
            with session.begin_nested():
                session.execute(
                    insert(SerialCounter).values(type_code=type_code, issuer_code=issuer_code, last_serial=count)
                )
            return 1
        except IntegrityError:
            continue  # another issuer created the row first: increment it
    raise RuntimeError("serial counter could not be created")  # pragma: no cover - the second update finds the row


def seal_version(
    session: Session,
    *,
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


MAX_BATCH = 10_000


def issue_many(
    session: Session,
    *,
    actor: Actor,
    requests: Sequence[IssueRequest],
    signer: Signer,
    now: datetime | None = None,
) -> list[Licence]:
    """Issue a batch of licences in the caller's unit of work, in request order.

    The same checks and records as `issue`, with the per-licence round trips
    taken out: per licence type (and seal asked for) one seal choice and one seal check, one
    serial range, one status-list allocation, and multi-row inserts. A bad
    request fails the whole batch; the message names its position. There
    are no idempotency keys here: a batch job keeps its own record of what
    it issued (re-running it must skip those rows).
    """
    if not 0 < len(requests) <= MAX_BATCH:
        raise InvalidLicenceRequest(f"a batch holds 1 to {MAX_BATCH} licences", field="requests")
    moment = now or utcnow()
    write_gate(session=session)
    by_type: dict[tuple[str, SealChoice], list[int]] = {}
    for position, request in enumerate(requests):
        by_type.setdefault((request.type_code, request.seal_choice), []).append(position)
    issued: dict[int, Licence] = {}
    for (type_code, choice), positions in by_type.items():
        licences = _issue_batch_of_type(session, actor=actor, type_code=type_code, choice=choice, signer=signer,
                                        now=moment, requests=[(p, requests[p]) for p in positions])
        issued.update(zip(positions, licences, strict=True))
    return [issued[p] for p in range(len(requests))]


def _issue_batch_of_type(
    session: Session, *, actor: Actor, type_code: str, choice: SealChoice, signer: Signer, now: datetime,
    requests: list[tuple[int, IssueRequest]],
) -> list[Licence]:
    licence_type = licence_types.get_or_raise(session=session, code=type_code)
    seal, issuer_code = seal_for_issue(session=session, acting=actor.department_code, type_code=licence_type.code, now=now,
                                       choice=choice)
    issuer = departments.get_or_raise(session=session, code=issuer_code)
    issued_on = china_date(now)
    checked = [_checked(licence_type, position, request, issued_on) for position, request in requests]
    first = reserve_serials(session, type_code=licence_type.code, issuer_code=issuer_code, count=len(checked))
    slots = statuslists.allocate(session=session, registry_id=signer.registry_id,
                                 key_secret=signer.key_secret, now=now, count=len(checked))
    identifiers = [LicenceIdentifier.for_issue(type_code=licence_type.code, issuer_code=issuer_code,
                                               serial=f"{first + offset:08d}") for offset in range(len(checked))]
    # A plain multi-row insert (pipelined on PostgreSQL), then the rows read
    # back by their unique identifiers: cheaper than INSERT .. RETURNING in
    # parameter order for large batches.
    session.execute(
        insert(Licence.__table__),
        [dict(base_identifier=identifier.base, type_code=licence_type.code, type_version=licence_type.version,
              issuer_code=issuer_code, serial=identifier.serial, holder_name=holder[0], holder_code=holder[1],
              holder_code_type=holder[2], status=LicenceStatus.VALID, current_version=1, valid_from=valid_from,
              valid_until=valid_until, status_list_id=list_id, status_index=index, issued_at=now, updated_at=now)
         for identifier, (holder, _face, valid_from, valid_until), (list_id, index)
         in zip(identifiers, checked, slots, strict=True)],
    )
    stored = {
        licence.base_identifier: licence
        for licence in session.scalars(
            select(Licence).where(Licence.base_identifier.in_([i.base for i in identifiers]))
            .options(lazyload(Licence.versions))
        )
    }
    licences = [stored[identifier.base] for identifier in identifiers]
    records = [
        catalog_record(licence_type=licence_type, identifier=str(identifier), version=1, holder=holder, issuer=issuer,
                       issued_on=issued_on, valid_from=valid_from, valid_until=valid_until, face=face)
        for identifier, (holder, face, valid_from, valid_until) in zip(identifiers, checked, strict=True)
    ]
    signatures = _seal_all(session, seal=seal, actor=actor, signer=signer, type_code=licence_type.code,
                           records=records, now=now)
    session.execute(insert(LicenceVersion.__table__), [
        dict(licence_id=licence.id, version=1, identifier=record["identifier"], face=record["face"],
             valid_from=licence.valid_from, valid_until=licence.valid_until, record=record,
             signature=signature.to_json(), es_id=seal.es_id, superseded=False, created_at=now)
        for licence, record, signature in zip(licences, records, signatures, strict=True)
    ])
    session.execute(insert(LicenceEvent.__table__), [
        dict(licence_id=licence.id, action="issue", from_status=None, to_status=LicenceStatus.VALID, version=1,
             acting_department_code=actor.department_code, client_id=actor.client_id, operator=actor.operator,
             reason=None, at=now)
        for licence in licences
    ])
    return licences


def _checked(licence_type: LicenceType, position: int, request: IssueRequest, issued_on: date):
    if request.type_code != licence_type.code:  # pragma: no cover - grouped by type above
        raise InvalidLicenceRequest(f"request {position}: another licence type", field="type_code")
    try:
        holder = validate_holder(licence_type=licence_type, name=request.holder_name, code=request.holder_code,
                                 code_type=request.holder_code_type)
        face = validate_face(licence_type=licence_type, face=request.face)
        valid_from, valid_until = validity_period(licence_type=licence_type, issued_on=issued_on,
                                                  valid_from=request.valid_from, valid_until=request.valid_until)
        refuse_ended(valid_until, today=issued_on)
    except InvalidLicenceRequest as error:
        raise type(error)(f"request {position}: {error}", field=error.field) from None
    return holder, face, valid_from, valid_until


def _seal_all(
    session: Session, *, seal: Seal, actor: Actor, signer: Signer, type_code: str, records: list[dict], now: datetime
) -> list[SealSignature]:
    """The first record goes through signing's full checks (seal active and
    in validity, covering the type, the actor authorized), which share-lock
    the seal row until this transaction ends: a revocation waits, so the
    checks hold for the whole batch and the rest are signed with the same key."""
    first = sign_record(session=session, es_id=seal.es_id, record=records[0], licence_type_code=type_code,
                        acting_department_code=actor.department_code, registry_id=signer.registry_id,
                        key_secret=signer.key_secret, now=now)
    if len(records) == 1:
        return [first]
    key = DatabaseKeyStore(session=session, secret=signer.key_secret).private_key(handle=active_seal_key(seal).id)
    batch = SealSigner(key=key, registry_id=signer.registry_id, es_id=seal.es_id, licence_type_code=type_code,
                       signer_department_code=actor.department_code)
    return [first, *(batch.sign(record, signed_at=now) for record in records[1:])]
