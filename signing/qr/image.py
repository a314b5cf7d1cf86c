"""QR images: rendering with `qrcode`, reading with zxing-cpp.

Base45 text (and the `EL1:`/`HC1:` prefix) uses only the QR alphanumeric
character set, so `qrcode` encodes it in alphanumeric mode (5.5 bits per
character instead of 8 in byte mode). Error correction level M keeps a
400-character code at version 13 (69 modules): it still reads after being
scaled down to 240 px (hcert spec 1.0.8 §3.4 recommends Q; M trades some
damage tolerance for larger modules at the same print size).
"""

from __future__ import annotations

import io
import warnings

import qrcode
import zxingcpp
from PIL import Image, UnidentifiedImageError
from qrcode.constants import ERROR_CORRECT_M
from qrcode.image.pil import PilImage

from signing.errors import InvalidInput
from signing.qr.errors import QrVerificationError

MAX_IMAGE_BYTES = 10 * 1024 * 1024
MAX_IMAGE_PIXELS = 25_000_000  # e.g. 5000 x 5000: a phone photo, not a decompression bomb
_MAX_QR_TEXT = 4296  # alphanumeric capacity of a version-40 code at level L
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
_JPEG_MAGIC = b"\xff\xd8\xff"


def looks_like_image(data: bytes) -> bool:
    return data.startswith((_PNG_MAGIC, _JPEG_MAGIC))


def render_qr_png(text: str, *, box_size: int = 4, border: int = 4) -> bytes:
    """A black-on-white PNG of `text`; `box_size` pixels per module, `border` modules of quiet zone."""
    if not isinstance(text, str) or not 0 < len(text) <= _MAX_QR_TEXT:
        raise InvalidInput(f"QR text must have 1 to {_MAX_QR_TEXT} characters")
    if not 1 <= box_size <= 40 or not 4 <= border <= 16:
        raise InvalidInput("box_size must be 1..40 pixels and border 4..16 modules (ISO/IEC 18004 quiet zone)")
    # Pillow named, not left to qrcode to pick: its fallback (PyPNG) would not take the format argument below.
    code = qrcode.QRCode(error_correction=ERROR_CORRECT_M, box_size=box_size, border=border, image_factory=PilImage)
    code.add_data(text, optimize=0)  # one segment: alphanumeric for Base45 text
    code.make(fit=True)
    image = code.make_image(fill_color="black", back_color="white")
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def decode_qr_image(image_bytes: bytes) -> str:
    """The text of the (first) QR code in a PNG or JPEG; QrVerificationError('image_invalid') otherwise."""
    if not isinstance(image_bytes, (bytes, bytearray)) or not 0 < len(image_bytes) <= MAX_IMAGE_BYTES:
        raise QrVerificationError("image_invalid", f"an image is 1 byte to {MAX_IMAGE_BYTES} bytes")
    if not looks_like_image(bytes(image_bytes[:8])):
        raise QrVerificationError("image_invalid", "only PNG and JPEG images are read")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(image_bytes), formats=("PNG", "JPEG")) as image:
                width, height = image.size  # read from the header, before any pixel is decoded
                if width * height > MAX_IMAGE_PIXELS:
                    raise QrVerificationError("image_invalid", f"the image has over {MAX_IMAGE_PIXELS} pixels")
                grey = image.convert("L")
    except QrVerificationError:
        raise
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, Image.DecompressionBombError,
            Image.DecompressionBombWarning):
        raise QrVerificationError("image_invalid", "the image could not be read") from None
    found = zxingcpp.read_barcodes(grey, formats=zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode))
    if not found:
        raise QrVerificationError("image_invalid", "no QR code was found in the image")
    return found[0].text
