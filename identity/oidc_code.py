"""The OpenID Connect authorization code flow with PKCE, certhub being the
client: send the browser to the provider's login page, and exchange the code
it brings back for an ID token (then verified by identity.oidc like any other).

SPEC: OpenID Connect Core 1.0 §3.1.2 (authentication request: scope openid,
state, nonce), §3.1.3 (token request and response); RFC 6749 §4.1
(authorization code grant), §2.3.1 (client_secret_basic); RFC 7636 (PKCE,
S256); RFC 9700 §2.1.1 (PKCE and state against code injection and CSRF);
OpenID Connect Discovery 1.0 §3 (authorization_endpoint, token_endpoint).
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
from dataclasses import dataclass
from urllib.parse import quote, urlencode

from identity.errors import IdentityProviderUnavailable, InvalidIdToken
from identity.oidc import MAX_ID_TOKEN_LENGTH, MAX_JWKS_BYTES, require_secure_url
from storage.egress import DIRECT, BodyRefused, Egress, EgressError

_METADATA_TTL_SECONDS = 300.0


@dataclass(frozen=True)
class LoginRequest:
    """What the client keeps between sending the browser away and its return."""

    state: str
    nonce: str
    code_verifier: str

    @classmethod
    def new(cls) -> LoginRequest:
        # RFC 7636 §4.1: 43-128 characters of the unreserved set; 32 random bytes give 43.
        return cls(state=secrets.token_urlsafe(32), nonce=secrets.token_urlsafe(32),
                   code_verifier=secrets.token_urlsafe(48))

    @property
    def code_challenge(self) -> str:
        # SPEC: RFC 7636 §4.2, S256.
        digest = hashlib.sha256(self.code_verifier.encode("ascii")).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


class AuthorizationCodeClient:
    """One client at one provider: its endpoints come from discovery."""

    def __init__(self, *, issuer: str, client_id: str, redirect_uri: str, client_secret: str | None = None,
                 timeout_seconds: float = 5.0, egress: Egress = DIRECT) -> None:
        self.issuer = require_secure_url(issuer, what="OpenID Connect issuer")
        self.client_id = client_id
        # The one address registered for this client at the provider (RFC 6749 §3.1.2): configured,
        # never built from a request's Host, which a proxy or a caller chooses.
        self.redirect_uri = require_secure_url(redirect_uri, what="OpenID Connect redirect URI")
        self._client_secret = client_secret
        self._timeout = timeout_seconds
        self._egress = egress
        self._lock = threading.Lock()
        self._endpoints: tuple[str, str] | None = None
        self._fetched_at = float("-inf")

    def authorization_url(self, *, login: LoginRequest) -> str:
        authorize, _token = self._discovered()
        query = urlencode({
            "response_type": "code", "client_id": self.client_id, "redirect_uri": self.redirect_uri, "scope": "openid",
            "state": login.state, "nonce": login.nonce,
            "code_challenge": login.code_challenge, "code_challenge_method": "S256",
        }, quote_via=quote)
        return f"{authorize}{'&' if '?' in authorize else '?'}{query}"

    def id_token_for(self, *, code: str, login: LoginRequest) -> str:
        """The ID token the provider gives for a code (not yet verified: identity.oidc does that)."""
        _authorize, token_url = self._discovered()
        form = {"grant_type": "authorization_code", "code": code, "redirect_uri": self.redirect_uri,
                "code_verifier": login.code_verifier}
        headers = {"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"}
        if self._client_secret is None:
            form["client_id"] = self.client_id  # a public client names itself (RFC 6749 §4.1.3)
        else:
            # SPEC: RFC 6749 §2.3.1 — form-urlencoded id and secret in HTTP Basic.
            pair = f"{quote(self.client_id, safe='')}:{quote(self._client_secret, safe='')}"
            headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
        answer = self._call("POST", token_url, headers=headers, body=urlencode(form).encode(), what="token endpoint",
                            refused_is_callers=True)
        id_token = answer.get("id_token") if isinstance(answer, dict) else None
        if not isinstance(id_token, str) or not 0 < len(id_token) <= MAX_ID_TOKEN_LENGTH:
            raise IdentityProviderUnavailable("the OpenID provider's token answer has no usable id_token")
        return id_token

    def _discovered(self) -> tuple[str, str]:
        with self._lock:
            if self._endpoints is None or time.monotonic() - self._fetched_at > _METADATA_TTL_SECONDS:
                url = self.issuer.rstrip("/") + "/.well-known/openid-configuration"
                metadata = self._call("GET", url, headers={"Accept": "application/json"}, body=None,
                                      what="provider metadata")
                if not isinstance(metadata, dict) or metadata.get("issuer") != self.issuer:
                    raise IdentityProviderUnavailable("the OpenID provider metadata names a different issuer")
                try:
                    self._endpoints = (
                        require_secure_url(str(metadata.get("authorization_endpoint", "")), what="authorization_endpoint"),
                        require_secure_url(str(metadata.get("token_endpoint", "")), what="token_endpoint"),
                    )
                except ValueError as exc:
                    raise IdentityProviderUnavailable(str(exc)) from None
                self._fetched_at = time.monotonic()
            return self._endpoints

    def _call(self, method: str, url: str, *, headers: dict[str, str], body: bytes | None, what: str,
              refused_is_callers: bool = False) -> object:
        try:
            with self._egress.client(timeout=(self._timeout, self._timeout), max_idle=1) as client, \
                    client.request(method, url, headers=headers, body=body) as response:
                status = response.status
                data = response.read_bounded(max_bytes=MAX_JWKS_BYTES)
        except (EgressError, BodyRefused) as exc:
            raise IdentityProviderUnavailable(f"the OpenID provider's {what} could not be reached "
                                              f"({type(exc).__name__})") from None
        if refused_is_callers and status in (400, 401):
            # SPEC: RFC 6749 §5.2 — invalid_grant and the like: this sign-in failed, the provider is fine.
            raise InvalidIdToken("the OpenID provider refused the sign-in code (expired or already used); sign in again")
        if status != 200:
            raise IdentityProviderUnavailable(f"the OpenID provider's {what} answered HTTP {status}")
        try:
            return json.loads(data)
        except ValueError:
            raise IdentityProviderUnavailable(f"the OpenID provider's {what} is not JSON") from None
