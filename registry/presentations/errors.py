"""Errors of presentations, redemption and holder proxies (no HTTP statuses:
certhub/errors.py maps them)."""

from __future__ import annotations

from registry.errors import RegistryError


class PresentationError(RegistryError):
    code = "presentation_error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code


class InvalidPresentationRequest(PresentationError):
    """A presentation, redemption or delegation request breaks a rule; the message names it."""

    code = "invalid_presentation"


class LicenceNotPresentable(PresentationError):
    """The licence is not live (revoked, cancelled, expired, superseded...)."""

    code = "licence_not_presentable"


class CodeRefused(PresentationError):
    """The QR code itself failed verification (signature, expiry, format,
    signer); `code` is the verifier's step code, e.g. signature_invalid."""

    code = "code_invalid"


class Replayed(PresentationError):
    """A one-time presentation code was already redeemed."""

    code = "replayed"


class LicenceRefused(PresentationError):
    """A presented licence is no longer usable; `code` says why (revoked, suspended, expired, ...)."""

    code = "licence_unusable"


class ProxyNotAllowed(PresentationError):
    """No active delegation lets this proxy act for the holder here."""

    code = "proxy_not_allowed"


class DelegationNotFound(PresentationError):
    code = "delegation_not_found"
