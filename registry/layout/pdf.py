"""The licence face as a PDF: real text in the embedded (subset) Noto Sans SC,
so it can be searched and read aloud, with the seal and QR as images."""

from __future__ import annotations

import io

from fpdf import FPDF

from registry.layout.face import LicenceFace
from signing.fonts import sans_font_path, serif_font_path
from signing.qr import render_qr_png

_LANDSCAPE = {"certificate", "card"}


def render_pdf(face: LicenceFace) -> bytes:
    orientation = "L" if face.template in _LANDSCAPE else "P"
    pdf = FPDF(orientation=orientation, unit="mm", format="A4")
    pdf.set_creator("certhub")
    pdf.set_title(f"{face.type_name} {face.identifier}")
    pdf.add_font("sans", fname=str(sans_font_path()))
    pdf.add_font("serif", fname=str(serif_font_path()))
    pdf.set_auto_page_break(auto=False)
    pdf.add_page()
    width, height = pdf.w, pdf.h
    pdf.set_draw_color(160, 20, 20)
    pdf.set_line_width(1.2)
    pdf.rect(8, 8, width - 16, height - 16)
    pdf.set_line_width(0.3)
    pdf.rect(11, 11, width - 22, height - 22)

    pdf.set_text_color(160, 20, 20)
    pdf.set_font("serif", size=30)
    pdf.set_xy(10, 22)
    pdf.cell(width - 20, 14, face.type_name, align="C")
    pdf.set_text_color(33, 33, 33)
    pdf.set_font("sans", size=8)
    pdf.set_xy(10, 38)
    pdf.cell(width - 20, 5, f"证照标识 {face.identifier}", align="C")

    y = 50
    rows = [("持证主体", face.holder_name), *face.fields, ("有效期限", face.validity_text())]
    for label, value in rows:
        pdf.set_xy(25, y)
        pdf.set_font("sans", size=10)
        pdf.set_text_color(90, 90, 90)
        pdf.cell(40, 7, label)
        pdf.set_text_color(33, 33, 33)
        pdf.set_font("sans", size=11)
        pdf.set_xy(65, y)
        pdf.multi_cell(width - 90, 7, value or " ")
        y = max(pdf.get_y(), y + 7) + 2

    # Vector-sharp at any zoom: fpdf scales the PNG; 40 mm holds a version-13 code at ~0.5 mm per module.
    pdf.image(io.BytesIO(render_qr_png(face.qr_text, box_size=8)), x=22, y=height - 62, w=40, h=40)
    pdf.set_font("sans", size=8)
    pdf.set_xy(22, height - 21)
    pdf.cell(40, 4, "扫码核验", align="C")

    pdf.set_font("sans", size=12)
    pdf.set_xy(width - 115, height - 48)
    pdf.cell(90, 7, face.issuer_name, align="R")
    pdf.set_xy(width - 115, height - 40)
    pdf.cell(90, 7, f"{face.issued_on:%Y年%m月%d日}", align="R")
    if face.seal_png:
        pdf.image(io.BytesIO(face.seal_png), x=width - 80, y=height - 68, w=42, h=42)

    for text, color in _overlays(face):
        _diagonal(pdf, text, color)
    return bytes(pdf.output())


def _overlays(face: LicenceFace) -> list[tuple[str, tuple[int, int, int]]]:
    overlays = []
    if face.status_note:
        overlays.append((face.status_note, (220, 80, 80)))
    if face.annotation:
        overlays.append((face.annotation.text(), (120, 140, 200)))
    return overlays


def _diagonal(pdf: FPDF, text: str, color: tuple[int, int, int]) -> None:
    pdf.set_text_color(*color)
    pdf.set_font("sans", size=16)
    with pdf.local_context(fill_opacity=0.35, text_color=color):
        for i in range(4):
            y = 70 + i * (pdf.h - 100) / 4
            with pdf.rotation(angle=30, x=pdf.w / 2, y=y):
                pdf.set_xy(10, y)
                pdf.cell(pdf.w - 20, 10, text, align="C")
    pdf.set_text_color(33, 33, 33)
