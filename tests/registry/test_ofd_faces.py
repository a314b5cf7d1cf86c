"""The demo licence types at their longest (the heaviest of each template, as
the PDF's fit test takes them), as sealed OFDs: the page objects lie inside
the frame the PDF plan gave (the OFD draws that plan), the photos are
embedded, and the 签章 verifies."""

from __future__ import annotations

from datetime import UTC, datetime
from xml.etree import ElementTree

import pytest

from registry.layout import pdf as pdf_layout
from registry.layout.ofd import render_ofd
from signing.ofd import verify_ofd
from tests.factories.ofd import ofd_signer, package_files
from tests.registry.test_layout_fits import TYPES, _heaviest_per_template, longest_face

NS = {"ofd": "http://www.ofdspec.org/2016"}
pytestmark = pytest.mark.slow  # a font subset and a signature per licence type


@pytest.fixture(scope="module")
def signer():
    return ofd_signer()


@pytest.mark.parametrize("name", _heaviest_per_template())
def test_the_longest_faces_make_sealed_ofds_inside_their_frame(name, signer):
    face = longest_face(TYPES[name])
    sealed = render_ofd(face, signer=signer, signed_at=datetime(2026, 1, 5, tzinfo=UTC))
    verify_ofd(sealed)
    files = package_files(sealed)
    page = ElementTree.fromstring(files["/Doc_0/Pages/Page_0/Content.xml"])
    layout = pdf_layout.plan_pdf(face)
    left, top, right, bottom = layout.frame
    texts = page.findall(".//ofd:TextObject", NS)
    overlays = {obj for obj in texts if obj.get("CTM")}
    for obj in texts:
        if obj in overlays:
            continue
        x, y, width, height = (float(v) for v in obj.get("Boundary").split())
        inside = left <= x and y >= top and x + width <= right + 0.6 and y + height <= bottom
        assert inside, obj.findtext("ofd:TextCode", namespaces=NS)
    images = page.findall(".//ofd:ImageObject", NS)
    assert len(images) == 1 + len(face.images)  # the QR and every photo
    shown = "".join(code.text or "" for code in page.iter(f"{{{NS['ofd']}}}TextCode"))
    assert face.holder_name in shown
