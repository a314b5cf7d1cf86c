"""The counter's image-upload fallback: a photo or screenshot of a QR code
decoded on the server, bounded in bytes and pixels, for counter clients only."""

from __future__ import annotations

import io

import pytest
import qrcode
from PIL import Image

from certhub.web.scan import MAX_UPLOAD_BYTES
from identity.tokens import TokenAuthority
from tests.factories.use_records import DEPT

CODE = "EL1:6BFOXN%TS3DH0YOJ58S S-W5HDC *M0II5XHC9B5G2+$N IOP-IA%NH$RSC9CH1B2V7S8HUF0P5L9TMIQ0AJA5"


@pytest.fixture
def counter_headers(app) -> dict:
    token = app.state.services.find(TokenAuthority).issue(client_id="counter-1", department_code=DEPT,
                                            scopes=["presentation:redeem"])
    return {"Authorization": f"Bearer {token}"}


def _qr_image(text: str, *, fmt: str, size: int = 480) -> bytes:
    image = qrcode.make(text, border=4).get_image().convert("RGB").resize((size, size))
    # A phone photo: the code off-centre on a grey background.
    photo = Image.new("RGB", (size + 200, size + 120), (200, 200, 200))
    photo.paste(image, (150, 40))
    out = io.BytesIO()
    photo.save(out, format=fmt, quality=85) if fmt == "JPEG" else photo.save(out, format=fmt)
    return out.getvalue()


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP"])
@pytest.mark.slow
def test_reads_the_code_from_an_image(client, counter_headers, fmt):
    body = _qr_image(CODE, fmt=fmt)
    answer = client.post("/web/api/decode-image", content=body,
                         headers={**counter_headers, "Content-Type": f"image/{fmt.lower()}"})
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"text": CODE}


@pytest.mark.slow
def test_counter_clients_only(app, client):
    body = _qr_image(CODE, fmt="PNG")
    assert client.post("/web/api/decode-image", content=body).status_code == 401
    token = app.state.services.find(TokenAuthority).issue(client_id="auditor-1", department_code=DEPT, scopes=["audit:read"])
    answer = client.post("/web/api/decode-image", content=body, headers={"Authorization": f"Bearer {token}"})
    assert answer.status_code == 403


@pytest.mark.slow
def test_an_image_without_a_code(client, counter_headers):
    blank = io.BytesIO()
    Image.new("RGB", (300, 300), "white").save(blank, format="PNG")
    answer = client.post("/web/api/decode-image", content=blank.getvalue(), headers=counter_headers)
    assert answer.status_code == 422 and answer.json()["error"] == "no_code_found"


@pytest.mark.slow
def test_not_an_image(client, counter_headers):
    answer = client.post("/web/api/decode-image", content=b"%PDF-1.7 not an image", headers=counter_headers)
    assert answer.status_code == 422 and answer.json()["error"] == "image_invalid"
    answer = client.post("/web/api/decode-image", content=b"", headers=counter_headers)
    assert answer.status_code == 422


def test_bounded_in_bytes(client, counter_headers):
    answer = client.post("/web/api/decode-image", content=b"\0" * (MAX_UPLOAD_BYTES + 1), headers=counter_headers)
    assert answer.status_code == 413 and answer.json()["error"] == "too_large"


@pytest.mark.slow
def test_bounded_in_pixels(client, counter_headers):
    # A few kilobytes that claim a 30-megapixel canvas are refused before decoding.
    huge = io.BytesIO()
    Image.new("1", (6000, 5000), 1).save(huge, format="PNG", optimize=True)
    assert len(huge.getvalue()) < MAX_UPLOAD_BYTES
    answer = client.post("/web/api/decode-image", content=huge.getvalue(), headers=counter_headers)
    assert answer.status_code == 422 and answer.json()["error"] == "image_too_large"
