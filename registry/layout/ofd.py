"""The licence face as an OFD layout document (版式文件, GB/T 33190-2016).

The face is the PDF's (`registry.layout.pdf.plan_pdf`): the same plan, in the
same millimetres, drawn as OFD page objects instead of PDF operators, so the
two documents agree box for box. Text is real text in Noto Sans SC / Noto
Serif SC, embedded as subsets holding only the characters the page uses
(GB/T 33190 §11.1 <ofd:FontFile>); the QR code and photos are PNG
resources; the seal picture is not drawn into the page but placed by the
signature's <ofd:StampAnnot> from the seal inside the 签章, as OFD readers
expect of a sealed document. `signing.ofd.sign_ofd` then seals the package.

Package layout (GB/T 33190 §7):

    /OFD.xml                         DocBody: DocInfo, DocRoot, Signatures
    /Doc_0/Document.xml              CommonData (page area, resources), Pages
    /Doc_0/PublicRes.xml             fonts;  /Doc_0/Res/font_N.ttf
    /Doc_0/DocumentRes.xml           images; /Doc_0/Res/image_N.png
    /Doc_0/Pages/Page_0/Content.xml  the page
    /Doc_0/Signs/…                   written by the signer
"""

from __future__ import annotations

import hashlib
import io
import math
import re
from dataclasses import dataclass, field
from datetime import datetime
from xml.etree import ElementTree

from fontTools.pens.cu2quPen import Cu2QuPen
from fontTools.pens.ttGlyphPen import TTGlyphPen
from fontTools.ttLib import TTFont, newTable

from registry.layout.face import LicenceFace
from registry.layout.fonts import Family, font_metrics, font_subset
from registry.layout.pdf import ACCENT, INK, LABEL_INK, PdfLayout, plan_pdf, png_picture
from signing.ofd.package import OFD_NS, Files, tag
from signing.ofd.sign import OfdSealSigner, StampPlacement, sign_ofd
from signing.qr import render_qr_png

ElementTree.register_namespace("ofd", OFD_NS)

OFD_MEDIA_TYPE = "application/ofd"

_LINE_FACTOR = 1.25  # the PDF plan's line height per font size (registry.layout.pdf)
_BASELINE = 0.3  # fpdf puts a cell's baseline 0.3 × size below its middle
_OVERLAY_SIZE_MM = 16 * 25.4 / 72
_OVERLAY_ALPHA = 89  # 0.35 of 255, as the PDF's overlay opacity
_FAMILIES = {"sans": ("NotoSansSC-Regular", "Noto Sans SC"), "serif": ("NotoSerifSC-Regular", "Noto Serif SC")}
_COLORS = {"title": ACCENT, "label": LABEL_INK}


@dataclass
class _Ids:
    """Object IDs, unique across the document (GB/T 33190 §7.5 MaxUnitID)."""

    last: int = 0

    def next(self) -> int:
        self.last += 1
        return self.last


@dataclass
class _Resources:
    ids: _Ids
    fonts: dict[Family, int] = field(default_factory=dict)  # family -> font ID
    characters: dict[Family, set[str]] = field(default_factory=dict)
    images: list[tuple[int, bytes]] = field(default_factory=list)

    def font(self, family: Family, text: str) -> int:
        if family not in self.fonts:
            self.fonts[family] = self.ids.next()
        self.characters.setdefault(family, set()).update(text)
        return self.fonts[family]

    def image(self, png: bytes) -> int:
        image_id = self.ids.next()
        self.images.append((image_id, png))
        return image_id


def _advances(family: Family, text: str, size_mm: float) -> list[float]:
    metrics = font_metrics(family)
    return [metrics.advance(ch) * size_mm / metrics.units_per_em for ch in text]


def _number(value: float) -> str:
    return f"{value:.3f}".rstrip("0").rstrip(".") or "0"


def _numbers(*values: float) -> str:
    return " ".join(_number(value) for value in values)


