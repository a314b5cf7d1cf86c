"""HTTP API for e-licences and their status lists: translates HTTP to
registry.service calls and back."""

from __future__ import annotations

import hashlib
from datetime import date, timedelta
from typing import Annotated, Literal, cast

from fastapi import APIRouter, Depends, Header, Path, Query, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy.orm import Session

from catalog.access import UseLog, UseRecord
from identity.client_assertions import vouched_operator
from identity.deps import require_scopes
from identity.operators import MAX_OPERATOR_LENGTH, OPERATOR_HEADER, validate_operator_id
from identity.tokens import Principal
from registry.config import RegistryConfig
from registry.errors import DisputeNotFound
from registry.identifiers import LicenceIdentifier
from registry.layout.ofd import OFD_MEDIA_TYPE
from registry.licences.schemas import (
    AttachmentRead,
    CancellationRead,
    CopyCreate,
    DepartmentDisputeRead,
    DisputeAccept,
    DisputeCreate,
    DisputeEventRead,
    DisputeRead,
    DisputeReject,
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
from registry.models import Licence, LicenceDispute
from registry.service import (
    credentials,
    dispute_attachments,
    disputes,
    documents,
    issue,
    lifecycle,
    reads,
    statuslists,
)
from registry.service.authority import Actor, check_may_manage
from registry.service.pdfsigning import PdfTimestamps
from storage.base import utcnow
from storage.params import RowId
from storage.sessions import ReadSessionDep, SessionDep
from wiring import find_service, service

router = APIRouter(prefix="/api/v1/licences", tags=["licences"])
status_list_router = APIRouter(prefix="/api/v1/status-lists", tags=["status lists"])
# SD-JWT VC type metadata, public: what a wallet or verifier reads to display a licence credential.
type_metadata_router = APIRouter(tags=["credentials"])

Issuer = Annotated[Principal, Depends(require_scopes("licence:issue"))]
Manager = Annotated[Principal, Depends(require_scopes("licence:manage"))]
Reader = Annotated[Principal, Depends(require_scopes())]
Disputer = Annotated[Principal, Depends(require_scopes("licence:dispute"))]
UseLogDep = Annotated[UseLog, service(UseLog)]
STATUS_LIST_MEDIA_TYPE = "application/statuslist+jwt"  # SPEC: draft-ietf-oauth-status-list-05 §8.1
# What an issuer's own download is for when the caller names no purpose.
ISSUER_PURPOSE = "发证部门管理本部门证照"
# A licence type code as the catalog writes them (catalog.codes); bounded before any lookup.
LicenceTypeCode = Annotated[str, Path(min_length=1, max_length=21, pattern="^[0-9A-Z]+$")]
Purpose = Annotated[str | None, Query(min_length=1, max_length=200, description="用证事由; default: issuer's own use")]


async def _operator_header(
    operator_id: Annotated[str | None, Header(alias=OPERATOR_HEADER, max_length=MAX_OPERATOR_LENGTH)] = None,
) -> str | None:
    """The person behind the call, when the department's system names one."""
    return None if operator_id is None else validate_operator_id(operator_id)


OperatorHeader = Annotated[str | None, Depends(_operator_header)]


def _config(request: Request) -> RegistryConfig:
    return find_service(request, RegistryConfig)


def _signer(request: Request) -> issue.Signer:
    config = _config(request)
    return issue.Signer(registry_id=config.registry_id, key_secret=config.key_secret)


def _actor(principal: Principal, operator: str | None = None) -> Actor:
    # A staff session's person is the operator, whatever the request names (a different one is refused).
    return Actor(department_code=principal.department_code, client_id=principal.client_id,
                 operator=vouched_operator(principal=principal, named=operator, where="the operator in the request"))


def dispute_read(dispute: LicenceDispute) -> DisputeRead:
    licence = dispute.licence
    return DisputeRead(
        id=dispute.id,
        licence_identifier=str(LicenceIdentifier(licence.type_code, licence.issuer_code, licence.serial,
                                                 dispute.version)),
        field=dispute.field, reason=dispute.reason, proposed_value=dispute.proposed_value,
        raised_by=cast(Literal["holder", "department"], dispute.raised_by),  # one of the two, as stored
        raised_by_code=dispute.raised_by_code if dispute.raised_by == "department" else None,
        status=cast(Literal["open", "accepted", "rejected"], dispute.status), overdue=disputes.is_overdue(dispute), due_at=dispute.due_at,
        created_at=dispute.created_at, decided_at=dispute.decided_at, decision_reason=dispute.decision_reason,
        corrected_version=dispute.corrected_version,
    )


def licence_read(session: Session, request: Request, view: reads.LicenceView) -> LicenceRead:
    licence, version = view.licence, view.version
    return LicenceRead(
        identifier=version.identifier, base_identifier=licence.base_identifier, type_code=licence.type_code,
        type_name=version.record["licence_type_name"],
        type_version=licence.type_version, issuer_code=licence.issuer_code, serial=licence.serial,
        holder_name=licence.holder_name, holder_code=licence.holder_code, holder_code_type=licence.holder_code_type,
        status=licence.status, version=version.version, current_version=licence.current_version,
        superseded=version.superseded, valid_from=version.valid_from, valid_until=version.valid_until,
        face=version.face, record=version.record, seal_signature=view.signature.to_dict(),
        status_list=StatusReference(
            idx=licence.status_index,
            uri=statuslists.subject_uri(registry_id=_config(request).registry_id, list_id=licence.status_list_id),
        ),
        versions=[VersionRead(version=v.version, identifier=v.identifier, superseded=v.superseded,
                              created_at=v.created_at) for v in reads.versions(session=session, licence=licence)],
        issued_at=licence.issued_at,
        open_disputes=[dispute_read(d) for d in reads.open_disputes(session=session, licence=licence)],
    )



def _current(session: Session, request: Request, licence: Licence) -> LicenceRead:
    view = reads.LicenceView(licence=licence, version=lifecycle.current_version(session=session, licence=licence))
    return licence_read(session, request, view)


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
        session=session,
        actor=_actor(principal, body.operator),
        request=issue.IssueRequest(
            type_code=body.type_code, holder_name=body.holder.name, holder_code=body.holder.code,
            holder_code_type=body.holder.code_type, face=body.face, valid_from=body.valid_from,
            valid_until=body.valid_until, seal=body.seal, algorithm=body.algorithm,
        ),
        signer=_signer(request),
        idempotency_key=idempotency_key,
    )
    return _current(session, request, licence)


