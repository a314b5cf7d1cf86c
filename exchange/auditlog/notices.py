"""Use notices: the uses of a holder's data made by others since a cursor,
read from the log's entries (the signed records themselves), oldest first.
The holder's own views (basis holder_self) are not news to them."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from exchange.auditlog.models import LogEntry
from exchange.auditlog.records import parse_entry

MAX_NOTICES = 20
HOLDER_SELF = "holder_self"


def use_notices(*, session: Session, subject_code: str, after: int | None,
                limit: int = MAX_NOTICES) -> tuple[int, list[dict]]:
    """(the next cursor, the notices). Without a cursor: where the log is now
    and nothing else, so a wallet opened for the first time is not told of
    every past use at once (those are in the use records)."""
    if after is None:
        latest = session.scalar(select(func.max(LogEntry.id)).where(LogEntry.subject_code == subject_code))
        return int(latest or 0), []
    rows = list(session.scalars(
        select(LogEntry).where(LogEntry.subject_code == subject_code, LogEntry.id > after,
                               LogEntry.basis != HOLDER_SELF)
        .order_by(LogEntry.id).limit(max(1, min(limit, MAX_NOTICES)))))
    if not rows:
        # Skip past the holder's own views too, so the next poll starts after them.
        latest = session.scalar(select(func.max(LogEntry.id)).where(LogEntry.subject_code == subject_code,
                                                                    LogEntry.id > after))
        return int(latest or after), []
    notices = []
    for row in rows:
        record = parse_entry(row.entry)
        notices.append({key: record.get(key) for key in (
            "time", "kind", "department", "result", "licence_ids", "data_items", "matter", "purpose")})
    return int(rows[-1].id), notices
