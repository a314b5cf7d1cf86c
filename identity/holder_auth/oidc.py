"""What a holder's verified OpenID Connect ID token says: the holder code,
its type and the name (identity.oidc verifies the token itself).

SPEC: OpenID Connect Core 1.0 §3.1.3.7 (ID token validation, in identity.oidc).
"""

from __future__ import annotations

from dataclasses import dataclass

from identity.errors import InvalidCode, InvalidIdToken
from identity.holder_auth.principal import CITIZEN, ORGANISATION, validate_holder_code, validate_name
from identity.oidc import MAX_ID_TOKEN_LENGTH, IdTokenVerifier, JwksCache, require_secure_url
from storage.egress import DIRECT, Egress

__all__ = ["MAX_ID_TOKEN_LENGTH", "JwksCache", "OidcIdentity", "OidcVerifier", "require_secure_url"]


@dataclass(frozen=True)
class OidcIdentity:
    """What a verified ID token says about the holder."""

    holder_code: str
    holder_code_type: str
    name: str
    operator_name: str | None
    subject: str


class OidcVerifier(IdTokenVerifier):
    """Verifies holders' ID tokens from one provider for the wallet's client id."""

    def __init__(
        self,
        *,
        issuer: str,
        audience: str,
        jwks_url: str | None = None,
        holder_code_claim: str = "id_number",
        holder_code_type_claim: str = "id_number_type",
        default_holder_code_type: str = CITIZEN,
        name_claim: str = "name",
        operator_name_claim: str = "operator_name",
        leeway_seconds: int = 60,
        max_age_seconds: int = 600,
        jwks: JwksCache | None = None,
        egress: Egress = DIRECT,
    ) -> None:
        super().__init__(issuer=issuer, audience=audience, jwks_url=jwks_url, leeway_seconds=leeway_seconds,
                         max_age_seconds=max_age_seconds, jwks=jwks, egress=egress)
        self.holder_code_claim = holder_code_claim
        self.holder_code_type_claim = holder_code_type_claim
        self.default_holder_code_type = default_holder_code_type
        self.name_claim = name_claim
        self.operator_name_claim = operator_name_claim

    def verify(self, id_token: str, *, nonce: str | None = None) -> OidcIdentity:
        return self._identity(self.verify_claims(id_token, nonce=nonce))

    def _identity(self, claims: dict) -> OidcIdentity:
        if self.holder_code_claim not in claims:
            raise InvalidIdToken(f"ID token lacks the {self.holder_code_claim} claim (the holder code)")
        code_type = claims.get(self.holder_code_type_claim, self.default_holder_code_type)
        try:
            code, code_type = validate_holder_code(code=claims[self.holder_code_claim], code_type=code_type)
            name = validate_name(claims.get(self.name_claim), what=f"the {self.name_claim} claim")
            operator = None
            if code_type == ORGANISATION:
                operator = validate_name(
                    claims.get(self.operator_name_claim),
                    what=f"the {self.operator_name_claim} claim (the person acting for the organisation)",
                )
        except InvalidCode as exc:
            raise InvalidIdToken(f"ID token holder identity is not acceptable: {exc}") from None
        return OidcIdentity(
            holder_code=code,
            holder_code_type=code_type,
            name=name,
            operator_name=operator,
            subject=str(claims["sub"]),
        )
