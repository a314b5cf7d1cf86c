"""A minimal OpenID provider on loopback: its discovery document and JWKS
served over HTTP, and the private keys (RSA, P-256, Ed25519) to sign ID
tokens with. Holders' and staff sign-in tests each run one, with the
claims of their own kind of person."""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

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
                if self.path == "/.well-known/openid-configuration":
                    body = {
                        "issuer": provider.issuer,
                        "jwks_uri": provider.issuer + "/jwks.json",
                        "id_token_signing_alg_values_supported": ["RS256", "ES256", "EdDSA"],
                    }
                elif self.path == "/jwks.json":
                    body = provider.published
                else:
                    self.send_error(404)
                    return
                data = json.dumps(body).encode()
                self.send_response(200)
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
