"""HTTP API for supervision mandates, managed by catalog administrators."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from exchange.mandates import service
from exchange.mandates.models import Mandate
from identity.deps import require_scopes
from identity.tokens import Principal
from storage.base import utcnow
from storage.params import RowId
from storage.sessions import SessionDep

router = APIRouter(prefix="/api/v1/exchange/mandates", tags=["exchange"])

Admin = Annotated[Principal, Depends(require_scopes("catalog:admin"))]
Text = Annotated[str, Field(min_length=1, max_length=service.MAX_TEXT)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class MandateCreate(_Body):
    department: str = Field(min_length=18, max_length=18)
    matters: list[Annotated[str, Field(min_length=1, max_length=40)]] = Field(min_length=1,
                                                                              max_length=service.MAX_MATTERS)
    legal_basis: Text
    valid_until: AwareDatetime | None = None
    # Covert use: the holder's view reveals uses under the mandate from then on.
    embargo_until: AwareDatetime | None = None


class MandateRevoke(_Body):
    reason: Text


class MandateOut(BaseModel):
    id: int
    department: str
    matters: list[str]
    legal_basis: str
    valid_from: datetime
    valid_until: datetime | None
    embargo_until: datetime | None
    active: bool
    revoked_at: datetime | None
    revoked_reason: str | None


def to_out(mandate: Mandate, *, now: datetime) -> MandateOut:
    return MandateOut(
        id=mandate.id, department=mandate.department_code, matters=mandate.matters,
        legal_basis=mandate.legal_basis, valid_from=mandate.valid_from, valid_until=mandate.valid_until,
        embargo_until=mandate.embargo_until, active=service.is_active(mandate, now=now), revoked_at=mandate.revoked_at,
        revoked_reason=mandate.revoked_reason,
    )


@router.post("", response_model=MandateOut, status_code=201)
def create(body: MandateCreate, session: SessionDep, admin: Admin) -> MandateOut:
    now = utcnow()
    mandate = service.create(session=session, department_code=body.department, matters=body.matters,
                             legal_basis=body.legal_basis, valid_until=body.valid_until,
                             embargo_until=body.embargo_until, created_by=admin.client_id, now=now)
    return to_out(mandate, now=now)


@router.get("", response_model=list[MandateOut])
def list_mandates(session: SessionDep, _: Admin,
                  department: Annotated[str | None, Query(max_length=18)] = None) -> list[MandateOut]:
    now = utcnow()
    return [to_out(m, now=now) for m in service.list_(session=session, department_code=department)]


@router.post("/{mandate_id}/revoke", response_model=MandateOut)
def revoke_mandate(mandate_id: RowId, body: MandateRevoke, session: SessionDep, _: Admin) -> MandateOut:
    now = utcnow()
    return to_out(service.revoke(session=session, mandate_id=mandate_id, reason=body.reason, now=now), now=now)
