"""HTTP API of holder proxies: a signed-in holder delegates, lists and
revokes; translates HTTP to registry.service.delegations and back."""

from __future__ import annotations

from fastapi import APIRouter

from identity.deps import HolderDep
from identity.masking import MaskRule, mask_value
from registry.presentations.models import Delegation
from registry.presentations.schemas import DelegationCreate, DelegationRead, DelegationsRead
from registry.service import delegations
from storage.base import utcnow
from storage.params import RowId
from storage.sessions import SessionDep

router = APIRouter(prefix="/api/v1/holders/me/delegations", tags=["holders"])


def _read(row: Delegation) -> DelegationRead:
    # Codes are masked (最小必要): the answer may sit on a shared screen.
    return DelegationRead(
        id=row.id, principal_code=mask_value(row.principal_code, MaskRule.id_number),
        proxy_code=mask_value(row.proxy_code, MaskRule.id_number), relation=row.relation,
        type_codes=list(row.type_codes), actions=list(row.actions), valid_from=row.valid_from,
        valid_until=row.valid_until, status=row.status, active=delegations.is_active(row, now=utcnow()),
        revoked_at=row.revoked_at,
    )


@router.get("", response_model=DelegationsRead)
def list_delegations(session: SessionDep, holder: HolderDep) -> DelegationsRead:
    rows = delegations.list_for_holder(session=session, holder_code=holder.holder_code)
    return DelegationsRead(
        given=[_read(r) for r in rows if r.principal_code == holder.holder_code],
        received=[_read(r) for r in rows if r.proxy_code == holder.holder_code],
    )


@router.post("", response_model=DelegationRead, status_code=201)
def create_delegation(body: DelegationCreate, session: SessionDep, holder: HolderDep) -> DelegationRead:
    """Let another holder (guardian, agent, family) present or consent for you."""
    now = utcnow().replace(microsecond=0)
    row = delegations.create(
        session=session, principal_code=holder.holder_code, principal_code_type=holder.holder_code_type,
        proxy_code=body.proxy.code, proxy_code_type=body.proxy.code_type, relation=body.relation,
        type_codes=body.type_codes, actions=body.actions, valid_from=body.valid_from or now,
        valid_until=body.valid_until, now=now,
    )
    return _read(row)


@router.post("/{delegation_id}/revoke", response_model=DelegationRead)
def revoke_delegation(delegation_id: RowId, session: SessionDep, holder: HolderDep) -> DelegationRead:
    row = delegations.revoke(session=session, delegation_id=delegation_id, principal_code=holder.holder_code, now=utcnow())
    return _read(row)
