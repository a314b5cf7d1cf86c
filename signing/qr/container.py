"""The text around a COSE_Sign1: prefix + Base45( zlib( COSE ) ).

SPEC: hcert spec 1.0.8 §3.3 (the same container with the prefix "HC1:");
RFC 9285 (Base45: two bytes -> three characters of the QR alphanumeric set);
RFC 1950 (zlib). Every step bounds its output.
"""

from __future__ import annotations

import zlib

import base45

from signing.qr.errors import QrVerificationError

EL1_PREFIX = "EL1:"
HC1_PREFIX = "HC1:"
PREFIXES = (EL1_PREFIX, HC1_PREFIX)
MAX_TEXT = 8192  # characters; a version-40 QR holds 4,296 alphanumeric characters
DEFAULT_MAX_INFLATED = 64 * 1024


def wrap(cose: bytes, *, prefix: str = EL1_PREFIX) -> str:
    # Level 9: the code is made once and scanned many times; every byte saved
    # is 1.5 characters less in the QR.
    return prefix + base45.b45encode(zlib.compress(cose, 9)).decode("ascii")


def split_prefix(text: str) -> tuple[str, str]:
    """1. The prefix (EL1: or HC1:) and the Base45 text after it."""
    if len(text) > MAX_TEXT:
        raise QrVerificationError("payload_too_large", f"the QR text is over {MAX_TEXT} characters")
    # Scanner guns end a read with CR/LF; surrounding whitespace is no part of the code.
    text = text.strip()
    for prefix in PREFIXES:
        if text.startswith(prefix):
            return prefix, text[len(prefix):]
    raise QrVerificationError("prefix_invalid", "the QR text does not start with EL1: (or HC1:)")


def unbase45(text: str) -> bytes:
    """2. RFC 9285 decoding with the `base45` package; anything outside the
    alphabet, a dangling character or an out-of-range group fails."""
    try:
        return base45.b45decode(text)
    except (ValueError, TypeError, AttributeError):  # the package raises ValueError for every bad input
        raise _not_base45() from None


def _not_base45() -> QrVerificationError:
    return QrVerificationError("base45_invalid", "the text after the prefix is not Base45")


def inflate(data: bytes, *, max_inflated: int = DEFAULT_MAX_INFLATED) -> bytes:
    """3. zlib (RFC 1950) with a bound on the output: a zip bomb stops at `max_inflated` bytes.

    SPEC: hcert spec 1.0.8 §3.3 — the COSE structure SHALL be zlib-compressed,
    so an uncompressed payload is refused for HC1 codes as for ours.
    """
    inflater = zlib.decompressobj()
    try:
        inflated = inflater.decompress(data, max_inflated + 1)
    except zlib.error:
        raise QrVerificationError("zlib_invalid", "the payload is not a zlib stream") from None
    if len(inflated) > max_inflated or inflater.unconsumed_tail:
        raise QrVerificationError("payload_too_large", f"the payload inflates to more than {max_inflated} bytes")
    if not inflater.eof:
        raise QrVerificationError("zlib_invalid", "the zlib stream is truncated")
    if inflater.unused_data:
        raise QrVerificationError("zlib_invalid", "bytes follow the zlib stream")
    return inflated
