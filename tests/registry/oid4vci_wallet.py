"""A wallet written from OpenID4VCI 1.0 (pre-authorized code flow, jwt proofs) for the tests,
independent of certhub's signing code: cryptography for the key, jwcrypto for the proof JWS.

`http` is anything with httpx's `get`/`post` (a TestClient, an httpx.Client on a live server);
the wallet follows the URLs the issuer's metadata gives, relative to `base_path_of`."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

from jwcrypto import jwk, jws
from jwcrypto.common import json_encode

PRE_AUTHORIZED_GRANT = "urn:ietf:params:oauth:grant-type:pre-authorized_code"


def parse_offer_uri(uri: str) -> dict[str, Any]:
    """SPEC: OpenID4VCI 1.0 §4.1 — the offer by value in `credential_offer`."""
    parts = urlsplit(uri)
    assert parts.scheme == "openid-credential-offer", uri
    [text] = parse_qs(parts.query)["credential_offer"]
    return json.loads(text)


@dataclass
class Wallet:
    http: Any
    issuer_base: str  # the issuer's identifier, stripped from its URLs to reach `http`
    key: jwk.JWK = field(default_factory=lambda: jwk.JWK.generate(kty="EC", crv="P-256"))

    def _path(self, url: str) -> str:
        assert url.startswith(self.issuer_base), url
        return url[len(self.issuer_base):] or "/"

    def metadata(self) -> dict[str, Any]:
        answer = self.http.get("/.well-known/openid-credential-issuer")
        assert answer.status_code == 200, answer.text
        return answer.json()

    def token(self, offer: dict[str, Any], tx_code: str | None = None):
        """SPEC: OpenID4VCI 1.0 §6.1 — the token request, form-encoded, no client authentication."""
        server = self.http.get("/.well-known/oauth-authorization-server").json()
        form = {"grant_type": PRE_AUTHORIZED_GRANT,
                "pre-authorized_code": offer["grants"][PRE_AUTHORIZED_GRANT]["pre-authorized_code"]}
        if tx_code is not None:
            form["tx_code"] = tx_code
        return self.http.post(self._path(server["token_endpoint"]), data=form)

    def nonce(self, metadata: dict[str, Any]) -> str:
        answer = self.http.post(self._path(metadata["nonce_endpoint"]))
        assert answer.status_code == 200, answer.text
        return answer.json()["c_nonce"]

    def proof(self, *, nonce: str, audience: str, issued_at: int | None = None) -> str:
        """SPEC: OpenID4VCI 1.0 Appendix F.1 — typ openid4vci-proof+jwt, the public key as jwk."""
        claims = {"aud": audience, "iat": int(time.time()) if issued_at is None else issued_at, "nonce": nonce}
        token = jws.JWS(json_encode(claims).encode())
        token.add_signature(self.key, alg="ES256", protected=json_encode(
            {"alg": "ES256", "typ": "openid4vci-proof+jwt", "jwk": self.key.export_public(as_dict=True)}))
        return token.serialize(compact=True)

    def request_credential(self, metadata: dict[str, Any], access_token: str, configuration_id: str, proof: str):
        return self.http.post(self._path(metadata["credential_endpoint"]),
                              json={"credential_configuration_id": configuration_id, "proofs": {"jwt": [proof]}},
                              headers={"Authorization": f"Bearer {access_token}"})

    def deferred(self, metadata: dict[str, Any], access_token: str, transaction_id: str):
        return self.http.post(self._path(metadata["deferred_credential_endpoint"]),
                              json={"transaction_id": transaction_id},
                              headers={"Authorization": f"Bearer {access_token}"})

    def receive(self, offer_uri: str, tx_code: str | None = None):
        """The whole flow from a scanned offer: the credential endpoint's last answer, and the token."""
        offer = parse_offer_uri(offer_uri)
        metadata = self.metadata()
        assert offer["credential_issuer"] == metadata["credential_issuer"]
        token = self.token(offer, tx_code)
        assert token.status_code == 200, token.text
        access_token = token.json()["access_token"]
        proof = self.proof(nonce=self.nonce(metadata), audience=metadata["credential_issuer"])
        [configuration_id] = offer["credential_configuration_ids"]
        return self.request_credential(metadata, access_token, configuration_id, proof), access_token