@router.get("/expiring", response_model=list[ExpiringRead])
def expiring(session: SessionDep, principal: Manager, days: Annotated[int, Query(ge=0, le=3660)] = 30):
    """The caller's live licences whose validity ends within `days` days."""
    rows = reads.list_expiring(session=session, issuer_code=principal.department_code, days=days)
    return [ExpiringRead(base_identifier=r.base_identifier, type_code=r.type_code, holder_name=r.holder_name,
                         valid_until=cast(date, r.valid_until), status=r.status) for r in rows]  # list_expiring reads only dated ones


@router.get("/disputes", response_model=list[DisputeRead])
def list_disputes(
    session: SessionDep,
    principal: Manager,
    status: Annotated[Literal["open", "overdue", "accepted", "rejected"] | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=disputes.MAX_PAGE)] = 100,
):
    """Disputes of the caller's licences: open, overdue (open past the deadline), decided, or all."""
    rows = disputes.list_for_department(session=session, department_code=principal.department_code, status=status,
                                        limit=limit)
    return [dispute_read(d) for d in rows]


def _managed_dispute(session: Session, dispute_id: int, principal: Principal) -> LicenceDispute:
    dispute = disputes.get_or_raise(session=session, dispute_id=dispute_id)
    check_may_manage(session=session, acting=principal.department_code, issuer_code=dispute.issuer_code,
                     type_code=dispute.licence.type_code, now=utcnow())
    return dispute


def _department_dispute(session: Session, dispute: LicenceDispute) -> DepartmentDisputeRead:
    events = [DisputeEventRead.model_validate(e, from_attributes=True)
              for e in disputes.history(session=session, dispute=dispute)]
    return DepartmentDisputeRead(**dispute_read(dispute).model_dump(), history=events)


@router.get("/disputes/{dispute_id}", response_model=DepartmentDisputeRead)
def get_dispute(dispute_id: RowId, session: SessionDep, principal: Manager):
    """One dispute of the caller's licences with its history."""
    return _department_dispute(session, _managed_dispute(session, dispute_id, principal))


