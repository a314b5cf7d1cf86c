"""The part of DCQL (OpenID4VP 1.0 §6) certhub's verifier answers, parsed on construction.

A query names one or more credentials, each `dc+sd-jwt` with the licence types it accepts
(`meta.vct_values`) and the claims it needs (`claims[].path`, one top-level claim name each:
certhub's credentials disclose flat claims). What certhub does not evaluate is refused rather
than ignored, so a relying party never believes a constraint was checked when it was not:
`credential_sets`, `claim_sets`, `values`, `multiple`, and a query without claims (which
would ask for every claim, against minimum necessary).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from registry.oid4vp.errors import InvalidQuery
from signing.sdjwt import VC_TYPE

MAX_CREDENTIALS = 5
MAX_CLAIMS = 64
_ID = r"^[A-Za-z0-9_-]{1,64}$"  # SPEC: OpenID4VP 1.0 §6.1 — alphanumeric, underscore or hyphen
_CLAIM_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Meta(_Strict):
    vct_values: list[str] = Field(min_length=1, max_length=10)  # SPEC: OpenID4VP 1.0 Appendix B.3.5


class _Claim(_Strict):
    id: str | None = Field(default=None, pattern=_ID)
    path: list[str] = Field(min_length=1, max_length=1)  # SPEC: OpenID4VP 1.0 §7 (claims path pointer)


class _Credential(_Strict):
    id: str = Field(pattern=_ID)
    format: str
    meta: _Meta
    claims: list[_Claim] = Field(min_length=1, max_length=MAX_CLAIMS)
    require_cryptographic_holder_binding: bool = True


class _Query(_Strict):
    credentials: list[_Credential] = Field(min_length=1, max_length=MAX_CREDENTIALS)


@dataclass(frozen=True)
class CredentialQuery:
    id: str
    vct_values: tuple[str, ...]
    claim_names: frozenset[str]


@dataclass(frozen=True)
class DcqlQuery:
    credentials: tuple[CredentialQuery, ...]

    @classmethod
    def from_json(cls, value: Any) -> DcqlQuery:
        try:
            parsed = _Query.model_validate(value)
        except ValidationError as error:
            first = error.errors()[0]
            where = ".".join(str(part) for part in first["loc"])
            raise InvalidQuery(f"dcql_query.{where}: {first['msg']}") from None
        credentials = []
        for credential in parsed.credentials:
            if credential.format != VC_TYPE:
                raise InvalidQuery(f"credential {credential.id}: only format {VC_TYPE} is answered")
            if not credential.require_cryptographic_holder_binding:
                raise InvalidQuery(f"credential {credential.id}: holder binding is always required")
            names = [claim.path[0] for claim in credential.claims]
            bad = [name for name in names if not _CLAIM_NAME.fullmatch(name)]
            if bad or len(set(names)) != len(names):
                raise InvalidQuery(f"credential {credential.id}: claim paths must be distinct top-level names")
            credentials.append(CredentialQuery(id=credential.id, vct_values=tuple(credential.meta.vct_values),
                                               claim_names=frozenset(names)))
        if len({c.id for c in credentials}) != len(credentials):
            raise InvalidQuery("credential query ids must be unique")
        return cls(credentials=tuple(credentials))

    def to_json(self) -> dict[str, Any]:
        return {"credentials": [
            {"id": c.id, "format": VC_TYPE, "meta": {"vct_values": list(c.vct_values)},
             "claims": [{"path": [name]} for name in sorted(c.claim_names)]}
            for c in self.credentials]}
