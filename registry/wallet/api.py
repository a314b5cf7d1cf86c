"""The holder's wallet (卡包): their own licences, versions, layout
documents, what expires soon, and their disputes.

Every route authenticates the holder (HolderDep). A holder asking for a
licence that is not theirs gets 404, exactly as for one that does not
exist. Each read of licence data is recorded in the authorized-use log
(kind holder_access, basis holder_self) in the request's transaction: when
the log refuses, nothing is shown.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable
from datetime import date
from typing import Annotated, cast

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from sqlalchemy.orm import Session

from catalog.access import UseLog
from identity.deps import HolderDep
from identity.holder_auth import HolderPrincipal
from registry.errors import DisputeNotFound
from registry.identifiers import LicenceIdentifier
from registry.layout.ofd import OFD_MEDIA_TYPE
from registry.licences.api import dispute_deadline, dispute_read, document_keys, licence_read, pdf_keys
from registry.licences.schemas import (
    AttachmentRead,
    CredentialRead,
    CredentialRequest,
    DisputeRead,
    ExpiringRead,
    HolderDisputeCreate,
    LicenceRead,
    StaticQrRead,
    WalletLicence,
)
from registry.models import Licence, LicenceDispute, LicenceStatus
from registry.service import credentials, dispute_attachments, disputes, documents, reads
from signing.qr import render_qr_png
from signing.sdjwt import VC_TYPE, vct_for
from storage.base import utcnow
from storage.params import RowId
from storage.sessions import ReadSessionDep, SessionDep
from storage.units import UnitOfWork, Work
from wiring import service

router = APIRouter(prefix="/api/v1/holders/me", tags=["holder wallet"])

# SPEC: domain rule — every access names its purpose; a holder reading their own licence does so for this one.
HOLDER_PURPOSE = "本人查看"
HOLDER_OPERATOR = "holder"
MAX_PAGE = 100  # one log record names at most 100 licences
# What the static QR's summary carries (signing.qr.LicenceSummary), as the log names fields.
STATIC_QR_FIELDS = ("static_qr.identifier", "static_qr.holder_name_masked", "static_qr.validity")
UseLogDep = Annotated[UseLog, service(UseLog)]
ATTACHMENT_TYPES = ("image/jpeg", "image/png", "application/pdf")
StatusFilter = Annotated[str | None, Query(pattern="^(" + "|".join(LicenceStatus.ALL) + ")$")]


def _record(
    recorder: UseLog, session: Session, holder: HolderPrincipal, licences: Iterable[tuple[Licence, str]],
    *, fields: Iterable[str] = (),
) -> None:
    reads.record_shown(recorder=recorder, session=session, subject_code=holder.holder_code, shown=licences,
                       kind="holder_access", basis="holder_self", operator_id=HOLDER_OPERATOR,
                       purpose=HOLDER_PURPOSE, fields=fields)


def _current_identifier(licence: Licence) -> str:
    return str(LicenceIdentifier(licence.type_code, licence.issuer_code, licence.serial, licence.current_version))


def wallet_licence(entry: reads.WalletEntry) -> WalletLicence:
    """One line of a wallet list (the holder's own, or the principal's a proxy sees)."""
    licence = entry.licence
    return WalletLicence(
        identifier=_current_identifier(licence), base_identifier=licence.base_identifier, type_code=licence.type_code,
        type_name=entry.type_name, issuer_code=licence.issuer_code, status=licence.status,
        current_version=licence.current_version, valid_from=licence.valid_from, valid_until=licence.valid_until,
        issued_at=licence.issued_at, open_disputes=entry.open_disputes,
    )


@router.get("/licences", response_model=list[WalletLicence])
def my_licences(
    session: ReadSessionDep,
    uses: SessionDep,
    holder: HolderDep,
    recorder: UseLogDep,
    status: StatusFilter = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
    offset: Annotated[int, Query(ge=0, le=100_000)] = 0,
):
    """The holder's licences of every status (or one), newest first. Read
    where read-only work goes (a standby within the lag bound); the use is
    recorded on the primary (``uses``)."""
    entries = reads.wallet(session=session, holder_code=holder.holder_code, holder_code_type=holder.holder_code_type,
                           status=status, limit=limit, offset=offset)
    listed = [wallet_licence(e) for e in entries]
    _record(recorder, uses, holder, [(e.licence, line.identifier) for e, line in zip(entries, listed, strict=True)])
    return listed


@router.get("/licences/expiring", response_model=list[ExpiringRead])
def my_expiring(
    session: ReadSessionDep,
    uses: SessionDep,
    holder: HolderDep,
    recorder: UseLogDep,
    days: Annotated[int, Query(ge=0, le=3660)] = 30,
):
    """The holder's live licences whose validity ends within `days` days (无感续证 reminders)."""
    rows = reads.list_expiring(session=session, holder_code=holder.holder_code, holder_code_type=holder.holder_code_type,
                               days=days)[:MAX_PAGE]
    _record(recorder, uses, holder, [(r, _current_identifier(r)) for r in rows])  # on the primary, as in my_licences
    return [ExpiringRead(base_identifier=r.base_identifier, type_code=r.type_code, holder_name=r.holder_name,
                         valid_until=cast(date, r.valid_until), status=r.status) for r in rows]  # list_expiring reads only dated ones


