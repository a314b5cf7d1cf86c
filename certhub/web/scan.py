"""Decode a QR code from an uploaded photo or screenshot, for the counter
page's fallback when neither a scanner gun nor a camera is at hand.

Only a signed-in counter client (scope ``presentation:redeem``) may use it,
so it is not a free decoding service; the upload is bounded in bytes and in
pixels before any decoding happens (a small PNG can claim a huge canvas).
"""

from __future__ import annotations

import io
import warnings

import zxingcpp
from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import HTTPException
from PIL import Image, UnidentifiedImageError

from identity.deps import require_scopes

router = APIRouter(prefix="/web/api", tags=["web pages"])

MAX_UPLOAD_BYTES = 5 * 1024 * 1024
MAX_PIXELS = 20_000_000
MAX_TEXT = 4096
_FORMATS = {"PNG", "JPEG", "WEBP", "GIF", "BMP"}


def _refuse(status: int, code: str, message: str) -> HTTPException:
    return HTTPException(status_code=status, detail={"error": code, "message": message})


async def _bounded_body(request: Request) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > MAX_UPLOAD_BYTES):
        raise _refuse(413, "too_large", f"the image must be at most {MAX_UPLOAD_BYTES} bytes")
    received = bytearray()
    async for chunk in request.stream():
        received += chunk
        if len(received) > MAX_UPLOAD_BYTES:
            raise _refuse(413, "too_large", f"the image must be at most {MAX_UPLOAD_BYTES} bytes")
    if not received:
        raise _refuse(422, "image_invalid", "the request body must be the image file")
    return bytes(received)


def _open_image(data: bytes) -> Image.Image:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            if image.format not in _FORMATS:
                raise _refuse(422, "image_invalid", "send a PNG, JPEG, WebP, GIF or BMP image")
            width, height = image.size
            if width * height > MAX_PIXELS:
                raise _refuse(422, "image_too_large", f"the image must have at most {MAX_PIXELS} pixels")
            image.load()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombWarning,
            Image.DecompressionBombError):
        raise _refuse(422, "image_invalid", "the file is not a readable image") from None
    return image.convert("L")


def decode_qr_text(data: bytes) -> str:
    """The text of the first QR code in the image, or an HTTP 422."""
    image = _open_image(data)
    found = zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)
    texts = [barcode.text for barcode in found if barcode.valid and barcode.text]
    if not texts:
        raise _refuse(422, "no_code_found", "no QR code was found in the image")
    if len(texts[0]) > MAX_TEXT:
        raise _refuse(422, "code_too_long", "the QR code is too long to be a licence code")
    return texts[0]


@router.post("/decode-image", dependencies=[Depends(require_scopes("presentation:redeem"))])
async def decode_image(request: Request) -> dict:
    """The image is the raw request body (``Content-Type: image/*``)."""
    data = await _bounded_body(request)
    # Decoding is CPU work: keep it off the event loop.
    return {"text": await run_in_threadpool(decode_qr_text, data)}
