"""Bulk issue and aggregation (归集): licences from a department's legacy
records, many per transaction, idempotent by source record.

Each source record is known by (issuer, licence type, source system, source
key). The first time a record is seen it is issued; seen again with the same
content (SHA-256 over holder, face and requested validity) nothing happens;
with other content the licence gets a new sealed version, like a change. So a
rerun of the same file issues nothing twice and changes nothing.

A record whose validity has already ended (a historic licence) is stored as
expired, its status-list entry set so, never published as valid; a change
that ends a licence's validity expires it. (A fresh issue through the API
refuses such a licence instead: `issue.refuse_ended`.)

Validation is the registry's own (holder codes, face fields against the
type's schema, validity rule). What makes it fast, per batch rather than
per licence: one authority check and seal lock, one serial reservation, one
status-list lock, one lookup of known records, multi-row inserts, and a seal
key opened once per run. A new licence takes a fresh status-list entry,
which is 0 (valid) in the list as already signed, so issuing re-signs no
status list at all.

The caller commits each batch; nothing here commits.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Protocol

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from catalog.models import Department, LicenceType
from catalog.service import departments, licence_types
from registry.errors import InvalidLicenceRequest, NoUsableSeal
from registry.identifiers import MAX_VERSION, LicenceIdentifier
from registry.import_models import ImportedLicence
from registry.models import Licence, LicenceEvent, LicenceStatus, LicenceVersion
from registry.service import statuslists
from registry.service.authority import DEFAULT_SEAL, Actor, SealChoice, seal_for_issue
from registry.service.history import record_event
from registry.service.issue import Signer, reserve_serials
from registry.service.records import catalog_record, china_date, validate_face, validate_holder, validity_period
from signing import service as signing_service
from signing.canonical import canonical_json
from signing.keystore import open_key_store
from signing.models import Seal
from signing.sealed import SealSigner
from signing.service.lifecycle import active_seal_key
from storage.base import utcnow
from storage.units import JsonText, insert_many, write_lock

MAX_SOURCE_SYSTEM = 100
MAX_SOURCE_KEY = 200
_LIVE = (LicenceStatus.VALID, LicenceStatus.SUSPENDED)


class Outcome:
    ISSUED = "issued"
    CHANGED = "changed"
    UNCHANGED = "unchanged"
    FAILED = "failed"


class BulkRow(Protocol):
    """One source record as licence fields (adapters' `MappedRow` is one)."""

    ordinal: int  # position in the source, for the caller
    row: int  # where a clerk finds the record (spreadsheet row, record number)
    source_key: str
    holder_name: str | None
    holder_code: str | None
    holder_code_type: str | None
    valid_from: date | None
    valid_until: date | None
    face: dict[str, Any]


@dataclass(frozen=True, slots=True)
class RowOutcome:
    ordinal: int
    outcome: str
    identifier: str | None = None
    field: str | None = None
    code: str | None = None
    message: str | None = None


def _failed(row: BulkRow, code: str, message: str, field: str | None = None) -> RowOutcome:
    return RowOutcome(ordinal=row.ordinal, outcome=Outcome.FAILED, field=field, code=code, message=message)


@dataclass(frozen=True, slots=True)
class _Prepared:
    row: BulkRow
    holder: tuple[str, str, str]
    face: dict[str, Any]
    digest: str


@dataclass(frozen=True, slots=True)
class _Known:
    id: int
    licence_id: int
    content_sha256: str
    last_run: str
    last_row: int


@dataclass(frozen=True)
class _Context:
    """What every row of a batch shares, checked once per batch."""

    licence_type: LicenceType
    issuer: Department
    seal: Seal
    sealer: SealSigner
    now: datetime


class LicenceImporter:
    """Writes batches of source records as licences of one type, acting as one department."""

    def __init__(self, *, actor: Actor, type_code: str, source_system: str, signer: Signer,
                 seal: SealChoice = DEFAULT_SEAL, clock: Callable[[], datetime] = utcnow) -> None:
        """`seal`: the seal (or the algorithm of the default seal) every batch is sealed with."""
        if not 1 <= len(source_system) <= MAX_SOURCE_SYSTEM or not source_system.isprintable():
            raise InvalidLicenceRequest(f"source system: 1 to {MAX_SOURCE_SYSTEM} printable characters",
                                        field="source_system")
        self.actor = actor
        self.type_code = type_code
        self.source_system = source_system
        self._signer = signer
        self._seal_choice = seal
        self._clock = clock
        self._sealers: dict[tuple[int, str, str], SealSigner] = {}

    def write_batch(self, *, session: Session, rows: Sequence[BulkRow], run_key: str) -> list[RowOutcome]:
        """One outcome per row, in order. Bad rows fail alone; a problem with
        the whole batch (no seal, not an issuer, database) raises."""
        if not rows:
            return []
        write_lock(session=session)
        context = self._context(session=session)
        outcomes: dict[int, RowOutcome] = {}
        prepared = self._prepare_all(rows, context, outcomes)
        known = self._known(session=session, issuer_code=context.issuer.code, keys=[p.row.source_key for p in prepared])
        new: list[_Prepared] = []
        changed: list[tuple[_Prepared, _Known]] = []
        touched: list[dict[str, Any]] = []
        for item in prepared:
            found = known.get(item.row.source_key)
            if found is None:
                new.append(item)
            elif found.last_run == run_key and found.last_row != item.row.row:
                outcomes[item.row.ordinal] = _failed(
                    item.row, "duplicate_key", f"the source key repeats that of row {found.last_row}", "source_key")
            elif found.content_sha256 == item.digest:
                outcomes[item.row.ordinal] = RowOutcome(item.row.ordinal, Outcome.UNCHANGED)
                if (found.last_run, found.last_row) != (run_key, item.row.row):
                    touched.append({"id": found.id, "last_run": run_key, "last_row": item.row.row})
            else:
                changed.append((item, found))
        if new:
            outcomes.update(self._issue(session=session, items=new, context=context, run_key=run_key))
        if changed:
            outcomes.update(self._change(session=session, items=changed, context=context, run_key=run_key))
        if touched:
            session.execute(update(ImportedLicence), touched)
        session.flush()
        return [outcomes[row.ordinal] for row in rows]

    # -- per batch --------------------------------------------------------------------------

    def _context(self, *, session: Session) -> _Context:
        now = self._clock()
        licence_type = licence_types.get_or_raise(session=session, code=self.type_code)
        seal, issuer_code = seal_for_issue(session=session, acting=self.actor.department_code, type_code=licence_type.code,
                                           now=now, choice=self._seal_choice)
        return _Context(licence_type=licence_type, issuer=departments.get_or_raise(session=session, code=issuer_code),
                        seal=seal, sealer=self._sealer(session=session, seal=seal), now=now)

    def _sealer(self, *, session: Session, seal: Seal) -> SealSigner:
        """The seal's signer, its key opened once per run. The checks of
        signing's `sign_record` hold: `seal_for_issue` found the seal active,
        in its validity, covering the type and (acting for another issuer)
        authorized; the share lock makes a concurrent revocation wait for this batch."""
        locked = signing_service.get_seal_or_raise(session=session, es_id=seal.es_id, for_share=True)
        key_row = active_seal_key(locked)
        if key_row is None:
            raise NoUsableSeal(f"seal {seal.es_id} has no active key; rotate it first")
        slot = (key_row.id, seal.es_id, self.actor.department_code)
        sealer = self._sealers.get(slot)
        if sealer is None:
            key = open_key_store(session=session, secret=self._signer.key_secret).private_key(handle=key_row.id)
            sealer = SealSigner(key=key, registry_id=self._signer.registry_id, es_id=seal.es_id,
                                licence_type_code=self.type_code, signer_department_code=self.actor.department_code)
            self._sealers = {slot: sealer}  # one seal per run: drop a rotated key's signer
        return sealer

    def _prepare_all(self, rows: Sequence[BulkRow], context: _Context,
                     outcomes: dict[int, RowOutcome]) -> list[_Prepared]:
        prepared: list[_Prepared] = []
        first_row: dict[str, int] = {}
        today = china_date(context.now)
        for row in rows:
            try:
                item = _prepare(row, licence_type=context.licence_type, today=today)
            except InvalidLicenceRequest as exc:
                outcomes[row.ordinal] = _failed(row, exc.code, str(exc), exc.field)
                continue
            if row.source_key in first_row:
                outcomes[row.ordinal] = _failed(
                    row, "duplicate_key", f"the source key repeats that of row {first_row[row.source_key]}",
                    "source_key")
                continue
            first_row[row.source_key] = row.row
            prepared.append(item)
        return prepared

    def _known(self, *, session: Session, issuer_code: str, keys: list[str]) -> dict[str, _Known]:
        if not keys:
            return {}
        rows = session.execute(
            select(ImportedLicence.source_key, ImportedLicence.id, ImportedLicence.licence_id,
                   ImportedLicence.content_sha256, ImportedLicence.last_run, ImportedLicence.last_row)
            .where(ImportedLicence.issuer_code == issuer_code, ImportedLicence.type_code == self.type_code,
                   ImportedLicence.source_system == self.source_system, ImportedLicence.source_key.in_(keys))
        )
        return {r.source_key: _Known(r.id, r.licence_id, r.content_sha256, r.last_run, r.last_row) for r in rows}

    # -- issuing ----------------------------------------------------------------------------

    def _issue(self, *, session: Session, items: list[_Prepared], context: _Context,
               run_key: str) -> dict[int, RowOutcome]:
        licence_type, issuer, now = context.licence_type, context.issuer, context.now
        issued_on = china_date(now)
        serials = reserve_serials(session=session, type_code=licence_type.code, issuer_code=issuer.code,
                                  count=len(items))
        slots = statuslists.allocate(session=session, registry_id=self._signer.registry_id,
                                     key_secret=self._signer.key_secret, now=now, count=len(items))
        # Type and issuer codes are checked once (with the first serial); the rest are ours, consecutive.
        LicenceIdentifier.for_issue(type_code=licence_type.code, issuer_code=issuer.code, serial=serials[0])
        licences: list[dict[str, Any]] = []  # rows of the licence table, inserted as they are
        for item, serial, (list_id, index) in zip(items, serials, slots, strict=True):
            valid_from, valid_until = validity_period(licence_type=licence_type, issued_on=issued_on,
                                                      valid_from=item.row.valid_from,
                                                      valid_until=item.row.valid_until)
            # A historic licence whose validity has ended is stored as expired, never published as valid.
            status = Licence.status_at_issue(valid_until=valid_until, today=issued_on)
            licences.append({
                "base_identifier": LicenceIdentifier(licence_type.code, issuer.code, serial, 1).base,
                "type_code": licence_type.code, "type_version": licence_type.version, "issuer_code": issuer.code,
                "serial": serial, "holder_name": item.holder[0], "holder_code": item.holder[1],
                "holder_code_type": item.holder[2], "status": status, "current_version": 1,
                "valid_from": valid_from, "valid_until": valid_until, "status_list_id": list_id,
                "status_index": index, "issued_at": now, "updated_at": now,
            })
        # Multi-row inserts, then one indexed read of the new ids: far cheaper
        # than INSERT ... RETURNING rendered as one huge statement per batch.
        insert_many(session=session, table=Licence.__table__, rows=licences)
        bases = [licence["base_identifier"] for licence in licences]
        id_of = dict(session.execute(
            select(Licence.base_identifier, Licence.id).where(Licence.base_identifier.in_(bases))).all())
        ids = [id_of[base] for base in bases]
        versions, events, sources, outcomes = [], [], [], {}
        for licence_id, licence, item in zip(ids, licences, items, strict=True):
            identifier = str(LicenceIdentifier(licence_type.code, issuer.code, licence["serial"], 1))
            versions.append(self._version(licence_id=licence_id, version=1, identifier=identifier, item=item,
                                          valid_from=licence["valid_from"], valid_until=licence["valid_until"],
                                          context=context))
            stored_expired = licence["status"] == LicenceStatus.EXPIRED
            events.append({
                "licence_id": licence_id, "action": "issue", "from_status": None, "to_status": licence["status"],
                "version": 1, "acting_department_code": self.actor.department_code, "client_id": self.actor.client_id,
                "operator": self.actor.operator, "at": now,
                "reason": self._reason() + (f"; validity ended {licence['valid_until'].isoformat()}: stored as expired"
                                            if stored_expired else ""),
            })
            sources.append({
                "issuer_code": issuer.code, "type_code": licence_type.code, "source_system": self.source_system,
                "source_key": item.row.source_key, "licence_id": licence_id, "content_sha256": item.digest,
                "last_run": run_key, "last_row": item.row.row, "created_at": now, "updated_at": now,
            })
            outcomes[item.row.ordinal] = RowOutcome(item.row.ordinal, Outcome.ISSUED, identifier=identifier)
        insert_many(session=session, table=LicenceVersion.__table__, rows=versions)
        insert_many(session=session, table=LicenceEvent.__table__, rows=events)
        insert_many(session=session, table=ImportedLicence.__table__, rows=sources)
        # A fresh entry reads 0 (valid) until set: the batch's expired ones, each list signed once.
        not_valid: dict[int, dict[int, str]] = {}  # status list id -> {index: status}
        for licence in licences:
            if licence["status"] != LicenceStatus.VALID:
                not_valid.setdefault(licence["status_list_id"], {})[licence["status_index"]] = licence["status"]
        for list_id, changes in not_valid.items():
            statuslists.set_statuses(session=session, list_id=list_id, changes=changes,
                                     registry_id=self._signer.registry_id, key_secret=self._signer.key_secret,
                                     now=now)
        return outcomes

    def _version(self, *, licence_id: int, version: int, identifier: str, item: _Prepared, valid_from: date,
                 valid_until: date | None, context: _Context) -> dict[str, Any]:
        record = catalog_record(
            licence_type=context.licence_type, identifier=identifier, version=version, holder=item.holder,
            issuer=context.issuer, issued_on=china_date(context.now), valid_from=valid_from, valid_until=valid_until,
            face=item.face,
        )
        canonical = canonical_json(record)  # SPEC: RFC 8785 — hashed for the seal once, and stored as is
        signature = context.sealer.sign(record, signed_at=context.now, digest=hashlib.sha256(canonical).digest())
        return {
            "licence_id": licence_id, "version": version, "identifier": identifier, "face": item.face,
            "valid_from": valid_from, "valid_until": valid_until, "record": JsonText(canonical.decode()),
            "signature": signature.to_json(), "es_id": context.seal.es_id, "superseded": False,
            "created_at": context.now,
        }

    def _reason(self) -> str:
        return f"归集: aggregated from source system {self.source_system}"

    # -- changing ---------------------------------------------------------------------------

    def _change(self, *, session: Session, items: list[tuple[_Prepared, _Known]], context: _Context,
                run_key: str) -> dict[int, RowOutcome]:
        """New versions for records whose content changed, each licence under
        its row lock (taken in id order, like every multi-licence transition)."""
        ids = sorted({found.licence_id for _item, found in items})
        locked = {
            licence.id: licence
            for licence in session.scalars(select(Licence).where(Licence.id.in_(ids)).order_by(Licence.id)
                                           .with_for_update())
        }
        outcomes = {}
        for item, found in items:
            licence = locked[found.licence_id]
            refusal = _change_refusal(licence, item)
            if refusal is not None:
                outcomes[item.row.ordinal] = _failed(item.row, *refusal)
                continue
            outcomes[item.row.ordinal] = self._new_version(session=session, licence=licence, item=item, context=context)
            session.execute(
                update(ImportedLicence).where(ImportedLicence.id == found.id).values(
                    content_sha256=item.digest, last_run=run_key, last_row=item.row.row, updated_at=context.now)
            )
        return outcomes

    def _new_version(self, *, session: Session, licence: Licence, item: _Prepared, context: _Context) -> RowOutcome:
        licence_type, now = context.licence_type, context.now
        # A validity derived from the issue date stays derived from the original issue date.
        valid_from, valid_until = validity_period(
            licence_type=licence_type, issued_on=china_date(licence.issued_at), valid_from=item.row.valid_from,
            valid_until=item.row.valid_until,
        )
        session.execute(update(LicenceVersion).where(LicenceVersion.licence_id == licence.id).values(superseded=True))
        licence.current_version += 1
        licence.type_version = licence_type.version
        licence.holder_name = item.holder[0]
        licence.valid_from, licence.valid_until = valid_from, valid_until
        licence.updated_at = now
        identifier = str(LicenceIdentifier(licence.type_code, licence.issuer_code, licence.serial,
                                           licence.current_version))
        insert_many(session=session, table=LicenceVersion.__table__, rows=[self._version(
            licence_id=licence.id, version=licence.current_version, identifier=identifier, item=item,
            valid_from=valid_from, valid_until=valid_until, context=context,
        )])
        record_event(session=session, licence=licence, action="change", from_status=licence.status, actor=self.actor, at=now,
                     reason=f"{self._reason()}: the source record changed")
        if licence.valid_until is not None and licence.validity_ended(china_date(now)):  # the changed record's validity has ended
            before, licence.status = licence.status, LicenceStatus.EXPIRED
            statuslists.set_status(session=session, list_id=licence.status_list_id, index=licence.status_index,
                                   status=licence.status, registry_id=self._signer.registry_id,
                                   key_secret=self._signer.key_secret, now=now)
            record_event(session=session, licence=licence, action="expire", from_status=before, actor=self.actor, at=now,
                         reason=f"{self._reason()}: validity ended {licence.valid_until.isoformat()}")
        return RowOutcome(item.row.ordinal, Outcome.CHANGED, identifier=identifier)


def _prepare(row: BulkRow, *, licence_type: LicenceType, today: date) -> _Prepared:
    key = row.source_key
    if not isinstance(key, str) or not 1 <= len(key) <= MAX_SOURCE_KEY or not key.isprintable():
        raise InvalidLicenceRequest(f"source key: 1 to {MAX_SOURCE_KEY} printable characters", field="source_key")
    holder = validate_holder(licence_type=licence_type, name=row.holder_name or "", code=row.holder_code or "",
                             code_type=row.holder_code_type or "")
    face = validate_face(licence_type=licence_type, face=row.face)
    validity_period(licence_type=licence_type, issued_on=today, valid_from=row.valid_from,
                    valid_until=row.valid_until)
    return _Prepared(row=row, holder=holder, face=face, digest=content_digest(
        holder=holder, face=face, valid_from=row.valid_from, valid_until=row.valid_until))


def content_digest(*, holder: tuple[str, str, str], face: dict[str, Any], valid_from: date | None,
                   valid_until: date | None) -> str:
    """What a source record says about its licence. The validity as
    requested, not as derived: a rerun on another day is no change."""
    body = {
        "holder": list(holder), "face": face,
        "valid_from": valid_from.isoformat() if valid_from else None,
        "valid_until": valid_until.isoformat() if valid_until else None,
    }
    canonical = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def _change_refusal(licence: Licence, item: _Prepared) -> tuple[str, str, str | None] | None:
    if licence.status not in _LIVE:
        return ("invalid_transition",
                f"the source record changed, but licence {licence.base_identifier} is {licence.status} "
                "and can no longer change", None)
    if (licence.holder_code, licence.holder_code_type) != item.holder[1:]:
        return ("holder_changed",
                f"the holder code differs from that of licence {licence.base_identifier} issued for this source "
                "key; a licence never changes holder", "holder.code")
    if licence.current_version >= MAX_VERSION:
        return ("invalid_transition", f"licence {licence.base_identifier} has reached version {MAX_VERSION}", None)
    return None


