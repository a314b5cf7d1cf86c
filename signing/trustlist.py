"""Signed trust lists: which keys, seals and authorizations a registry vouches for.

Wire form (UTF-8 JSON, see docs/formats.md):

    {"payload": {"format": "certhub-trust-list/1", "registry_id": ..., "sequence": n,
                 "issued_at": ..., "expires_at": ..., "keys": [...], "seals": [...],
                 "authorizations": [...]},
     "signature": {"alg": ..., "kid": ..., "value": base64url}}

The root key signs `b"certhub-trust-list/1\\n" + RFC 8785(payload)`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from signing.algorithms import Algorithm, PrivateKey, PublicKey
from signing.canonical import canonical_json
from signing.encoding import b64url_encode, format_timestamp, truncate_to_second
from signing.errors import InvalidInput, VerificationError
from signing.fields import (
    check_keys,
    read_bytes,
    read_choice,
    read_int,
    read_text,
    read_time,
    require_object,
)
from signing.trust_entries import TrustedAuthorization, TrustedKey, TrustedSeal

FORMAT = "certhub-trust-list/1"
_SIGNING_PREFIX = FORMAT.encode("ascii") + b"\n"
DEFAULT_VALIDITY = timedelta(days=7)
DEFAULT_GRACE = timedelta(days=1)
MAX_TRUST_LIST_BYTES = 16 * 1024 * 1024
_PAYLOAD_FIELDS = {"format", "registry_id", "sequence", "issued_at", "expires_at", "keys", "seals", "authorizations"}
_MAX_ENTRIES = 100_000


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class TrustListContent:
    """What a registry vouches for, before it is signed."""

    registry_id: str
    keys: tuple[TrustedKey, ...] = ()
    seals: tuple[TrustedSeal, ...] = ()
    authorizations: tuple[TrustedAuthorization, ...] = ()

    def entries_dict(self) -> dict[str, Any]:
        return {
            "keys": [k.to_dict() for k in self.keys],
            "seals": [s.to_dict() for s in self.seals],
            "authorizations": [a.to_dict() for a in self.authorizations],
        }


@dataclass(frozen=True)
class TrustList:
    """A verified trust list. Build it with `sign_trust_list` or `TrustList.from_json`."""

    content: TrustListContent
    sequence: int
    issued_at: datetime
    expires_at: datetime
    signature_algorithm: Algorithm
    signature_kid: str
    signature: bytes
    _seals_by_id: dict[str, TrustedSeal] = field(init=False, repr=False, compare=False)
    _keys_by_kid: dict[str, tuple[TrustedKey, ...]] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_kid: dict[str, list[TrustedKey]] = {}
        for key in self.content.keys:
            by_kid.setdefault(key.kid, []).append(key)
        object.__setattr__(self, "_keys_by_kid", {kid: tuple(keys) for kid, keys in by_kid.items()})
        object.__setattr__(self, "_seals_by_id", {seal.es_id: seal for seal in self.content.seals})

    @property
    def registry_id(self) -> str:
        return self.content.registry_id

    def keys_for_kid(self, kid: str) -> tuple[TrustedKey, ...]:
        """Every key carrying `kid`: 8-byte kids may collide, callers try each."""
        return self._keys_by_kid.get(kid, ())

    def seal(self, es_id: str) -> TrustedSeal | None:
        return self._seals_by_id.get(es_id)

    def authorizations_for(self, es_id: str) -> tuple[TrustedAuthorization, ...]:
        return tuple(a for a in self.content.authorizations if a.es_id == es_id)

    def age(self, *, now: datetime | None = None) -> timedelta:
        return (now or _now()) - self.issued_at

    def is_expired(self, *, now: datetime | None = None) -> bool:
        return (now or _now()) > self.expires_at

    def payload_dict(self) -> dict[str, Any]:
        return _payload_dict(self.content, sequence=self.sequence, issued_at=self.issued_at, expires_at=self.expires_at)

    def to_json(self) -> bytes:
        document = {
            "payload": self.payload_dict(),
            "signature": {
                "alg": str(self.signature_algorithm),
                "kid": self.signature_kid,
                "value": b64url_encode(self.signature),
            },
        }
        return json.dumps(document, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode("utf-8")

    @classmethod
    def from_json(
        cls,
        data: bytes | str,
        *,
        root_public_key: PublicKey | Iterable[PublicKey],
        now: datetime | None = None,
        grace: timedelta = DEFAULT_GRACE,
    ) -> TrustList:
        """Verify a trust list against pinned root key(s); return it or raise VerificationError.

        1. Bound the size and parse the JSON envelope.
        2. Find the pinned root key named by the signature's kid and algorithm.
        3. Verify the root signature over the canonical payload.
        4. Parse every entry (parse on construction: bad entries are malformed).
        5. Refuse a list expired beyond `grace`; callers read `age()` to warn earlier.
        """
        document = _load_envelope(data)  # 1.
        payload, signature = document["payload"], document["signature"]
        try:
            algorithm = Algorithm(read_choice(signature, "alg", choices={str(a) for a in Algorithm}))
            kid = read_text(signature, "kid")
            value = read_bytes(signature, "value", max_length=200)
            signed = _SIGNING_PREFIX + canonical_json(payload)
        except InvalidInput as error:
            raise VerificationError("malformed", f"trust list signature: {error}") from None
        pins = [root_public_key] if isinstance(root_public_key, PublicKey) else list(root_public_key)
        candidates = [p for p in pins if p.kid == kid and p.algorithm == algorithm]  # 2.
        if not candidates:
            raise VerificationError("trust_list_untrusted", f"trust list is signed by {kid}, which is not a pinned root key")
        if not any(p.verify(signed, value) for p in candidates):  # 3.
            raise VerificationError("signature_invalid", "trust list signature does not verify against the pinned root key")
        trust_list = _parse_payload(payload, algorithm=algorithm, kid=kid, signature=value)  # 4.
        moment = now or _now()
        if moment > trust_list.expires_at + grace:  # 5.
            raise VerificationError(
                "trust_list_expired",
                f"trust list {trust_list.registry_id}#{trust_list.sequence} expired at "
                f"{format_timestamp(trust_list.expires_at)} (grace {grace})",
            )
        return trust_list


def _payload_dict(content: TrustListContent, *, sequence: int, issued_at: datetime, expires_at: datetime) -> dict[str, Any]:
    return {
        "format": FORMAT,
        "registry_id": content.registry_id,
        "sequence": sequence,
        "issued_at": format_timestamp(issued_at),
        "expires_at": format_timestamp(expires_at),
        **content.entries_dict(),
    }


def _load_envelope(data: bytes | str) -> dict[str, Any]:
    raw = data.encode("utf-8") if isinstance(data, str) else data
    if not isinstance(raw, bytes) or len(raw) > MAX_TRUST_LIST_BYTES:
        raise VerificationError("too_large", "trust list is over the 16 MiB limit or not bytes")
    try:
        document = json.loads(raw)
        require_object(document, what="trust list")
        check_keys(document, required={"payload", "signature"}, what="trust list")
        require_object(document["payload"], what="trust list payload")
        require_object(document["signature"], what="trust list signature")
    except (ValueError, InvalidInput) as error:
        raise VerificationError("malformed", f"trust list is not valid JSON of the expected shape: {error}") from None
    return document


def _entries(payload: dict[str, Any], name: str, parse) -> tuple:
    items = payload[name]
    if not isinstance(items, list) or len(items) > _MAX_ENTRIES:
        raise InvalidInput(f"{name} must be a list of at most {_MAX_ENTRIES} entries")
    return tuple(parse(item) for item in items)


def _parse_payload(payload: dict[str, Any], *, algorithm: Algorithm, kid: str, signature: bytes) -> TrustList:
    try:
        check_keys(payload, required=_PAYLOAD_FIELDS, what="trust list payload")
        if payload["format"] != FORMAT:
            raise InvalidInput(f"unknown trust list format {payload['format']!r}")
        content = TrustListContent(
            registry_id=read_text(payload, "registry_id"),
            keys=_entries(payload, "keys", TrustedKey.from_dict),
            seals=_entries(payload, "seals", TrustedSeal.from_dict),
            authorizations=_entries(payload, "authorizations", TrustedAuthorization.from_dict),
        )
        return TrustList(
            content=content,
            sequence=read_int(payload, "sequence", minimum=1),
            issued_at=read_time(payload, "issued_at"),
            expires_at=read_time(payload, "expires_at"),
            signature_algorithm=algorithm,
            signature_kid=kid,
            signature=signature,
        )
    except InvalidInput as error:
        raise VerificationError("malformed", f"trust list payload: {error}") from None


def sign_trust_list(
    *,
    content: TrustListContent,
    root_key: PrivateKey,
    sequence: int,
    issued_at: datetime | None = None,
    validity: timedelta = DEFAULT_VALIDITY,
) -> TrustList:
    """Sign `content` with the registry's root key (from plain objects, no database)."""
    if sequence < 1:
        raise InvalidInput("trust list sequence numbers start at 1")
    if not timedelta(0) < validity <= timedelta(days=366):
        raise InvalidInput("trust list validity must be positive and at most a year")
    issued = truncate_to_second(issued_at or _now())
    expires = truncate_to_second(issued + validity)
    payload = _payload_dict(content, sequence=sequence, issued_at=issued, expires_at=expires)
    signature = root_key.sign(_SIGNING_PREFIX + canonical_json(payload))
    return TrustList(
        content=content,
        sequence=sequence,
        issued_at=issued,
        expires_at=expires,
        signature_algorithm=root_key.algorithm,
        signature_kid=root_key.kid,
        signature=signature,
    )
