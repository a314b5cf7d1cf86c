"""HTTP API for holder consent (授权): the signed-in holder grants, lists
and withdraws consents; a proxy grants within a delegated scope."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from exchange.consent import service
from exchange.consent.models import Consent
from exchange.errors import InvalidExchangeRequest
from identity.deps import HolderDep
from identity.errors import InvalidCode
from identity.holder_auth import validate_holder_code
from storage.base import utcnow
from storage.sessions import SessionDep

router = APIRouter(prefix="/api/v1/holders/me/consents", tags=["holders"])
DEFAULT_PERIOD = timedelta(days=90)


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class OnBehalfOf(_Body):
    code: str = Field(min_length=1, max_length=18)
    code_type: Literal["111", "001"]


class ConsentCreate(_Body):
    department: str = Field(min_length=18, max_length=18, description="the department allowed to use the items")
    matter: str = Field(min_length=1, max_length=40)
    items: list[Annotated[str, Field(min_length=1, max_length=40)]] = Field(min_length=1,
                                                                            max_length=service.MAX_ITEMS)
    valid_until: AwareDatetime | None = Field(default=None, description="default: 90 days")
    on_behalf_of: OnBehalfOf | None = Field(default=None, description="as a proxy, for this holder")


class ConsentOut(BaseModel):
    id: str
    holder_code_type: str
    department: str
    matter: str
    items: list[str]
    valid_from: datetime
    valid_until: datetime
    status: str
    granted_by_proxy: bool
    withdrawn_at: datetime | None
    created_at: datetime


def to_out(consent: Consent, *, now: datetime, session: Session) -> ConsentOut:
    # The holder code is the holder's own (or their principal's): not echoed.
    return ConsentOut(
        id=consent.public_id, holder_code_type=consent.holder_code_type, department=consent.department_code,
        matter=consent.matter_code, items=consent.items, valid_from=consent.valid_from,
        valid_until=consent.valid_until, status=service.effective_status(consent, now=now, session=session),
        granted_by_proxy=consent.proxy_code is not None, withdrawn_at=consent.withdrawn_at,
        created_at=consent.created_at,
    )


def _grantor(holder, body: ConsentCreate) -> service.Grantor:
    if body.on_behalf_of is None:
        return service.Grantor(holder_code=holder.holder_code, holder_code_type=holder.holder_code_type)
    try:
        code, code_type = validate_holder_code(code=body.on_behalf_of.code, code_type=body.on_behalf_of.code_type)
    except InvalidCode as error:
        raise InvalidExchangeRequest(f"on_behalf_of: {error}") from None
    return service.Grantor(holder_code=code, holder_code_type=code_type, proxy_code=holder.holder_code)


@router.post("", response_model=ConsentOut, status_code=201)
def grant(body: ConsentCreate, session: SessionDep, holder: HolderDep) -> ConsentOut:
    now = utcnow()
    consent = service.grant(
        session=session, grantor=_grantor(holder, body), department_code=body.department,
        matter_code=body.matter, item_codes=body.items, valid_until=body.valid_until or now + DEFAULT_PERIOD,
        now=now,
    )
    return to_out(consent, now=now, session=session)


@router.get("", response_model=list[ConsentOut])
def list_consents(session: SessionDep, holder: HolderDep) -> list[ConsentOut]:
    """Every consent about the holder (and those they granted as a proxy), newest first."""
    now = utcnow()
    rows = service.list_for_holder(session=session, holder_code=holder.holder_code)
    return [to_out(c, now=now, session=session) for c in rows]


@router.post("/{consent_id}/withdraw", response_model=ConsentOut)
def withdraw_consent(consent_id: str, session: SessionDep, holder: HolderDep) -> ConsentOut:
    now = utcnow()
    if len(consent_id) > 64:
        raise InvalidExchangeRequest("consent id: at most 64 characters")
    consent = service.withdraw(session=session, public_id=consent_id, holder_code=holder.holder_code, now=now)
    return to_out(consent, now=now, session=session)
