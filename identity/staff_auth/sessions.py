"""certhub's own staff session tokens, for one counter shift.

A staff member signs in once (the province's OpenID provider, or the demo
login) and calls the department API with this token. It is unlike both a
department access token (identity.tokens) and a holder session token
(identity.holder_auth.sessions): its own HKDF-derived key, audience and
`typ`, so none of the three can pass for another. A session is short
(`ttl_seconds`) and refreshed while the person works, but never past
`max_shift_seconds` from the sign-in: the shift start is signed into every
refreshed token.

SPEC: RFC 7519 (JWT); RFC 8725 §3.11-3.12 (explicit typing, distinct
audiences for distinct token kinds); RFC 5869 (HKDF).
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
from datetime import UTC, datetime

import jwt
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from identity.errors import InvalidCode, InvalidToken
from identity.hs256 import MessageAuthenticator, hs256_codec
from identity.oidc_code import AuthorizationCodeClient
from identity.staff_auth.oidc import StaffOidcVerifier
from identity.staff_auth.principal import AUTH_METHODS, StaffPrincipal, validate_staff

STAFF_AUDIENCE = "certhub-staff"
TOKEN_TYPE = "staff+jwt"
# Must differ from the access tokens' and the holder sessions' info strings: that is what makes the keys differ.
_HKDF_INFO = b"certhub staff sessions v1"
MAX_TOKEN_LENGTH = 4096
_MAX_HEADER_SEGMENT = 200


class StaffAuthority:
    """Issues, refreshes and verifies staff session tokens; knows the staff
    OIDC verifier and the authorization code client (None when the
    deployment has no staff provider configured)."""

    def __init__(
        self,
        *,
        secret: bytes,
        issuer: str,
        ttl_seconds: int = 900,
        max_shift_seconds: int = 12 * 3600,
        oidc: StaffOidcVerifier | None = None,
        code_flow: AuthorizationCodeClient | None = None,
        authenticator: MessageAuthenticator | None = None,
    ) -> None:
        if not 0 < ttl_seconds <= max_shift_seconds:
            raise ValueError("a staff session's lifetime must be positive and no longer than a shift")
        derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_HKDF_INFO).derive(secret)
        self._codec = hs256_codec(key=derived, authenticator=authenticator)
        self._issuer = issuer
        self.ttl_seconds = ttl_seconds
        self.max_shift_seconds = max_shift_seconds
        self.oidc = oidc
        # The pages' redirect sign-in at the same provider and client (certhub.web.staff_login).
        self.code_flow = code_flow

    def new_principal(self, *, staff_id: str, department_code: str, roles: list[str] | frozenset[str], name: str,
                      auth_method: str, now: datetime | None = None) -> StaffPrincipal:
        """Validate an identity and start a shift for it (fresh session id)."""
        if auth_method not in AUTH_METHODS:
            raise ValueError(f"unknown auth method {auth_method!r}")
        staff_id, department_code, known, name = validate_staff(
            staff_id=staff_id, department_code=department_code, roles=list(roles), name=name)
        return StaffPrincipal(
            staff_id=staff_id, department_code=department_code, roles=known, name=name, auth_method=auth_method,
            session_id=secrets.token_urlsafe(16), shift_started_at=int((now or datetime.now(UTC)).timestamp()),
        )

    def shift_ends_at(self, principal: StaffPrincipal) -> int:
        return principal.shift_started_at + self.max_shift_seconds

    def issue(self, *, principal: StaffPrincipal, now: datetime | None = None) -> tuple[str, int]:
        """A token for this session and its lifetime in seconds: `ttl_seconds`,
        cut short at the end of the shift. InvalidToken once the shift is over.
        A refresh is an issue for the principal a valid token names: same
        person, roles, session id and shift start."""
        now = now or datetime.now(UTC)
        issued_at = int(now.timestamp())
        expires = min(issued_at + self.ttl_seconds, self.shift_ends_at(principal))
        if expires <= issued_at:
            raise InvalidToken("the shift is over (the longest a staff session lasts); sign in again")
        claims = {
            "iss": self._issuer,
            "sub": principal.staff_id,
            "aud": STAFF_AUDIENCE,
            "iat": issued_at,
            "exp": expires,
            "jti": secrets.token_urlsafe(12),
            "sid": principal.session_id,
            "dept": principal.department_code,
            "roles": sorted(principal.roles),
            "name": principal.name,
            "amr": principal.auth_method,
            "sst": principal.shift_started_at,
        }
        return self._codec.encode(claims, headers={"typ": TOKEN_TYPE}), expires - issued_at

    @staticmethod
    def claims_to_be_staff(token: str) -> bool:
        """Whether a bearer token says it is a staff session (its header's
        typ, unverified): how the department dependency picks the verifier."""
        segment = token.partition(".")[0]
        if not 0 < len(segment) <= _MAX_HEADER_SEGMENT:
            return False
        try:
            header = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
        except (ValueError, binascii.Error):
            return False
        return isinstance(header, dict) and header.get("typ") == TOKEN_TYPE

    def verify(self, token: str) -> StaffPrincipal:
        if len(token) > MAX_TOKEN_LENGTH:
            raise InvalidToken("staff session token too long")
        if not self.claims_to_be_staff(token):
            # Said plainly: the usual cause is a holder session or a department access token sent here.
            raise InvalidToken("not a staff session token (sign in as staff: POST /api/v1/staff/session)")
        try:
            claims = self._codec.decode(token, audience=STAFF_AUDIENCE, issuer=self._issuer,
                                        require=["exp", "iat", "sub", "aud", "iss", "sid", "sst"])
        except jwt.ExpiredSignatureError:
            raise InvalidToken("staff session expired; sign in again") from None
        except jwt.PyJWTError:
            raise InvalidToken("staff session token invalid") from None
        try:
            staff_id, department, roles, name = validate_staff(
                staff_id=claims["sub"], department_code=claims.get("dept"), roles=claims.get("roles"),
                name=claims.get("name"))
        except InvalidCode:
            raise InvalidToken("staff session token invalid") from None
        method, sid, started = claims.get("amr"), claims["sid"], claims["sst"]
        if method not in AUTH_METHODS or not isinstance(sid, str) or not isinstance(started, int):
            raise InvalidToken("staff session token invalid")
        return StaffPrincipal(staff_id=staff_id, department_code=department, roles=roles, name=name,
                              auth_method=method, session_id=sid, shift_started_at=started)


def ended_session_key(session_id: str) -> str:
    """The cache key that marks a signed-out session (kept until its shift would have ended)."""
    return f"staff:ended:{session_id}"
