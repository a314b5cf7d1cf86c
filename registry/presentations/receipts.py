"""A counter's verification receipt (核验回执) for the case file (办件): the
redemption as recorded — what was verified, when, by which department,
system and clerk, the verdict, the matter and the holder's id masked —
printed as a PDF and signed by the department's seal the way licence
documents are signed by the issuer's (PAdES, a certificate under the
registry's document root: registry.service.pdfsigning).

Only a redemption exists as a row (a refused code leaves a use-log record,
not a redemption), so a receipt always says 有效; it is the redeeming
department's alone: another's is answered as not found."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from catalog.service import departments, matters
from identity.masking import MaskRule, mask_value
from registry.errors import InvalidIdentifier, RedemptionNotFound
from registry.layout.receipt import ReceiptSheet, render_receipt_pdf
from registry.models import CHINA_TIME
from registry.presentations.models import Presentation, Redemption
from registry.service.pdfsigning import NO_TIMESTAMPS, PdfTimestamps, department_credentials, sign_with
from registry.service.reads import get_shown
from signing import service as signing_service

TITLE = "亮证核验回执"
_DISCLOSURES = {"full": "完整信息", "masked": "已隐藏敏感信息"}


def receipt_pdf(*, session: Session, presentation_id: str, department_code: str, registry_id: str,
                key_secret: bytes, now: datetime, timestamps: PdfTimestamps = NO_TIMESTAMPS) -> bytes:
    row = session.execute(
        select(Redemption, Presentation).join(Presentation, Presentation.id == Redemption.presentation_id)
        .where(Redemption.presentation_id == presentation_id)
    ).one_or_none()
    if row is None or row.Redemption.department_code != department_code:
        raise RedemptionNotFound(f"this department redeemed no code {presentation_id}")
    redemption, presentation = row.Redemption, row.Presentation
    credentials = department_credentials(session=session, department_code=department_code, registry_id=registry_id,
                                         key_secret=key_secret, now=now)
    seal = signing_service.get_seal(session=session, es_id=credentials.es_id)
    sheet = ReceiptSheet(
        title=TITLE, reference=presentation.id,
        rows=_rows(session=session, redemption=redemption, presentation=presentation),
        department_name=_department_name(session=session, code=department_code),
        issued_at=now.astimezone(CHINA_TIME), seal_png=seal.picture_png if seal is not None else None,
    )
    return sign_with(render_receipt_pdf(sheet), credentials=credentials, timestamps=timestamps,
                     reason=f"{TITLE} {presentation.id}", location=registry_id)


def _rows(*, session: Session, redemption: Redemption, presentation: Presentation) -> list[tuple[str, str]]:
    matter = matters.get(session=session, code=redemption.matter_code)
    matter_text = f"{matter.name}（{matter.code}）" if matter is not None else redemption.matter_code
    return [
        ("核验结论", "有效：亮证码真实有效，所含证照状态有效，本次用证已记入用证日志"),
        ("核验时间", f"{redemption.redeemed_at.astimezone(CHINA_TIME):%Y年%m月%d日 %H:%M:%S}（北京时间）"),
        ("办理事项", matter_text),
        ("办件编号", redemption.case_number or "—"),
        ("用证事由", redemption.purpose),
        ("核验部门", f"{_department_name(session=session, code=redemption.department_code)}（{redemption.department_code}）"),
        ("核验系统", redemption.client_id),
        ("经办人", redemption.operator_id),
        ("持证人证件号码", str(mask_value(presentation.holder_code, MaskRule.id_number))),
        ("出示范围", _DISCLOSURES.get(presentation.disclosure, presentation.disclosure)),
        *[("核验证照", text) for text in _licences(session=session, presentation=presentation)],
    ]


def _licences(*, session: Session, presentation: Presentation) -> list[str]:
    texts = []
    for identifier in presentation.licence_identifiers:
        try:
            shown = get_shown(session=session, identifier=identifier)
        except InvalidIdentifier:
            shown = None
        name = shown.record.get("licence_type_name") if shown is not None else None
        texts.append(f"{name}　{identifier}" if name else identifier)
    return texts


def _department_name(*, session: Session, code: str) -> str:
    department = departments.get(session=session, code=code)
    return department.name if department is not None else code
