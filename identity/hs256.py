"""HS256 JWTs whose MAC key is a byte string here, or lives elsewhere (a PKCS#11 token).

SPEC: RFC 7515 §5.1 (JWS compact serialisation), RFC 7518 §3.2 (HS256 =
HMAC-SHA256 over `base64url(header) . base64url(payload)`). Both codecs give
the same tokens for the same key: where the HMAC is computed changes nothing
a verifier sees. With an external key, PyJWT still does the framing (its
`PyJWS` with an algorithm whose `sign` asks the key's holder) and the claim
checks (a second decode of the same, already verified, string).
"""

from __future__ import annotations

import hmac
import json
from typing import Any, Protocol

import jwt
from jwt.algorithms import Algorithm as JwsAlgorithm
from jwt.exceptions import InvalidKeyError

ALGORITHM = "HS256"


class MessageAuthenticator(Protocol):
    """HMAC-SHA256 computed where its key lives; the key itself is never here."""

    def mac(self, data: bytes) -> bytes: ...


class _Hs256Elsewhere(JwsAlgorithm):
    """HS256 with the MAC made by a `MessageAuthenticator` (e.g. C_Sign with CKM_SHA256_HMAC)."""

    def prepare_key(self, key: Any) -> Any:
        if not callable(getattr(key, "mac", None)):
            raise InvalidKeyError("an HS256 key held elsewhere must offer mac(data)")
        return key

    def sign(self, msg: bytes, key: Any) -> bytes:
        return key.mac(msg)

    def verify(self, msg: bytes, key: Any, sig: bytes) -> bool:
        return hmac.compare_digest(sig, key.mac(msg))

    @staticmethod
    def to_jwk(key_obj: Any, as_dict: bool = False) -> Any:
        raise NotImplementedError("a key held elsewhere has no JWK")

    @staticmethod
    def from_jwk(jwk: Any) -> Any:
        raise NotImplementedError("a key held elsewhere has no JWK")


class Hs256Codec(Protocol):
    """Encode and decode one kind of HS256 token; raises PyJWT's errors as `jwt.decode` does."""

    def encode(self, claims: dict[str, Any], *, headers: dict[str, Any]) -> str: ...

    def decode(self, token: str, *, audience: str, issuer: str, require: list[str]) -> dict[str, Any]: ...


class SecretHs256:
    """HS256 with the key in this process."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    def encode(self, claims: dict[str, Any], *, headers: dict[str, Any]) -> str:
        return jwt.encode(claims, self._key, algorithm=ALGORITHM, headers=headers)

    def decode(self, token: str, *, audience: str, issuer: str, require: list[str]) -> dict[str, Any]:
        return jwt.decode(token, self._key, algorithms=[ALGORITHM], audience=audience, issuer=issuer,
                          options={"require": require})


class ExternalHs256:
    """HS256 with the MAC computed by whoever holds the key."""

    def __init__(self, authenticator: MessageAuthenticator) -> None:
        # PyJWT types its keys as its own key classes; this algorithm takes any object with mac().
        self._key: Any = authenticator
        self._jws = jwt.PyJWS(algorithms=[])
        self._jws.register_algorithm(ALGORITHM, _Hs256Elsewhere())

    def encode(self, claims: dict[str, Any], *, headers: dict[str, Any]) -> str:
        payload = json.dumps(claims, separators=(",", ":")).encode("utf-8")
        return self._jws.encode(payload, self._key, algorithm=ALGORITHM, headers=headers)

    def decode(self, token: str, *, audience: str, issuer: str, require: list[str]) -> dict[str, Any]:
        self._jws.decode_complete(token, self._key, algorithms=[ALGORITHM])  # the MAC first
        return jwt.decode(
            token, audience=audience, issuer=issuer,
            options={"verify_signature": False, "verify_exp": True, "verify_nbf": True, "verify_iat": True,
                     "verify_aud": True, "verify_iss": True, "require": require},
        )


def hs256_codec(*, key: bytes, authenticator: MessageAuthenticator | None) -> Hs256Codec:
    """`authenticator`'s key when there is one (a PKCS#11 token's), else `key`."""
    return SecretHs256(key) if authenticator is None else ExternalHs256(authenticator)