@router.get("/disputes/{dispute_id}/attachments", response_model=list[AttachmentRead])
def list_dispute_attachments(dispute_id: RowId, session: SessionDep, principal: Manager) -> list[AttachmentRead]:
    """The evidence the holder attached to a dispute of the caller's licences."""
    dispute = _managed_dispute(session, dispute_id, principal)
    return [AttachmentRead.model_validate(row, from_attributes=True)
            for row in dispute_attachments.list_for(session=session, dispute_id=dispute.id)]


@router.get("/disputes/{dispute_id}/attachments/{attachment_id}", response_class=Response)
def get_dispute_attachment(dispute_id: RowId, attachment_id: RowId, session: SessionDep,
                           principal: Manager) -> Response:
    """One attached file, as sent (its type checked by its first bytes when it came)."""
    dispute = _managed_dispute(session, dispute_id, principal)
    row = dispute_attachments.get(session=session, dispute_id=dispute.id, attachment_id=attachment_id)
    if row is None:
        raise DisputeNotFound(f"attachment {attachment_id} of dispute {dispute_id} not found")
    # Sent as a download, never rendered by this origin (a PDF or image from a citizen is untrusted).
    return Response(row.content, media_type=row.media_type, headers={
        "Content-Disposition": f'attachment; filename="dispute-{dispute_id}-{attachment_id}"',
        "X-Content-Type-Options": "nosniff"})


@router.post("/disputes/{dispute_id}/accept", response_model=DepartmentDisputeRead)
def accept_dispute(dispute_id: RowId, body: DisputeAccept, request: Request, session: SessionDep, principal: Manager,
                   operator: OperatorHeader = None):
    """Accept: the field is corrected to `value` in a new sealed version."""
    dispute = disputes.accept(session=session, actor=_actor(principal, body.operator or operator), dispute_id=dispute_id,
                              value=body.value, reason=body.reason, signer=_signer(request))
    return _department_dispute(session, dispute)


@router.post("/disputes/{dispute_id}/reject", response_model=DepartmentDisputeRead)
def reject_dispute(dispute_id: RowId, body: DisputeReject, session: SessionDep, principal: Manager,
                   operator: OperatorHeader = None):
    """Reject with a reason; the licence stays as it is."""
    dispute = disputes.reject(session=session, actor=_actor(principal, body.operator or operator), dispute_id=dispute_id,
                              reason=body.reason)
    return _department_dispute(session, dispute)


@router.get("/{identifier}", response_model=LicenceRead)
def get_licence(identifier: str, request: Request, session: SessionDep, principal: Reader):
    """One version of a licence (the identifier names it) with its sealed record."""
    view = reads.get_or_raise(session=session, identifier=identifier)
    reads.check_may_read(session=session, view=view, actor=_actor(principal))
    return licence_read(session, request, view)


@router.get("/{identifier}/history", response_model=list[EventRead])
def get_history(identifier: str, session: SessionDep, principal: Reader):
    view = reads.get_or_raise(session=session, identifier=identifier)
    reads.check_may_read(session=session, view=view, actor=_actor(principal))
    return [EventRead.model_validate(e, from_attributes=True) for e in reads.history(session=session, licence=view.licence)]


@router.post("/{identifier}/versions", response_model=LicenceRead, status_code=201)
def change_licence(identifier: str, body: LicenceChange, request: Request, session: SessionDep, principal: Manager):
    version = lifecycle.change(session=session, actor=_actor(principal, body.operator), identifier=identifier,
                               face=body.face, reason=body.reason, signer=_signer(request))
    return _current(session, request, version.licence)


@router.post("/{identifier}/suspend", response_model=LicenceRead)
def suspend_licence(identifier: str, body: Transition, request: Request, session: SessionDep, principal: Manager):
    licence = lifecycle.suspend(session=session, actor=_actor(principal, body.operator), identifier=identifier,
                                reason=body.reason, signer=_signer(request))
    return _current(session, request, licence)


