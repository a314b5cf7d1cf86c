"""The QR verifier's error: one `VerificationError` subclass, one code per step.

The codes, in the order the verifier checks them (docs/formats.md, "QR codes
(EL1)"):

| step | code | meaning |
|---|---|---|
| 0 | `image_invalid` | the image could not be read or holds no QR code |
| 1 | `payload_too_large` | the text (or its inflated payload) is over the bound |
| 1 | `prefix_invalid` | the text does not start with `EL1:` (or `HC1:`) |
| 2 | `base45_invalid` | the rest is not Base45 (RFC 9285) |
| 3 | `zlib_invalid` | not a zlib stream, truncated, or trailing bytes |
| 4 | `cose_invalid` | not a COSE_Sign1, or its protected header lacks alg/kid |
| 5 | `unknown_key` | no trusted key carries the kid |
| 6 | `signature_invalid` | no key with that kid verifies the signature |
| 7 | `claims_invalid` | the signed CWT claims are malformed |
| 8 | `expired` / `not_yet_valid` | exp passed / iat in the future (beyond the skew) |
| 9 | `key_not_valid` | the key (or its seal) was not usable at iat, or not for this use |
| 10 | `type_not_allowed` | the seal's trust entry does not cover the licence type |
| 11 | `status_unavailable` / `revoked` / `suspended` / `status_stale` | licence status |
| 11 | `status_list_untrusted` | the status list's key is not a status-list key of the list's registry in the trust list (where a caller checks the list as part of the code) |
"""

from __future__ import annotations

from typing import Literal

from signing.errors import VerificationError

QrErrorCode = Literal[
    "image_invalid",
    "payload_too_large",
    "prefix_invalid",
    "base45_invalid",
    "zlib_invalid",
    "cose_invalid",
    "unknown_key",
    "signature_invalid",
    "claims_invalid",
    "expired",
    "not_yet_valid",
    "key_not_valid",
    "type_not_allowed",
    "status_unavailable",
    "revoked",
    "suspended",
    "status_stale",
    "status_list_untrusted",
]


class QrVerificationError(VerificationError):
    """A QR code did not verify; `code` names the failed step (see the module table)."""

    def __init__(self, code: QrErrorCode, message: str) -> None:
        super().__init__(code, message)  # type: ignore[arg-type]

    def __repr__(self) -> str:
        return f"QrVerificationError(code={self.code!r}, message={str(self)!r})"