def _own(session: Session, identifier: str, holder: HolderPrincipal) -> reads.LicenceView:
    return reads.get_for_holder(session=session, identifier=identifier, holder=holder)


@router.get("/licences/{identifier}", response_model=LicenceRead)
def my_licence(identifier: str, request: Request, session: SessionDep, holder: HolderDep,
               recorder: UseLogDep):
    """One version of one of the holder's licences: face, sealed record, versions, status, open disputes."""
    view = _own(session, identifier, holder)
    _record(recorder, session, holder, [(view.licence, view.version.identifier)], fields=view.version.face)
    return licence_read(session, request, view)


@router.get("/licences/{identifier}/layout.png", response_class=Response)
def my_layout_png(identifier: str, request: Request, session: SessionDep, holder: HolderDep,
                  recorder: UseLogDep) -> Response:
    view = _own(session, identifier, holder)
    _record(recorder, session, holder, [(view.licence, view.version.identifier)], fields=view.version.face)
    return Response(documents.layout_png(session=session, view=view, **document_keys(request)), media_type="image/png")


@router.get("/licences/{identifier}/layout.pdf", response_class=Response)
def my_layout_pdf(identifier: str, request: Request, session: SessionDep, holder: HolderDep,
                  recorder: UseLogDep) -> Response:
    view = _own(session, identifier, holder)
    _record(recorder, session, holder, [(view.licence, view.version.identifier)], fields=view.version.face)
    return Response(documents.layout_pdf(session=session, view=view, **pdf_keys(request)),
                    media_type="application/pdf")


@router.get("/licences/{identifier}/layout.ofd", response_class=Response)
def my_layout_ofd(identifier: str, request: Request, session: SessionDep, holder: HolderDep,
                  recorder: UseLogDep) -> Response:
    """The OFD layout document with the issuing department's 签章 (GB/T 38540)."""
    view = _own(session, identifier, holder)
    _record(recorder, session, holder, [(view.licence, view.version.identifier)], fields=view.version.face)
    return Response(documents.layout_ofd(session=session, view=view, **document_keys(request)),
                    media_type=OFD_MEDIA_TYPE)


@router.get("/licences/{identifier}/static-qr", response_model=StaticQrRead)
def my_static_qr(identifier: str, request: Request, session: SessionDep, holder: HolderDep,
                 recorder: UseLogDep) -> StaticQrRead:
    """The static QR printed on the licence (its layout documents carry the
    same), for an offline copy in the wallet: a counter checks it with the
    trust list alone. It shows what the printed paper shows; no single use."""
    view = _own(session, identifier, holder)
    _record(recorder, session, holder, [(view.licence, view.version.identifier)], fields=STATIC_QR_FIELDS)
    qr_text = documents.static_qr_text(session=session, view=view, **document_keys(request))
    return StaticQrRead(identifier=view.version.identifier, type_name=view.version.record["licence_type_name"],
                        qr_text=qr_text,
                        qr_png_base64=base64.b64encode(render_qr_png(qr_text)).decode(),
                        valid_until=view.version.valid_until)


def _credential(view: reads.LicenceView, request: Request, session: Session, holder: HolderPrincipal,
                recorder: UseLog, holder_jwk: dict | None) -> CredentialRead:
    # Every claim is in the credential (the wallet chooses what to disclose later): the log names them all.
    _record(recorder, session, holder, [(view.licence, view.version.identifier)],
            fields=tuple(credentials.claims(view)))
    keys = document_keys(request)
    text = credentials.credential(session=session, view=view, holder_jwk=holder_jwk, **keys)
    return CredentialRead(identifier=view.version.identifier, format=VC_TYPE,
                          vct=vct_for(registry_id=keys["registry_id"], type_code=view.licence.type_code),
                          credential=text, holder_bound=holder_jwk is not None)