@router.post("/{identifier}/resume", response_model=LicenceRead)
def resume_licence(identifier: str, body: Transition, request: Request, session: SessionDep, principal: Manager):
    licence = lifecycle.resume(session=session, actor=_actor(principal, body.operator), identifier=identifier,
                               reason=body.reason, signer=_signer(request))
    return _current(session, request, licence)


@router.post("/{identifier}/revoke", response_model=LicenceRead)
def revoke_licence(identifier: str, body: Revocation, request: Request, session: SessionDep, principal: Manager):
    licence = lifecycle.revoke(session=session, actor=_actor(principal, body.operator), identifier=identifier,
                               reason=body.reason, signer=_signer(request))
    return _current(session, request, licence)


@router.post("/{identifier}/cancel", response_model=CancellationRead)
def cancel(identifier: str, body: Transition, request: Request, session: SessionDep, principal: Manager):
    cancelled = lifecycle.cancel(session=session, actor=_actor(principal, body.operator), identifier=identifier,
                                 reason=body.reason, signer=_signer(request))
    return CancellationRead(cancelled=[c.base_identifier for c in cancelled])


@router.post("/{identifier}/disputes", response_model=DisputeRead, status_code=201)
def raise_dispute(identifier: str, body: DisputeCreate, request: Request, session: SessionDep, principal: Disputer,
                  uses: UseLogDep, operator: OperatorHeader = None):
    """A department's clerk reports a wrong field (纠错) of a licence it
    issued or was given (queried, shown at a counter); the issuer must decide
    before the deadline. Any other licence answers as if there were none."""
    view = disputes.disputable_by_department(session=session, identifier=identifier,
                                             department_code=principal.department_code, uses=uses)
    dispute = disputes.open_dispute(
        session=session, view=view, disputer=disputes.Disputer.department(_actor(principal, body.operator or operator)),
        field=body.field, reason=body.reason, proposed_value=body.proposed_value, deadline=dispute_deadline(request),
    )
    return dispute_read(dispute)


def dispute_deadline(request: Request) -> timedelta:
    return _config(request).dispute_deadline


def _readable(session: Session, identifier: str, principal: Principal) -> reads.LicenceView:
    view = reads.get_or_raise(session=session, identifier=identifier)
    reads.check_may_read(session=session, view=view, actor=_actor(principal))
    return view


def _record_issuer_use(
    recorder: UseLog, session: Session, *, kind: str, principal: Principal, operator: str | None,
    view: reads.LicenceView, purpose: str,
) -> None:
    """Record the download in the use log, in this request's transaction:
    when the log refuses (stale: LogUnavailable), no document goes out."""
    recorder.append(session=session, records=[UseRecord(
        kind=kind, department_code=principal.department_code,
        operator_id=vouched_operator(principal=principal, named=operator) or principal.client_id, basis="issuer", subject_code=view.licence.holder_code,
        licence_ids=(view.version.identifier,), fields=tuple(view.version.face), purpose=purpose,
    )])


def document_keys(request: Request) -> dict:
    """What a layout document's signed QR needs from the deployment."""
    config = _config(request)
    return {"registry_id": config.registry_id, "key_secret": config.key_secret}


def pdf_keys(request: Request) -> dict:
    """What a signed PDF needs besides: the deployment's TSA, when it has one."""
    return {**document_keys(request), "timestamps": find_service(request, PdfTimestamps)}


@router.get("/{identifier}/layout.png", response_class=Response)
def layout_png(identifier: str, request: Request, session: SessionDep, principal: Reader,
               recorder: UseLogDep, operator: OperatorHeader = None, purpose: Purpose = None) -> Response:
    view = _readable(session, identifier, principal)
    _record_issuer_use(recorder, session, kind="layout_download", principal=principal, operator=operator,
                       view=view, purpose=purpose or ISSUER_PURPOSE)
    return Response(documents.layout_png(session=session, view=view, **document_keys(request)), media_type="image/png")


@router.get("/{identifier}/layout.pdf", response_class=Response)
def layout_pdf(identifier: str, request: Request, session: SessionDep, principal: Reader,
               recorder: UseLogDep, operator: OperatorHeader = None, purpose: Purpose = None) -> Response:
    view = _readable(session, identifier, principal)
    _record_issuer_use(recorder, session, kind="layout_download", principal=principal, operator=operator,
                       view=view, purpose=purpose or ISSUER_PURPOSE)
    return Response(documents.layout_pdf(session=session, view=view, **pdf_keys(request)),
                    media_type="application/pdf")


