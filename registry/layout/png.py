"""The licence face as a PNG: Chinese drawn with the shipped Noto Sans SC,
the seal picture stamped over the issuer line, the verification QR code."""

from __future__ import annotations

import io
import math

from PIL import Image, ImageDraw

from registry.layout.face import LicenceFace
from signing.fonts import sans_font, serif_font
from signing.qr import render_qr_png

INK = (33, 33, 33)
ACCENT = (160, 20, 20)
PAPER = (255, 253, 246)
_SIZES = {"card": (1012, 638), "default": (1240, 1754), "certificate": (1754, 1240), "proof": (1240, 1754)}


def render_png(face: LicenceFace) -> bytes:
    width, height = _SIZES.get(face.template, _SIZES["default"])
    image = Image.new("RGB", (width, height), PAPER)
    draw = ImageDraw.Draw(image)
    scale = width / 1240
    margin = int(60 * scale)
    _border(draw, width, height, margin)
    y = _title(draw, face, width, margin, scale)
    y = _fields(draw, face, width, y, margin, scale)
    _footer(image, draw, face, width, height, margin, scale)
    if face.status_note:
        _stamp_text(image, face.status_note, color=(200, 0, 0, 110))
    if face.annotation:
        _stamp_text(image, face.annotation.text(), color=(30, 60, 160, 70), repeat=True)
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


def _border(draw: ImageDraw.ImageDraw, width: int, height: int, margin: int) -> None:
    draw.rectangle((margin // 2, margin // 2, width - margin // 2, height - margin // 2), outline=ACCENT, width=6)
    inset = margin // 2 + 14
    draw.rectangle((inset, inset, width - inset, height - inset), outline=ACCENT, width=2)


def _title(draw, face: LicenceFace, width: int, margin: int, scale: float) -> int:
    title_font = serif_font(max(int(84 * scale), 24))
    y = margin + int(50 * scale)
    draw.text((width // 2, y), face.type_name, font=title_font, fill=ACCENT, anchor="mt")
    y += int(120 * scale)
    small = sans_font(max(int(24 * scale), 12))
    draw.text((width // 2, y), f"证照标识 {face.identifier}", font=small, fill=INK, anchor="mt")
    return y + int(70 * scale)


def _fields(draw, face: LicenceFace, width: int, y: int, margin: int, scale: float) -> int:
    label_font = sans_font(max(int(30 * scale), 12))
    value_font = sans_font(max(int(34 * scale), 12))
    left = margin + int(70 * scale)
    value_x = left + int(300 * scale)
    max_width = width - value_x - margin - int(40 * scale)
    rows = [("持证主体", face.holder_name), *face.fields, ("有效期限", face.validity_text())]
    for label, value in rows:
        draw.text((left, y), label, font=label_font, fill=(90, 90, 90))
        for line in _wrap(draw, value, value_font, max_width) or [""]:
            draw.text((value_x, y), line, font=value_font, fill=INK)
            y += int(50 * scale)
        y += int(12 * scale)
    return y


def _wrap(draw, text: str, font, max_width: int) -> list[str]:
    lines, current = [], ""
    for ch in text:
        if draw.textlength(current + ch, font=font) > max_width and current:
            lines.append(current)
            current = ch
        else:
            current += ch
    if current:
        lines.append(current)
    return lines[:8]


def _footer(image: Image.Image, draw, face: LicenceFace, width: int, height: int, margin: int, scale: float) -> None:
    qr_image = qr_picture(face.qr_text, target=int(300 * scale))
    qr_size = qr_image.width
    qr_top = height - margin - qr_size - int(40 * scale)
    image.paste(qr_image, (margin + int(50 * scale), qr_top))
    small = sans_font(max(int(22 * scale), 10))
    draw.text((margin + int(50 * scale), qr_top + qr_size + int(6 * scale)), "扫码核验", font=small, fill=INK)
    issuer_font = sans_font(max(int(32 * scale), 12))
    right = width - margin - int(80 * scale)
    issuer_y = height - margin - int(190 * scale)
    draw.text((right, issuer_y), face.issuer_name, font=issuer_font, fill=INK, anchor="ra")
    draw.text((right, issuer_y + int(56 * scale)), f"{face.issued_on:%Y年%m月%d日}", font=issuer_font, fill=INK, anchor="ra")
    if face.seal_png:
        seal = Image.open(io.BytesIO(face.seal_png)).convert("RGBA")
        seal_size = int(300 * scale)
        seal = seal.resize((seal_size, seal_size), Image.LANCZOS)
        centre_x = right - int(140 * scale)
        centre_y = issuer_y + int(40 * scale)
        image.paste(seal, (centre_x - seal_size // 2, centre_y - seal_size // 2), seal)


def qr_picture(text: str, *, target: int) -> Image.Image:
    """The QR at a whole number of pixels per module (no blurred module edges),
    as large as fits in `target` pixels: the static EL1 code is dense."""
    modules = Image.open(io.BytesIO(render_qr_png(text, box_size=1))).convert("RGB")
    factor = max(target // modules.width, 1)
    return modules.resize((modules.width * factor, modules.height * factor), Image.NEAREST)


def _stamp_text(image: Image.Image, text: str, *, color: tuple, repeat: bool = False) -> None:
    """Text drawn diagonally across the face: a watermark a copier keeps."""
    width, height = image.size
    overlay = Image.new("RGBA", (width * 2, height * 2), (0, 0, 0, 0))
    draw = ImageDraw.Draw(overlay)
    size = max(int(width / (len(text) + 2) * (1.2 if repeat else 1.6)), 18)
    font = sans_font(min(size, 160))
    if repeat:
        step = int(size * 3.2)
        for row, y in enumerate(range(0, height * 2, step)):
            offset = (row % 2) * size * 4
            draw.text((offset, y), text, font=font, fill=color)
    else:
        draw.text((width, height), text, font=font, fill=color, anchor="mm")
    overlay = overlay.rotate(math.degrees(math.atan2(height, width)) * 0.6, resample=Image.BICUBIC)
    left, top = width // 2, height // 2
    crop = overlay.crop((left, top, left + width, top + height))
    base = image.convert("RGBA")
    base.alpha_composite(crop)
    image.paste(base.convert("RGB"))
