"""The catalog's exception family. Domain errors carry no HTTP status; the
app maps them in one table."""

from __future__ import annotations


class CatalogError(Exception):
    code = "catalog_error"


class InvalidCode(CatalogError):
    code = "invalid_code"


class InvalidCatalog(CatalogError):
    """A catalog document or entry breaks a rule; the message names where."""

    code = "invalid_catalog"


class UnknownReference(InvalidCatalog):
    code = "unknown_reference"


class DuplicateEntry(InvalidCatalog):
    code = "duplicate"


class NotFound(CatalogError):
    code = "not_found"


class AuthError(CatalogError):
    """The caller could not be authenticated."""

    code = "unauthenticated"


class InvalidClient(AuthError):
    code = "invalid_client"


class InvalidIdToken(AuthError):
    """A holder's OpenID Connect ID token was refused; the message says why."""

    code = "invalid_id_token"


class LoginUnavailable(NotFound):
    """This deployment does not offer the login method asked for."""

    code = "login_unavailable"


class IdentityProviderUnavailable(CatalogError):
    """The OpenID provider could not be reached or answered nonsense: not the
    caller's fault, so not a 4xx."""

    code = "identity_provider_unavailable"


class Forbidden(CatalogError):
    """The caller is known but may not do this."""

    code = "forbidden"