@router.get("/{identifier}/layout.ofd", response_class=Response)
def layout_ofd(identifier: str, request: Request, session: SessionDep, principal: Reader,
               recorder: UseLogDep, operator: OperatorHeader = None, purpose: Purpose = None) -> Response:
    """The OFD layout document (GB/T 33190) with the department seal's 签章 (GB/T 38540)."""
    view = _readable(session, identifier, principal)
    _record_issuer_use(recorder, session, kind="layout_download", principal=principal, operator=operator,
                       view=view, purpose=purpose or ISSUER_PURPOSE)
    return Response(documents.layout_ofd(session=session, view=view, **document_keys(request)),
                    media_type=OFD_MEDIA_TYPE)


@router.post("/{identifier}/copies", response_class=Response, status_code=201)
def make_copy(identifier: str, body: CopyCreate, request: Request, session: SessionDep, principal: Reader,
              recorder: UseLogDep, operator: OperatorHeader = None) -> Response:
    """A purpose-limited copy (加注件) as PDF, or as a sealed OFD with `"format": "ofd"`;
    the copy is recorded, and its use logged with the copy's purpose."""
    view = _readable(session, identifier, principal)
    _record_issuer_use(recorder, session, kind="annotated_copy_download", principal=principal, operator=operator,
                       view=view, purpose=body.purpose)
    row, pdf = documents.make_copy(session=session, view=view, actor=_actor(principal, operator), purpose=body.purpose,
                                   expires_at=body.expires_at, document_format=body.format,
                                   **(document_keys(request) if body.format == "ofd" else pdf_keys(request)))
    media_type = OFD_MEDIA_TYPE if body.format == "ofd" else "application/pdf"
    return Response(pdf, media_type=media_type, status_code=201, headers={"X-Copy-Id": str(row.id)})


@status_list_router.get("/{list_id}", response_class=Response)
def get_status_list(list_id: RowId, request: Request, session: ReadSessionDep) -> Response:
    """The signed status list token (public: it says nothing about who holds what)."""
    row = statuslists.get_or_raise(session=session, list_id=list_id)
    etag = '"' + hashlib.sha256(row.token.encode()).hexdigest()[:32] + '"'
    headers = {"ETag": etag, "Cache-Control": f"public, max-age={statuslists.TTL_SECONDS}"}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    return Response(row.token, media_type=STATUS_LIST_MEDIA_TYPE, headers=headers)


def _type_metadata(type_code: str, request: Request, session: SessionDep) -> JSONResponse:
    body = credentials.type_metadata(session=session, registry_id=_config(request).registry_id, type_code=type_code)
    return JSONResponse(body, headers={"Cache-Control": "public, max-age=3600"})


@type_metadata_router.get("/vct/{type_code}", response_class=JSONResponse)
def vct_type_metadata(type_code: LicenceTypeCode, request: Request, session: SessionDep) -> JSONResponse:
    """SD-JWT VC Type Metadata of a licence type (its `vct` is this URL): names and claim labels in
    Chinese and English (SPEC: draft-ietf-oauth-sd-jwt-vc-14, "Type Metadata")."""
    return _type_metadata(type_code, request, session)


@type_metadata_router.get("/.well-known/vct/vct/{type_code}", response_class=JSONResponse)
def well_known_type_metadata(type_code: LicenceTypeCode, request: Request, session: SessionDep) -> JSONResponse:
    """The same type metadata where earlier drafts of SD-JWT VC look for it: `/.well-known/vct`
    inserted between the host and the vct's path."""
    return _type_metadata(type_code, request, session)


@status_list_router.get("/{list_id}/key", response_class=Response)
def get_status_list_key(list_id: RowId, session: ReadSessionDep) -> Response:
    """The public key (DER SubjectPublicKeyInfo) that signed this list, for information only:
    verifiers take the status-list key from the signed trust list, never from here."""
    row = statuslists.get_or_raise(session=session, list_id=list_id)
    return Response(row.public_key, media_type="application/pkix-spki",
                    headers={"X-Key-Id": row.kid, "Cache-Control": "public, max-age=86400"})
