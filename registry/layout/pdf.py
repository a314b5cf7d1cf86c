"""The licence face as a PDF: real text in the embedded (subset) Noto Sans SC,
so it can be searched and read aloud, with the seal and QR as images.

Laid out as the PNG is (`registry.layout.png`): `plan_pdf` places every
line and picture in a box inside the frame first, the fields between the
header and the footer (QR code left, issuer and seal right) and beside the
photos; the field fonts shrink until the fields fit, down to a legible
minimum, after which the page grows longer. Nothing is drawn over the QR
code, the seal or a photo, nor past the frame.

The document is PDF/A-2b (# SPEC: ISO 19005-2 §6, level B): fpdf2 enforces
the profile, embeds every font, and writes the sRGB output intent and the XMP
metadata naming the part and conformance; transparency (the overlays, the
seal's alpha) is allowed from part 2 on. registry.service.pdfsigning signs it
afterwards in an incremental update, which PDF/A permits.
"""

from __future__ import annotations

import io
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from fpdf import FPDF
from PIL import Image

from registry.layout.face import LicenceFace, largest_fit, wrap_lines
from registry.layout.fonts import Family, font_subset, text_width_mm
from registry.layout.png import Box
from signing.qr import render_qr_png

_LANDSCAPE = {"certificate", "card"}
_A4 = (210.0, 297.0)  # mm
_FONT_FACTORS = (1.0, 0.9, 0.8, 0.7, 0.62, 0.55, 0.5)
_MIN_LABEL_PT, _MIN_VALUE_PT = 5.5, 6.0
_PT = 25.4 / 72  # mm per point
INK = (33, 33, 33)
LABEL_INK = (90, 90, 90)
ACCENT = (160, 20, 20)

Rect = tuple[float, float, float, float]


@dataclass
class PdfLayout:
    size: tuple[float, float]  # mm
    frame: Rect  # the inner border: every box lies inside it
    font_factor: float
    boxes: list[Box] = field(default_factory=list)
    _strokes: list = field(default_factory=list, repr=False)
    _face: LicenceFace | None = field(default=None, repr=False)
    _texts: dict[Family, set[str]] = field(default_factory=dict, repr=False)  # what each font draws

    def render(self) -> bytes:
        face = self._face
        assert face is not None, "render a layout made by plan_pdf"
        overlays = _overlays(face)
        texts = {family: set(drawn) for family, drawn in self._texts.items()}
        texts.setdefault("sans", set()).update(text for text, _ in overlays)
        with tempfile.TemporaryDirectory(prefix="certhub-face-") as fonts:
            pdf = _document(face, {family: _subset_file(Path(fonts), family, drawn)
                                   for family, drawn in texts.items()})
            pdf.add_page(format=self.size)
            width, height = self.size
            pdf.set_draw_color(*ACCENT)
            pdf.set_line_width(1.2)
            pdf.rect(8, 8, width - 16, height - 16)
            pdf.set_line_width(0.3)
            pdf.rect(*self.frame[:2], self.frame[2] - self.frame[0], self.frame[3] - self.frame[1])
            for stroke in self._strokes:
                stroke(pdf)
            for text, color in overlays:
                _diagonal(pdf, text, color)
            return bytes(pdf.output())  # writing it out closes the subset files before they go


def render_pdf(face: LicenceFace) -> bytes:
    return plan_pdf(face).render()


def plan_pdf(face: LicenceFace) -> PdfLayout:
    """Where everything goes, measured with the fonts' advances (no PDF is made)."""
    width, height = (_A4[1], _A4[0]) if face.template in _LANDSCAPE else _A4
    photos = [photo for photo in (png_picture(data) for _, data in face.images) if photo is not None]
    qr_png = render_qr_png(face.qr_text, box_size=8)
    layout = largest_fit(lambda page_height, factor: _plan(face, qr_png, photos, width, page_height, factor),
                         height=height, factors=_FONT_FACTORS)
    layout._face = face
    return layout


def _subset_file(directory: Path, family: Family, texts: set[str]) -> Path:
    # fpdf2 reads a font from a file only; the subset is a few kilobytes.
    path = directory / f"{family}.otf"
    path.write_bytes(font_subset(family, [" ", *texts]))
    return path


def _document(face: LicenceFace, fonts: dict[Family, Path]) -> FPDF:
    pdf = FPDF(unit="mm", format=_A4, enforce_compliance="PDF/A-2B")
    pdf.set_creator("certhub")
    pdf.set_title(f"{face.type_name} {face.identifier}")
    for family, path in fonts.items():
        pdf.add_font(family, fname=str(path))
    pdf.set_auto_page_break(auto=False)
    return pdf


class _Planner:
    def __init__(self) -> None:
        self.boxes: list[Box] = []
        self.strokes: list = []
        self.texts: dict[Family, set[str]] = {}

    def text(self, kind: str, x: float, y: float, text: str, family: Family, size: float, color, *,
             align: str = "L", width: float | None = None) -> Rect:
        """One line at (x, y), its top; `align` R puts its right end at x, C centres it on x."""
        length = text_width_mm(family, text, size)
        left = {"L": x, "R": x - length, "C": x - length / 2}[align]
        height = size * _PT * 1.25
        rect = (left, y, left + length, y + height)
        if text.strip():
            self.boxes.append(Box(kind, rect, text))
        self.texts.setdefault(family, set()).add(text)

        def stroke(pdf: FPDF) -> None:
            pdf.set_font(family, size=size)
            pdf.set_text_color(*color)
            pdf.set_xy(left, y)
            pdf.cell(length, height, text)

        self.strokes.append(stroke)
        return rect

    def picture(self, kind: str, data: bytes, rect: Rect) -> Rect:
        self.boxes.append(Box(kind, rect))
        self.strokes.append(lambda pdf: pdf.image(io.BytesIO(data), x=rect[0], y=rect[1], w=rect[2] - rect[0],
                                                  h=rect[3] - rect[1]))
        return rect

    @staticmethod
    def fitting(text: str, family: Family, size: float, max_width: float) -> float:
        while size > 5 and text_width_mm(family, text, size) > max_width:
            size = max(size * 0.9, 5)
        return size


