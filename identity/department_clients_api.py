"""HTTP API of a department's own API clients (scope ``clients:manage``):
list them, rotate a secret, disable one. The department is always the
caller's; a client of another department answers 404, as if there were none.

A new secret is in the answer once, never stored (only its hash), never
logged, and the answer is not to be cached (``Cache-Control: no-store``,
as for the token endpoint: RFC 6749 §5.1).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Response
from pydantic import BaseModel, Field

from identity import clients
from identity.deps import require_scopes
from identity.models import ApiClient
from identity.tokens import Principal
from storage.sessions import SessionDep

router = APIRouter(prefix="/api/v1/clients", tags=["auth"])

ClientManager = Annotated[Principal, Depends(require_scopes("clients:manage"))]
ClientId = Annotated[str, Path(min_length=1, max_length=64)]


class DepartmentClientRead(BaseModel):
    client_id: str
    name: str
    scopes: list[str]
    active: bool
    auth_method: str = Field(description="client_secret or private_key_jwt")
    created_at: datetime
    last_used_at: datetime | None


class DepartmentClientSecret(DepartmentClientRead):
    client_secret: str = Field(description="the new secret; shown only now, only its hash is kept")


def _read(client: ApiClient) -> DepartmentClientRead:
    return DepartmentClientRead(client_id=client.client_id, name=client.name, scopes=list(client.scopes),
                                active=client.active, auth_method=client.auth_method, created_at=client.created_at,
                                last_used_at=client.last_used_at)


@router.get("", response_model=list[DepartmentClientRead])
def list_department_clients(session: SessionDep, principal: ClientManager) -> list[DepartmentClientRead]:
    """The caller's department's API clients (never a secret)."""
    return [_read(c) for c in clients.list_(session=session, department_code=principal.department_code)]


@router.post("/{client_id}/secret", response_model=DepartmentClientSecret)
def rotate_department_client_secret(client_id: ClientId, session: SessionDep, principal: ClientManager,
                                    response: Response) -> DepartmentClientSecret:
    """A new secret for one of the department's secret clients; the old one stops working at once."""
    client, secret = clients.rotate_secret(session=session, client_id=client_id,
                                           department_code=principal.department_code)
    response.headers["Cache-Control"] = "no-store"
    return DepartmentClientSecret(**_read(client).model_dump(), client_secret=secret)


@router.post("/{client_id}/disable", response_model=DepartmentClientRead)
def disable_department_client(client_id: ClientId, session: SessionDep, principal: ClientManager) -> DepartmentClientRead:
    """Disable one of the department's clients for good: no more tokens, and those it holds stop counting."""
    return _read(clients.deactivate(session=session, client_id=client_id, department_code=principal.department_code))
