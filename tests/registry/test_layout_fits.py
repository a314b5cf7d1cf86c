"""Every licence type of the demo catalog, with the longest values its schema
allows, laid out as a PNG and a PDF: everything inside the frame, no text
over the QR code, the seal or a photo, nothing cut off."""

from __future__ import annotations

import io
from datetime import date

import pytest
import yaml
from PIL import Image, ImageChops, ImageDraw

from registry.layout import pdf as pdf_layout
from registry.layout.face import LicenceFace, display_value
from registry.layout.png import PAPER, plan_png, render_png
from registry.layout.png import _border as draw_border
from signing.picture import draw_round_seal
from tests.environment import REPO_ROOT

pytestmark = pytest.mark.slow  # renders every licence face to PNG and PDF

CATALOG = yaml.safe_load((REPO_ROOT / "certhub" / "demo" / "catalog.yaml").read_text(encoding="utf-8"))
TYPES = {licence_type["name"]: licence_type for licence_type in CATALOG["licence_types"]}
WIDE = "鑫"  # a full-width character: as wide as any the fonts draw
PICTURES = {"photo", "seal"}
TEXT = {"title", "identifier", "label", "value", "qr_caption", "issuer", "issued_on"}


def _photo() -> bytes:
    picture = Image.new("RGB", (358, 441), (40, 90, 160))
    out = io.BytesIO()
    picture.save(out, format="PNG")
    return out.getvalue()


def _longest(field: dict):
    kind = field["type"]
    if kind == "string":
        return WIDE * field.get("max_length", 200)
    if kind == "enum":
        return max(field["options"], key=len)
    if kind == "date":
        return date(2099, 12, 31)
    if kind == "number":
        return 9_999_999_999.99
    raise AssertionError(kind)


def longest_face(licence_type: dict) -> LicenceFace:
    fields = [("持证主体代码", "9" * 18)]
    images = []
    for field in licence_type["fields"]:
        if field["type"] == "image":
            images.append((field["label"], _photo()))
        else:
            fields.append((field["label"], display_value(_longest(field))))
    return LicenceFace(
        type_name=licence_type["name"], holder_name=WIDE * 200, fields=fields, identifier="1" * 64,
        issuer_name=WIDE * 60, issued_on=date(2099, 12, 31), valid_from=date(2099, 1, 1),
        valid_until=date(2099, 12, 31), qr_text="EL1:" + "7" * 396, template=licence_type["layout_template"],
        seal_png=draw_round_seal(organization_name="福州市市场监督管理局", seal_type="电子证照专用章"), images=images,
    )


def _inside(inner, outer) -> bool:
    return outer[0] <= inner[0] and outer[1] <= inner[1] and inner[2] <= outer[2] and inner[3] <= outer[3]


def _overlap(a, b) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _check_boxes(layout, face: LicenceFace) -> None:
    boxes = layout.boxes
    outside = [box for box in boxes if not _inside(box.rect, layout.frame)]
    assert not outside, f"past the frame {layout.frame}: {outside[:3]}"
    shapes = [box for box in boxes if box.kind in {"qr", "photo", "seal"}]
    texts = [box for box in boxes if box.kind in TEXT]
    for shape in shapes:
        # The seal is stamped over the issuer's own lines, as on paper; nothing else touches a picture.
        allowed = {"issuer", "issued_on"} if shape.kind == "seal" else set()
        hit = [box for box in texts if box.kind not in allowed and _overlap(box.rect, shape.rect)]
        assert not hit, f"text over the {shape.kind}: {hit[:3]}"
    pictures = [box for box in shapes if box.kind != "seal"]
    for n, first in enumerate(pictures):
        assert not any(_overlap(first.rect, other.rect) for other in pictures[n + 1:]), "pictures overlap"
    for n, first in enumerate(texts):
        clash = [other for other in texts[n + 1:] if _overlap(first.rect, other.rect)]
        assert not clash, f"{first} overlaps {clash[:2]}"
    # Nothing was cut off: every value is there, in full, over its lines.
    shown = "".join(box.text for box in boxes if box.kind == "value").replace(" ", "")
    wanted = "".join(value for _, value in [("", face.holder_name), *face.fields, ("", face.validity_text())])
    assert shown == wanted.replace(" ", "")
    assert sum(box.kind == "photo" for box in boxes) == len(face.images)


@pytest.mark.parametrize("name", sorted(TYPES))
def test_the_png_face_fits_its_frame(name):
    face = longest_face(TYPES[name])
    layout = plan_png(face)
    _check_boxes(layout, face)
    image = Image.open(io.BytesIO(render_png(face, layout=layout))).convert("RGB")
    assert image.size == layout.size
    # Pixels: outside the inner frame the face is its bare border and paper,
    # nothing else: no text or picture ran past the frame.
    bare = Image.new("RGB", image.size, PAPER)
    draw_border(ImageDraw.Draw(bare), layout)
    difference = ImageChops.difference(image, bare)
    left, top, right, bottom = layout.frame
    difference.paste((0, 0, 0), (left + 2, top + 2, right - 1, bottom - 1))  # inside the frame's own line
    assert difference.getbbox() is None, f"drawn outside the frame at {difference.getbbox()}"


def _heaviest_per_template() -> list[str]:
    """For each template, the type with the most to print (the PDF's fonts
    take a while to load: the worst case of each layout stands for the rest)."""
    heaviest: dict[str, tuple[int, str]] = {}
    for name, licence_type in TYPES.items():
        weight = sum(field.get("max_length", 20) for field in licence_type["fields"]) + 100 * sum(
            field["type"] == "image" for field in licence_type["fields"])
        template = licence_type["layout_template"]
        heaviest[template] = max(heaviest.get(template, (0, "")), (weight, name))
    return sorted({name for _, name in heaviest.values()} | {"营业执照", "居民身份证"})


@pytest.mark.parametrize("name", _heaviest_per_template())
def test_the_pdf_face_fits_its_frame(name):
    face = longest_face(TYPES[name])
    layout = pdf_layout.plan_pdf(face)
    _check_boxes(layout, face)
    assert layout.render().startswith(b"%PDF")