def _plan(face: LicenceFace, qr_png: bytes, photos: list[tuple[bytes, float]], width: float, height: float,
          factor: float) -> tuple[PdfLayout, float]:
    frame = (11.0, 11.0, width - 11, height - 11)
    left, top, right, bottom = frame[0] + 5, frame[1] + 5, frame[2] - 5, frame[3] - 5
    planner = _Planner()

    # 1. Header.
    title_size = planner.fitting(face.type_name, "serif", 30, right - left)
    title = planner.text("title", (left + right) / 2, top + 4, face.type_name, "serif", title_size, ACCENT, align="C")
    ident = f"证照标识 {face.identifier}"
    ident_size = planner.fitting(ident, "sans", 8, right - left)
    ident_box = planner.text("identifier", (left + right) / 2, title[3] + 2, ident, "sans", ident_size, INK,
                             align="C")
    body_top = ident_box[3] + 6

    # 2. Footer: QR and caption left; issuer, date and seal right.
    # Vector-sharp at any zoom: fpdf scales the PNG; 40 mm holds a version-13 code at ~0.5 mm per module.
    qr = 40.0
    seal = 42.0 if face.seal_png else 0.0
    footer_height = max(qr + 6, seal)
    footer_top = bottom - footer_height
    planner.picture("qr", qr_png, (left, footer_top, left + qr, footer_top + qr))
    planner.text("qr_caption", left + qr / 2, footer_top + qr + 1, "扫码核验", "sans", 8, INK, align="C")
    issuer_size = planner.fitting(face.issuer_name, "sans", 12, right - left - qr - 15)
    line = issuer_size * _PT * 1.25 + 1.5
    issuer_y = footer_top + footer_height / 2 - line
    planner.text("issuer", right, issuer_y, face.issuer_name, "sans", issuer_size, INK, align="R")
    planner.text("issued_on", right, issuer_y + line, f"{face.issued_on:%Y年%m月%d日}", "sans", issuer_size, INK,
                 align="R")
    if face.seal_png:
        seal_left, seal_top = right - seal - 3, footer_top + (footer_height - seal) / 2
        planner.picture("seal", face.seal_png, (seal_left, seal_top, seal_left + seal, seal_top + seal))

    # 3. Body: photos in a column on the right, the fields beside them.
    body_bottom = footer_top - 6
    main_right, photo_end = right, body_top
    if photos:
        column = 45.0 if face.template in _LANDSCAPE else 38.0
        main_right = right - column - 6
        y = body_top
        for data, aspect in photos:  # aspect: height / width
            w = min(column, column * 4 / 3 / aspect)
            h = w * aspect
            x = right - column + (column - w) / 2
            planner.picture("photo", data, (x, y, x + w, y + h))
            photo_end = y + h
            y = photo_end + 4
    end = _fields(planner, face, left=left + 4, right=main_right, top=body_top, factor=factor)
    layout = PdfLayout(size=(width, height), frame=frame, font_factor=factor, boxes=planner.boxes,
                       _strokes=planner.strokes, _texts=planner.texts)
    return layout, max(end, photo_end) - body_bottom


def _fields(planner: _Planner, face: LicenceFace, *, left: float, right: float, top: float, factor: float) -> float:
    label_size = max(10 * factor, _MIN_LABEL_PT)
    value_size = max(11 * factor, _MIN_VALUE_PT)
    rows = [("持证主体", face.holder_name), *face.fields, ("有效期限", face.validity_text())]
    label_width = min(max(text_width_mm("sans", label, label_size) for label, _ in rows) + 1, (right - left) * 0.34)
    value_x = left + label_width + 4 * factor + 1
    line = max(label_size, value_size) * _PT * 1.25 + 0.6 * factor
    y = top
    for label, value in rows:
        labels = _wrap(label, "sans", label_size, label_width)
        values = _wrap(value, "sans", value_size, right - value_x) or [""]
        for n, text in enumerate(labels):
            planner.text("label", left, y + n * line, text, "sans", label_size, LABEL_INK)
        for n, text in enumerate(values):
            planner.text("value", value_x, y + n * line, text, "sans", value_size, INK)
        y += max(len(labels), len(values)) * line + 1.5 * factor
    return y


def _wrap(text: str, family: Family, size: float, max_width: float) -> list[str]:
    return wrap_lines(text, lambda ch: text_width_mm(family, ch, size), max_width - 0.3)


def png_picture(data: bytes) -> tuple[bytes, float] | None:
    """A photo as PNG bytes fpdf can embed, with its height/width ratio."""
    try:
        with Image.open(io.BytesIO(data)) as opened:
            if opened.width * opened.height > 4096 * 4096:
                return None
            picture = opened.convert("RGB")
    except (OSError, ValueError, Image.DecompressionBombError):
        return None
    out = io.BytesIO()
    picture.save(out, format="PNG")
    return out.getvalue(), picture.height / picture.width


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
