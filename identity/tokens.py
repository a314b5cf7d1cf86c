"""Short-lived access tokens (JWT) for department clients.

SPEC: RFC 6749 §4.4 (client credentials grant), RFC 9068 (JWT profile for
OAuth 2.0 access tokens: iss, sub, aud, exp, iat, jti, client_id, scope).
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

import jwt
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from identity.errors import InvalidCode, InvalidToken
from identity.hs256 import MessageAuthenticator, hs256_codec
from identity.operators import validate_operator_id

AUDIENCE = "certhub-api"
VERIFIED_TOKENS_KEPT = 4096  # per process; emptied when full


@dataclass(frozen=True)
class Principal:
    """Who is calling: a department's system, with the scopes it was granted."""

    client_id: str
    department_code: str
    scopes: frozenset[str]
    # The person at the keyboard, when the client's signed assertion named
    # one (private_key_jwt); see identity.deps.caller_operator.
    operator: str | None = None
    # The key that signed the assertion this token was issued for
    # (private_key_jwt), or None when it was issued for a secret: revoking
    # that key ends the token (identity.token_revocations).
    key_id: str | None = None

    def has(self, scope: str) -> bool:
        return scope in self.scopes


class Revocations(Protocol):
    def refusal(self, *, client_id: str, key_id: str | None) -> str | None: ...


class TokenAuthority:
    def __init__(self, *, secret: bytes, issuer: str, ttl_seconds: int = 600,
                 revocations: Revocations | None = None, authenticator: MessageAuthenticator | None = None) -> None:
        # A key of its own: derived from the deployment secret, so a leaked
        # token key reveals nothing about the key-encryption key; or, when the
        # deployment keeps its keys in a PKCS#11 token, a MAC key generated
        # there (`authenticator`), which never enters this process.
        derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"certhub access tokens v1").derive(secret)
        self._codec = hs256_codec(key=derived, authenticator=authenticator)
        self._issuer = issuer
        self.ttl_seconds = ttl_seconds
        # Credentials withdrawn since their tokens were issued (a revoked
        # key, a disabled client), consulted on every verification: the
        # tokens themselves cannot be recalled.
        self._revocations = revocations
        # Tokens already verified, with their expiry: a department system
        # sends the same token for minutes, and checking its MAC and claims
        # again on every request costs more than the rest of a cheap call.
        # Keyed by the whole token, so only the exact bytes verified match.
        self._verified: dict[str, tuple[Principal, float]] = {}
        self._verified_lock = threading.Lock()

    def issue(
        self,
        *,
        client_id: str,
        department_code: str,
        scopes: list[str],
        now: datetime | None = None,
        operator: str | None = None,
        key_id: str | None = None,
    ) -> str:
        now = now or datetime.now(UTC)
        claims = {
            "iss": self._issuer,
            "sub": client_id,
            "client_id": client_id,
            "aud": AUDIENCE,
            "iat": int(now.timestamp()),
            "exp": int((now + timedelta(seconds=self.ttl_seconds)).timestamp()),
            "jti": secrets.token_urlsafe(12),
            "dept": department_code,
            "scope": " ".join(sorted(scopes)),
        }
        if operator is not None:
            claims["operator"] = validate_operator_id(operator)
        if key_id is not None:
            claims["assertion_kid"] = key_id
        return self._codec.encode(claims, headers={"typ": "at+jwt"})

    def verify(self, token: str) -> Principal:
        if len(token) > 4096:
            raise InvalidToken("access token too long")
        known = self._verified.get(token)
        if known is not None and time.time() < known[1]:  # as PyJWT: expired once now >= exp
            principal = known[0]
        else:
            principal, expires = self._verify_fully(token)
            with self._verified_lock:
                if len(self._verified) >= VERIFIED_TOKENS_KEPT:
                    self._verified.clear()
                self._verified[token] = (principal, expires)
        if self._revocations is not None:
            refusal = self._revocations.refusal(client_id=principal.client_id, key_id=principal.key_id)
            if refusal is not None:
                raise InvalidToken(f"access token no longer valid: {refusal}")
        return principal

    def _verify_fully(self, token: str) -> tuple[Principal, float]:
        try:
            claims = self._codec.decode(token, audience=AUDIENCE, issuer=self._issuer,
                                        require=["exp", "iat", "sub", "aud", "iss"])
        except jwt.ExpiredSignatureError:
            raise InvalidToken("access token expired") from None
        except jwt.PyJWTError:
            raise InvalidToken("access token invalid") from None
        dept = claims.get("dept")
        if not isinstance(dept, str):
            raise InvalidToken("access token invalid")
        principal = Principal(
            client_id=claims["sub"],
            department_code=dept,
            scopes=frozenset(str(claims.get("scope", "")).split()),
            operator=_operator_claim(claims.get("operator")),
            key_id=_key_id_claim(claims.get("assertion_kid")),
        )
        return principal, float(claims["exp"])


def _key_id_claim(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not 0 < len(value) <= 64:  # a kid's bounds (client_assertions.check_kid)
        raise InvalidToken("access token invalid")
    return value


def _operator_claim(value: object) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidToken("access token invalid")
    try:
        return validate_operator_id(value)
    except InvalidCode:
        raise InvalidToken("access token invalid") from None
