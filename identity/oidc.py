"""Verifying an OpenID Connect ID token: one path for every kind of person
who signs in (holders: identity.holder_auth; staff: identity.staff_auth).
Each kind reads its own claims from the verified set.

SPEC: OpenID Connect Core 1.0 §3.1.3.7 (ID token validation), §10.1 (signing
keys, kid, rotation); OpenID Connect Discovery 1.0 §4 (provider metadata);
RFC 7517 (JWK sets); RFC 8725 §3.1-3.2 (fixed algorithm allow-list).
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import logging
import threading
import time
from collections.abc import Callable
from urllib.parse import urlsplit

import jwt

from identity.errors import IdentityProviderUnavailable, InvalidIdToken
from storage.egress import DIRECT, BodyRefused, BodyTooLarge, Egress, EgressClient, EgressError

log = logging.getLogger(__name__)

# RFC 8725 §3.1: the verifier decides the algorithms, never the token. Only
# asymmetric ones: an HMAC "signed" with the provider's public key, or
# `none`, must never verify.
ALLOWED_ALGORITHMS = ("RS256", "ES256", "EdDSA")
# The key types each algorithm may use, so an EC key is never tried for RS256.
_KEY_FAMILY = {
    "RS256": ("RSA", None),
    "ES256": ("EC", ("P-256",)),
    "EdDSA": ("OKP", ("Ed25519", "Ed448")),
}
MAX_ID_TOKEN_LENGTH = 16 * 1024
MAX_JWKS_BYTES = 256 * 1024


def require_secure_url(url: str, *, what: str) -> str:
    """https only, except on loopback (a provider on the same host, or tests).

    SPEC: OpenID Connect Discovery 1.0 §3 — the issuer is an https URL.
    """
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return url
    if parts.scheme == "http" and parts.hostname and _is_loopback(parts.hostname):
        return url
    raise ValueError(f"{what} must be an https URL (http only on loopback): {url!r}")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class JwksCache:
    """The provider's signing keys, fetched over HTTP with a timeout and kept
    for `ttl_seconds`.

    A token with an unknown kid triggers one refetch (the provider may have
    rotated keys, OIDC Core §10.1.1), but at most every `min_refetch_seconds`
    so tokens with made-up kids cannot make us hammer the provider.
    """

    def __init__(
        self,
        *,
        issuer: str,
        jwks_url: str | None = None,
        ttl_seconds: float = 300.0,
        min_refetch_seconds: float = 30.0,
        timeout_seconds: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
        egress: Egress = DIRECT,
    ) -> None:
        self._issuer = issuer
        self._jwks_url = require_secure_url(jwks_url, what="JWKS URL") if jwks_url else None
        self._ttl = ttl_seconds
        self._min_refetch = min_refetch_seconds
        self._timeout = timeout_seconds
        self._clock = clock
        # Through the deployment's egress, one kept-alive connection (a fetch is rare).
        self._egress = egress
        self._lock = threading.Lock()
        self._keys: list[tuple[str | None, dict, jwt.PyJWK]] = []
        self._expires_at = float("-inf")
        self._last_attempt = float("-inf")
        self.fetch_count = 0

    def key_for(self, *, kid: str | None, alg: str) -> jwt.PyJWK | None:
        """The published key that may verify a token with this kid and alg."""
        with self._lock:
            refreshed = False
            if self._clock() >= self._expires_at:
                self._refresh()
                refreshed = True
            key = self._find(kid=kid, alg=alg)
            if key is None and not refreshed and self._clock() - self._last_attempt >= self._min_refetch:
                self._refresh()
                key = self._find(kid=kid, alg=alg)
            return key

    def _find(self, *, kid: str | None, alg: str) -> jwt.PyJWK | None:
        candidates = [(k, jwk, key) for k, jwk, key in self._keys if _fits(jwk, alg)]
        if kid is not None:
            return next((key for k, _jwk, key in candidates if k == kid), None)
        # OIDC Core §10.1: kid may be left out only when the set holds one key.
        return candidates[0][2] if len(self._keys) == 1 and candidates else None

    def _refresh(self) -> None:
        now = self._clock()
        self._last_attempt = now
        try:
            keys = self._fetch_keys()
        except IdentityProviderUnavailable:
            if not self._keys:
                raise
            # Keep the keys we have rather than lock everyone out while
            # the provider hiccups; try again soon.
            log.warning("OpenID provider keys could not be refreshed; using the cached set")
            self._expires_at = now + max(self._min_refetch, 1.0)
            return
        self._keys = keys
        self._expires_at = now + self._ttl
        self.fetch_count += 1
        log.info("OpenID provider signing keys loaded: %d usable", len(keys))

    def _fetch_keys(self) -> list[tuple[str | None, dict, jwt.PyJWK]]:
        # No redirect followed; offered: only the codings the bounded read undoes.
        with self._egress.client(timeout=(self._timeout, self._timeout), max_idle=1) as client:
            url = self._jwks_url or self._discover(client)
            document = _get_json(client, url, what="JWKS")
        raw_keys = document.get("keys") if isinstance(document, dict) else None
        if not isinstance(raw_keys, list):
            raise IdentityProviderUnavailable("the OpenID provider's JWKS has no keys array")
        keys = []
        for jwk in raw_keys:
            if not isinstance(jwk, dict):
                continue
            # RFC 7517 §4.2-4.3: encryption keys are not for verifying signatures.
            if jwk.get("use", "sig") != "sig":
                continue
            ops = jwk.get("key_ops")
            if isinstance(ops, list) and "verify" not in ops:
                continue
            try:
                key = jwt.PyJWK(jwk)
            except (jwt.PyJWKError, jwt.InvalidKeyError, ValueError, TypeError):
                log.info("skipping an unusable key in the OpenID provider's JWKS")
                continue
            kid = jwk.get("kid")
            keys.append((kid if isinstance(kid, str) else None, jwk, key))
        return keys

    def _discover(self, client: EgressClient) -> str:
        # SPEC: OpenID Connect Discovery 1.0 §4 (location), §4.3 (the
        # document's issuer must equal the one we were configured with).
        url = self._issuer.rstrip("/") + "/.well-known/openid-configuration"
        metadata = _get_json(client, url, what="provider metadata")
        if not isinstance(metadata, dict) or metadata.get("issuer") != self._issuer:
            raise IdentityProviderUnavailable("the OpenID provider metadata names a different issuer")
        jwks_uri = metadata.get("jwks_uri")
        if not isinstance(jwks_uri, str):
            raise IdentityProviderUnavailable("the OpenID provider metadata has no jwks_uri")
        try:
            return require_secure_url(jwks_uri, what="jwks_uri")
        except ValueError as exc:
            raise IdentityProviderUnavailable(str(exc)) from None


def _fits(jwk: dict, alg: str) -> bool:
    kty, curves = _KEY_FAMILY[alg]
    if jwk.get("kty") != kty:
        return False
    if curves is not None and jwk.get("crv") not in curves:
        return False
    # RFC 7517 §4.4: a key that names its algorithm is used with that one only.
    return jwk.get("alg", alg) == alg


def _get_json(client: EgressClient, url: str, *, what: str) -> object:
    try:
        with client.request("GET", url, headers={"Accept": "application/json"}) as response:
            if response.status != 200:
                raise IdentityProviderUnavailable(f"the OpenID provider's {what} answered HTTP {response.status}")
            body = response.read_bounded(max_bytes=MAX_JWKS_BYTES)
    except BodyTooLarge:
        raise IdentityProviderUnavailable(f"the OpenID provider's {what} is too large") from None
    except EgressError as exc:
        raise IdentityProviderUnavailable(f"the OpenID provider's {what} could not be fetched ({exc.reason})") from None
    except BodyRefused as exc:
        raise IdentityProviderUnavailable(
            f"the OpenID provider's {what} could not be fetched ({type(exc).__name__})"
        ) from None
    try:
        return json.loads(body)
    except ValueError:
        raise IdentityProviderUnavailable(f"the OpenID provider's {what} is not JSON") from None


class IdTokenVerifier:
    """Verifies ID tokens from one provider for one client (audience) and
    returns their claims; what the claims mean is the caller's to read."""

    def __init__(
        self,
        *,
        issuer: str,
        audience: str,
        jwks_url: str | None = None,
        leeway_seconds: int = 60,
        max_age_seconds: int = 600,
        jwks: JwksCache | None = None,
        egress: Egress = DIRECT,
    ) -> None:
        if not issuer or not audience:
            raise ValueError("an OpenID Connect issuer and audience (client id) are both required")
        self.issuer = require_secure_url(issuer, what="OpenID Connect issuer")
        self.audience = audience
        self.leeway_seconds = leeway_seconds
        self.max_age_seconds = max_age_seconds
        self.jwks = jwks or JwksCache(issuer=issuer, jwks_url=jwks_url, egress=egress)

    @property
    def replay_window_seconds(self) -> int:
        """How long an ID token could still pass: a used one is remembered that long."""
        return self.max_age_seconds + 2 * self.leeway_seconds

    def verify_claims(self, id_token: str, *, nonce: str | None = None) -> dict:
        """The verified claims of an ID token (InvalidIdToken if it does not verify)."""
        claims = self._verified_claims(id_token)
        # SPEC: OIDC Core §3.1.3.7 item 11 — when the client sent a nonce in
        # the authentication request, the ID token must carry the same one.
        if nonce is not None:
            token_nonce = claims.get("nonce")
            if not isinstance(token_nonce, str) or not hmac.compare_digest(token_nonce, nonce):
                raise InvalidIdToken("ID token nonce does not match the one sent with the login request")
        return claims

    def _verified_claims(self, id_token: str) -> dict:
        if not isinstance(id_token, str) or len(id_token) > MAX_ID_TOKEN_LENGTH:
            raise InvalidIdToken("ID token is missing or too long")
        try:
            header = jwt.get_unverified_header(id_token)
        except jwt.PyJWTError:
            raise InvalidIdToken("ID token is malformed (not a signed JWT)") from None
        alg = header.get("alg")
        # SPEC: OIDC Core §3.1.3.7 item 7; RFC 8725 §3.1 (never `none`, never
        # HMAC with a public key).
        if alg not in ALLOWED_ALGORITHMS:
            shown = str(alg)[:16]
            raise InvalidIdToken(
                f"ID token algorithm {shown!r} is not accepted; use one of {', '.join(ALLOWED_ALGORITHMS)}"
            )
        kid = header.get("kid")
        if kid is not None and not isinstance(kid, str):
            raise InvalidIdToken("ID token header kid must be a string")
        key = self.jwks.key_for(kid=kid, alg=alg)
        if key is None:
            raise InvalidIdToken(
                f"ID token is signed with a key the OpenID provider does not publish for {alg} (unknown kid)"
            )
        try:
            # SPEC: OIDC Core §3.1.3.7 items 2, 3, 6, 9, 10 and §2 (required claims).
            claims = jwt.decode(
                id_token,
                key.key,
                algorithms=[alg],
                audience=self.audience,
                issuer=self.issuer,
                leeway=self.leeway_seconds,
                options={"require": ["iss", "sub", "aud", "exp", "iat"]},
            )
        except jwt.ExpiredSignatureError:
            raise InvalidIdToken("ID token expired") from None
        except jwt.ImmatureSignatureError:
            raise InvalidIdToken("ID token is not valid yet (iat or nbf lies in the future)") from None
        except jwt.InvalidIssuerError:
            raise InvalidIdToken("ID token issuer (iss) is not the configured OpenID provider") from None
        except jwt.InvalidAudienceError:
            raise InvalidIdToken("ID token audience (aud) is not this registry's client id") from None
        except jwt.MissingRequiredClaimError as exc:
            raise InvalidIdToken(f"ID token lacks the required {exc.claim} claim") from None
        except jwt.InvalidSignatureError:
            raise InvalidIdToken("ID token signature does not verify") from None
        except jwt.PyJWTError as exc:
            raise InvalidIdToken(f"ID token invalid ({type(exc).__name__})") from None
        # SPEC: OIDC Core §3.1.3.7 items 4-5 — with several audiences azp is
        # required, and when present it must be our client id.
        aud = claims["aud"]
        if isinstance(aud, list) and len(aud) > 1 and "azp" not in claims:
            raise InvalidIdToken("ID token has several audiences but no azp claim")
        if "azp" in claims and claims["azp"] != self.audience:
            raise InvalidIdToken("ID token authorized party (azp) is not this registry's client id")
        # SPEC: OIDC Core §3.1.3.7 item 10 — refuse tokens issued too long ago,
        # so an old token found later cannot open a session.
        if time.time() - int(claims["iat"]) > self.max_age_seconds + self.leeway_seconds:
            raise InvalidIdToken(f"ID token was issued more than {self.max_age_seconds} seconds ago; sign in again")
        return claims
