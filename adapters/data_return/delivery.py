"""Deliver an approved ticket: the city's slice the first time, only the
changes afterwards; each delivery is logged with its row count and checksum.

Deliveries are at least once: the target is written before certhub's
transaction commits, so a failed commit means the next delivery repeats
those rows (SQL targets replace rows by key, so a repeat is harmless)."""

from __future__ import annotations

import hashlib
import logging
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from adapters.data_return import targets
from adapters.data_return.slicing import canonical_line, changes_since
from adapters.data_return.tickets import APPROVED, DELIVERED, DELIVERING, lock, transition
from adapters.errors import IllegalTransition, InvalidTicket, NotPermitted
from adapters.models import ReturnDelivery
from adapters.sources.registry import BindingRegistry
from catalog.service import data_items

log = logging.getLogger("certhub.adapters.data_return")


def deliver(
    *, session: Session, registry: BindingRegistry, ticket_id: int, actor_department: str | None, now: datetime
) -> ReturnDelivery:
    """`actor_department` is the data bureau calling through the API, or None
    for a scheduled job acting on the bureau's approval."""
    ticket = lock(session=session, ticket_id=ticket_id)
    if actor_department is not None and actor_department != ticket.bureau_code:
        raise NotPermitted("only the data bureau triggers deliveries")
    if ticket.status not in {APPROVED, DELIVERED}:
        raise IllegalTransition(f"ticket {ticket.id} is {ticket.status}; only approved tickets are delivered")
    transition(ticket, DELIVERING, now=now)

    item = data_items.get_or_raise(session=session, code=ticket.dataset_code)
    source = registry.sql_source(item.adapter_name or "")
    dataset = source.binding.dataset
    if dataset is None:
        raise InvalidTicket(f"dataset {ticket.dataset_code} has no SQL dataset binding to slice")
    previous = _last_delivery(session=session, ticket_id=ticket.id)
    changes = changes_since(
        session=session, ticket_id=ticket.id, source=source, dataset=dataset,
        region=ticket.region_code, watermark=previous.watermark if previous else None,
    )
    sequence = previous.sequence + 1 if previous else 1
    location = None
    if changes.rows:
        location = targets.write(
            registry.target(ticket.target_name), rows=changes.rows, columns=dataset.columns,
            key_column=dataset.key_column, file_stem=f"ticket-{ticket.id}-{sequence:06d}", environ=registry.environ,
        )
    record = ReturnDelivery(
        ticket_id=ticket.id, sequence=sequence, rows_sent=len(changes.rows),
        checksum="sha256:" + hashlib.sha256(b"".join(canonical_line(r) for r in changes.rows)).hexdigest(),
        watermark=changes.watermark, location=location, delivered_at=now,
    )
    session.add(record)
    transition(ticket, DELIVERED, now=now)
    session.flush()
    log.info("data return delivered: ticket=%s sequence=%s rows=%s", ticket.id, sequence, len(changes.rows))
    return record


def _last_delivery(*, session: Session, ticket_id: int) -> ReturnDelivery | None:
    query = (
        select(ReturnDelivery)
        .where(ReturnDelivery.ticket_id == ticket_id)
        .order_by(ReturnDelivery.sequence.desc())
        .limit(1)
    )
    return session.scalar(query)
