"""Sealed records: a detached seal signature over a JSON record.

The seal signs `b"certhub-seal-signature/1\\n" + RFC 8785(header)`, where the
header is every field of the signature object except `signature` itself,
including `payload_sha256` = SHA-256 of the RFC 8785 bytes of the record.
Binding the digest (not the record) keeps the signed bytes small, and binding
the header means seal, key, time, licence type and signer cannot be swapped.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from signing.algorithms import Algorithm, PrivateKey
from signing.canonical import canonical_json
from signing.encoding import b64url_encode, format_timestamp, parse_timestamp, truncate_to_second
from signing.errors import InvalidInput, VerificationError
from signing.fields import DEPARTMENT_CODE, PLAIN_TEXT, check_keys, read_bytes, read_choice, read_text, require_object
from signing.statuses import SealStatus
from signing.truststore import ResolvedKey, TrustStore

FORMAT = "certhub-seal-signature/1"
_SIGNING_PREFIX = FORMAT.encode("ascii") + b"\n"
_FIELDS = {
    "format", "registry_id", "es_id", "kid", "alg", "signed_at",
    "licence_type_code", "signer_department_code", "payload_sha256", "signature",
}
_ALGORITHMS = {str(a) for a in Algorithm}
MAX_CLOCK_SKEW = timedelta(minutes=5)
_MAX_SIGNATURE_OBJECT_BYTES = 4096


def _signing_input(
    *, algorithm: str, es_id: str, kid: str, licence_type_code: str, payload_sha256: str, registry_id: str,
    signed_at: str, signer_department_code: str,
) -> bytes:
    # SPEC: RFC 8785 — members in sorted order, no whitespace. Every value is
    # validated plain ASCII (no quote, backslash or control character), so no
    # escaping applies and this string equals the RFC 8785 serialization; a
    # test pins the equivalence. It runs on every sign and verify, hence no
    # general-purpose canonicalizer here.
    return (
        f'{FORMAT}\n{{"alg":"{algorithm}","es_id":"{es_id}","format":"{FORMAT}","kid":"{kid}",'
        f'"licence_type_code":"{licence_type_code}","payload_sha256":"{payload_sha256}",'
        f'"registry_id":"{registry_id}","signed_at":"{signed_at}",'
        f'"signer_department_code":"{signer_department_code}"}}'
    ).encode("ascii")


def payload_digest(record: Mapping[str, Any]) -> bytes:
    # SPEC: RFC 8785 — the record is canonicalized before hashing.
    return hashlib.sha256(canonical_json(record)).digest()


@dataclass(frozen=True)
class SealSignature:
    """A detached seal signature. Build it with `seal_record`, `from_dict` or `from_json`."""

    registry_id: str
    es_id: str
    kid: str
    algorithm: Algorithm
    signed_at: datetime
    licence_type_code: str
    signer_department_code: str
    payload_sha256: bytes
    signature: bytes

    def _header(self) -> dict[str, str]:
        return {
            "format": FORMAT,
            "registry_id": self.registry_id,
            "es_id": self.es_id,
            "kid": self.kid,
            "alg": str(self.algorithm),
            "signed_at": format_timestamp(self.signed_at),
            "licence_type_code": self.licence_type_code,
            "signer_department_code": self.signer_department_code,
            "payload_sha256": b64url_encode(self.payload_sha256),
        }

    def signing_input(self) -> bytes:
        return _signing_input(
            algorithm=self.algorithm.value, es_id=self.es_id, kid=self.kid,
            licence_type_code=self.licence_type_code, payload_sha256=b64url_encode(self.payload_sha256),
            registry_id=self.registry_id, signed_at=format_timestamp(self.signed_at),
            signer_department_code=self.signer_department_code,
        )

    def to_dict(self) -> dict[str, str]:
        return {**self._header(), "signature": b64url_encode(self.signature)}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SealSignature:
        """Validate every field; VerificationError('malformed') for anything off."""
        try:
            data = require_object(data, what="seal signature")
            check_keys(data, required=_FIELDS, what="seal signature")
            if data["format"] != FORMAT:
                raise InvalidInput(f"unknown seal signature format {data['format']!r}")
            digest = read_bytes(data, "payload_sha256", max_length=64)
            if len(digest) != 32:
                raise InvalidInput("payload_sha256 must be 32 bytes")
            return cls(
                registry_id=read_text(data, "registry_id"),
                es_id=read_text(data, "es_id"),
                kid=read_text(data, "kid"),
                algorithm=Algorithm(read_choice(data, "alg", choices=_ALGORITHMS)),
                signed_at=parse_timestamp(data["signed_at"]),
                licence_type_code=read_text(data, "licence_type_code"),
                signer_department_code=read_text(data, "signer_department_code", pattern=DEPARTMENT_CODE),
                payload_sha256=digest,
                signature=read_bytes(data, "signature", max_length=200),
            )
        except InvalidInput as error:
            raise VerificationError("malformed", f"seal signature: {error}") from None

    @classmethod
    def from_json(cls, text: str | bytes) -> SealSignature:
        if len(text) > _MAX_SIGNATURE_OBJECT_BYTES:
            raise VerificationError("too_large", "seal signature object is over 4 KiB")
        try:
            data = json.loads(text)
        except ValueError as error:
            raise VerificationError("malformed", f"seal signature is not JSON: {error}") from None
        return cls.from_dict(data)


def _check_plain(value: str, *, name: str, pattern=PLAIN_TEXT) -> str:
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise InvalidInput(f"{name} is not of the expected form")
    return value


class SealSigner:
    """Signs many records with one seal key for one licence type and signer.

    Everything that does not change between records is validated once here,
    so the per-record work is canonicalizing the record, hashing it and the
    signature itself.
    """

    def __init__(
        self, *, key: PrivateKey, registry_id: str, es_id: str, licence_type_code: str, signer_department_code: str
    ) -> None:
        self._key = key
        self._registry_id = _check_plain(registry_id, name="registry id")
        self._es_id = _check_plain(es_id, name="seal id")
        self._licence_type_code = _check_plain(licence_type_code, name="licence type code")
        self._signer = _check_plain(signer_department_code, name="signer department code", pattern=DEPARTMENT_CODE)
        self._kid = key.kid
        self._algorithm = key.algorithm

    def sign(
        self, record: Mapping[str, Any], *, signed_at: datetime | None = None, digest: bytes | None = None
    ) -> SealSignature:
        """`digest` (SHA-256 of the RFC 8785 record) lets a caller that already hashed it skip that step."""
        moment = truncate_to_second(signed_at) if signed_at is not None else datetime.now(UTC).replace(microsecond=0)
        payload_sha256 = digest if digest is not None else payload_digest(record)
        if len(payload_sha256) != 32:
            raise InvalidInput("digest must be a SHA-256 value")
        signed = _signing_input(
            algorithm=self._algorithm.value, es_id=self._es_id, kid=self._kid,
            licence_type_code=self._licence_type_code, payload_sha256=b64url_encode(payload_sha256),
            registry_id=self._registry_id, signed_at=format_timestamp(moment),
            signer_department_code=self._signer,
        )
        return SealSignature(
            registry_id=self._registry_id,
            es_id=self._es_id,
            kid=self._kid,
            algorithm=self._algorithm,
            signed_at=moment,
            licence_type_code=self._licence_type_code,
            signer_department_code=self._signer,
            payload_sha256=payload_sha256,
            signature=self._key.sign(signed),
        )


def seal_record(
    *,
    record: Mapping[str, Any],
    key: PrivateKey,
    registry_id: str,
    es_id: str,
    licence_type_code: str,
    signer_department_code: str,
    signed_at: datetime | None = None,
    digest: bytes | None = None,
) -> SealSignature:
    """Sign one record with a seal's key (no policy checks: see service.sealing.sign_record)."""
    signer = SealSigner(
        key=key, registry_id=registry_id, es_id=es_id, licence_type_code=licence_type_code,
        signer_department_code=signer_department_code,
    )
    return signer.sign(record, signed_at=signed_at, digest=digest)