# Characters XML 1.0 cannot carry (§2.2): ElementTree would write them and the package would not parse.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _element(parent: ElementTree.Element, name: str, text: str | None = None, **attributes: str) -> ElementTree.Element:
    child = ElementTree.SubElement(parent, tag(name), attributes)
    if text is not None:
        child.text = _NOT_XML.sub("\ufffd", text)
    return child


def _xml(root: ElementTree.Element) -> bytes:
    return ElementTree.tostring(root, encoding="UTF-8", xml_declaration=True)


def _text(layer: ElementTree.Element, resources: _Resources, *, rect: tuple[float, float, float, float], text: str,
          family: Family, color: tuple[int, int, int]) -> None:
    """One line in the box the PDF plan gave it: the font size follows from the box's height."""
    left, top, right, bottom = rect
    size = (bottom - top) / _LINE_FACTOR
    advances = _advances(family, text, size)
    obj = _element(layer, "TextObject", ID=str(resources.ids.next()),
                   Boundary=_numbers(left, top, max(right - left, sum(advances)) + 0.5, bottom - top),
                   Font=str(resources.font(family, text)), Size=_number(size))
    _element(obj, "FillColor", Value=_numbers(*color))
    code = _element(obj, "TextCode", text, X="0", Y=_number((bottom - top) / 2 + _BASELINE * size))
    if len(text) > 1:
        code.set("DeltaX", _numbers(*advances[:-1]))


def _overlay(layer: ElementTree.Element, resources: _Resources, *, page: tuple[float, float], text: str,
             color: tuple[int, int, int]) -> None:
    """The status note or the 加注件 annotation across the page, four times, 30° up, as on the PDF."""
    width, height = page
    advances = _advances("sans", text, _OVERLAY_SIZE_MM)
    angle = math.radians(30)
    cos, sin = math.cos(angle), math.sin(angle)
    for i in range(4):
        y = 70 + i * (height - 100) / 4 + 5
        # CTM (GB/T 33190 §8.3.2): rotate about the line's centre; y grows downwards, so "up" is -sin.
        obj = _element(layer, "TextObject", ID=str(resources.ids.next()), Boundary=_numbers(0, 0, width, height),
                       CTM=_numbers(cos, -sin, sin, cos, width / 2, y),
                       Font=str(resources.font("sans", text)), Size=_number(_OVERLAY_SIZE_MM))
        _element(obj, "FillColor", Value=_numbers(*color), Alpha=str(_OVERLAY_ALPHA))
        code = _element(obj, "TextCode", text, X=_number(-sum(advances) / 2), Y=_number(_BASELINE * _OVERLAY_SIZE_MM))
        if len(text) > 1:
            code.set("DeltaX", _numbers(*advances[:-1]))


def _picture(layer: ElementTree.Element, resources: _Resources, *, rect: tuple[float, float, float, float],
             png: bytes) -> None:
    left, top, right, bottom = rect
    width, height = right - left, bottom - top
    _element(layer, "ImageObject", ID=str(resources.ids.next()), Boundary=_numbers(left, top, width, height),
             CTM=_numbers(width, 0, 0, height, 0, 0), ResourceID=str(resources.image(png)))


def _rectangle(layer: ElementTree.Element, resources: _Resources, *, rect: tuple[float, float, float, float],
               line_width: float) -> None:
    left, top, width, height = rect
    obj = _element(layer, "PathObject", ID=str(resources.ids.next()), Boundary=_numbers(left, top, width, height),
                   LineWidth=_number(line_width), Stroke="true", Fill="false")
    _element(obj, "StrokeColor", Value=_numbers(*ACCENT))
    _element(obj, "AbbreviatedData", f"M 0 0 L {_number(width)} 0 L {_number(width)} {_number(height)} "
                                     f"L 0 {_number(height)} C")


def _png(data: bytes) -> bytes | None:
    """A photo as PNG (what the PDF embeds too); None when it is not a usable picture."""
    picture = png_picture(data)
    return None if picture is None else picture[0]


