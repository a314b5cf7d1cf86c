"""Attachments to a holder's dispute (异议材料): the evidence the issuer
reads before deciding. Bounded at the boundary: JPEG, PNG or PDF only, known
by their first bytes (never by a name or a declared type alone), at most
MAX_BYTES each and MAX_PER_DISPUTE per dispute, and only while the dispute
is open."""

from __future__ import annotations

import hashlib
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from registry.errors import InvalidDispute
from registry.models import DisputeAttachment, DisputeStatus, LicenceDispute
from storage.units import write_lock

MAX_BYTES = 900 * 1024  # under the request body limit (certhub/bodylimit.py, 1 MiB)
MAX_PER_DISPUTE = 3
# SPEC: the formats' own signatures — PNG (ISO/IEC 15948 §5.2), JPEG SOI marker (ITU T.81 B.1.1.2), PDF header (ISO 32000-1 §7.5.2).
_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"%PDF-", "application/pdf"),
)


def media_type_of(content: bytes) -> str | None:
    for signature, media_type in _SIGNATURES:
        if content.startswith(signature):
            return media_type
    return None


def attach(*, session: Session, dispute: LicenceDispute, content: bytes, declared_type: str,
           now: datetime) -> DisputeAttachment:
    """Keep one file with an open dispute; refuses what is not a JPEG, PNG or
    PDF (whatever it claims to be), too large, or one file too many."""
    if not content:
        raise InvalidDispute("attachment: the file is empty", field="attachment")
    if len(content) > MAX_BYTES:
        raise InvalidDispute(f"attachment: at most {MAX_BYTES} bytes", field="attachment")
    media_type = media_type_of(content)
    if media_type is None or declared_type.split(";")[0].strip().lower() != media_type:
        raise InvalidDispute("attachment: only JPEG, PNG or PDF files, sent with their own media type",
                             field="attachment")
    write_lock(session=session)
    locked = session.scalar(select(LicenceDispute).where(LicenceDispute.id == dispute.id).with_for_update())
    if locked is None or locked.status != DisputeStatus.OPEN:
        raise InvalidDispute("attachment: the dispute is no longer open", field="attachment")
    count = session.scalar(select(func.count()).where(DisputeAttachment.dispute_id == dispute.id)) or 0
    if count >= MAX_PER_DISPUTE:
        raise InvalidDispute(f"attachment: at most {MAX_PER_DISPUTE} files a dispute", field="attachment")
    row = DisputeAttachment(dispute_id=dispute.id, media_type=media_type, size=len(content),
                            sha256=hashlib.sha256(content).hexdigest(), content=content, created_at=now)
    session.add(row)
    session.flush()
    return row


def list_for(*, session: Session, dispute_id: int) -> list[DisputeAttachment]:
    return list(session.scalars(
        select(DisputeAttachment).where(DisputeAttachment.dispute_id == dispute_id).order_by(DisputeAttachment.id)))


def get(*, session: Session, dispute_id: int, attachment_id: int) -> DisputeAttachment | None:
    return session.scalar(select(DisputeAttachment).where(DisputeAttachment.id == attachment_id,
                                                          DisputeAttachment.dispute_id == dispute_id))
