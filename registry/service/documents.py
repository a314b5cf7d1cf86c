"""Layout documents (版式文件) of a licence version, and purpose-limited
copies (加注件) with the record of who asked for them.

Every layout carries the version's static EL1 QR (docs/formats.md, "QR codes
(EL1)"): signed with the issuing seal's current key, expiring at the end of
the licence's validity, with the masked holder name and the licence's place
in its status list, so anyone can verify it offline and check its status.

Every PDF (the layout and each 加注件 copy) is PDF/A-2b and carries the
issuing department's PAdES signature with the chain to the registry's
document root, time-stamped when a TSA is configured
(registry.service.pdfsigning; docs/formats.md, "Signed PDF layout documents").
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import replace
from datetime import date, datetime

from sqlalchemy.orm import Session

from catalog.service import departments, licence_types
from identity.masking import MaskRule, mask_value
from registry.errors import InvalidLicenceRequest
from registry.layout.face import MAX_IMAGES, Annotation, LicenceFace, display_value
from registry.layout.ofd import render_ofd
from registry.layout.pdf import render_pdf
from registry.layout.png import render_png
from registry.models import CHINA_TIME, Licence, LicenceCopy, LicenceStatus
from registry.service.authority import Actor, own_seal_with_algorithm, seal_for_licence
from registry.service.pdfsigning import NO_TIMESTAMPS, PdfTimestamps, sign_layout
from registry.service.reads import LicenceView
from registry.service.statuslists import subject_uri
from signing import service as signing_service
from signing.algorithms import Algorithm
from signing.errors import KeyNotFound, OfdSigningError, SealNotActive
from signing.ofd import OfdSealSigner
from signing.qr import LicenceSummary, QrSigner, encode_licence_qr
from signing.seals.gbt38540 import parse_seal_file
from storage.base import utcnow

MAX_PURPOSE = 100
MAX_MASKED_NAME = 32  # what the QR's summary carries at most
_STATUS_NOTES = {
    LicenceStatus.SUSPENDED: "已暂停",
    LicenceStatus.REVOKED: "已吊销",
    LicenceStatus.CANCELLED: "已注销",
    LicenceStatus.EXPIRED: "已过期",
}


def static_qr_text(
    *, session: Session, view: LicenceView, registry_id: str, key_secret: bytes, now: datetime | None = None
) -> str:
    """The version's static QR: signed now by the seal that sealed it, valid
    until the licence's last day ends (China time); no end for a permanent one."""
    licence, version = view.licence, view.version
    moment = (now or utcnow()).replace(microsecond=0)
    masked = str(mask_value(licence.holder_name, MaskRule.name))
    if len(masked) > MAX_MASKED_NAME:
        masked = masked[: MAX_MASKED_NAME - 1] + "…"
    summary = LicenceSummary(
        type_code=licence.type_code, identifier=version.identifier, holder_name_masked=masked,
        issuer_code=licence.issuer_code, valid_from=version.valid_from, valid_until=version.valid_until,
        status_idx=licence.status_index,
        status_uri=subject_uri(registry_id=registry_id, list_id=licence.status_list_id),
    )
    signer = _qr_signer(session=session, view=view, key_secret=key_secret, now=moment)
    return encode_licence_qr(signer=signer, issuer=registry_id, summary=summary, issued_at=moment,
                             expires_at=Licence.end_of_validity(version.valid_until))


def _qr_signer(*, session: Session, view: LicenceView, key_secret: bytes, now: datetime) -> QrSigner:
    """The seal that sealed the version; when it can no longer sign (suspended,
    revoked, expired), the issuer's current seal for the type attests instead."""
    try:
        return signing_service.seal_qr_signer(session=session, es_id=view.version.es_id, key_secret=key_secret, now=now)
    except (SealNotActive, KeyNotFound):
        licence = view.licence
        seal = seal_for_licence(session=session, acting=licence.issuer_code, issuer_code=licence.issuer_code,
                                type_code=licence.type_code, now=now)
        return signing_service.seal_qr_signer(session=session, es_id=seal.es_id, key_secret=key_secret, now=now)


def _ofd_signer(*, session: Session, view: LicenceView, key_secret: bytes, now: datetime) -> OfdSealSigner:
    """The seal whose 签章 the OFD carries: as for the QR, the seal that sealed the
    version; when that one cannot sign now, or signs with another algorithm than
    SM2 (GB/T 38540 signs with SM2 only), the issuer's own SM2 seal for the type,
    as the signed PDF takes the issuer's ES256 one. OfdSigningError when there is none."""
    try:
        return signing_service.seal_ofd_signer(session=session, es_id=view.version.es_id, key_secret=key_secret,
                                               now=now)
    except (SealNotActive, KeyNotFound, OfdSigningError) as first:
        licence = view.licence
        seal = own_seal_with_algorithm(session=session, department_code=licence.issuer_code,
                                       type_code=licence.type_code, algorithm=str(Algorithm.SM2), now=now)
        if seal is None or seal.es_id == view.version.es_id:
            raise OfdSigningError(f"{first}; the issuer holds no other active SM2 seal for this licence type") from first
        return signing_service.seal_ofd_signer(session=session, es_id=seal.es_id, key_secret=key_secret, now=now)


