"""The registry's exception family (no HTTP statuses here; the app maps them)."""

from __future__ import annotations


class RegistryError(Exception):
    code = "registry_error"


class InvalidIdentifier(RegistryError):
    code = "invalid_identifier"


class RegistryNotInitialised(RegistryError):
    """The registry has no trust-root key or seal maker yet."""

    code = "not_initialised"


class LicenceNotFound(RegistryError):
    code = "licence_not_found"


class InvalidLicenceRequest(RegistryError):
    """A field of an issue or change request breaks the type's schema; the message names it."""

    code = "invalid_licence"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class InvalidHolder(InvalidLicenceRequest):
    code = "invalid_holder"


class NotIssuer(RegistryError):
    """The department may not issue or manage this licence (type)."""

    code = "not_issuer"


class NoUsableSeal(RegistryError):
    """The issuer holds no active seal covering the licence type."""

    code = "no_usable_seal"


class InvalidTransition(RegistryError):
    """The licence's status does not allow this change (e.g. resuming a revoked licence)."""

    code = "invalid_transition"


class IdempotencyConflict(RegistryError):
    """The Idempotency-Key was used before with a different request."""

    code = "idempotency_conflict"


class StatusListNotFound(RegistryError):
    code = "status_list_not_found"


class DisputeNotFound(RegistryError):
    code = "dispute_not_found"


class InvalidDispute(InvalidLicenceRequest):
    """A dispute or a decision on one breaks a rule; the message names the field."""

    code = "invalid_dispute"


class DisputeClosed(InvalidTransition):
    """The dispute was already accepted or rejected (e.g. by a racing decision)."""

    code = "dispute_closed"


class TooManyDisputes(InvalidTransition):
    """The licence already has as many open disputes as one licence may have."""

    code = "too_many_disputes"


class SealRefused(RegistryError):
    """The seal the issuer chose cannot seal this licence; the message says why."""

    code = "seal_refused"


class UnknownSeal(SealRefused):
    code = "unknown_seal"


class NotIssuersSeal(SealRefused):
    """The chosen seal is another department's (and no authorization lets the caller use it)."""

    code = "seal_not_issuers"


class SealNotUsable(SealRefused):
    """The chosen seal is suspended, revoked, outside its validity or without an active key."""

    code = "seal_not_usable"


class SealWrongPurpose(SealRefused):
    """The chosen seal is no 电子证照专用章, or does not cover the licence type."""

    code = "seal_wrong_purpose"


class SealAlgorithmMismatch(SealRefused):
    """The chosen seal's key is of another algorithm than the one asked for."""

    code = "seal_algorithm_mismatch"


class ValidityEnded(InvalidLicenceRequest):
    """A fresh issue whose validity has already ended (historic licences come in by 归集, stored as expired)."""

    code = "validity_ended"


# Presentations (亮证), redemption and holder delegations. Delegations are used by both the
# presentation flow and registry.service, so the family lives here, below both.
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


class DelegationInactive(ProxyNotAllowed):
    """The delegation was revoked, has expired or has not begun: nothing may be done under it."""

    code = "delegation_inactive"


class DelegationNotFound(PresentationError):
    code = "delegation_not_found"


class RedemptionNotFound(PresentationError):
    """No redemption of this code by the caller's department (another department's is not said to exist)."""

    code = "redemption_not_found"


class PdfNotSignable(RegistryError):
    """The issuer holds no seal whose key can sign a PDF (PAdES needs ES256: PDF
    readers verify neither SM2 nor Ed25519); no unsigned PDF is handed out instead."""

    code = "pdf_not_signable"


class CredentialNotSignable(RegistryError):
    """The licence's SD-JWT VC cannot be signed: the issuer holds no usable seal with an ES256
    key (JOSE has no SM2 algorithm), or a face field's name clashes with a credential claim."""

    code = "credential_not_signable"


class InvalidHolderKey(InvalidLicenceRequest):
    """The key a wallet asked the credential to be bound to is not an EC P-256 public JWK."""

    code = "invalid_holder_key"


class CredentialRequestRefused(RegistryError):
    """An OpenID4VCI token, nonce, credential or deferred request refused with one of the
    specification's error codes (OpenID4VCI 1.0 §6.3, §8.3.1.2, §9.3; RFC 6749 §5.2)."""

    def __init__(self, code: str, description: str) -> None:
        super().__init__(description)
        self.code = code


class CredentialTokenRefused(CredentialRequestRefused):
    """The access token of a credential request is missing, unknown or expired (RFC 6750 §3.1 invalid_token)."""
