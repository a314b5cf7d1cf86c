"""The public check (for anyone: a hotel, a bank, a citizen): is this QR code
genuine, and what does it itself say? Nothing beyond the code is revealed;
for a printed licence QR of this registry the status list is consulted, so
a revoked or suspended licence shows as such."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry.models import StatusList
from registry.presentations.models import Presentation
from registry.presentations.redeem import SKEW, SUPERSEDED_MESSAGE
from registry.presentations.trust import HeldTrust, RegistryTrust
from registry.service import statuslists
from signing.errors import VerificationError
from signing.qr import QrResult, QrVerificationError, verify_qr
from signing.qr.errors import QrErrorCode
from signing.statuslist import StatusListToken, verify_trusted_status_list_token

_LIST_ID = re.compile(r"/api/v1/status-lists/([0-9]{1,9})")


@dataclass(frozen=True)
class PublicCheck:
    valid: bool
    kind: str | None = None
    error: str | None = None
    message: str | None = None
    summary: dict[str, Any] | None = None
    issuer: str | None = None
    expires_at: datetime | None = None


def check(*, session: Session, qr_text: str, trust: RegistryTrust, registry_id: str, now: datetime) -> PublicCheck:
    try:
        result = _verify(session=session, qr_text=qr_text, trust=trust, registry_id=registry_id, now=now)
    except QrVerificationError as exc:
        return PublicCheck(valid=False, error=exc.code, message=str(exc))
    if result.presentation is not None and result.issuer == registry_id and _superseded(
            session=session, presentation_id=result.presentation.presentation_id):
        return PublicCheck(valid=False, error="superseded", message=SUPERSEDED_MESSAGE)
    return PublicCheck(valid=True, kind=result.kind, summary=_summary(result), issuer=result.issuer,
                       expires_at=result.expires_at)


def _superseded(*, session: Session, presentation_id: str) -> bool:
    """A 亮证 code of this registry that a newer code replaced (the one
    presentation column the check reads)."""
    replaced_by = session.scalar(select(Presentation.superseded_by).where(Presentation.id == presentation_id))
    return replaced_by is not None


def _verify(*, session: Session, qr_text: str, trust: RegistryTrust, registry_id: str, now: datetime) -> QrResult:
    held = trust.current(now=now)
    try:
        result = verify_qr(qr_text, trust_store=held.store, now=now, skew=SKEW)
    except QrVerificationError as exc:
        if exc.code not in {"unknown_key", "key_not_valid"}:
            raise
        held = trust.refresh(now=now)
        result = verify_qr(qr_text, trust_store=held.store, now=now, skew=SKEW)
    if result.summary is None:
        return result
    row = own_status_list(session=session, uri=result.summary.status_uri, registry_id=registry_id)
    if row is None:
        return result  # another registry's list: the code is genuine, its status unknown here
    token = _verified_list(row, trust=trust, held=held, registry_id=registry_id, now=now)
    # Again, now with the licence's status: revoked and suspended codes fail here.
    return verify_qr(qr_text, trust_store=held.store, now=now, skew=SKEW, status_lists={token.subject: token})


def _verified_list(row: StatusList, *, trust: RegistryTrust, held: HeldTrust, registry_id: str,
                   now: datetime) -> StatusListToken:
    """The list's token checked as any verifier checks it: with the status-list key
    the trust list names, never the key kept beside the list. A key published
    since the held trust list was read gets one refresh."""
    uri = statuslists.subject_uri(registry_id=registry_id, list_id=row.id)
    for attempt in range(2):
        try:
            return verify_trusted_status_list_token(row.token, trust_store=held.store, subject=uri, now=now)
        except VerificationError as exc:
            if exc.code == "status_list_untrusted" and attempt == 0:
                held = trust.refresh(now=now)
                continue
            code: QrErrorCode = "status_list_untrusted" if exc.code == "status_list_untrusted" else "status_unavailable"
            raise QrVerificationError(code, f"status list {uri}: {exc}") from None
    raise AssertionError("unreachable")


# The registry's own status list a URI names (None: another registry's, or none); the OpenID4VP verifier reads it too.
def own_status_list(*, session: Session, uri: str, registry_id: str) -> StatusList | None:
    prefix = registry_id.rstrip("/")
    match = _LIST_ID.fullmatch(uri[len(prefix):]) if uri.startswith(prefix) else None
    if match is None:
        return None
    row = session.get(StatusList, int(match.group(1)))
    if row is None or statuslists.subject_uri(registry_id=registry_id, list_id=row.id) != uri:
        return None
    return row


def _summary(result: QrResult) -> dict[str, Any] | None:
    if result.summary is not None:
        summary = result.summary
        return {
            "type_code": summary.type_code,
            "identifier": summary.identifier,
            "holder_name_masked": summary.holder_name_masked,
            "issuer_code": summary.issuer_code,
            "valid_from": summary.valid_from.isoformat(),
            "valid_until": None if summary.valid_until is None else summary.valid_until.isoformat(),
            "status": result.status,
        }
    if result.presentation is not None:
        claim = result.presentation
        return {"presentation_id": claim.presentation_id, "licences": list(claim.licence_identifiers),
                "disclosure": claim.disclosure}
    return None
