"""HTTP API of holder proxies: a signed-in holder delegates, lists and
revokes; translates HTTP to registry.service.delegations and back."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter
from pydantic import BaseModel, Field

from catalog.access import UseLog, delegation_basis
from identity.deps import HolderDep
from identity.masking import MaskRule, mask_value
from registry.licences.schemas import WalletLicence
from registry.presentations.models import Delegation
from registry.presentations.schemas import DelegationCreate, DelegationRead, DelegationsRead, PrincipalRead
from registry.service import delegations, reads
from registry.wallet.api import wallet_licence
from storage.base import utcnow
from storage.params import RowId
from storage.sessions import SessionDep
from wiring import service

router = APIRouter(prefix="/api/v1/holders/me/delegations", tags=["holders"])

# SPEC: domain rule — every access names its purpose; a proxy reads the principal's licences to act for them.
PROXY_PURPOSE = "代办人查看"
PROXY_OPERATOR = "proxy"  # who: the delegation the basis names (its proxy), not a code in the log
MAX_LISTED = 100  # the principal's newest licences looked at (one log record names at most 100)


class ProxyLicencesRead(BaseModel):
    delegation: DelegationRead
    principal: PrincipalRead
    licences: list[WalletLicence] = Field(description="the principal's licences of the delegated types, newest first")


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


@router.get("/{delegation_id}/licences", response_model=ProxyLicencesRead)
def principal_licences(delegation_id: RowId, session: SessionDep, holder: HolderDep,
                       recorder: Annotated[UseLog, service(UseLog)]) -> ProxyLicencesRead:
    """代办: for a proxy, the licences of the holder who gave them delegation
    `delegation_id`, of the delegated types only, while it is in force
    (revoked or expired: 403 delegation_inactive). Listing them is a use of
    the principal's data: it is recorded in the use log under the basis
    "delegation:<id>", which the principal reads in their own use records."""
    now = utcnow()
    row = delegations.get_received_or_raise(session=session, delegation_id=delegation_id,
                                            proxy_code=holder.holder_code, now=now)
    entries = [e for e in reads.wallet(session=session, holder_code=row.principal_code,
                                       holder_code_type=row.principal_code_type, limit=MAX_LISTED)
               if e.licence.type_code in row.type_codes]
    listed = [wallet_licence(e) for e in entries]
    reads.record_shown(recorder=recorder, session=session, subject_code=row.principal_code,
                       shown=[(e.licence, line.identifier) for e, line in zip(entries, listed, strict=True)],
                       kind="proxy_access", basis=delegation_basis(row.id), operator_id=PROXY_OPERATOR,
                       purpose=PROXY_PURPOSE)
    return ProxyLicencesRead(
        delegation=_read(row),
        principal=PrincipalRead(code=row.principal_code, code_type=row.principal_code_type,
                                code_masked=mask_value(row.principal_code, MaskRule.id_number),
                                name=entries[0].licence.holder_name if entries else None),
        licences=listed,
    )
