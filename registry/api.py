"""HTTP API for e-licences and their status lists: translates HTTP to
registry.service calls and back."""

from __future__ import annotations

import hashlib
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from catalog.deps import SessionDep, require_scopes
from catalog.tokens import Principal
from registry.models import Licence
from registry.schemas import (
    CancellationRead,
    CopyCreate,
    EventRead,
    ExpiringRead,
    LicenceChange,
    LicenceCreate,
    LicenceRead,
    Revocation,
    StatusReference,
    Transition,
    VersionRead,
)
from registry.service import documents, issue, lifecycle, reads, statuslists
from registry.service.authority import Actor

router = APIRouter(prefix="/api/v1/licences", tags=["licences"])
status_list_router = APIRouter(prefix="/api/v1/status-lists", tags=["status lists"])

Issuer = Annotated[Principal, Depends(require_scopes("licence:issue"))]
Manager = Annotated[Principal, Depends(require_scopes("licence:manage"))]
Reader = Annotated[Principal, Depends(require_scopes())]
STATUS_LIST_MEDIA_TYPE = "application/statuslist+jwt"  # SPEC: draft-ietf-oauth-status-list-05 §8.1


def _signer(request: Request) -> issue.Signer:
    return issue.Signer(registry_id=request.app.state.registry_id, key_secret=request.app.state.key_secret)


def _actor(principal: Principal, operator: str | None = None) -> Actor:
    return Actor(department_code=principal.department_code, client_id=principal.client_id, operator=operator)


def _read(session: Session, request: Request, view: reads.LicenceView) -> LicenceRead:
    licence, version = view.licence, view.version
    return LicenceRead(
        identifier=version.identifier, base_identifier=licence.base_identifier, type_code=licence.type_code,
        type_version=licence.type_version, issuer_code=licence.issuer_code, serial=licence.serial,
        holder_name=licence.holder_name, holder_code=licence.holder_code, holder_code_type=licence.holder_code_type,
        status=licence.status, version=version.version, current_version=licence.current_version,
        superseded=version.superseded, valid_from=version.valid_from, valid_until=version.valid_until,
        face=version.face, record=version.record, seal_signature=view.signature.to_dict(),
        status_list=StatusReference(
            idx=licence.status_index,
            uri=statuslists.subject_uri(registry_id=request.app.state.registry_id, list_id=licence.status_list_id),
        ),
        versions=[VersionRead(version=v.version, identifier=v.identifier, superseded=v.superseded,
                              created_at=v.created_at) for v in reads.versions(session, licence=licence)],
        issued_at=licence.issued_at,
    )


def _current(session: Session, request: Request, licence: Licence) -> LicenceRead:
    view = reads.LicenceView(licence=licence, version=lifecycle.current_version(session, licence=licence))
    return _read(session, request, view)


@router.post("", response_model=LicenceRead, status_code=201)
def issue_licence(
    body: LicenceCreate,
    request: Request,
    session: SessionDep,
    principal: Issuer,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key", max_length=200)] = None,
):
    """Issue a licence, sealed by the issuer's seal. A retry with the same
    Idempotency-Key returns the same licence."""
    licence = issue.issue(
        session,
        actor=_actor(principal, body.operator),
        request=issue.IssueRequest(
            type_code=body.type_code, holder_name=body.holder.name, holder_code=body.holder.code,
            holder_code_type=body.holder.code_type, face=body.face, valid_from=body.valid_from,
            valid_until=body.valid_until,
        ),
        signer=_signer(request),
        idempotency_key=idempotency_key,
    )
    return _current(session, request, licence)


@router.get("/expiring", response_model=list[ExpiringRead])
def expiring(session: SessionDep, principal: Manager, days: Annotated[int, Query(ge=0, le=3660)] = 30):
    """The caller's live licences whose validity ends within `days` days."""
    rows = reads.list_expiring(session, issuer_code=principal.department_code, days=days)
    return [ExpiringRead(base_identifier=r.base_identifier, type_code=r.type_code, holder_name=r.holder_name,
                         valid_until=r.valid_until, status=r.status) for r in rows]


@router.get("/{identifier}", response_model=LicenceRead)
def get_licence(identifier: str, request: Request, session: SessionDep, principal: Reader):
    """One version of a licence (the identifier names it) with its sealed record."""
    view = reads.get_or_raise(session, identifier=identifier)
    reads.check_may_read(session, view=view, actor=_actor(principal))
    return _read(session, request, view)


