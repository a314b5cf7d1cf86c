"""What a verified QR code says (`verify_qr` returns it; nothing unverified gets here)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from signing.encoding import format_optional_timestamp
from signing.qr.claims import LicenceSummary, PresentationClaim
from signing.qr.hcert import DccSigner
from signing.trust_entries import TrustedKey

QrKind = Literal["licence", "presentation", "hcert"]


@dataclass(frozen=True)
class QrResult:
    kind: QrKind
    issuer: str | None  # iss: the registry id (a country code for EU DCC codes, when present)
    kid: str  # base64url of the COSE kid bytes (the trust list's kid form)
    issued_at: datetime | None
    expires_at: datetime | None
    cti: str | None  # the presentation id for 亮证 codes; hex of the cti bytes otherwise
    summary: LicenceSummary | None
    presentation: PresentationClaim | None
    payload: Mapping[Any, Any]  # every CWT claim, as decoded
    key: TrustedKey | DccSigner  # the key whose signature verified
    status: str | None  # "valid" when a status list was consulted, None when not checked
    status_list_age: timedelta | None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready view (the raw payload only for EU DCC codes, where it is the content)."""
        summary = self.summary
        return {
            "valid": True,
            "kind": self.kind,
            "issuer": self.issuer,
            "kid": self.kid,
            "issued_at": format_optional_timestamp(self.issued_at),
            "expires_at": format_optional_timestamp(self.expires_at),
            "cti": self.cti,
            "licence": None if summary is None else {
                "type_code": summary.type_code,
                "identifier": summary.identifier,
                "holder_name_masked": summary.holder_name_masked,
                "issuer_code": summary.issuer_code,
                "valid_from": summary.valid_from.isoformat(),
                "valid_until": None if summary.valid_until is None else summary.valid_until.isoformat(),
                "status_list": {"idx": summary.status_idx, "uri": summary.status_uri},
            },
            "presentation": None if self.presentation is None else {
                "presentation_id": self.presentation.presentation_id,
                "licence_identifiers": list(self.presentation.licence_identifiers),
                "disclosure": self.presentation.disclosure,
            },
            "signer": _signer(self.key),
            "status": self.status,
            "status_list_age_seconds": None if self.status_list_age is None else int(self.status_list_age.total_seconds()),
            "hcert": _jsonable(self.payload.get(-260)) if self.kind == "hcert" else None,
        }


def _signer(key: TrustedKey | DccSigner) -> dict[str, Any]:
    if isinstance(key, DccSigner):
        return {"kind": "x509", "subject": key.subject}
    return {"kind": str(key.purpose), "es_id": key.es_id, "owner": key.owner, "alg": str(key.algorithm)}


def _jsonable(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)
