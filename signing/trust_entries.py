"""The entries of a trust list: keys, seals and cross-level authorizations.

Each entry is an immutable value built only by `from_dict` (which
validates) or by the code that assembles a trust list; `to_dict` gives the
JSON form documented in docs/formats.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from signing.algorithms import Algorithm, PublicKey
from signing.encoding import b64url_encode, format_optional_timestamp, format_timestamp
from signing.errors import InvalidInput
from signing.fields import (
    DEPARTMENT_CODE,
    check_keys,
    read_any_text,
    read_bytes,
    read_choice,
    read_int,
    read_optional_time,
    read_text,
    read_text_list,
    read_time,
    require_object,
)
from signing.keys import load_public_key_for
from signing.statuses import ANY_LICENCE_TYPE, AuthorizationStatus, KeyPurpose, KeyStatus, SealStatus

_KEY_FIELDS = {"kid", "alg", "public_key", "purpose", "es_id", "owner", "valid_from", "status"}
_KEY_OPTIONAL = frozenset({"retired_at", "revoked_at", "compromised_at"})
_SEAL_FIELDS = {"es_id", "name", "seal_type", "owner", "licence_type_codes", "valid_from", "valid_to", "status", "suspensions"}
_SEAL_OPTIONAL = frozenset({"revoked_at", "compromised_at"})
_AUTH_FIELDS = {"id", "es_id", "grantee", "licence_type_codes", "valid_from", "valid_to", "status"}
_AUTH_OPTIONAL = frozenset({"revoked_at"})


def _optional_times(**values: datetime | None) -> dict[str, str]:
    return {name: format_timestamp(value) for name, value in values.items() if value is not None}


@dataclass(frozen=True)
class TrustedKey:
    kid: str
    public_key: PublicKey
    purpose: KeyPurpose
    es_id: str | None  # the seal this key signs for; None for root and maker keys
    owner: str  # department code of the seal owner, or the registry id
    valid_from: datetime
    status: KeyStatus
    retired_at: datetime | None = None
    revoked_at: datetime | None = None
    compromised_at: datetime | None = None

    @property
    def algorithm(self) -> Algorithm:
        return self.public_key.algorithm

    def unusable_from(self) -> datetime | None:
        """The first instant at which this key's signatures stop counting."""
        if self.status == KeyStatus.REVOKED:
            return self.compromised_at or self.revoked_at
        if self.status == KeyStatus.RETIRED:
            return self.retired_at
        return None

    def to_dict(self) -> dict[str, Any]:
        return {
            "kid": self.kid,
            "alg": str(self.algorithm),
            "public_key": b64url_encode(self.public_key.spki_der),
            "purpose": str(self.purpose),
            "es_id": self.es_id,
            "owner": self.owner,
            "valid_from": format_timestamp(self.valid_from),
            "status": str(self.status),
            **_optional_times(retired_at=self.retired_at, revoked_at=self.revoked_at, compromised_at=self.compromised_at),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TrustedKey:
        data = require_object(data, what="trust list key")
        check_keys(data, required=_KEY_FIELDS, optional=_KEY_OPTIONAL, what="trust list key")
        algorithm = read_choice(data, "alg", choices={str(a) for a in Algorithm})
        public_key = load_public_key_for(algorithm, read_bytes(data, "public_key", max_length=1400))
        kid = read_text(data, "kid")
        if public_key.kid != kid:
            raise InvalidInput(f"kid {kid} does not match its public key")
        es_id = data["es_id"]
        if es_id is not None:
            es_id = read_text(data, "es_id")
        return cls(
            kid=kid,
            public_key=public_key,
            purpose=KeyPurpose(read_choice(data, "purpose", choices={str(p) for p in KeyPurpose})),
            es_id=es_id,
            owner=read_text(data, "owner"),
            valid_from=read_time(data, "valid_from"),
            status=KeyStatus(read_choice(data, "status", choices={str(s) for s in KeyStatus})),
            retired_at=read_optional_time(data, "retired_at"),
            revoked_at=read_optional_time(data, "revoked_at"),
            compromised_at=read_optional_time(data, "compromised_at"),
        )


@dataclass(frozen=True)
class Suspension:
    suspended_at: datetime
    resumed_at: datetime | None

    def covers(self, moment: datetime) -> bool:
        return self.suspended_at <= moment and (self.resumed_at is None or moment < self.resumed_at)


@dataclass(frozen=True)
class TrustedSeal:
    es_id: str
    name: str
    seal_type: str
    owner: str
    licence_type_codes: tuple[str, ...]
    valid_from: datetime
    valid_to: datetime
    status: SealStatus
    suspensions: tuple[Suspension, ...] = ()
    revoked_at: datetime | None = None
    compromised_at: datetime | None = None

    def allows_licence_type(self, code: str) -> bool:
        return ANY_LICENCE_TYPE in self.licence_type_codes or code in self.licence_type_codes

    def revoked_from(self) -> datetime | None:
        if self.status != SealStatus.REVOKED:
            return None
        return self.compromised_at or self.revoked_at

    def to_dict(self) -> dict[str, Any]:
        return {
            "es_id": self.es_id,
            "name": self.name,
            "seal_type": self.seal_type,
            "owner": self.owner,
            "licence_type_codes": list(self.licence_type_codes),
            "valid_from": format_timestamp(self.valid_from),
            "valid_to": format_timestamp(self.valid_to),
            "status": str(self.status),
            "suspensions": [
                {"from": format_timestamp(s.suspended_at), "to": format_optional_timestamp(s.resumed_at)}
                for s in self.suspensions
            ],
            **_optional_times(revoked_at=self.revoked_at, compromised_at=self.compromised_at),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TrustedSeal:
        data = require_object(data, what="trust list seal")
        check_keys(data, required=_SEAL_FIELDS, optional=_SEAL_OPTIONAL, what="trust list seal")
        raw_suspensions = data["suspensions"]
        if not isinstance(raw_suspensions, list) or len(raw_suspensions) > 1000:
            raise InvalidInput("suspensions must be a list")
        suspensions = []
        for item in raw_suspensions:
            item = require_object(item, what="suspension")
            check_keys(item, required={"from", "to"}, what="suspension")
            suspensions.append(Suspension(read_time(item, "from"), read_optional_time(item, "to")))
        return cls(
            es_id=read_text(data, "es_id"),
            name=read_any_text(data, "name"),
            seal_type=read_any_text(data, "seal_type", max_length=32),
            owner=read_text(data, "owner", pattern=DEPARTMENT_CODE),
            licence_type_codes=read_text_list(data, "licence_type_codes"),
            valid_from=read_time(data, "valid_from"),
            valid_to=read_time(data, "valid_to"),
            status=SealStatus(read_choice(data, "status", choices={str(s) for s in SealStatus})),
            suspensions=tuple(suspensions),
            revoked_at=read_optional_time(data, "revoked_at"),
            compromised_at=read_optional_time(data, "compromised_at"),
        )


@dataclass(frozen=True)
class TrustedAuthorization:
    """跨层级签章: `grantee` may sign with seal `es_id` for the listed licence types."""

    id: int
    es_id: str
    grantee: str
    licence_type_codes: tuple[str, ...]
    valid_from: datetime
    valid_to: datetime
    status: AuthorizationStatus
    revoked_at: datetime | None = None

    def covers(self, *, es_id: str, grantee: str, licence_type_code: str, at: datetime) -> bool:
        if self.es_id != es_id or self.grantee != grantee:
            return False
        if licence_type_code not in self.licence_type_codes and ANY_LICENCE_TYPE not in self.licence_type_codes:
            return False
        if not self.valid_from <= at <= self.valid_to:
            return False
        return self.revoked_at is None or at < self.revoked_at

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "es_id": self.es_id,
            "grantee": self.grantee,
            "licence_type_codes": list(self.licence_type_codes),
            "valid_from": format_timestamp(self.valid_from),
            "valid_to": format_timestamp(self.valid_to),
            "status": str(self.status),
            **_optional_times(revoked_at=self.revoked_at),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TrustedAuthorization:
        data = require_object(data, what="trust list authorization")
        check_keys(data, required=_AUTH_FIELDS, optional=_AUTH_OPTIONAL, what="trust list authorization")
        return cls(
            id=read_int(data, "id", minimum=1),
            es_id=read_text(data, "es_id"),
            grantee=read_text(data, "grantee", pattern=DEPARTMENT_CODE),
            licence_type_codes=read_text_list(data, "licence_type_codes"),
            valid_from=read_time(data, "valid_from"),
            valid_to=read_time(data, "valid_to"),
            status=AuthorizationStatus(read_choice(data, "status", choices={str(s) for s in AuthorizationStatus})),
            revoked_at=read_optional_time(data, "revoked_at"),
        )