@router.get("/licences/{identifier}/sd-jwt-vc", response_model=CredentialRead)
def my_credential(identifier: str, request: Request, session: SessionDep, holder: HolderDep,
                  recorder: UseLogDep) -> CredentialRead:
    """The licence as an SD-JWT VC (docs/sd-jwt-vc.md), signed now by the issuing department, not
    bound to a holder key: any wallet can keep it and present it without key binding."""
    return _credential(_own(session, identifier, holder), request, session, holder, recorder, None)


@router.post("/licences/{identifier}/sd-jwt-vc", response_model=CredentialRead)
def my_bound_credential(identifier: str, body: CredentialRequest, request: Request, session: SessionDep,
                        holder: HolderDep, recorder: UseLogDep) -> CredentialRead:
    """The licence as an SD-JWT VC bound (cnf) to the wallet's EC P-256 public key: presenting it
    then takes a key-binding JWT that only that wallet can sign."""
    return _credential(_own(session, identifier, holder), request, session, holder, recorder, body.holder_jwk)


@router.get("/disputes", response_model=list[DisputeRead])
def my_disputes(session: ReadSessionDep, holder: HolderDep,
                limit: Annotated[int, Query(ge=1, le=disputes.MAX_PAGE)] = 100):
    """Every dispute about the holder's licences, by them or by a clerk, newest first."""
    rows = disputes.list_for_holder(session=session, holder_code=holder.holder_code,
                                    holder_code_type=holder.holder_code_type, limit=limit)
    return [dispute_read(d) for d in rows]


@router.post("/disputes", response_model=DisputeRead, status_code=201)
def raise_my_dispute(body: HolderDisputeCreate, request: Request, session: SessionDep, holder: HolderDep):
    """Say a field of one of the holder's licences is wrong (异议), with a reason."""
    view = _own(session, body.identifier, holder)
    dispute = disputes.open_dispute(
        session=session, view=view, disputer=disputes.Disputer.holder(holder.holder_code), field=body.field,
        reason=body.reason, proposed_value=body.proposed_value, deadline=dispute_deadline(request),
    )
    return dispute_read(dispute)


def _my_dispute(session: Session, dispute_id: int, holder: HolderPrincipal) -> LicenceDispute:
    """One of the holder's own disputes; anyone else's is "not found", as one that does not exist."""
    dispute = session.get(LicenceDispute, dispute_id)
    if dispute is None or (dispute.holder_code, dispute.holder_code_type) != (holder.holder_code,
                                                                               holder.holder_code_type):
        raise DisputeNotFound(f"dispute {dispute_id} not found")
    return dispute


@router.post("/disputes/{dispute_id}/attachments", response_model=AttachmentRead, status_code=201,
             openapi_extra={"requestBody": {"required": True, "content": {
                 media: {"schema": {"type": "string", "format": "binary"}, "example": "(the file's bytes)"}
                 for media in ATTACHMENT_TYPES}}})
async def attach_to_my_dispute(dispute_id: RowId, request: Request, holder: HolderDep,
                               units: Annotated[UnitOfWork, service(UnitOfWork)]) -> AttachmentRead:
    """Attach evidence to one of the holder's open disputes: the file's bytes
    as the body, with its media type (image/jpeg, image/png or
    application/pdf); at most 900 KiB, three files a dispute."""
    content = await request.body()  # certhub/bodylimit.py has bounded it already
    declared = request.headers.get("content-type", "")

    def attach(work: Work) -> AttachmentRead:
        dispute = _my_dispute(work.session, dispute_id, holder)
        row = dispute_attachments.attach(session=work.session, dispute=dispute, content=content,
                                         declared_type=declared, now=utcnow())
        return AttachmentRead.model_validate(row, from_attributes=True)

    return await units.run(attach)


@router.get("/disputes/{dispute_id}/attachments", response_model=list[AttachmentRead])
def my_dispute_attachments(dispute_id: RowId, session: SessionDep, holder: HolderDep) -> list[AttachmentRead]:
    """What the holder attached to one of their disputes (without the bytes)."""
    dispute = _my_dispute(session, dispute_id, holder)
    return [AttachmentRead.model_validate(row, from_attributes=True)
            for row in dispute_attachments.list_for(session=session, dispute_id=dispute.id)]
