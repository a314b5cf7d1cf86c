"""Use notices: the uses of a holder's data made by others since a cursor,
read from the log's entries (the signed records themselves), oldest first.
The holder's own views (basis holder_self) are not news to them, and a use
under a covert mandate's embargo is not theirs to read until it ends (the
record's "embargo_until", where the log's records carry one)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from exchange.auditlog.models import LogEntry
from exchange.auditlog.records import parse_entry

MAX_NOTICES = 20
_SCAN = 100  # entries looked at per call: the holder's own views and embargoed uses are passed over
HOLDER_SELF = "holder_self"
_NOTICE_KEYS = ("time", "kind", "department", "result", "licence_ids", "data_items", "matter", "purpose")


def use_notices(*, session: Session, subject_code: str, after: int | None, now: datetime,
                limit: int = MAX_NOTICES) -> tuple[int, list[dict]]:
    """(the next cursor, the notices). Without a cursor: where the log is now
    and nothing else, so a wallet opened for the first time is not told of
    every past use at once (those are in the use records)."""
    if after is None:
        latest = session.scalar(select(func.max(LogEntry.id)).where(LogEntry.subject_code == subject_code))
        return int(latest or 0), []
    rows = session.execute(
        select(LogEntry.id, LogEntry.basis, LogEntry.entry)
        .where(LogEntry.subject_code == subject_code, LogEntry.id > after).order_by(LogEntry.id).limit(_SCAN)).all()
    cursor = after
    notices: list[dict] = []
    for entry_id, basis, entry in rows:
        if len(notices) >= max(1, min(limit, MAX_NOTICES)):
            break
        cursor = int(entry_id)
        notice = notice_of(basis=basis, entry=entry, now=now)
        if notice is not None:
            notices.append(notice)
    return cursor, notices


def notice_of(*, basis: str, entry: bytes, now: datetime) -> dict | None:
    """What the holder is told of one log entry about them, or None when it
    is not news to them (their own view) or not yet theirs to read (under
    embargo). The polled feed and Web Push (exchange.webpush) both ask this."""
    if basis == HOLDER_SELF:
        return None
    record = parse_entry(entry)
    if _embargoed(record, now=now):
        return None
    return {key: record.get(key) for key in _NOTICE_KEYS}


def _embargoed(record: dict, *, now: datetime) -> bool:
    until = record.get("embargo_until")
    if until is None:
        return False
    try:
        end = datetime.strptime(str(until), "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    except ValueError:
        return True  # unreadable: withheld rather than shown (fail closed)
    return now < end
