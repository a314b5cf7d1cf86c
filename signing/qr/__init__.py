"""Signed QR codes that verify offline: EL1 (ours) and HC1 (EU DCC) — see docs/formats.md.

    EL1: + Base45( zlib( COSE_Sign1( CWT claims ) ) )

Make codes with `encode_licence_qr` / `encode_presentation_qr`, check them
with `verify_qr` (text or image), draw them with `render_qr_png` and read
images with `decode_qr_image`.
"""

from signing.qr.claims import LicenceSummary, PresentationClaim
from signing.qr.el1 import QrSigner, encode_licence_qr, encode_presentation_qr
from signing.qr.errors import QrVerificationError
from signing.qr.hcert import DccSigner, DccTrustList
from signing.qr.image import decode_qr_image, render_qr_png
from signing.qr.result import QrResult
from signing.qr.verify import verify_qr

__all__ = [
    "DccSigner", "DccTrustList", "LicenceSummary", "PresentationClaim", "QrResult", "QrSigner",
    "QrVerificationError", "decode_qr_image", "encode_licence_qr", "encode_presentation_qr",
    "render_qr_png", "verify_qr",
]
