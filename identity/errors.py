"""The identity package's exception family: who a caller is, and whether
they may act. Domain errors carry no HTTP status; the app maps them in one
table (certhub.errors)."""

from __future__ import annotations


class IdentityError(Exception):
    code = "identity_error"


class InvalidCode(IdentityError):
    """An identifier (a USCC, a resident ID number, an operator id, ...) is
    malformed. The catalog's own codes raise it too: one error for one kind
    of mistake, whichever package found it."""

    code = "invalid_code"


class InvalidRegistration(IdentityError):
    """A client or key registration breaks a rule; the message says which.
    Its wire code is the one the catalog's admin API has always answered."""

    code = "invalid_catalog"


class DuplicateRegistration(InvalidRegistration):
    code = "duplicate"


class UnknownClient(IdentityError):
    """No such client, key or department to register one for."""

    code = "not_found"


class AuthError(IdentityError):
    """The caller could not be authenticated."""

    code = "unauthenticated"


class MissingCredentials(AuthError):
    """No credentials at all: a bearer challenge without an error code
    (SPEC: RFC 6750 §3.1: no error for a request that did not try)."""


class InvalidToken(AuthError):
    """A bearer token that was presented but is not valid (expired, forged,
    withdrawn). SPEC: RFC 6750 §3.1 error="invalid_token"."""


class InvalidClient(AuthError):
    code = "invalid_client"


class TokenRequestRefused(IdentityError):
    """An OAuth token request refused with one of RFC 6749 §5.2's error codes
    (invalid_request, invalid_client, unsupported_grant_type, invalid_scope).

    `basic` is whether the client authenticated with HTTP Basic: then the
    401 challenges with Basic (RFC 6749 §5.2)."""

    def __init__(self, code: str, description: str, *, basic: bool = False) -> None:
        super().__init__(description)
        self.code = code
        self.basic = basic


class InvalidIdToken(AuthError):
    """A holder's OpenID Connect ID token was refused; the message says why."""

    code = "invalid_id_token"


class LoginUnavailable(IdentityError):
    """This deployment does not offer the login method asked for."""

    code = "login_unavailable"


class IdentityProviderUnavailable(IdentityError):
    """The OpenID provider could not be reached or answered nonsense: not the
    caller's fault, so not a 4xx."""

    code = "identity_provider_unavailable"


class Forbidden(IdentityError):
    """The caller is known but may not do this."""

    code = "forbidden"
