"""A test wallet written from the specifications, not from certhub's code: OpenID4VP 1.0 for the
protocol, the OpenWallet Foundation's `sd-jwt` reference library (RFC 9901) for the presentation
and its key-binding JWT. It talks to the app as any wallet talks to a verifier: through a link,
a request fetched by reference, and a form posted to the response URI."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

from jwcrypto.jwk import JWK
from sd_jwt.holder import SDJWTHolder


def _b64url_json(part: str) -> Any:
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


@dataclass
class Offer:
    """What the wallet read of a request before the holder approves: who asks, why, for what."""

    client_id: str
    request: dict[str, Any]

    @property
    def claims_asked(self) -> dict[str, list[str]]:
        return {c["id"]: [claim["path"][0] for claim in c["claims"]] for c in self.request["dcql_query"]["credentials"]}


class TestWallet:
    __test__ = False  # a helper, not a test class

    def __init__(self, client, *, registry_id: str) -> None:
        self._client = client
        self._registry_id = registry_id
        self.key = JWK.generate(kty="EC", crv="P-256")
        self.credentials: list[str] = []

    def _path(self, uri: str) -> str:
        assert uri.startswith(self._registry_id + "/"), uri  # the wallet only follows the verifier's own URLs
        return uri.removeprefix(self._registry_id)

    def public_jwk(self) -> dict[str, str]:
        return {k: v for k, v in self.key.export_public(as_dict=True).items() if k in ("kty", "crv", "x", "y")}

    def take_licence(self, identifier: str, *, holder_headers: dict) -> str:
        """The holder's licence as an SD-JWT VC bound to this wallet's key (the holder API)."""
        answer = self._client.post(f"/api/v1/holders/me/licences/{identifier}/sd-jwt-vc",
                                   json={"holder_jwk": self.public_jwk()}, headers=holder_headers)
        assert answer.status_code == 200, answer.text
        self.credentials.append(answer.json()["credential"])
        return answer.json()["credential"]

    def open(self, link: str) -> Offer:
        """SPEC: OpenID4VP 1.0 §5.10 — the link names client_id and request_uri; the request object's
        client_id must be the link's."""
        parts = urlsplit(link)
        assert parts.scheme == "openid4vp"
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        fetched = self._client.get(self._path(query["request_uri"]))
        assert fetched.status_code == 200, fetched.text
        assert fetched.headers["content-type"].startswith("application/oauth-authz-req+jwt")
        header, payload, signature = fetched.text.split(".")
        assert _b64url_json(header)["alg"] == "none" and signature == ""
        request = _b64url_json(payload)
        assert request["client_id"] == query["client_id"]
        assert request["response_type"] == "vp_token" and request["response_mode"] == "direct_post"
        return Offer(client_id=query["client_id"], request=request)

    def presentation(self, offer: Offer, *, credential: str | None = None, audience: str | None = None,
                     nonce: str | None = None, disclose: list[str] | None = None) -> str:
        """An SD-JWT+KB for the offer (RFC 9901 §4.3; OpenID4VP 1.0 Appendix B.3.6: aud is the
        client_id, nonce the request's). The overrides make the wrong ones tests need."""
        (_, names), = offer.claims_asked.items()
        holder = SDJWTHolder(credential or self.credentials[-1])
        holder.create_presentation(dict.fromkeys(disclose if disclose is not None else names, True),
                                   nonce=nonce or offer.request["nonce"], aud=audience or offer.client_id,
                                   holder_key=self.key, sign_alg="ES256")
        return holder.sd_jwt_presentation

    def respond(self, offer: Offer, presentation: str, *, state: str | None = None):
        """SPEC: OpenID4VP 1.0 §8.1-8.2 — vp_token maps the credential query id to its presentations,
        posted form-encoded to response_uri with the request's state."""
        (query_id, _), = offer.claims_asked.items()
        return self._client.post(self._path(offer.request["response_uri"]), data={
            "vp_token": json.dumps({query_id: [presentation]}), "state": state or offer.request["state"]})

    def present(self, link: str):
        offer = self.open(link)
        return offer, self.respond(offer, self.presentation(offer))



    @staticmethod
    def forge_disclosure(encoded: str, *, value: Any) -> str:
        """The same disclosure with another value: what a holder altering a claim would send."""
        salt, name, _ = _b64url_json(encoded)
        raw = json.dumps([salt, name, value], ensure_ascii=False).encode()
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
