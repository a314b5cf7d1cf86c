"""HTTP API for data-return tickets (数据回流). Translates HTTP to the
service functions; the caller's department comes from its access token."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from adapters.data_return import delivery, tickets
from adapters.deps import BindingsDep
from adapters.schemas import BureauDecision, DeliveryRead, ProviderDecision, TicketCreate, TicketRead
from identity.deps import require_scopes
from identity.tokens import Principal
from storage.base import utcnow
from storage.params import RowId
from storage.sessions import SessionDep

data_return_router = APIRouter(prefix="/api/v1/data-return/tickets", tags=["data return"])

Requester = Annotated[Principal, Depends(require_scopes("exchange:query"))]
Provider = Annotated[Principal, Depends(require_scopes("exchange:provide"))]
Bureau = Annotated[Principal, Depends(require_scopes("catalog:admin"))]
Anyone = Annotated[Principal, Depends(require_scopes())]
# FastAPI solves dependencies in the order of the parameters: the caller comes
# before the bindings, so an unauthenticated call is told 401, not the
# deployment's missing configuration (503).


@data_return_router.post("", response_model=TicketRead, status_code=201)
def create_ticket(body: TicketCreate, caller: Requester, session: SessionDep, registry: BindingsDep):
    return tickets.request(
        session=session, registry=registry, requester_code=caller.department_code,
        dataset_code=body.dataset, purpose=body.purpose, target_name=body.target, now=utcnow(),
    )


@data_return_router.get("", response_model=list[TicketRead])
def list_tickets(session: SessionDep, caller: Anyone):
    return tickets.list_visible(session=session, department=caller.department_code)


@data_return_router.get("/{ticket_id}", response_model=TicketRead)
def get_ticket(ticket_id: RowId, session: SessionDep, caller: Anyone):
    return tickets.get_visible(session=session, ticket_id=ticket_id, department=caller.department_code)


@data_return_router.post("/{ticket_id}/provider-decision", response_model=TicketRead)
def provider_decision(ticket_id: RowId, body: ProviderDecision, session: SessionDep, caller: Provider):
    return tickets.decide_as_provider(
        session=session, ticket_id=ticket_id, actor_department=caller.department_code,
        confirm=body.decision == "confirm", legal_basis=body.legal_basis, now=utcnow(),
    )


@data_return_router.post("/{ticket_id}/bureau-decision", response_model=TicketRead)
def bureau_decision(ticket_id: RowId, body: BureauDecision, session: SessionDep, caller: Bureau):
    return tickets.decide_as_bureau(
        session=session, ticket_id=ticket_id, actor_department=caller.department_code,
        approve=body.decision == "approve", note=body.note, now=utcnow(),
    )


@data_return_router.post("/{ticket_id}/close", response_model=TicketRead)
def close_ticket(ticket_id: RowId, session: SessionDep, caller: Anyone):
    return tickets.close(session=session, ticket_id=ticket_id, actor_department=caller.department_code, now=utcnow())


@data_return_router.post("/{ticket_id}/deliveries", response_model=DeliveryRead, status_code=201)
def deliver(ticket_id: RowId, caller: Bureau, session: SessionDep, registry: BindingsDep):
    return delivery.deliver(
        session=session, registry=registry, ticket_id=ticket_id,
        actor_department=caller.department_code, now=utcnow(),
    )


@data_return_router.get("/{ticket_id}/deliveries", response_model=list[DeliveryRead])
def list_deliveries(ticket_id: RowId, session: SessionDep, caller: Anyone):
    ticket = tickets.get_visible(session=session, ticket_id=ticket_id, department=caller.department_code)
    return tickets.deliveries(session=session, ticket_id=ticket.id)
