"""A counter's verification receipt (核验回执) as a PDF: what was verified,
when, by whom, the verdict, the matter, the holder's id masked; the
department's seal picture beside its name. Real text in the embedded (subset)
Noto Sans SC, as on the licence faces (registry.layout.pdf), and PDF/A-2b
(# SPEC: ISO 19005-2 §6, level B), so the signature added afterwards in an
incremental update (registry.service.pdfsigning) keeps it archivable in the
case file (办件)."""

from __future__ import annotations

import io
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from fpdf import FPDF

from registry.layout.face import wrap_lines
from registry.layout.fonts import Family, font_subset, text_width_mm

_A4 = (210.0, 297.0)  # mm
_PT = 25.4 / 72  # mm per point
INK = (33, 33, 33)
LABEL_INK = (90, 90, 90)
ACCENT = (160, 20, 20)
MAX_ROWS = 40
MAX_VALUE_CHARS = 600


@dataclass(frozen=True)
class ReceiptSheet:
    title: str
    reference: str  # the verification's number (the presentation id)
    rows: list[tuple[str, str]]  # (label, value), in the order printed
    department_name: str
    issued_at: datetime  # China time, printed under the department's name
    seal_png: bytes | None = None

    def __post_init__(self) -> None:
        if len(self.rows) > MAX_ROWS:
            raise ValueError(f"a receipt prints at most {MAX_ROWS} rows")


def render_receipt_pdf(sheet: ReceiptSheet) -> bytes:
    rows = [(label, value if len(value) <= MAX_VALUE_CHARS else value[: MAX_VALUE_CHARS - 1] + "…")
            for label, value in sheet.rows]
    footer = [sheet.department_name, f"{sheet.issued_at:%Y年%m月%d日 %H:%M}"]
    note = "本回执由电子证照服务平台核验后出具，附电子签名，可用 PDF 阅读器验证。"
    reference = f"核验编号 {sheet.reference}"
    texts: dict[Family, set[str]] = {
        "serif": set(sheet.title),
        "sans": set(" " + reference + note + "".join(footer) + "".join(label + value for label, value in rows)),
    }
    with tempfile.TemporaryDirectory(prefix="certhub-receipt-") as folder:
        pdf = FPDF(unit="mm", format=_A4, enforce_compliance="PDF/A-2B")
        pdf.set_creator("certhub")
        pdf.set_title(f"{sheet.title} {sheet.reference}")
        for family, characters in texts.items():
            path = Path(folder) / f"{family}.otf"
            path.write_bytes(font_subset(family, characters))
            pdf.add_font(family, fname=str(path))
        pdf.set_auto_page_break(auto=True, margin=20)
        pdf.add_page()
        _draw(pdf, sheet, rows, footer, note, reference)
        return bytes(pdf.output())


def _draw(pdf: FPDF, sheet: ReceiptSheet, rows: list[tuple[str, str]], footer: list[str], note: str,
          reference: str) -> None:
    left, right = 22.0, _A4[0] - 22.0
    pdf.set_text_color(*ACCENT)
    pdf.set_font("serif", size=22)
    pdf.set_xy(left, 24)
    pdf.cell(right - left, 12, sheet.title, align="C")
    pdf.set_text_color(*INK)
    pdf.set_font("sans", size=9)
    pdf.set_xy(left, 38)
    pdf.cell(right - left, 5, reference, align="C")
    pdf.set_draw_color(*ACCENT)
    pdf.line(left, 46, right, 46)

    label_width, size = 34.0, 11
    line = size * _PT * 1.45
    y = 52.0
    for label, value in rows:
        lines = wrap_lines(value or "—", lambda ch: text_width_mm("sans", ch, size), right - left - label_width - 0.5)
        if y + line * len(lines) > _A4[1] - 70:  # keep room for the signature block
            pdf.add_page()
            y = 24.0
        pdf.set_font("sans", size=size - 1)
        pdf.set_text_color(*LABEL_INK)
        pdf.set_xy(left, y)
        pdf.cell(label_width, line, label)
        pdf.set_font("sans", size=size)
        pdf.set_text_color(*INK)
        for n, text in enumerate(lines):
            pdf.set_xy(left + label_width, y + n * line)
            pdf.cell(right - left - label_width, line, text)
        y += line * len(lines) + 2.5

    y = max(y + 10, 190.0)  # the signature block low on the page, as on a paper form
    if y + 45 > _A4[1] - 15:
        pdf.add_page()
        y = 30.0
    if sheet.seal_png:
        pdf.image(io.BytesIO(sheet.seal_png), x=right - 46, y=y - 8, w=40, h=40)
    pdf.set_font("sans", size=12)
    for n, text in enumerate(footer):
        pdf.set_xy(left, y + 8 + n * 7)
        pdf.cell(right - left - 8, 7, text, align="R")
    pdf.set_font("sans", size=8)
    pdf.set_text_color(*LABEL_INK)
    pdf.set_xy(left, y + 38)
    pdf.cell(right - left, 5, note, align="C")
