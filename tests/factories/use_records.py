"""Shared helpers for the authorized-use log tests."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from catalog.access import UseRecord
from exchange.auditlog import LogEntry, insert_pending

DEPT = "11350100MB0000001X"
OTHER_DEPT = "11350100MB0000002Y"
SECRET = b"test-secret-" + b"x" * 40
ORIGIN = "registry.test/authorized-use-log"
HOLDER = "350102199001011234"


def use(session, *, now: datetime | None = None, **overrides) -> LogEntry:
    """One record written straight to the log (no fail-closed check: these
    tests build logs without checkpoints), at ``now``; the row as written."""
    values = {
        "kind": "department_query",
        "department_code": DEPT,
        "operator_id": "clerk-7",
        "basis": "holder_presentation",
        "subject_code": HOLDER,
        "licence_ids": ["1.2.156.3005.2.11100000000013338W001.350100.000001.001.X"],
        "fields": ["姓名", "holder_code"],
        "matter_code": "350100-0001",
        "purpose": "办理营业执照变更",
        "case_number": "CASE-1",
        "request_hash": "ab" * 32,
    }
    values.update(overrides)
    insert_pending(session=session, records=[UseRecord(**values)], now=now or datetime.now(UTC))
    return newest_entry(session)


def newest_entry(session) -> LogEntry:
    """The row this session wrote last."""
    return session.scalars(select(LogEntry).order_by(LogEntry.id.desc()).limit(1)).one()


def at(hour: int, minute: int = 0, day: int = 3) -> datetime:
    """A UTC time on a weekday (2025-03-03 was a Monday)."""
    return datetime(2025, 3, day, hour, minute, tzinfo=UTC)
