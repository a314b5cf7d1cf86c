"""certhub's own short-lived holder session tokens.

A holder signs in once (OIDC, or the demo login) and then calls the registry
with this token; it is deliberately unlike a department access token
(identity.tokens): another HKDF-derived key, another audience and another
`typ`, so neither kind can ever pass for the other.

SPEC: RFC 7519 (JWT); RFC 8725 §3.11-3.12 (explicit typing, distinct
audiences for distinct token kinds); RFC 5869 (HKDF).
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

import jwt
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from identity.errors import InvalidCode, InvalidToken
from identity.holder_auth.oidc import OidcVerifier
from identity.holder_auth.principal import (
    AUTH_METHODS,
    ORGANISATION,
    HolderPrincipal,
    validate_holder_code,
    validate_name,
)
from identity.hs256 import MessageAuthenticator, hs256_codec

HOLDER_AUDIENCE = "certhub-holder"
TOKEN_TYPE = "holder+jwt"
# Must differ from identity.tokens' info string: that is what makes the keys differ.
_HKDF_INFO = b"certhub holder sessions v1"
MAX_TOKEN_LENGTH = 4096


class HolderAuthority:
    """Issues and verifies holder session tokens; knows the OIDC verifier
    (None when the deployment has no OpenID provider configured)."""

    def __init__(
        self,
        *,
        secret: bytes,
        issuer: str,
        ttl_seconds: int = 900,
        oidc: OidcVerifier | None = None,
        authenticator: MessageAuthenticator | None = None,
    ) -> None:
        # As identity.tokens: derived from the secret, or a MAC key in the deployment's PKCS#11 token.
        derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_HKDF_INFO).derive(secret)
        self._codec = hs256_codec(key=derived, authenticator=authenticator)
        self._issuer = issuer
        self.ttl_seconds = ttl_seconds
        self.oidc = oidc

    def new_principal(
        self,
        *,
        holder_code: str,
        holder_code_type: str,
        name: str,
        auth_method: str,
        operator_name: str | None = None,
    ) -> HolderPrincipal:
        """Validate an identity and start a session for it (fresh session id)."""
        if auth_method not in AUTH_METHODS:
            raise ValueError(f"unknown auth method {auth_method!r}")
        code, code_type = validate_holder_code(code=holder_code, code_type=holder_code_type)
        name = validate_name(name, what="name")
        if code_type == ORGANISATION:
            operator_name = validate_name(operator_name, what="operator_name (the person acting for the organisation)")
        elif operator_name is not None:
            raise InvalidCode("operator_name applies to organisations (holder code type 001) only")
        return HolderPrincipal(
            holder_code=code,
            holder_code_type=code_type,
            name=name,
            auth_method=auth_method,
            session_id=secrets.token_urlsafe(16),
            operator_name=operator_name,
        )

    def issue(self, *, principal: HolderPrincipal, now: datetime | None = None) -> str:
        now = now or datetime.now(UTC)
        claims = {
            "iss": self._issuer,
            "sub": principal.holder_code,
            "aud": HOLDER_AUDIENCE,
            "iat": int(now.timestamp()),
            "exp": int((now + timedelta(seconds=self.ttl_seconds)).timestamp()),
            "jti": secrets.token_urlsafe(12),
            "sid": principal.session_id,
            "hct": principal.holder_code_type,
            "name": principal.name,
            "amr": principal.auth_method,
        }
        if principal.operator_name is not None:
            claims["op"] = principal.operator_name
        return self._codec.encode(claims, headers={"typ": TOKEN_TYPE})

    def verify(self, token: str) -> HolderPrincipal:
        if len(token) > MAX_TOKEN_LENGTH:
            raise InvalidToken("holder session token too long")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise InvalidToken("holder session token invalid") from None
        if header.get("typ") != TOKEN_TYPE:
            # Said plainly, because the usual cause is a client sending its
            # department access token to a holder endpoint.
            raise InvalidToken("not a holder session token (department access tokens cannot act for holders)")
        try:
            claims = self._codec.decode(token, audience=HOLDER_AUDIENCE, issuer=self._issuer,
                                        require=["exp", "iat", "sub", "aud", "iss", "sid"])
        except jwt.ExpiredSignatureError:
            raise InvalidToken("holder session expired; sign in again") from None
        except jwt.PyJWTError:
            raise InvalidToken("holder session token invalid") from None
        try:
            code, code_type = validate_holder_code(code=claims["sub"], code_type=claims.get("hct"))
        except InvalidCode:
            raise InvalidToken("holder session token invalid") from None
        name, method, sid = claims.get("name"), claims.get("amr"), claims["sid"]
        operator = claims.get("op")
        if not isinstance(name, str) or method not in AUTH_METHODS or not isinstance(sid, str):
            raise InvalidToken("holder session token invalid")
        if operator is not None and not isinstance(operator, str):
            raise InvalidToken("holder session token invalid")
        return HolderPrincipal(
            holder_code=code,
            holder_code_type=code_type,
            name=name,
            auth_method=method,
            session_id=sid,
            operator_name=operator,
        )
