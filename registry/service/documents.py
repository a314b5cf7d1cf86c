"""Layout documents (版式文件) of a licence version, and purpose-limited
copies (加注件) with the record of who asked for them."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy.orm import Session

from catalog.db import utcnow
from catalog.service import departments, licence_types
from registry.errors import InvalidLicenceRequest
from registry.layout.face import Annotation, LicenceFace, display_value
from registry.layout.pdf import render_pdf
from registry.layout.png import render_png
from registry.models import LicenceCopy, LicenceStatus
from registry.service.authority import Actor
from registry.service.reads import LicenceView
from registry.service.records import CHINA_TIME
from signing import service as signing_service

MAX_PURPOSE = 100
_STATUS_NOTES = {
    LicenceStatus.SUSPENDED: "已暂停",
    LicenceStatus.REVOKED: "已吊销",
    LicenceStatus.CANCELLED: "已注销",
    LicenceStatus.EXPIRED: "已过期",
}


def licence_face(session: Session, *, view: LicenceView, annotation: Annotation | None = None) -> LicenceFace:
    licence, version = view.licence, view.version
    licence_type = licence_types.get_or_raise(session=session, code=licence.type_code, version=licence.type_version)
    labels = {f["key"]: f["label"] for f in licence_type.fields}
    fields = [(labels.get(k, k), display_value(_as_date(v))) for k, v in version.face.items()]
    record = version.record
    seal = signing_service.get_seal(session, es_id=version.es_id)
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
        # A placeholder until the signed verification QR exists: the identifier itself.
        qr_text=version.identifier,
        template=licence_type.layout_template,
        seal_png=seal.picture_png if seal is not None else None,
        status_note=note,
        annotation=annotation,
    )


def _as_date(value):
    if isinstance(value, str) and len(value) == 10 and value[4] == "-" and value[7] == "-":
        try:
            return date.fromisoformat(value)
        except ValueError:
            return value
    return value


def layout_png(session: Session, *, view: LicenceView) -> bytes:
    return render_png(licence_face(session, view=view))


def layout_pdf(session: Session, *, view: LicenceView) -> bytes:
    return render_pdf(licence_face(session, view=view))


def make_copy(
    session: Session, *, view: LicenceView, actor: Actor, purpose: str, expires_at: datetime,
    now: datetime | None = None,
) -> tuple[LicenceCopy, bytes]:
    """A PDF watermarked "仅用于{purpose}…，有效期至…", recorded before it is handed out."""
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
    return row, render_pdf(licence_face(session, view=view, annotation=annotation))
