"""Data-return tickets (数据回流, 003-#1): a city asks for its slice of a
provincial dataset, the provider confirms or refuses with a legal basis,
the data bureau approves or rejects; only approved tickets are delivered.

    requested -> provider_confirmed | refused
    provider_confirmed -> approved | rejected
    approved | delivered -> delivering -> delivered
    approved | delivered -> closed

Every transition takes the ticket's row lock, so two decisions (or two
deliveries) never race."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from adapters.errors import AdapterConfigError, IllegalTransition, InvalidTicket, NotPermitted, TicketNotFound
from adapters.models import ReturnDelivery, ReturnTicket
from adapters.sources.registry import BindingRegistry
from catalog.codes import region_level
from catalog.service import data_items, departments

REQUESTED, PROVIDER_CONFIRMED, REFUSED = "requested", "provider_confirmed", "refused"
APPROVED, REJECTED = "approved", "rejected"
DELIVERING, DELIVERED, CLOSED = "delivering", "delivered", "closed"

TRANSITIONS: dict[str, frozenset[str]] = {
    REQUESTED: frozenset({PROVIDER_CONFIRMED, REFUSED}),
    PROVIDER_CONFIRMED: frozenset({APPROVED, REJECTED}),
    APPROVED: frozenset({DELIVERING, CLOSED}),
    DELIVERING: frozenset({DELIVERED}),
    DELIVERED: frozenset({DELIVERING, CLOSED}),
    REFUSED: frozenset(),
    REJECTED: frozenset(),
    CLOSED: frozenset(),
}

_MAX_TEXT = 2000


def request(
    *, session: Session, registry: BindingRegistry, requester_code: str, dataset_code: str,
    purpose: str, target_name: str, now: datetime,
) -> ReturnTicket:
    """A city-level department asks for its slice of `dataset_code`."""
    requester = departments.get(session=session, code=requester_code)
    if requester is None or requester.level != "city" or region_level(requester.region_code) != "city":
        raise InvalidTicket("data return is requested by a city-level department")
    item = data_items.get(session=session, code=dataset_code)
    if item is None:
        raise InvalidTicket(f"dataset {dataset_code} is not in the catalog")
    if item.sharing_attribute == "not_shared":
        raise InvalidTicket(f"dataset {dataset_code} is not shared (不予共享)")
    if item.adapter_kind != "sql" or item.adapter_name is None \
            or registry.sql_source(item.adapter_name).binding.dataset is None:
        raise InvalidTicket(f"dataset {dataset_code} has no SQL dataset binding to slice")
    if registry.target(target_name).department != requester_code:
        raise NotPermitted(f"return target {target_name} does not belong to the requesting department")
    bureau = registry.data_bureau
    if bureau is None or departments.get(session=session, code=bureau) is None:
        raise AdapterConfigError("no data bureau is configured (data_bureau in the bindings file)")
    ticket = ReturnTicket(
        dataset_code=dataset_code, requester_code=requester_code, region_code=requester.region_code,
        provider_code=item.provider_code, bureau_code=bureau, purpose=_text(purpose, what="purpose"),
        target_name=target_name, status=REQUESTED, created_at=now, updated_at=now,
    )
    session.add(ticket)
    session.flush()
    return ticket


def decide_as_provider(
    *, session: Session, ticket_id: int, actor_department: str, confirm: bool, legal_basis: str, now: datetime
) -> ReturnTicket:
    ticket = lock(session=session, ticket_id=ticket_id)
    if actor_department != ticket.provider_code:
        raise NotPermitted("only the dataset's provider decides on this ticket")
    ticket.legal_basis = _text(legal_basis, what="legal basis")
    transition(ticket, PROVIDER_CONFIRMED if confirm else REFUSED, now=now)
    ticket.provider_decided_at = now
    return ticket


def decide_as_bureau(
    *, session: Session, ticket_id: int, actor_department: str, approve: bool, note: str | None, now: datetime
) -> ReturnTicket:
    ticket = lock(session=session, ticket_id=ticket_id)
    if actor_department != ticket.bureau_code:
        raise NotPermitted("only the data bureau approves data return")
    ticket.bureau_note = None if note is None else _text(note, what="note")
    transition(ticket, APPROVED if approve else REJECTED, now=now)
    ticket.bureau_decided_at = now
    return ticket


def close(*, session: Session, ticket_id: int, actor_department: str, now: datetime) -> ReturnTicket:
    ticket = lock(session=session, ticket_id=ticket_id)
    if actor_department not in {ticket.requester_code, ticket.bureau_code}:
        raise NotPermitted("only the requesting city or the data bureau closes a ticket")
    transition(ticket, CLOSED, now=now)
    return ticket


def transition(ticket: ReturnTicket, to: str, *, now: datetime) -> None:
    if to not in TRANSITIONS[ticket.status]:
        raise IllegalTransition(f"ticket {ticket.id} is {ticket.status}; it cannot become {to}")
    ticket.status = to
    ticket.updated_at = now


def lock(*, session: Session, ticket_id: int) -> ReturnTicket:
    ticket = session.get(ReturnTicket, ticket_id, with_for_update=True, populate_existing=True)
    if ticket is None:
        raise TicketNotFound(f"data-return ticket {ticket_id} not found")
    return ticket


def get_visible(*, session: Session, ticket_id: int, department: str) -> ReturnTicket:
    """The ticket, if `department` takes part in it (others learn nothing, not even that it exists)."""
    ticket = session.get(ReturnTicket, ticket_id)
    if ticket is None or department not in _parties(ticket):
        raise TicketNotFound(f"data-return ticket {ticket_id} not found")
    return ticket


def list_visible(*, session: Session, department: str, limit: int = 200) -> list[ReturnTicket]:
    query = (
        select(ReturnTicket)
        .where(
            or_(
                ReturnTicket.requester_code == department,
                ReturnTicket.provider_code == department,
                ReturnTicket.bureau_code == department,
            )
        )
        .order_by(ReturnTicket.id.desc())
        .limit(limit)
    )
    return list(session.scalars(query))


def deliveries(*, session: Session, ticket_id: int) -> list[ReturnDelivery]:
    query = select(ReturnDelivery).where(ReturnDelivery.ticket_id == ticket_id).order_by(ReturnDelivery.sequence)
    return list(session.scalars(query))


def _parties(ticket: ReturnTicket) -> set[str]:
    return {ticket.requester_code, ticket.provider_code, ticket.bureau_code}


def _text(value: str, *, what: str) -> str:
    value = (value or "").strip()
    if not value or len(value) > _MAX_TEXT:
        raise InvalidTicket(f"{what} must be 1 to {_MAX_TEXT} characters")
    return value
