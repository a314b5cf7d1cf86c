"""The licence history table: one event per transition."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from registry.models import Licence, LicenceEvent
from registry.service.authority import Actor


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