def _page(face: LicenceFace, layout: PdfLayout, resources: _Resources) -> tuple[bytes, tuple[float, float, float, float] | None]:
    """Content.xml of the one page, and the seal's box (for the stamp annotation)."""
    width, height = layout.size
    root = ElementTree.Element(tag("Page"))
    area = _element(root, "Area")
    _element(area, "PhysicalBox", _numbers(0, 0, width, height))
    layer = _element(_element(root, "Content"), "Layer", ID=str(resources.ids.next()), Type="Body")
    _rectangle(layer, resources, rect=(8, 8, width - 16, height - 16), line_width=1.2)
    frame = layout.frame
    _rectangle(layer, resources, rect=(frame[0], frame[1], frame[2] - frame[0], frame[3] - frame[1]), line_width=0.3)
    photos = iter(photo for photo in (_png(data) for _, data in face.images) if photo is not None)
    seal_box = None
    for box in layout.boxes:
        if box.kind == "qr":
            _picture(layer, resources, rect=box.rect, png=render_qr_png(face.qr_text, box_size=8))
        elif box.kind == "photo":
            photo = next(photos, None)
            if photo is not None:
                _picture(layer, resources, rect=box.rect, png=photo)
        elif box.kind == "seal":
            seal_box = box.rect
        elif box.text:
            _text(layer, resources, rect=box.rect, text=box.text, family="serif" if box.kind == "title" else "sans",
                  color=_COLORS.get(box.kind, INK))
    if face.status_note:
        _overlay(layer, resources, page=(width, height), text=face.status_note, color=(220, 80, 80))
    if face.annotation:
        _overlay(layer, resources, page=(width, height), text=face.annotation.text(), color=(120, 140, 200))
    return _xml(root), seal_box


def _font_subset(family: Family, characters: set[str]) -> bytes:
    """The font with only the glyphs of `characters`, as TrueType: Noto ships
    CFF outlines, which many OFD readers (and reportlab, under easyofd) cannot
    draw, so the subset's curves are converted to quadratic ones."""
    with TTFont(io.BytesIO(font_subset(family, characters))) as font:
        _cff_to_truetype(font)
        out = io.BytesIO()
        font.save(out)
    return out.getvalue()


def _cff_to_truetype(font: TTFont) -> None:
    """Replace the CFF table by glyf/loca (fontTools' otf2ttf recipe, cu2qu at 1/1000 em)."""
    order = font.getGlyphOrder()
    glyph_set = font.getGlyphSet()
    glyphs = {}
    for name in order:
        pen = TTGlyphPen(glyph_set)
        glyph_set[name].draw(Cu2QuPen(pen, max_err=font["head"].unitsPerEm / 1000, reverse_direction=True))
        glyphs[name] = pen.glyph()
    font["loca"] = newTable("loca")
    glyf = font["glyf"] = newTable("glyf")
    glyf.glyphOrder = order
    glyf.glyphs = glyphs
    del font["CFF "]
    if "VORG" in font:
        del font["VORG"]
    glyf.compile(font)
    metrics = font["hmtx"].metrics
    for name, glyph in glyphs.items():  # left side bearings now follow the TrueType outlines
        metrics[name] = (metrics[name][0], getattr(glyph, "xMin", 0))
    maxp = font["maxp"] = newTable("maxp")
    maxp.tableVersion = 0x00010000
    for attribute in ("maxZones", "maxTwilightPoints", "maxStorage", "maxFunctionDefs", "maxInstructionDefs",
                      "maxStackElements", "maxSizeOfInstructions", "maxComponentElements"):
        setattr(maxp, attribute, 1 if attribute == "maxZones" else 0)
    maxp.compile(font)
    post = font["post"]
    post.formatType, post.extraNames, post.mapping, post.glyphOrder = 2.0, [], {}, order
    font.sfntVersion = "\x00\x01\x00\x00"


