"""The verifier's errors (registry family; the app maps them to HTTP)."""

from __future__ import annotations

from registry.errors import RegistryError


class InvalidQuery(RegistryError):
    """The DCQL query is not one certhub answers; the message says where."""

    code = "invalid_dcql"


class ClaimsNotAllowed(RegistryError):
    """The relying party asked for a type or claim its registration does not name."""

    code = "claims_not_allowed"


class VpRequestNotFound(RegistryError):
    """No such request (or another relying party's, or no longer served)."""

    code = "request_not_found"


class ResponseRefused(RegistryError):
    """A wallet's response was refused; `code` names why (a verifier code, or the protocol's)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
