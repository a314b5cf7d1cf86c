"""Holder identity: who a citizen or organisation is when they use their own
licences (wallet, 亮证, use log, consents).

Holders sign in at a configured OpenID Connect provider; certhub verifies the
ID token once and gives a short-lived holder session token of its own, which
`identity.deps.current_holder` accepts. Department access tokens and holder
session tokens are kept apart by key, audience and token type.
"""

from identity.holder_auth.oidc import JwksCache, OidcVerifier
from identity.holder_auth.principal import (
    CITIZEN,
    ORGANISATION,
    HolderPrincipal,
    validate_citizen_id,
    validate_holder_code,
)
from identity.holder_auth.sessions import HOLDER_AUDIENCE, HolderAuthority

__all__ = [
    "CITIZEN",
    "HOLDER_AUDIENCE",
    "ORGANISATION",
    "HolderAuthority",
    "HolderPrincipal",
    "JwksCache",
    "OidcVerifier",
    "validate_citizen_id",
    "validate_holder_code",
]
