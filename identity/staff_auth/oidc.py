"""What a staff member's verified OpenID Connect ID token says: the staff
id, the department and the roles (identity.oidc verifies the token itself,
as for holders, with the staff client's own audience).

SPEC: OpenID Connect Core 1.0 §3.1.3.7 (ID token validation, in identity.oidc);
§5.1 (a provider may add claims of its own: the staff claims' names are settings).
"""

from __future__ import annotations

from dataclasses import dataclass

from identity.errors import InvalidCode, InvalidIdToken
from identity.oidc import IdTokenVerifier, JwksCache
from identity.staff_auth.principal import validate_staff
from storage.egress import DIRECT, Egress


@dataclass(frozen=True)
class StaffIdentity:
    staff_id: str
    department_code: str
    roles: frozenset[str]
    name: str
    subject: str


class StaffOidcVerifier(IdTokenVerifier):
    """Verifies staff ID tokens from the province's provider for certhub's staff client id."""

    def __init__(
        self,
        *,
        issuer: str,
        audience: str,
        jwks_url: str | None = None,
        staff_id_claim: str = "staff_id",
        department_claim: str = "department_code",
        roles_claim: str = "roles",
        name_claim: str = "name",
        leeway_seconds: int = 60,
        max_age_seconds: int = 600,
        jwks: JwksCache | None = None,
        egress: Egress = DIRECT,
    ) -> None:
        super().__init__(issuer=issuer, audience=audience, jwks_url=jwks_url, leeway_seconds=leeway_seconds,
                         max_age_seconds=max_age_seconds, jwks=jwks, egress=egress)
        self.staff_id_claim = staff_id_claim
        self.department_claim = department_claim
        self.roles_claim = roles_claim
        self.name_claim = name_claim

    def verify(self, id_token: str, *, nonce: str | None = None) -> StaffIdentity:
        claims = self.verify_claims(id_token, nonce=nonce)
        for claim in (self.staff_id_claim, self.department_claim, self.roles_claim):
            if claim not in claims:
                raise InvalidIdToken(f"ID token lacks the {claim} claim (a staff sign-in needs it)")
        roles = claims[self.roles_claim]
        if isinstance(roles, str):  # some providers send one role, or space-separated ones, as a string
            roles = roles.split()
        try:
            staff_id, department, known, name = validate_staff(
                staff_id=claims[self.staff_id_claim], department_code=claims[self.department_claim],
                roles=roles, name=claims.get(self.name_claim))
        except InvalidCode as exc:
            raise InvalidIdToken(f"ID token staff identity is not acceptable: {exc}") from None
        return StaffIdentity(staff_id=staff_id, department_code=department, roles=known, name=name,
                             subject=str(claims["sub"]))