@router.get("/{identifier}/history", response_model=list[EventRead])
def get_history(identifier: str, session: SessionDep, principal: Reader):
    view = reads.get_or_raise(session, identifier=identifier)
    reads.check_may_read(session, view=view, actor=_actor(principal))
    return [EventRead.model_validate(e, from_attributes=True) for e in reads.history(session, licence=view.licence)]


@router.post("/{identifier}/versions", response_model=LicenceRead, status_code=201)
def change_licence(identifier: str, body: LicenceChange, request: Request, session: SessionDep, principal: Manager):
    version = lifecycle.change(session, actor=_actor(principal, body.operator), identifier=identifier,
                               face=body.face, reason=body.reason, signer=_signer(request))
    return _current(session, request, version.licence)


@router.post("/{identifier}/suspend", response_model=LicenceRead)
def suspend(identifier: str, body: Transition, request: Request, session: SessionDep, principal: Manager):
    licence = lifecycle.suspend(session, actor=_actor(principal, body.operator), identifier=identifier,
                                reason=body.reason, signer=_signer(request))
    return _current(session, request, licence)


@router.post("/{identifier}/resume", response_model=LicenceRead)
def resume(identifier: str, body: Transition, request: Request, session: SessionDep, principal: Manager):
    licence = lifecycle.resume(session, actor=_actor(principal, body.operator), identifier=identifier,
                               reason=body.reason, signer=_signer(request))
    return _current(session, request, licence)


@router.post("/{identifier}/revoke", response_model=LicenceRead)
def revoke(identifier: str, body: Revocation, request: Request, session: SessionDep, principal: Manager):
    licence = lifecycle.revoke(session, actor=_actor(principal, body.operator), identifier=identifier,
                               reason=body.reason, signer=_signer(request))
    return _current(session, request, licence)


@router.post("/{identifier}/cancel", response_model=CancellationRead)
def cancel(identifier: str, body: Transition, request: Request, session: SessionDep, principal: Manager):
    cancelled = lifecycle.cancel(session, actor=_actor(principal, body.operator), identifier=identifier,
                                 reason=body.reason, signer=_signer(request))
    return CancellationRead(cancelled=[c.base_identifier for c in cancelled])


def _readable(session: Session, identifier: str, principal: Principal) -> reads.LicenceView:
    view = reads.get_or_raise(session, identifier=identifier)
    reads.check_may_read(session, view=view, actor=_actor(principal))
    return view


@router.get("/{identifier}/layout.png", response_class=Response)
def layout_png(identifier: str, session: SessionDep, principal: Reader) -> Response:
    view = _readable(session, identifier, principal)
    return Response(documents.layout_png(session, view=view), media_type="image/png")


@router.get("/{identifier}/layout.pdf", response_class=Response)
def layout_pdf(identifier: str, session: SessionDep, principal: Reader) -> Response:
    view = _readable(session, identifier, principal)
    return Response(documents.layout_pdf(session, view=view), media_type="application/pdf")


@router.post("/{identifier}/copies", response_class=Response, status_code=201)
def make_copy(identifier: str, body: CopyCreate, session: SessionDep, principal: Reader) -> Response:
    """A purpose-limited copy (加注件) as PDF; the copy is recorded."""
    view = _readable(session, identifier, principal)
    row, pdf = documents.make_copy(session, view=view, actor=_actor(principal), purpose=body.purpose,
                                   expires_at=body.expires_at)
    return Response(pdf, media_type="application/pdf", status_code=201, headers={"X-Copy-Id": str(row.id)})


@status_list_router.get("/{list_id}", response_class=Response)
def get_status_list(list_id: int, request: Request, session: SessionDep) -> Response:
    """The signed status list token (public: it says nothing about who holds what)."""
    row = statuslists.get_or_raise(session=session, list_id=list_id)
    etag = '"' + hashlib.sha256(row.token.encode()).hexdigest()[:32] + '"'
    headers = {"ETag": etag, "Cache-Control": f"public, max-age={statuslists.TTL_SECONDS}"}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    return Response(row.token, media_type=STATUS_LIST_MEDIA_TYPE, headers=headers)


@status_list_router.get("/{list_id}/key", response_class=Response)
def get_status_list_key(list_id: int, session: SessionDep) -> Response:
    """The public key (DER SubjectPublicKeyInfo) that signs this list; its kid is in the token header."""
    row = statuslists.get_or_raise(session=session, list_id=list_id)
    return Response(row.public_key, media_type="application/pkix-spki",
                    headers={"X-Key-Id": row.kid, "Cache-Control": "public, max-age=86400"})
