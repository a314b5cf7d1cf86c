"""Writing use records: one per access to licence or shared data, one per
denied attempt.

``append_use`` writes the row in the caller's transaction, so the record
commits or rolls back together with the caller's data: if the log cannot be
written, the caller's transaction fails and no data goes out.
The row is a pending ("sequencing") entry; the integrator gives it its
leaf index later (see ``exchange.auditlog.integration``).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import bindparam, insert
from sqlalchemy.orm import Session

from exchange.auditlog.errors import InvalidRecord
from exchange.auditlog.models import LogEntry
from signing.canonical import canonical_json
from signing.errors import InvalidInput
from storage.driver_statements import DriverStatement

RECORD_VERSION = 1
SALT_BYTES = 16
KINDS = frozenset(
    {
        "redemption",  # a holder's 亮证 code redeemed at a counter
        "department_query",
        "layout_download",  # 版式文件
        "annotated_copy_download",  # 加注件
        "holder_access",  # the holder reading their own licence
        "supervision_access",
    }
)
FIXED_BASES = frozenset(
    {"holder_presentation", "unconditional_sharing", "supervision_mandate", "holder_self", "issuer"}
)
RESULTS = frozenset({"granted", "denied"})
MAX_PURPOSE = 200
MAX_LIST = 100
MAX_BATCH_RECORDS = 10_000
# Rows per multi-row INSERT in append_uses: 11 columns each, so 550 bound
# parameters, under SQLite's oldest limit (999) and PostgreSQL's (65,535).
ROWS_PER_STATEMENT = 50
_INSERT_ENTRY = insert(LogEntry.__table__).returning(LogEntry.__table__.c.id)
_INSERT_PENDING = insert(LogEntry.__table__)
# One record (every column but the id), as the exchange query writes it on
# the event loop (storage.driver_statements); inline: no RETURNING of the id.
_INSERT_ONE_ON_THE_DRIVER = DriverStatement(insert(LogEntry.__table__).values(
    {column.name: bindparam(column.name) for column in LogEntry.__table__.c if column.name != "id"}).inline())
_CODE = re.compile(r"[0-9A-Za-z][0-9A-Za-z._:\-]{0,99}")
_DATA_ITEM = re.compile(r"[0-9A-Za-z][0-9A-Za-z._:/\-]{0,99}")
_CONSENT = re.compile(r"consent:[0-9A-Za-z._\-]{1,64}")
_HEX_DIGEST = re.compile(r"[0-9a-f]{64}")
_CONTROL = re.compile(r"[\x00-\x1f]")  # C0 controls: a record is one line of text per field


def append_use(*, session: Session, **fields: Any) -> int:
    """Append one use record to the log in the caller's transaction; the
    new row's id. ``fields`` are ``entry_values``' keyword arguments.

    Raises InvalidRecord for bad input; database errors propagate so the
    caller's unit of work fails with them.
    """
    # A plain INSERT, and no ORM object: the row is written as built and
    # nothing reads it back in the request. An object held by the session
    # would cost every request its construction and the commit's flush a
    # look at it, about 5% of a redemption.
    return session.connection().execute(_INSERT_ENTRY, entry_values(**fields)).scalar_one()


def append_uses(*, session: Session, uses: Sequence[Mapping[str, Any]]) -> int:
    """Append the use records of one request (``entry_values``' keyword
    arguments each) in the caller's transaction; returns how many were written.

    Every record is validated before any is written. Up to
    ``ROWS_PER_STATEMENT`` records go in one multi-row INSERT, which is
    atomic on its own: a caller whose connection commits each statement by
    itself (the exchange query, see ``certhub.db.create_query_engine``)
    still writes all of its records or none, with one round trip.
    """
    rows = []
    for position, use in enumerate(uses):
        try:
            rows.append(entry_values(**use))
        except InvalidRecord as error:
            raise InvalidRecord(f"record {position}: {error}") from None
        except TypeError:
            raise InvalidRecord(f"record {position} has unknown or missing fields") from None
    connection = session.connection()
    for start in range(0, len(rows), ROWS_PER_STATEMENT):
        chunk = rows[start:start + ROWS_PER_STATEMENT]
        if len(chunk) == 1:  # the common case: one compiled, cached statement
            if _INSERT_ONE_ON_THE_DRIVER.execute(connection, chunk[0]) is None:
                connection.execute(_INSERT_PENDING, chunk[0])
        else:
            connection.execute(_INSERT_PENDING.values(chunk))
    return len(rows)


def record_use(*, session: Session, **fields: Any) -> LogEntry:
    """``append_use``, and the row as the session then sees it (for callers
    that read the record back)."""
    return session.get(LogEntry, append_use(session=session, **fields))


def record_uses(*, session: Session, uses: Sequence[Mapping[str, Any]]) -> int:
    """Append several use records (e.g. one batch query about many holders)
    in the caller's transaction; returns how many were written.

    ``append_uses`` with a bound on the count: every record is validated
    before any is written, so a bad one writes none.
    """
    if isinstance(uses, Mapping) or not 1 <= len(uses) <= MAX_BATCH_RECORDS:
        raise InvalidRecord(f"uses must be a list of 1..{MAX_BATCH_RECORDS} records")
    return append_uses(session=session, uses=uses)


def entry_values(
    *,
    kind: str,
    department_code: str,
    operator_id: str,
    basis: str,
    result: str = "granted",
    reason_code: str | None = None,
    subject_code: str | None = None,
    licence_ids: Sequence[str] = (),
    data_items: Sequence[str] = (),
    fields: Sequence[str] = (),
    matter_code: str | None = None,
    purpose: str | None = None,
    case_number: str | None = None,
    request_hash: str | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The column values of a validated pending row; its ``entry`` is the leaf."""
    when = now or datetime.now(timezone.utc)
    record = build_record(
        kind=kind,
        department_code=department_code,
        operator_id=operator_id,
        basis=basis,
        result=result,
        reason_code=reason_code,
        subject_code=subject_code,
        licence_ids=licence_ids,
        data_items=data_items,
        fields=fields,
        matter_code=matter_code,
        purpose=purpose,
        case_number=case_number,
        request_hash=request_hash,
        now=when,
        salt=os.urandom(SALT_BYTES),
    )
    try:
        entry_bytes = canonical_json(record)
    except InvalidInput as error:
        raise InvalidRecord(str(error)) from None
    return dict(
        leaf_index=None,
        # The instant the record's "time" names (validated as timezone-aware above).
        recorded_at=when.astimezone(timezone.utc),
        kind=kind,
        department_code=department_code,
        operator_id=operator_id,
        subject_code=subject_code,
        matter_code=matter_code,
        basis=basis,
        result=result,
        reason_code=reason_code,
        entry=entry_bytes,
    )


