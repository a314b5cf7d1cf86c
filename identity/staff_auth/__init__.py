"""Staff identity: who a counter clerk, a department officer or an auditor
is when they use the department's pages.

Staff sign in at the province's OpenID Connect provider with a client of
their own (not the holders'); certhub verifies the ID token by the same
path as holders' (identity.oidc) and gives a short-lived staff session token
of its own. The department API accepts it beside department access tokens
(identity.deps.bearer_principal): the person's department, the scopes of their
roles, and their staff id as the operator, signed into the token.
"""

from identity.staff_auth.oidc import StaffIdentity, StaffOidcVerifier
from identity.staff_auth.principal import ROLE_SCOPES, STAFF_CLIENT_PREFIX, STAFF_ROLES, StaffPrincipal, scopes_for
from identity.staff_auth.sessions import STAFF_AUDIENCE, StaffAuthority, ended_session_key

__all__ = [
    "ROLE_SCOPES",
    "STAFF_AUDIENCE",
    "STAFF_CLIENT_PREFIX",
    "STAFF_ROLES",
    "StaffAuthority",
    "StaffIdentity",
    "StaffOidcVerifier",
    "StaffPrincipal",
    "ended_session_key",
    "scopes_for",
]
