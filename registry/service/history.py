"""The licence history table and the SQLite write gate every transition opens with."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import text
from sqlalchemy.orm import Session

from registry.models import Licence, LicenceEvent
from registry.service.authority import Actor


def write_gate(*, session: Session) -> None:
    """Take the database write lock first on SQLite.

    SQLite has no row locks: a transaction that read first and writes later
    fails at once with "database is locked" when another writer committed in
    between (WAL snapshot). Writing first makes concurrent units of work wait
    their turn (busy_timeout) instead. PostgreSQL uses row locks instead.
    """
    if session.get_bind().dialect.name == "sqlite":
        session.execute(text("UPDATE registry_serial_counters SET last_serial = last_serial WHERE 1 = 0"))


def record_event(
    *,
    session: Session,
    licence: Licence,
    action: str,
    from_status: str | None,
    actor: Actor | None,
    at: datetime,
    reason: str | None = None,
) -> LicenceEvent:
    event = LicenceEvent(
        licence_id=licence.id,
        action=action,
        from_status=from_status,
        to_status=licence.status,
        version=licence.current_version,
        acting_department_code=actor.department_code if actor else None,
        client_id=actor.client_id if actor else None,
        operator=actor.operator if actor else None,
        reason=reason,
        at=at,
    )
    session.add(event)
    return event
