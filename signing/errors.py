"""The signing package's exception family.

Every error raised by `signing` derives from `SigningError`; exceptions of
the libraries underneath (cryptography, gmssl_pyx, asn1crypto) are caught at
the boundary and re-raised as one of these, so callers handle one family.
Domain errors carry no HTTP status; the application maps them.
"""

from __future__ import annotations

from typing import Literal

VerificationCode = Literal[
    "malformed",
    "unknown_key",
    "signature_invalid",
    "algorithm_mismatch",
    "key_revoked",
    "key_retired",
    "key_expired",
    "seal_revoked",
    "seal_suspended",
    "seal_expired",
    "seal_not_authorized_for_type",
    "trust_list_expired",
    "trust_list_untrusted",
    "trust_list_rollback",
    "too_large",
    "status_list_untrusted",
    "expired",  # a status list token past its exp (signing.statuslist)
]


class SigningError(Exception):
    """Root of every error raised by the signing package."""

    code: str = "signing_error"


class InvalidInput(SigningError):
    """An argument failed validation at the package boundary."""

    code = "invalid_input"


class KeyNotFound(SigningError):
    code = "key_not_found"


class KeyDecryptionFailed(SigningError):
    """The encrypted private key could not be opened (wrong secret or tampered)."""

    code = "key_decryption_failed"


class SealNotFound(SigningError):
    code = "seal_not_found"


class OfdSigningError(SigningError):
    """An OFD 签章 cannot be made: GB/T 38540 signs with SM2 only, and the seal has no SM2 key."""

    code = "ofd_not_signable"


class SealNotActive(SigningError):
    """The seal exists but may not sign now (suspended, revoked or outside validity)."""

    code = "seal_not_active"


class NotAuthorized(SigningError):
    """The acting department may not sign with this seal for this licence type."""

    code = "not_authorized"


class AuthorizationNotFound(SigningError):
    code = "authorization_not_found"


class MakerNotFound(SigningError):
    code = "maker_not_found"


class TimestampUnavailable(SigningError):
    """The configured time-stamping authority gave no usable token (signing/pades.py)."""

    code = "timestamp_unavailable"


class VerificationError(SigningError):
    """A signature, seal or trust list did not verify.

    `code` is machine-readable and stable; `str(error)` explains it to a human.
    """

    def __init__(self, code: VerificationCode, message: str) -> None:
        super().__init__(message)
        self.code = code

    def __repr__(self) -> str:
        return f"VerificationError(code={self.code!r}, message={str(self)!r})"
