"""HTTP API for sharing agreements: consumers apply and withdraw, providers
decide and revoke, both list what they are party to."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from exchange.agreements import service
from exchange.agreements.models import Agreement
from identity.deps import CallerOperatorDep, require_scopes
from identity.tokens import Principal
from storage.base import utcnow
from storage.params import RowId
from storage.sessions import SessionDep

router = APIRouter(prefix="/api/v1/exchange/agreements", tags=["exchange"])

Consumer = Annotated[Principal, Depends(require_scopes("exchange:query"))]
Provider = Annotated[Principal, Depends(require_scopes("exchange:provide"))]
Party = Annotated[Principal, Depends(require_scopes())]
DEFAULT_PERIOD = timedelta(days=365)
FieldKey = Annotated[str, Field(min_length=1, max_length=64)]
MatterCode = Annotated[str, Field(min_length=1, max_length=40)]
Reason = Annotated[str, Field(min_length=1, max_length=service.MAX_REASON)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class AgreementCreate(_Body):
    item: str = Field(min_length=1, max_length=40, description="licence type code or data item code")
    provider: str | None = Field(default=None, min_length=18, max_length=18,
                                 description="the issuing department, when a licence type has several")
    matters: list[MatterCode] = Field(min_length=1, max_length=service.MAX_MATTERS)
    fields: list[FieldKey] = Field(min_length=1, max_length=200)
    clear_fields: list[FieldKey] = Field(default_factory=list, max_length=200,
                                         description="sensitive fields wanted unmasked")
    valid_until: AwareDatetime | None = Field(default=None, description="default: one year")
    reason: Reason


class Decision(_Body):
    decision: Literal["approve", "refuse"]
    reason: Reason | None = None
    matters: list[MatterCode] | None = Field(default=None, max_length=service.MAX_MATTERS)
    fields: list[FieldKey] | None = Field(default=None, max_length=200)
    clear_fields: list[FieldKey] | None = Field(default=None, max_length=200)
    valid_until: AwareDatetime | None = None


class Ending(_Body):
    reason: Reason | None = None


class AgreementOut(BaseModel):
    id: int
    consumer: str
    provider: str
    item_kind: str
    item: str
    matters: list[str]
    fields: list[str]
    clear_fields: list[str]
    valid_from: datetime
    valid_until: datetime
    requested: dict
    reason: str
    status: str
    automatic: bool
    decision_reason: str | None
    decided_at: datetime | None
    ended_at: datetime | None
    ended_reason: str | None
    created_at: datetime


def to_out(agreement: Agreement, *, now: datetime) -> AgreementOut:
    return AgreementOut(
        id=agreement.id, consumer=agreement.consumer_code, provider=agreement.provider_code,
        item_kind=agreement.item_kind, item=agreement.item_code, matters=agreement.matters, fields=agreement.fields,
        clear_fields=agreement.clear_fields, valid_from=agreement.valid_from, valid_until=agreement.valid_until,
        requested=agreement.requested, reason=agreement.reason, status=service.effective_status(agreement, now=now),
        automatic=agreement.automatic, decision_reason=agreement.decision_reason, decided_at=agreement.decided_at,
        ended_at=agreement.ended_at, ended_reason=agreement.ended_reason, created_at=agreement.created_at,
    )


@router.post("", response_model=AgreementOut, status_code=201)
def apply(body: AgreementCreate, session: SessionDep, principal: Consumer, operator: CallerOperatorDep) -> AgreementOut:
    """共享申请: apply for a licence type or data item, for listed matters and fields."""
    now = utcnow()
    agreement = service.apply(
        session=session, consumer_code=principal.department_code, operator=operator, item_code=body.item,
        provider_code=body.provider, matters=body.matters, fields=body.fields, clear_fields=body.clear_fields,
        valid_until=body.valid_until or now + DEFAULT_PERIOD, reason=body.reason, now=now,
    )
    return to_out(agreement, now=now)


@router.get("", response_model=list[AgreementOut])
def list_agreements(
    session: SessionDep, principal: Party,
    role: Annotated[Literal["consumer", "provider"] | None, Query()] = None,
    status: Annotated[str | None, Query(max_length=16)] = None,
    item: Annotated[str | None, Query(max_length=40)] = None,
) -> list[AgreementOut]:
    """The agreements the caller's department is a party to (as consumer, provider or both)."""
    now = utcnow()
    rows = service.list_(session=session, department_code=principal.department_code, role=role, status=status,
                         item_code=item)
    return [to_out(a, now=now) for a in rows]


@router.get("/{agreement_id}", response_model=AgreementOut)
def get_agreement(agreement_id: RowId, session: SessionDep, principal: Party) -> AgreementOut:
    agreement = service.get_for_party(session=session, agreement_id=agreement_id,
                                      department_code=principal.department_code)
    return to_out(agreement, now=utcnow())


@router.post("/{agreement_id}/decision", response_model=AgreementOut)
def decide(agreement_id: RowId, body: Decision, session: SessionDep, principal: Provider,
           operator: CallerOperatorDep) -> AgreementOut:
    """The provider approves (optionally narrowed) or refuses with a reason."""
    now = utcnow()
    agreement = service.decide(
        session=session, agreement_id=agreement_id, provider_code=principal.department_code, operator=operator,
        approve=body.decision == "approve", reason=body.reason, matters=body.matters, fields=body.fields,
        clear_fields=body.clear_fields, valid_until=body.valid_until, now=now,
    )
    return to_out(agreement, now=now)


@router.post("/{agreement_id}/revoke", response_model=AgreementOut)
def revoke_agreement(agreement_id: RowId, body: Ending, session: SessionDep, principal: Provider,
           operator: CallerOperatorDep) -> AgreementOut:
    now = utcnow()
    agreement = service.revoke(session=session, agreement_id=agreement_id, provider_code=principal.department_code,
                               operator=operator, reason=body.reason or "", now=now)
    return to_out(agreement, now=now)


@router.post("/{agreement_id}/withdraw", response_model=AgreementOut)
def withdraw_agreement(agreement_id: RowId, session: SessionDep, principal: Consumer, operator: CallerOperatorDep,
             body: Ending | None = None) -> AgreementOut:
    """The consumer ends its own agreement; the reason is optional, so the body may be left out (as for a
    consent's withdrawal)."""
    now = utcnow()
    agreement = service.withdraw(session=session, agreement_id=agreement_id,
                                 consumer_code=principal.department_code, operator=operator,
                                 reason=body.reason if body else None, now=now)
    return to_out(agreement, now=now)
