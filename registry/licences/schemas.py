"""Request and response documents of the licence API."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Text200 = Annotated[str, Field(min_length=1, max_length=200)]
Reason = Annotated[str, Field(max_length=2000)]
Operator = Annotated[str, Field(min_length=1, max_length=100)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class HolderIn(_Strict):
    name: Text200
    code: Annotated[str, Field(min_length=1, max_length=18)]
    code_type: Literal["111", "001"] = Field(description="111 citizen ID number, 001 unified social credit code")


class LicenceCreate(_Strict):
    type_code: Annotated[str, Field(min_length=21, max_length=21)]
    holder: HolderIn
    face: dict[str, Any] = Field(default_factory=dict, description="face fields (照面信息) by key")
    valid_from: date | None = None
    valid_until: date | None = Field(default=None, description="only for types whose validity is 'given'")
    operator: Operator | None = Field(default=None, description="the person at the issuing department")
    seal: Annotated[str, Field(min_length=1, max_length=64)] | None = Field(
        default=None, description="esID of the issuer's 电子证照专用章 to seal with; default: the issuer's newest one")
    algorithm: Literal["ES256", "EdDSA", "SM2"] | None = Field(
        default=None, description="seal with the issuer's default seal among those with a key of this algorithm")


class LicenceChange(_Strict):
    face: dict[str, Any] = Field(description="fields to change; null removes an optional field")
    reason: Reason | None = None
    operator: Operator | None = None


class Transition(_Strict):
    reason: Reason | None = None
    operator: Operator | None = None


class Revocation(_Strict):
    reason: Annotated[str, Field(min_length=1, max_length=2000)]
    operator: Operator | None = None


class CopyCreate(_Strict):
    purpose: Annotated[str, Field(min_length=1, max_length=100)]
    expires_at: datetime
    format: Literal["pdf", "ofd"] = "pdf"  # ofd: sealed with the department's 签章 (GB/T 38540)


class StatusReference(BaseModel):
    """SPEC: draft-ietf-oauth-status-list-05 §6.1 — where a verifier finds the licence's status."""

    idx: int
    uri: str


class VersionRead(BaseModel):
    version: int
    identifier: str
    superseded: bool
    created_at: datetime


class DisputeRead(BaseModel):
    """A dispute (异议/纠错) as the department and the holder see it."""

    id: int
    licence_identifier: str = Field(description="identifier of the version disputed")
    field: str
    reason: str
    proposed_value: str | None
    raised_by: Literal["holder", "department"]
    raised_by_code: str | None = Field(description="the disputing department (null when the holder raised it)")
    status: Literal["open", "accepted", "rejected"]
    overdue: bool
    due_at: datetime
    created_at: datetime
    decided_at: datetime | None
    decision_reason: str | None
    corrected_version: int | None


class LicenceRead(BaseModel):
    identifier: str = Field(description="GB/T 36904 identifier of the version shown")
    base_identifier: str
    type_code: str
    type_name: str
    type_version: int
    issuer_code: str
    serial: str
    holder_name: str
    holder_code: str
    holder_code_type: str
    status: str
    version: int
    current_version: int
    superseded: bool
    valid_from: date
    valid_until: date | None
    face: dict[str, Any]
    record: dict[str, Any] = Field(description="the sealed GB/T 36902 catalog record")
    seal_signature: dict[str, str] = Field(description="certhub-seal-signature/1 over `record`")
    status_list: StatusReference
    versions: list[VersionRead]
    issued_at: datetime
    open_disputes: list[DisputeRead] = Field(default_factory=list, description="disputes awaiting the issuer")


class EventRead(BaseModel):
    action: str
    from_status: str | None
    to_status: str
    version: int
    acting_department_code: str | None
    client_id: str | None
    operator: str | None
    reason: str | None
    at: datetime


class CancellationRead(BaseModel):
    cancelled: list[str] = Field(description="base identifiers: the licence, then joint cancellations")


class ExpiringRead(BaseModel):
    base_identifier: str
    type_code: str
    holder_name: str
    valid_until: date
    status: str


class DisputeCreate(_Strict):
    """A clerk's dispute of a licence named in the path."""

    field: Annotated[str, Field(min_length=1, max_length=40, description="the face field's key")]
    reason: Annotated[str, Field(min_length=1, max_length=2000)]
    proposed_value: Annotated[str, Field(min_length=1, max_length=2000)] | None = None
    operator: Operator | None = None


class HolderDisputeCreate(_Strict):
    """A holder's dispute of one of their own licences."""

    identifier: Annotated[str, Field(min_length=1, max_length=110)]
    field: Annotated[str, Field(min_length=1, max_length=40, description="the face field's key")]
    reason: Annotated[str, Field(min_length=1, max_length=2000)]
    proposed_value: Annotated[str, Field(min_length=1, max_length=2000)] | None = None


class DisputeAccept(_Strict):
    value: Any = Field(description="the corrected value of the field (null removes an optional field)")
    reason: Reason | None = None
    operator: Operator | None = None


class DisputeReject(_Strict):
    reason: Annotated[str, Field(min_length=1, max_length=2000)]
    operator: Operator | None = None


class DisputeEventRead(BaseModel):
    action: str
    from_status: str | None
    to_status: str
    actor_kind: str
    actor_code: str | None
    operator: str | None
    reason: str | None
    at: datetime


class DepartmentDisputeRead(DisputeRead):
    history: list[DisputeEventRead]


class AttachmentRead(BaseModel):
    """A file attached to a dispute, without its bytes."""

    id: int
    dispute_id: int
    media_type: str
    size: int
    sha256: str
    created_at: datetime


class CredentialRequest(BaseModel):
    """Bind the SD-JWT VC to the wallet's key: an EC P-256 public JWK (kty, crv, x, y), never a private one."""

    model_config = ConfigDict(extra="forbid")

    holder_jwk: dict[str, Any] = Field(description="The wallet's public key as a JWK (RFC 7517), EC P-256")


class CredentialRead(BaseModel):
    """A licence version as an SD-JWT VC (docs/sd-jwt-vc.md), every disclosure included: the
    wallet chooses which to pass on."""

    identifier: str
    format: str = Field(description="dc+sd-jwt")
    vct: str = Field(description="The credential type; its type metadata is served at this URL")
    credential: str = Field(description="Compact SD-JWT: <issuer JWT>~<disclosure>~...~")
    holder_bound: bool = Field(description="Whether cnf binds the credential to the key the wallet sent")


class StaticQrRead(BaseModel):
    """The printed licence's static QR, for the wallet to keep a copy the
    holder can show offline (no network at the counter)."""

    identifier: str
    type_name: str
    qr_text: str = Field(description="EL1 licence code, sealed by the issuer, valid until the licence ends")
    qr_png_base64: str
    valid_until: date | None


class WalletLicence(BaseModel):
    """One licence in the holder's wallet list."""

    identifier: str = Field(description="identifier of the current version")
    base_identifier: str
    type_code: str
    type_name: str
    issuer_code: str
    status: str
    current_version: int
    valid_from: date
    valid_until: date | None
    issued_at: datetime
    open_disputes: int