def build_record(
    *,
    kind: str,
    department_code: str,
    operator_id: str,
    basis: str,
    result: str,
    reason_code: str | None,
    subject_code: str | None,
    licence_ids: Sequence[str],
    data_items: Sequence[str],
    fields: Sequence[str],
    matter_code: str | None,
    purpose: str | None,
    case_number: str | None,
    request_hash: str | None,
    now: datetime | None,
    salt: bytes,
) -> dict:
    """Validate the inputs and return the record as a JSON-ready dict."""
    _check_choice("kind", kind, KINDS)
    _check_choice("result", result, RESULTS)
    if basis not in FIXED_BASES and not _CONSENT.fullmatch(str(basis)):
        raise InvalidRecord(f"basis must be one of {sorted(FIXED_BASES)} or consent:<id>")
    _check_code("department_code", department_code, max_len=18)
    _check_code("operator_id", operator_id, max_len=64)
    for name, value, limit in (
        ("subject_code", subject_code, 32),
        ("matter_code", matter_code, 64),
        ("reason_code", reason_code, 64),
    ):
        if value is not None:
            _check_code(name, value, max_len=limit)
    lists = {name: _check_list(name, value) for name, value in
             (("licence_ids", licence_ids), ("data_items", data_items), ("fields", fields))}
    if result == "denied":
        if reason_code is None:
            raise InvalidRecord("a denied attempt needs a reason_code")
        # A denied attempt disclosed nothing; recording "fields" would mislead.
        if lists["fields"]:
            raise InvalidRecord("a denied attempt discloses no fields")
    else:
        if reason_code is not None:
            raise InvalidRecord("reason_code is only for denied attempts")
        # SPEC: domain rule — purpose (用证事由) is mandatory on every access.
        if not purpose or not purpose.strip():
            raise InvalidRecord("purpose is required for a granted access")
    if purpose is not None:
        _check_text("purpose", purpose, MAX_PURPOSE)
    if case_number is not None:
        _check_text("case_number", case_number, 64)
    if request_hash is not None and not _HEX_DIGEST.fullmatch(request_hash):
        raise InvalidRecord("request_hash must be a lowercase hex SHA-256 digest")
    if len(salt) != SALT_BYTES:
        raise InvalidRecord("salt must be 16 bytes")
    when = now or datetime.now(timezone.utc)
    if when.tzinfo is None:
        raise InvalidRecord("now must be timezone-aware")
    return {
        "v": RECORD_VERSION,
        # The salt makes every leaf hash unguessable even where the fields
        # themselves are low-entropy (a holder code plus a day).
        "salt": salt.hex(),
        "time": _format_time(when),
        "kind": kind,
        "department": department_code,
        "operator": operator_id,
        "subject": subject_code,
        "licence_ids": lists["licence_ids"],
        "data_items": lists["data_items"],
        "fields": lists["fields"],
        "matter": matter_code,
        "purpose": purpose,
        "case_number": case_number,
        "basis": basis,
        "result": result,
        "reason": reason_code,
        "request_hash": request_hash,
    }


def parse_entry(entry: bytes) -> dict:
    """The record stored in a leaf; the entry bytes are canonical JSON."""
    return json.loads(entry.decode("utf-8"))


def _format_time(when: datetime) -> str:
    return when.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _check_choice(name: str, value: str, allowed: frozenset[str]) -> None:
    if value not in allowed:
        raise InvalidRecord(f"{name} must be one of {sorted(allowed)}")


def _check_code(name: str, value: object, *, max_len: int) -> None:
    if not isinstance(value, str) or len(value) > max_len or not _CODE.fullmatch(value):
        raise InvalidRecord(f"{name} must be a code of 1..{max_len} letters, digits or ._:-")


def _check_text(name: str, value: object, limit: int) -> None:
    if not isinstance(value, str) or len(value) > limit:
        raise InvalidRecord(f"{name} must be text of at most {limit} characters")
    if _CONTROL.search(value):
        raise InvalidRecord(f"{name} must not contain control characters")


def _check_list(name: str, values: Sequence[str]) -> list[str]:
    if isinstance(values, str) or len(values) > MAX_LIST:
        raise InvalidRecord(f"{name} must be a list of at most {MAX_LIST} codes")
    for value in values:
        # Field names come from catalog schemas and may be Chinese; codes may not.
        if name == "fields":
            _check_text(name, value, 64)
        elif name == "data_items":
            # SPEC: GB/T 21063.4 resource codes carry a '/' ("102/000001").
            if not isinstance(value, str) or len(value) > 100 or not _DATA_ITEM.fullmatch(value):
                raise InvalidRecord("data_items must be codes of letters, digits, '/' or ._:-")
        else:
            _check_code(name, value, max_len=100)
    return list(values)
