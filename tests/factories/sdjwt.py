"""SD-JWT VCs of the QR world (tests.factories.qr): a licence's five claims, a holder key."""

from __future__ import annotations

from datetime import datetime

from signing.algorithms import PrivateKey
from signing.jwk import jwk_from_public_key
from signing.sdjwt import SdJwt, issue_sd_jwt_vc
from tests.factories.qr import IDENTIFIER, LICENCE_TYPE, OWNER, REGISTRY_ID, STATUS_URI, T0, World, at

STATUS_INDEX = 40123
# Five selectively disclosable claims, as the registry issues a licence's (registry.service.credentials).
CLAIMS = {
    "identifier": IDENTIFIER,
    "holder_name": "张三",
    "holder_code": "350102199001011234",
    "issuer_code": OWNER,
    "face": {"business_scope": "软件开发", "registered_capital": 1000000},
}
NONCE = "n-0f3a9c"
AUDIENCE = "https://bank.example"


def credential(world: World, *, holder_key: PrivateKey | None = None, issued_at: datetime = T0,
               expires_at: datetime | None = at(days=1826), key: PrivateKey | None = None,
               type_code: str = LICENCE_TYPE, registry_id: str = REGISTRY_ID, claims: dict | None = None,
               status_uri: str = STATUS_URI, holder_jwk: dict | None = None, **options) -> SdJwt:
    """`holder_key` (ours) or `holder_jwk` (a wallet's public JWK) binds the credential to a holder."""
    if holder_key is not None:
        holder_jwk = jwk_from_public_key(holder_key.public_key)  # type: ignore[arg-type]
    return issue_sd_jwt_vc(
        key=key or world.seal_key, registry_id=registry_id, type_code=type_code,
        disclosable=CLAIMS if claims is None else claims, issued_at=issued_at, status_index=STATUS_INDEX,
        status_uri=status_uri, valid_from=issued_at, expires_at=expires_at,
        holder_jwk=holder_jwk,
        **options,
    )


def presentation(vc: SdJwt, *, names: list[str], holder_key: PrivateKey, nonce: str = NONCE,
                 audience: str = AUDIENCE, issued_at: datetime = T0) -> str:
    return vc.select(names).with_key_binding(holder_key=holder_key, nonce=nonce, audience=audience,
                                             issued_at=issued_at).serialize()
