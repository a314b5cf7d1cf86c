"""The licence face as a PNG: Chinese drawn with the shipped Noto Sans SC,
the seal picture stamped over the issuer line, the verification QR code.

Laid out before anything is drawn: `plan_png` places every piece in a box
inside the frame (the inner border), and `render_png` paints the plan. The
fields flow between the header and the footer (QR code on the left, issuer
and seal on the right), beside the photos when the type has any; long values
wrap, and when the fields do not fit their fonts shrink, down to a legible
minimum, after which the page grows longer. So nothing is ever drawn over
the QR code, the seal or a photo, nor past the frame, whatever the values.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass, field
from typing import Literal, overload

from PIL import Image, ImageDraw, ImageFont, UnidentifiedImageError

from registry.layout.face import LicenceFace, largest_fit, wrap_lines
from signing.fonts import sans_font, serif_font
from signing.qr import render_qr_png

INK = (33, 33, 33)
LABEL_INK = (90, 90, 90)
ACCENT = (160, 20, 20)
PAPER = (255, 253, 246)
_SIZES = {"card": (1012, 638), "default": (1240, 1754), "certificate": (1754, 1240), "proof": (1240, 1754)}
# Pixels per A4-portrait pixel: A4 either way round is the same paper at the
# same resolution (150 dpi); a card is drawn finer, for its small size.
_SCALES = {"card": 1012 / 1240, "default": 1.0, "certificate": 1.0, "proof": 1.0}
# The field fonts' scale, tried largest first; below the last the page grows instead.
_FONT_FACTORS = (1.0, 0.9, 0.8, 0.7, 0.62, 0.55, 0.5, 0.45, 0.4, 0.35)
_MIN_LABEL_PX, _MIN_VALUE_PX = 13, 14  # still legible when the PNG is shown at its size
_MAX_PHOTO_PIXELS = 4096 * 4096

Rect = tuple[int, int, int, int]  # left, top, right, bottom


@dataclass(frozen=True)
class Box:
    """One piece of the face and the rectangle it occupies (its ink, for text)."""

    kind: str  # title | identifier | label | value | qr | qr_caption | issuer | issued_on | seal | photo
    rect: tuple[float, float, float, float]  # pixels (int) on the PNG, points on the PDF
    text: str = ""


@dataclass
class PngLayout:
    size: tuple[int, int]
    frame: Rect  # the inner border: every box lies inside it
    font_factor: float
    _planner: _Planner = field(repr=False)

    @property
    def boxes(self) -> list[Box]:
        return self._planner.boxes()


def render_png(face: LicenceFace, *, layout: PngLayout | None = None) -> bytes:
    """The face as a PNG, as `plan_png` lays it out (or as `layout` already has)."""
    layout = layout or plan_png(face)
    image = Image.new("RGB", layout.size, PAPER)
    draw = ImageDraw.Draw(image)
    _border(draw, layout)
    for paint in layout._planner.painters:
        paint(image, draw)
    if face.status_note:
        _stamp_text(image, face.status_note, color=(200, 0, 0, 110))
    if face.annotation:
        _stamp_text(image, face.annotation.text(), color=(30, 60, 160, 70), repeat=True)
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


def plan_png(face: LicenceFace) -> PngLayout:
    """Where everything goes: the largest field fonts at which the fields fit
    between header and footer; at the smallest, a page grown to hold them."""
    width, height = _SIZES.get(face.template, _SIZES["default"])
    scale = _SCALES.get(face.template, 1.0)
    pictures = _Pictures(qr=qr_picture(face.qr_text, target=int(300 * scale)), photos=_photos(face),
                         seal=_seal(face.seal_png, int(280 * scale)) if face.seal_png else None)
    return largest_fit(lambda page_height, factor: _plan(face, pictures, width, page_height, factor),
                       height=height, factors=_FONT_FACTORS)


@dataclass(frozen=True)
class _Pictures:
    """Made once per face, whatever the font size tried."""

    qr: Image.Image
    photos: list[tuple[str, Image.Image]]
    seal: Image.Image | None


class _Planner:
    """Collects what goes where and the strokes that paint it. A text's box
    (its ink) is measured only when asked for: shaping every line is the
    costly part, and the fit is found from line counts alone."""

    def __init__(self) -> None:
        self.painters: list = []
        self._placed: list[tuple[str, Rect | None, str, tuple]] = []  # kind, rect, text, (xy, font, anchor)
        self._measure = ImageDraw.Draw(Image.new("RGB", (1, 1)))
        self._advances: dict[tuple[int, str], float] = {}

    @overload
    def text(self, kind: str, xy: tuple[int, int], text: str, font, fill, *, anchor: str = "la",
             measure: Literal[True]) -> Rect: ...
    @overload
    def text(self, kind: str, xy: tuple[int, int], text: str, font, fill, *, anchor: str = "la",
             measure: bool = False) -> Rect | None: ...
    def text(self, kind: str, xy: tuple[int, int], text: str, font, fill, *, anchor: str = "la",
             measure: bool = False) -> Rect | None:
        rect = self._bbox(xy, text, font, anchor) if measure else None
        if text.strip():
            self._placed.append((kind, rect, text, (xy, font, anchor)))
        self.painters.append(lambda image, draw: draw.text(xy, text, font=font, fill=fill, anchor=anchor))
        return rect

    def picture(self, kind: str, picture: Image.Image, at: tuple[int, int]) -> Rect:
        rect = (at[0], at[1], at[0] + picture.width, at[1] + picture.height)
        self._placed.append((kind, rect, "", ()))
        mask = picture if picture.mode == "RGBA" else None
        self.painters.append(lambda image, draw: image.paste(picture, at, mask))
        return rect

    def boxes(self) -> list[Box]:
        return [Box(kind, rect if rect is not None else self._bbox(where[0], text, where[1], where[2]), text)
                for kind, rect, text, where in self._placed]

    def _bbox(self, xy: tuple[int, int], text: str, font, anchor: str) -> Rect:
        left, top, right, bottom = self._measure.textbbox(xy, text, font=font, anchor=anchor)
        return int(left), int(top), int(math.ceil(right)), int(math.ceil(bottom))

    def width(self, text: str, font) -> float:
        return self._measure.textlength(text, font=font)

    def advance(self, ch: str, font) -> float:
        key = (id(font), ch)
        width = self._advances.get(key)
        if width is None:
            width = self._advances[key] = self._measure.textlength(ch, font=font)
        return width


def _plan(face: LicenceFace, pictures: _Pictures, width: int, height: int,
          factor: float) -> tuple[PngLayout, int]:
    scale = _SCALES.get(face.template, 1.0)
    margin = int(60 * scale)
    inset = margin // 2 + 14
    frame = (inset, inset, width - inset, height - inset)
    pad = int(28 * scale)
    left, top, right, bottom = frame[0] + pad, frame[1] + pad, frame[2] - pad, frame[3] - pad
    planner = _Planner()

    # 1. Header: the type's name and the identifier, each within the width.
    title_font = _fitting(planner, face.type_name, serif_font, int(84 * scale), right - left)
    title = planner.text("title", ((left + right) // 2, top + int(20 * scale)), face.type_name, title_font, ACCENT,
                         anchor="ma", measure=True)
    ident = f"证照标识 {face.identifier}"
    ident_font = _fitting(planner, ident, sans_font, max(int(24 * scale), 12), right - left)
    ident_box = planner.text("identifier", ((left + right) // 2, title[3] + int(30 * scale)), ident, ident_font, INK,
                             anchor="ma", measure=True)
    body_top = ident_box[3] + int(40 * scale)

    # 2. Footer: the QR code and its caption on the left, issuer, date and seal on the right.
    qr_image = pictures.qr
    caption_font = sans_font(max(int(22 * scale), 12))
    caption_height = _line_height(caption_font)
    seal_size = pictures.seal.width if pictures.seal is not None else 0
    footer_height = max(qr_image.height + int(8 * scale) + caption_height, seal_size)
    footer_top = bottom - footer_height
    planner.picture("qr", qr_image, (left, footer_top))
    planner.text("qr_caption", (left, footer_top + qr_image.height + int(8 * scale)), "扫码核验", caption_font, INK)
    issuer_width = right - (left + qr_image.width + int(40 * scale))
    issuer_font = _fitting(planner, face.issuer_name, sans_font, max(int(32 * scale), 12), issuer_width)
    step = _line_height(issuer_font) + int(12 * scale)
    issuer_y = footer_top + footer_height // 2 - step
    planner.text("issuer", (right, issuer_y), face.issuer_name, issuer_font, INK, anchor="ra")
    planner.text("issued_on", (right, issuer_y + step), f"{face.issued_on:%Y年%m月%d日}", issuer_font, INK, anchor="ra")
    if pictures.seal is not None:
        # Stamped over the issuer's lines, as a seal is; inside the frame.
        planner.picture("seal", pictures.seal,
                        (right - seal_size - int(10 * scale), footer_top + (footer_height - seal_size) // 2))

    # 3. Body: photos in a column on the right, the fields beside them.
    body_bottom = footer_top - int(30 * scale)
    main_right, photo_end = right, body_top
    if pictures.photos:
        landscape = face.template in ("card", "certificate")  # as designed, whatever the page grew to
        column = int((right - left) * (0.22 if landscape else 0.28))
        main_right = right - column - int(30 * scale)
        y = body_top
        for _label, photo in pictures.photos:
            # Bounded by the column, not by the page: a page grown for the fields must not grow the photos.
            fitted = _fit_picture(photo, column, column * 4 // 3)
            planner.picture("photo", fitted, (right - column + (column - fitted.width) // 2, y))
            photo_end = y + fitted.height
            y = photo_end + int(20 * scale)
    end = _fields(planner, face, left=left + int(20 * scale), right=main_right, top=body_top, scale=scale,
                  factor=factor)
    layout = PngLayout(size=(width, height), frame=frame, font_factor=factor, _planner=planner)
    return layout, max(end, photo_end) - body_bottom


def _fields(planner: _Planner, face: LicenceFace, *, left: int, right: int, top: int, scale: float,
            factor: float) -> int:
    """Lay the rows out from `top`; the bottom of the last one."""
    label_font = sans_font(max(int(30 * scale * factor), _MIN_LABEL_PX))
    value_font = sans_font(max(int(34 * scale * factor), _MIN_VALUE_PX))
    rows = [("持证主体", face.holder_name), *face.fields, ("有效期限", face.validity_text())]
    width = right - left
    label_width = min(max(planner.width(label, label_font) for label, _ in rows) + 4, int(width * 0.34))
    gap = int(30 * scale * factor) + 8
    value_x = left + int(label_width) + gap
    value_width = right - value_x
    line = max(_line_height(label_font), _line_height(value_font)) + int(6 * scale * factor)
    y = top
    for label, value in rows:
        labels = _wrap(planner, label, label_font, int(label_width))
        values = _wrap(planner, value, value_font, value_width) or [""]
        for n, text in enumerate(labels):
            planner.text("label", (left, y + n * line), text, label_font, LABEL_INK)
        for n, text in enumerate(values):
            planner.text("value", (value_x, y + n * line), text, value_font, INK)
        y += max(len(labels), len(values)) * line + int(10 * scale * factor)
    return y


def _wrap(planner: _Planner, text: str, font, max_width: int) -> list[str]:
    # 2 px short: the sum of advances may differ from the shaped line by a pixel.
    return wrap_lines(text, lambda ch: planner.advance(ch, font), max_width - 2)


def _fitting(planner: _Planner, text: str, make_font, size: int, max_width: int):
    """The font at `size`, or smaller until `text` fits on one line."""
    font = make_font(size)
    while size > 10 and planner.width(text, font) > max_width:
        size = max(int(size * 0.9), 10)
        font = make_font(size)
    return font


def _line_height(font: ImageFont.FreeTypeFont) -> int:
    ascent, descent = font.getmetrics()
    return ascent + descent


def _photos(face: LicenceFace) -> list[tuple[str, Image.Image]]:
    pictures = []
    for label, data in face.images:
        try:
            with Image.open(io.BytesIO(data)) as opened:
                if opened.width * opened.height > _MAX_PHOTO_PIXELS:
                    continue
                pictures.append((label, opened.convert("RGB")))
        except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
            continue  # not a picture: the face shows no photo rather than failing
    return pictures


def _fit_picture(picture: Image.Image, max_width: int, max_height: int) -> Image.Image:
    ratio = min(max_width / picture.width, max_height / picture.height)
    size = (max(int(picture.width * ratio), 1), max(int(picture.height * ratio), 1))
    return picture.resize(size, Image.Resampling.LANCZOS)


def _seal(data: bytes, size: int) -> Image.Image | None:
    try:
        with Image.open(io.BytesIO(data)) as opened:
            return opened.convert("RGBA").resize((size, size), Image.Resampling.LANCZOS)
    except (UnidentifiedImageError, OSError, ValueError):
        return None


def _border(draw: ImageDraw.ImageDraw, layout: PngLayout) -> None:
    width, height = layout.size
    outer = layout.frame[0] - 14
    draw.rectangle((outer, outer, width - outer, height - outer), outline=ACCENT, width=6)
    left, top, right, bottom = layout.frame
    draw.rectangle((left, top, right, bottom), outline=ACCENT, width=2)


def qr_picture(text: str, *, target: int) -> Image.Image:
    """The QR at a whole number of pixels per module (no blurred module edges),
    as large as fits in `target` pixels: the static EL1 code is dense."""
    modules = Image.open(io.BytesIO(render_qr_png(text, box_size=1))).convert("RGB")
    factor = max(target // modules.width, 1)
    return modules.resize((modules.width * factor, modules.height * factor), Image.Resampling.NEAREST)


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
    overlay = overlay.rotate(math.degrees(math.atan2(height, width)) * 0.6, resample=Image.Resampling.BICUBIC)
    left, top = width // 2, height // 2
    crop = overlay.crop((left, top, left + width, top + height))
    base = image.convert("RGBA")
    base.alpha_composite(crop)
    image.paste(base.convert("RGB"))
