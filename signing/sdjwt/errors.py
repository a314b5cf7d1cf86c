"""The SD-JWT verifier's error: one `VerificationError` subclass, one code per failed step.

| code | meaning |
|---|---|
| `too_large` | the token, a disclosure, or their number is over the bound |
| `malformed` | not `<JWT>~<disclosure>~...~[<KB-JWT>]`, or a part is not what it must be |
| `unknown_key` | no trusted key for the issuer and `kid` |
| `signature_invalid` | no trusted key verifies the issuer's signature |
| `key_not_valid` / `type_not_allowed` | the key (or its seal) did not vouch for this credential when it was issued |
| `disclosure_invalid` | a disclosure is not a valid array, names `_sd`/`...`, or overwrites a claim |
| `disclosure_duplicate` | the same disclosure (or digest) appears twice |
| `disclosure_unreferenced` | a disclosure's digest is not in the signed payload (tampered or foreign) |
| `key_binding_missing` | the verifier asked for holder binding and there is no KB-JWT (or no `cnf`) |
| `key_binding_invalid` | the KB-JWT's type, signature, `sd_hash` or time is wrong |
| `nonce_mismatch` / `audience_mismatch` | the KB-JWT is for another request or another verifier |
| `replayed` | the KB-JWT is older than the verifier accepts |
| `expired` / `not_yet_valid` | the credential's `exp` passed / `nbf` or `iat` lies ahead |
| `status_unavailable` / `status_list_untrusted` / `revoked` / `suspended` | the Token Status List entry |
"""

from __future__ import annotations

from typing import Literal

from signing.errors import VerificationError

SdJwtErrorCode = Literal[
    "too_large",
    "malformed",
    "unknown_key",
    "signature_invalid",
    "key_not_valid",
    "type_not_allowed",
    "disclosure_invalid",
    "disclosure_duplicate",
    "disclosure_unreferenced",
    "key_binding_missing",
    "key_binding_invalid",
    "nonce_mismatch",
    "audience_mismatch",
    "replayed",
    "expired",
    "not_yet_valid",
    "status_unavailable",
    "status_list_untrusted",
    "revoked",
    "suspended",
]


class SdJwtVerificationError(VerificationError):
    """An SD-JWT (or SD-JWT VC) did not verify; `code` names the failed step (see the module table)."""

    def __init__(self, code: SdJwtErrorCode, message: str) -> None:
        super().__init__(code, message)  # type: ignore[arg-type]

    def __repr__(self) -> str:
        return f"SdJwtVerificationError(code={self.code!r}, message={str(self)!r})"
