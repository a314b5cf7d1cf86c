"""亮证: a holder (or their proxy) asks for a one-time QR code presenting
some of their live licences; the registry stores the presentation and signs
the code with its presentation key."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from registry.errors import InvalidIdentifier, LicenceNotFound
from registry.identifiers import LicenceIdentifier
from registry.models import Licence, LicenceStatus
from registry.presentations.disclosure import DISCLOSURES
from registry.presentations.errors import InvalidPresentationRequest, LicenceNotPresentable
from registry.presentations.models import Presentation
from registry.presentations.policy import PRESENTATION_POLICY, PresentRequest
from registry.presentations.redeem import SKEW, short_codes_kept_since
from registry.service import reads
from signing import service as signing_service
from signing.qr import encode_presentation_qr
from storage.units import write_lock

MAX_LICENCES = 10
MIN_TTL_SECONDS = 15
MAX_TTL_SECONDS = 600
ID_BYTES = 12  # 96 random bits, 16 base64url characters: unguessable, and short in the QR
SHORT_CODE_DIGITS = 10  # typed by a clerk; guessing is bounded by redeem.SHORT_CODE_ATTEMPTS
_SHORT_CODE_DRAWS = 5


@dataclass(frozen=True)
class IssuedPresentation:
    row: Presentation
    qr_text: str

    @property
    def ttl_seconds(self) -> int:
        return int((self.row.expires_at - self.row.issued_at).total_seconds())


def present(
    *,
    session: Session,
    actor_code: str,
    actor_code_type: str,
    identifiers: Sequence[str],
    disclosure: str,
    on_behalf_of: str | None,
    ttl_seconds: int,
    registry_id: str,
    key_secret: bytes,
    now: datetime,
) -> IssuedPresentation:
    """Check the request, store the presentation, sign its QR code."""
    _check_request(identifiers=identifiers, disclosure=disclosure, ttl_seconds=ttl_seconds)
    moment = now.replace(microsecond=0)  # CWT times are whole seconds: keep the row equal to the code
    write_lock(session=session)
    principal_code = on_behalf_of or actor_code
    licences, versions = _resolve(session=session, identifiers=identifiers)
    request = PresentRequest(session=session, actor_code=actor_code, principal_code=principal_code,
                             licences=licences, now=now,
                             principal_code_type=actor_code_type if principal_code == actor_code else None)
    PRESENTATION_POLICY.check(request)
    for licence, version_identifier in zip(licences, versions, strict=True):
        _check_live(licence, identifier=version_identifier, now=moment)
    principal = licences[0]
    signer = signing_service.presentation_qr_signer(session=session, key_secret=key_secret)
    row = Presentation(
        id=secrets.token_urlsafe(ID_BYTES), holder_code=principal_code, holder_code_type=principal.holder_code_type,
        proxy_code=None if principal_code == actor_code else actor_code,
        delegation_id=request.delegation.id if request.delegation is not None else None,
        licence_identifiers=list(versions), disclosure=disclosure, kid=signer.kid,
        issued_at=moment, expires_at=moment + timedelta(seconds=ttl_seconds),
        short_code=_fresh_short_code(session=session, now=moment),
    )
    session.add(row)
    session.flush()
    _supersede_earlier(session=session, new=row, licences=licences, now=moment)
    qr_text = encode_presentation_qr(
        signer=signer, issuer=registry_id, presentation_id=row.id, licence_identifiers=list(versions),
        disclosure=disclosure, issued_at=row.issued_at, expires_at=row.expires_at,
    )
    return IssuedPresentation(row=row, qr_text=qr_text)


def _fresh_short_code(*, session: Session, now: datetime) -> str:
    """Random digits no live code has. Two codes made at once on PostgreSQL may
    still draw the same digits; the counter then refuses both short codes
    (redeem.redeem_short_code: fail closed) and the QR still works."""
    for _ in range(_SHORT_CODE_DRAWS):
        code = f"{secrets.randbelow(10**SHORT_CODE_DIGITS):0{SHORT_CODE_DIGITS}d}"
        taken = session.scalar(select(Presentation.id).where(
            Presentation.short_code == code, Presentation.expires_at >= short_codes_kept_since(now)).limit(1))
        if taken is None:
            return code
    raise InvalidPresentationRequest("no free short code could be drawn; ask again")


def _supersede_earlier(*, session: Session, new: Presentation, licences: Sequence[Licence], now: datetime) -> None:
    """One live code per licence: the new code replaces every earlier code of
    the holder that is still live and shows one of its licences (redemption
    and the public check then answer `superseded`). The licences' rows are
    locked first, so two codes made at once for a licence are made one after
    the other and the second sees the first (docs/architecture.md, rule 8)."""
    session.execute(select(Licence.id).where(Licence.id.in_([licence.id for licence in licences]))
                    .order_by(Licence.id).with_for_update(key_share=True))  # in one order: no deadlock
    bases = {licence.base_identifier for licence in licences}
    live = session.execute(
        select(Presentation.id, Presentation.licence_identifiers).where(
            Presentation.holder_code == new.holder_code, Presentation.id != new.id,
            Presentation.superseded_by.is_(None), Presentation.expires_at >= now - SKEW)
    ).all()
    replaced = [presentation_id for presentation_id, identifiers in live
                if bases.intersection(_base(identifier) for identifier in identifiers)]
    if replaced:
        session.execute(update(Presentation).where(Presentation.id.in_(replaced)).values(superseded_by=new.id)
                        .execution_options(synchronize_session=False))


def _base(identifier: str) -> str | None:
    try:
        return LicenceIdentifier.parse(identifier).base
    except InvalidIdentifier:
        return None


def _check_request(*, identifiers: Sequence[str], disclosure: str, ttl_seconds: int) -> None:
    if disclosure not in DISCLOSURES:
        raise InvalidPresentationRequest(f"disclosure: one of {', '.join(DISCLOSURES)}")
    if not 1 <= len(identifiers) <= MAX_LICENCES or len(set(identifiers)) != len(identifiers):
        raise InvalidPresentationRequest(f"licences: 1 to {MAX_LICENCES} different licence identifiers")
    if not MIN_TTL_SECONDS <= ttl_seconds <= MAX_TTL_SECONDS:
        raise InvalidPresentationRequest(f"ttl: {MIN_TTL_SECONDS} to {MAX_TTL_SECONDS} seconds")


def _resolve(*, session: Session, identifiers: Sequence[str]) -> tuple[list[Licence], list[str]]:
    """Each licence and the identifier of its current version. An identifier
    of an older version names the licence; the code presents what is current."""
    licences, versions = [], []
    for identifier in identifiers:
        try:
            view = reads.get(session=session, identifier=identifier)
        except InvalidIdentifier:
            raise InvalidPresentationRequest("licences: not a licence identifier (GB/T 36904)") from None
        if view is None:
            raise LicenceNotFound("a licence named is not among the holder's licences")
        if view.licence in licences:
            raise InvalidPresentationRequest("licences: a licence is named twice")
        licences.append(view.licence)
        versions.append(_current_identifier(session=session, view=view))
    return licences, versions


def _current_identifier(*, session: Session, view: reads.LicenceView) -> str:
    if view.version.version == view.licence.current_version:
        return view.version.identifier
    current = [
        v for v in reads.versions(session=session, licence=view.licence) if v.version == view.licence.current_version
    ]
    return current[0].identifier


def _check_live(licence: Licence, *, identifier: str, now: datetime) -> None:
    if licence.status != LicenceStatus.VALID:
        raise LicenceNotPresentable(f"licence {identifier} is {licence.status}; only valid licences are shown")
    if licence.valid_until is not None and licence.expired_at(now):  # a permanent licence never expires
        raise LicenceNotPresentable(f"licence {identifier} expired on {licence.valid_until.isoformat()}")