def _sealed_ofd(*, session: Session, view: LicenceView, face: LicenceFace, key_secret: bytes) -> bytes:
    moment = utcnow().replace(microsecond=0)
    signer = _ofd_signer(session=session, view=view, key_secret=key_secret, now=moment)
    if face.seal_png is None:  # the stamp shows the signing seal's picture
        face = replace(face, seal_png=parse_seal_file(signer.seal_der).picture.data)
    return render_ofd(face, signer=signer, signed_at=moment)


def licence_face(
    *, session: Session, view: LicenceView, registry_id: str, key_secret: bytes,
    annotation: Annotation | None = None,
) -> LicenceFace:
    licence, version = view.licence, view.version
    licence_type = licence_types.get_or_raise(session=session, code=licence.type_code, version=licence.type_version)
    labels = {f["key"]: f["label"] for f in licence_type.fields}
    pictures = {f["key"] for f in licence_type.fields if f.get("type") == "image"}
    # An image field (照片) is a picture on the face, not its base64 text.
    fields = [(labels.get(k, k), display_value(_as_date(v))) for k, v in version.face.items() if k not in pictures]
    images = [(labels[k], data) for k in labels if k in pictures and (data := _picture(version.face.get(k)))]
    record = version.record
    seal = signing_service.get_seal(session=session, es_id=version.es_id)
    note = "已被新版本替代" if version.superseded else _STATUS_NOTES.get(licence.status)
    return LicenceFace(
        type_name=record["licence_type_name"],
        holder_name=licence.holder_name,
        fields=[("持证主体代码", licence.holder_code), *fields],  # the layout prints the holder name itself
        identifier=version.identifier,
        issuer_name=record["issuer_name"],
        issued_on=date.fromisoformat(record["issue_date"]),
        valid_from=version.valid_from,
        valid_until=version.valid_until,
        qr_text=static_qr_text(session=session, view=view, registry_id=registry_id, key_secret=key_secret),
        template=licence_type.layout_template,
        seal_png=seal.picture_png if seal is not None else None,
        status_note=note,
        images=images[:MAX_IMAGES],
        annotation=annotation,
    )


def _picture(value) -> bytes | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return None


def _as_date(value):
    if isinstance(value, str) and len(value) == 10 and value[4] == "-" and value[7] == "-":
        try:
            return date.fromisoformat(value)
        except ValueError:
            return value
    return value


def layout_png(*, session: Session, view: LicenceView, registry_id: str, key_secret: bytes) -> bytes:
    return render_png(licence_face(session=session, view=view, registry_id=registry_id, key_secret=key_secret))


def layout_pdf(*, session: Session, view: LicenceView, registry_id: str, key_secret: bytes,
               timestamps: PdfTimestamps = NO_TIMESTAMPS) -> bytes:
    """The face as a signed PDF/A-2b document."""
    pdf = render_pdf(licence_face(session=session, view=view, registry_id=registry_id, key_secret=key_secret))
    return sign_layout(pdf, session=session, view=view, registry_id=registry_id, key_secret=key_secret,
                       timestamps=timestamps)


def layout_ofd(*, session: Session, view: LicenceView, registry_id: str, key_secret: bytes) -> bytes:
    """The OFD layout document, sealed (电子签章, GB/T 38540) by the department's SM2 seal."""
    face = licence_face(session=session, view=view, registry_id=registry_id, key_secret=key_secret)
    return _sealed_ofd(session=session, view=view, face=face, key_secret=key_secret)


DOCUMENT_FORMATS = ("pdf", "ofd")


def make_copy(
    *, session: Session, view: LicenceView, actor: Actor, purpose: str, expires_at: datetime,
    registry_id: str, key_secret: bytes, timestamps: PdfTimestamps = NO_TIMESTAMPS, now: datetime | None = None,
    document_format: str = "pdf",
) -> tuple[LicenceCopy, bytes]:
    """A signed PDF, or a sealed OFD, watermarked "仅用于{purpose}…，有效期至…", recorded before it is handed out."""
    if document_format not in DOCUMENT_FORMATS:
        raise InvalidLicenceRequest(f"format: one of {', '.join(DOCUMENT_FORMATS)}", field="format")
    moment = now or utcnow()
    purpose = (purpose or "").strip()
    if not 1 <= len(purpose) <= MAX_PURPOSE:
        raise InvalidLicenceRequest(f"purpose: 1 to {MAX_PURPOSE} characters", field="purpose")
    if expires_at.tzinfo is None or expires_at <= moment:
        raise InvalidLicenceRequest("expires_at: a time in the future, with its offset", field="expires_at")
    if view.licence.status != LicenceStatus.VALID or view.version.superseded:
        raise InvalidLicenceRequest("a copy is only made of the current version of a valid licence", field="identifier")
    department = departments.get_or_raise(session=session, code=actor.department_code)
    row = LicenceCopy(licence_id=view.licence.id, version=view.version.version, purpose=purpose,
                      expires_at=expires_at, requested_by=actor.department_code, client_id=actor.client_id,
                      created_at=moment)
    session.add(row)
    session.flush()
    annotation = Annotation(purpose=purpose, department_name=department.name,
                            expires_at=expires_at.astimezone(CHINA_TIME))
    face = licence_face(
        session=session, view=view, registry_id=registry_id, key_secret=key_secret, annotation=annotation
    )
    if document_format == "ofd":
        return row, _sealed_ofd(session=session, view=view, face=face, key_secret=key_secret)
    return row, sign_layout(render_pdf(face), session=session, view=view, registry_id=registry_id,
                            key_secret=key_secret, timestamps=timestamps, now=moment)