def _fail(code, message) -> VerificationError:
    return VerificationError(code, message)


def _verified_key(signature: SealSignature, trust: TrustStore) -> ResolvedKey:
    candidates = [
        r for r in trust.resolve_kid(signature.kid, registry_id=signature.registry_id) if r.key.es_id == signature.es_id
    ]
    if not candidates:
        raise _fail("unknown_key", f"no trusted key {signature.kid} for seal {signature.es_id} in {signature.registry_id}")
    signed = signature.signing_input()
    matching_algorithm = [r for r in candidates if r.key.algorithm == signature.algorithm]
    for resolved in matching_algorithm:  # kids may collide: try every key carrying it
        if resolved.key.public_key.verify(signed, signature.signature):
            return resolved
    raise _fail("signature_invalid", "the seal signature does not verify with any trusted key of that kid")


def verify_sealed_record(
    *,
    record: Mapping[str, Any],
    signature: SealSignature,
    trust: TrustStore,
    now: datetime | None = None,
) -> Mapping[str, Any]:
    """Return `record` if `signature` seals it under the trust lists held, else raise VerificationError."""
    moment = now or datetime.now(UTC)
    at = signature.signed_at
    # 1. The signature object was parsed on construction; refuse signing times in the future.
    if at > moment + MAX_CLOCK_SKEW:
        raise _fail("malformed", f"signing time {format_timestamp(at)} is in the future")
    # 2. The record must be the one that was signed.
    try:
        digest = payload_digest(record)
    except InvalidInput as error:
        raise _fail("malformed", str(error)) from None
    if digest != signature.payload_sha256:
        raise _fail("signature_invalid", "the record does not match the signed digest")
    # 3-4. Resolve the kid in the trust lists and verify the signature.
    resolved = _verified_key(signature, trust)
    key, trust_list = resolved.key, resolved.trust_list  # the registry's list the key was found in
    seal = trust_list.seal(signature.es_id)
    if seal is None:
        raise _fail("unknown_key", f"seal {signature.es_id} is not in the trust list")
    # 5. Key state at signing time: revoked (from compromise), retired (rotated out), not yet valid.
    unusable_from = key.unusable_from()
    if unusable_from is not None and at >= unusable_from:
        code = "key_revoked" if key.status == "revoked" else "key_retired"
        raise _fail(code, f"key {key.kid} was {key.status} at {format_timestamp(unusable_from)}, before signing")
    if at < key.valid_from:
        raise _fail("key_expired", f"key {key.kid} was not yet valid at signing time")
    # 6. Seal state: revoked (from compromise), suspended (now or at signing), outside validity.
    revoked_from = seal.revoked_from()
    if revoked_from is not None and at >= revoked_from:
        raise _fail("seal_revoked", f"seal {seal.es_id} was revoked at {format_timestamp(revoked_from)}")
    if seal.status == SealStatus.SUSPENDED or any(s.covers(at) for s in seal.suspensions):
        raise _fail("seal_suspended", f"seal {seal.es_id} is or was suspended at signing time")
    if not seal.valid_from <= at <= seal.valid_to:
        raise _fail("seal_expired", f"seal {seal.es_id} was not valid at {format_timestamp(at)}")
    # 7. The seal may seal this licence type; a signer other than the owner needs an authorization.
    if not seal.allows_licence_type(signature.licence_type_code):
        raise _fail("seal_not_authorized_for_type", f"seal {seal.es_id} may not seal {signature.licence_type_code}")
    if signature.signer_department_code != seal.owner:
        if not any(
            a.covers(es_id=seal.es_id, grantee=signature.signer_department_code,
                     licence_type_code=signature.licence_type_code, at=at)
            for a in trust_list.authorizations_for(seal.es_id)
        ):
            raise _fail(
                "seal_not_authorized_for_type",
                f"{signature.signer_department_code} holds no authorization to use seal {seal.es_id} "
                f"for {signature.licence_type_code} at {format_timestamp(at)}",
            )
    return record
