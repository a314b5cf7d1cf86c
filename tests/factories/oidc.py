"""A minimal OpenID provider on loopback: its discovery document and JWKS
served over HTTP, and the private keys (RSA, P-256, Ed25519) to sign ID
tokens with. Holders' and staff sign-in tests each run one, with the
claims of their own kind of person.

It also runs the authorization code flow with PKCE (OIDC Core §3.1.2-3.1.3,
RFC 7636): `/authorize` signs in at once whoever `login_claims` names (the
person has typed their password, as it were) and sends the browser back with
a code; `/token` gives the ID token for a code once, and only with the
verifier whose S256 challenge came with it."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa


class OidcProvider:
    """ID tokens for `audience` carry `claims` (overridable per token)."""

    def __init__(self, *, audience: str, claims: Mapping[str, object]) -> None:
        self.audience = audience
        self.default_claims = dict(claims)
        self.rsa = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.ec = ec.generate_private_key(ec.SECP256R1())
        self.ed = ed25519.Ed25519PrivateKey.generate()
        self.published: dict[str, object] = {}
        self.publish(rsa_kid="rsa-1")
        self.requests: list[str] = []
        # Who the next login at /authorize signs in (claims over the defaults), and the codes given out.
        self.login_claims: dict[str, object] = {}
        self.codes: dict[str, dict[str, str]] = {}
        self.token_requests: list[dict[str, str]] = []
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.issuer = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def publish(self, *, rsa_kid: str) -> None:
        self.rsa_kid = rsa_kid
        keys = [
            {**jwt.algorithms.RSAAlgorithm.to_jwk(self.rsa.public_key(), as_dict=True), "kid": rsa_kid, "use": "sig",
             "alg": "RS256"},
            {**jwt.algorithms.ECAlgorithm.to_jwk(self.ec.public_key(), as_dict=True), "kid": "ec-1", "use": "sig"},
            {**jwt.algorithms.OKPAlgorithm.to_jwk(self.ed.public_key(), as_dict=True), "kid": "ed-1"},
        ]
        self.published = {"keys": keys}

    def _handler(self):
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                provider.requests.append(self.path)
                path = urlsplit(self.path).path
                if path == "/.well-known/openid-configuration":
                    body = {
                        "issuer": provider.issuer,
                        "jwks_uri": provider.issuer + "/jwks.json",
                        "authorization_endpoint": provider.issuer + "/authorize",
                        "token_endpoint": provider.issuer + "/token",
                        "id_token_signing_alg_values_supported": ["RS256", "ES256", "EdDSA"],
                        "code_challenge_methods_supported": ["S256"],
                    }
                elif path == "/jwks.json":
                    body = provider.published
                elif path == "/authorize":
                    self._authorize()
                    return
                else:
                    self.send_error(404)
                    return
                self._json(200, body)

            def do_POST(self) -> None:
                provider.requests.append(self.path)
                if self.path != "/token":
                    self.send_error(404)
                    return
                length = int(self.headers.get("Content-Length") or 0)
                form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
                provider.token_requests.append(form)
                given = provider.codes.pop(form.get("code", ""), None)  # each code once
                verifier = form.get("code_verifier", "")
                challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
                if (given is None or form.get("grant_type") != "authorization_code"
                        or form.get("redirect_uri") != given["redirect_uri"] or challenge != given["challenge"]):
                    self._json(400, {"error": "invalid_grant"})
                    return
                id_token = provider.id_token(nonce=given["nonce"], **provider.login_claims)
                self._json(200, {"access_token": secrets.token_urlsafe(16), "token_type": "Bearer",
                                 "expires_in": 300, "id_token": id_token})

            def _authorize(self) -> None:
                query = {k: v[0] for k, v in parse_qs(urlsplit(self.path).query).items()}
                if (query.get("response_type") != "code" or query.get("client_id") != provider.audience
                        or query.get("code_challenge_method") != "S256" or "openid" not in query.get("scope", "")):
                    self.send_error(400)
                    return
                code = secrets.token_urlsafe(16)
                provider.codes[code] = {"nonce": query["nonce"], "challenge": query["code_challenge"],
                                        "redirect_uri": query["redirect_uri"]}
                self.send_response(302)
                self.send_header("Location", query["redirect_uri"] + "?" + urlencode(
                    {"code": code, "state": query["state"]}))
                self.send_header("Content-Length", "0")
                self.end_headers()

            def _json(self, status: int, body: object) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args) -> None:  # keep test output quiet
                pass

        return Handler

    def claims(self, **overrides) -> dict:
        """The claims of a fresh token; an override of None leaves that claim out."""
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "sub": "user-" + secrets.token_hex(4),
            "aud": self.audience,
            "iat": now,
            "exp": now + 300,
            **self.default_claims,
        }
        claims.update(overrides)
        return {k: v for k, v in claims.items() if v is not None}

    def id_token(self, *, alg: str = "RS256", kid: str | None = None, **overrides) -> str:
        key, default_kid = {"RS256": (self.rsa, self.rsa_kid), "ES256": (self.ec, "ec-1"),
                            "EdDSA": (self.ed, "ed-1")}[alg]
        return jwt.encode(self.claims(**overrides), key, algorithm=alg, headers={"kid": kid or default_kid})

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)
