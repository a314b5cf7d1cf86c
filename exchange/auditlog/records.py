"""Writing use records: one per access to licence or shared data, one per
denied attempt.

``insert_pending`` writes the rows in the caller's transaction, so the
records commit or roll back together with the caller's data: if the log
cannot be written, the caller's transaction fails and no data goes out.
Each row is a pending ("sequencing") entry; the integrator gives it its
leaf index later (see ``exchange.auditlog.integration``). Producers do not
call it: they append through the app's ``catalog.access.UseLog``
(``exchange.auditlog.recorder.UseRecorder``), which checks first that the
log may serve.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import bindparam, insert
from sqlalchemy.orm import Session

from catalog.access import InvalidUseRecord, UseRecord
from exchange.auditlog.models import LogEntry
from signing.canonical import canonical_json
from signing.commitments import SCHEME as ANSWER_SCHEME
from signing.errors import InvalidInput
from storage.driver_statements import DriverStatement

# Entry format versions, each valid forever, old entries read as written:
# 1, the use record; 2 adds "embargo_until" (the UTC instant a covert use
# becomes visible to its subject, or null) and, when the use disclosed an
# answer, "answer": the digests of what went out (exchange.auditlog.answers).
RECORD_VERSION = 2
SALT_BYTES = 16
MAX_BATCH_RECORDS = 10_000
REQUEST_ID_LENGTH = 64
# Rows per multi-row INSERT: 13 columns each, so 650 bound parameters,
# under SQLite's oldest limit (999) and PostgreSQL's (65,535).
ROWS_PER_STATEMENT = 50
_INSERT_PENDING = insert(LogEntry.__table__)
_encode_disclosed = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode
# One record (every column but the id), as the exchange query writes it on
# the event loop (storage.driver_statements); inline: no RETURNING of the id.
_INSERT_ONE_ON_THE_DRIVER = DriverStatement(insert(LogEntry.__table__).values(
    {column.name: bindparam(column.name) for column in LogEntry.__table__.c if column.name != "id"}).inline())


def insert_pending(*, session: Session, records: Sequence[UseRecord], now: datetime,
                   request_id: str | None = None) -> int:
    """Append ``records`` (1 to ``MAX_BATCH_RECORDS``, e.g. one batch query
    about many holders), recorded at ``now``, in the caller's transaction;
    the count.

    Every record is turned into its row before any is written, so one that
    cannot be written writes none. Up to ``ROWS_PER_STATEMENT`` records go
    in one multi-row INSERT, which is atomic on its own: a caller whose
    connection commits each statement by itself (the exchange query, see
    ``certhub.db.create_query_engine``) still writes all of its records or
    none, with one round trip. Database errors propagate so the caller's
    unit of work fails with them.

    ``request_id`` (the HTTP request that made the records) is kept beside
    each row, outside the signed entry.
    """
    if isinstance(records, UseRecord) or not 1 <= len(records) <= MAX_BATCH_RECORDS:
        raise InvalidUseRecord(f"records must be a list of 1..{MAX_BATCH_RECORDS} use records")
    # A plain INSERT, and no ORM object: the row is written as built and
    # nothing reads it back in the request. An object held by the session
    # would cost every request its construction and the commit's flush a
    # look at it, about 5% of a redemption.
    if request_id is not None and not 1 <= len(request_id) <= REQUEST_ID_LENGTH:
        raise InvalidUseRecord(f"request_id must be 1..{REQUEST_ID_LENGTH} characters")
    rows = [_row(record, now=now, position=position, request_id=request_id) for position, record in enumerate(records)]
    connection = session.connection()
    for start in range(0, len(rows), ROWS_PER_STATEMENT):
        chunk = rows[start:start + ROWS_PER_STATEMENT]
        if len(chunk) == 1:  # the common case: one compiled, cached statement
            _INSERT_ONE_ON_THE_DRIVER.execute(connection, chunk[0])
        else:
            connection.execute(_INSERT_PENDING.values(chunk))
    return len(rows)


def _row(record: UseRecord, *, now: datetime, position: int, request_id: str | None) -> dict[str, Any]:
    """The column values of a pending row; its ``entry`` is the leaf."""
    if not isinstance(record, UseRecord):
        raise InvalidUseRecord(f"record {position} is not a UseRecord")
    try:
        entry_bytes = canonical_json(leaf_record(record, now=now, salt=os.urandom(SALT_BYTES)))
    except InvalidInput as error:
        raise InvalidUseRecord(f"record {position}: {error}") from None
    return {
        "leaf_index": None,
        # The instant the record's "time" names (checked as timezone-aware there).
        "recorded_at": now.astimezone(UTC),
        "kind": record.kind,
        "department_code": record.department_code,
        "operator_id": record.operator_id,
        "subject_code": record.subject_code,
        "matter_code": record.matter_code,
        "basis": record.basis,
        "result": record.result,
        "reason_code": record.reason_code,
        "entry": entry_bytes,
        "request_id": request_id,
        "disclosed": None if record.answer is None else _disclosed(record, position=position),
    }


def _disclosed(record: UseRecord, *, position: int) -> bytes:
    """The values and salts the entry's digests commit to, kept beside it (never in it).

    Plain compact JSON, not canonical: whoever checks them parses them and
    recomputes each digest's canonical bytes (exchange.auditlog.answers), and
    the producer already canonicalised every value once to commit to it."""
    assert record.answer is not None
    try:
        return _encode_disclosed({"salts": record.answer.salts, "values": record.answer.values}).encode("utf-8")
    except (TypeError, ValueError) as error:
        raise InvalidUseRecord(f"record {position}: answer: {error}") from None


def leaf_record(record: UseRecord, *, now: datetime, salt: bytes) -> dict:
    """The record as the log's leaf holds it, a JSON-ready dict (its canonical
    JSON is the entry): the use record, its time and its salt."""
    if len(salt) != SALT_BYTES:
        raise InvalidUseRecord("salt must be 16 bytes")
    if now.tzinfo is None:
        raise InvalidUseRecord("now must be timezone-aware")
    leaf = {
        "v": RECORD_VERSION,
        # The salt makes every leaf hash unguessable even where the fields
        # themselves are low-entropy (a holder code plus a day).
        "salt": salt.hex(),
        "time": _format_time(now),
        "kind": record.kind,
        "department": record.department_code,
        "operator": record.operator_id,
        "subject": record.subject_code,
        "licence_ids": list(record.licence_ids),
        "data_items": list(record.data_items),
        "fields": list(record.fields),
        "matter": record.matter_code,
        "purpose": record.purpose,
        "case_number": record.case_number,
        "basis": record.basis,
        "result": record.result,
        "reason": record.reason_code,
        "request_hash": record.request_hash,
        "embargo_until": None if record.embargo_until is None else _format_time(record.embargo_until),
    }
    if record.answer is not None:
        # The digests only: salts and values stay out of the log (exchange.auditlog.answers).
        leaf["answer"] = {"scheme": ANSWER_SCHEME, "digests": list(record.answer.digests)}
    return leaf


def parse_entry(entry: bytes) -> dict:
    """The record stored in a leaf; the entry bytes are canonical JSON."""
    return json.loads(entry.decode("utf-8"))


def embargo_end(record: dict) -> datetime | None:
    """When a parsed record stops being hidden from its subject (v2), or None."""
    text = record.get("embargo_until")
    return None if text is None else datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


def _format_time(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