def _resources(resources: _Resources) -> tuple[bytes, bytes, Files]:
    """PublicRes.xml (fonts), DocumentRes.xml (images) and their files under /Doc_0/Res."""
    files: Files = {}
    public = ElementTree.Element(tag("Res"), BaseLoc="Res")
    fonts = _element(public, "Fonts")
    for family, font_id in resources.fonts.items():
        name, family_name = _FAMILIES[family]
        font = _element(fonts, "Font", ID=str(font_id), FontName=name, FamilyName=family_name)
        _element(font, "FontFile", f"font_{font_id}.ttf")
        files[f"/Doc_0/Res/font_{font_id}.ttf"] = _font_subset(family, resources.characters[family])
    document = ElementTree.Element(tag("Res"), BaseLoc="Res")
    media = _element(document, "MultiMedias")
    for image_id, png in resources.images:
        item = _element(media, "MultiMedia", ID=str(image_id), Type="Image", Format="PNG")
        _element(item, "MediaFile", f"image_{image_id}.png")
        files[f"/Doc_0/Res/image_{image_id}.png"] = png
    return _xml(public), _xml(document), files


def _entry(face: LicenceFace) -> bytes:
    root = ElementTree.Element(tag("OFD"), Version="1.0", DocType="OFD")
    body = _element(root, "DocBody")
    info = _element(body, "DocInfo")
    _element(info, "DocID", hashlib.sha256(face.identifier.encode()).hexdigest()[:32])
    _element(info, "Title", f"{face.type_name} {face.identifier}")
    _element(info, "Author", face.issuer_name)
    _element(info, "Creator", "certhub")
    _element(info, "CreationDate", f"{face.issued_on:%Y-%m-%d}")
    _element(body, "DocRoot", "Doc_0/Document.xml")
    _element(body, "Signatures", "Doc_0/Signs/Signatures.xml")
    return _xml(root)


def _document(layout: PdfLayout, *, page_id: int, max_id: int) -> bytes:
    root = ElementTree.Element(tag("Document"))
    common = _element(root, "CommonData")
    _element(common, "MaxUnitID", str(max_id))
    _element(_element(common, "PageArea"), "PhysicalBox", _numbers(0, 0, *layout.size))
    _element(common, "PublicRes", "PublicRes.xml")
    _element(common, "DocumentRes", "DocumentRes.xml")
    _element(_element(root, "Pages"), "Page", ID=str(page_id), BaseLoc="Pages/Page_0/Content.xml")
    return _xml(root)


@dataclass(frozen=True)
class UnsignedOfd:
    files: Files
    stamp: StampPlacement | None  # where the seal goes; None when the face has no seal


def build_ofd(face: LicenceFace) -> UnsignedOfd:
    """The package's files before signing, and where the seal is to be placed."""
    layout = plan_pdf(face)
    ids = _Ids()
    page_id = ids.next()
    resources = _Resources(ids=ids)
    content, seal_box = _page(face, layout, resources)
    public, document_res, resource_files = _resources(resources)
    files: Files = {
        "/OFD.xml": _entry(face),
        "/Doc_0/Document.xml": _document(layout, page_id=page_id, max_id=ids.last),
        "/Doc_0/PublicRes.xml": public,
        "/Doc_0/DocumentRes.xml": document_res,
        "/Doc_0/Pages/Page_0/Content.xml": content,
        **resource_files,
    }
    stamp = None
    if seal_box is not None:
        left, top, right, bottom = seal_box
        stamp = StampPlacement(page_id=page_id, boundary=(left, top, right - left, bottom - top))
    return UnsignedOfd(files=files, stamp=stamp)


def render_ofd(face: LicenceFace, *, signer: OfdSealSigner, signed_at: datetime) -> bytes:
    """The sealed OFD: the face, signed by `signer` with its seal placed where the PDF draws it."""
    unsigned = build_ofd(face)
    if unsigned.stamp is None:
        raise ValueError("a sealed OFD needs the seal's picture on the face")
    return sign_ofd(unsigned.files, signer=signer, stamp=unsigned.stamp, signed_at=signed_at)
