"""Request and response documents of 亮证, redemption, the public check and
holder delegations."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

Identifier = Annotated[str, Field(min_length=1, max_length=110)]
HolderCode = Annotated[str, Field(min_length=1, max_length=18)]
TypeCode = Annotated[str, Field(min_length=21, max_length=21)]
# The operator is the department's own staff identifier (identity/operators.py's alphabet).
OperatorId = Annotated[str, Field(pattern=r"^[0-9A-Za-z][0-9A-Za-z._@\-]{0,63}$")]
# A use-log code: letters, digits and ._:- (exchange/auditlog/records.py).
MatterCode = Annotated[str, Field(pattern=r"^[0-9A-Za-z][0-9A-Za-z._:\-]{0,63}$")]
MAX_QR_TEXT = 4096
# Free text that goes into the use log: no control characters (records.py refuses them).
LogText = r"^[^\x00-\x1f\x7f]+$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class PresentationCreate(_Strict):
    licences: list[Identifier] = Field(min_length=1, max_length=10, description="GB/T 36904 identifiers")
    disclosure: Literal["full", "masked"] = Field(
        default="masked", description="masked: sensitive face fields masked per the catalog (最小必要)"
    )
    on_behalf_of: HolderCode | None = Field(
        default=None, description="the holder a proxy presents for (needs an active delegation)"
    )


class PresentationRead(BaseModel):
    id: str
    qr_text: str = Field(description="EL1 code: what the QR encodes (docs/formats.md)")
    qr_png_base64: str
    expires_at: datetime
    ttl_seconds: int
    accepted_until: datetime = Field(description="the last instant a counter accepts the code: expires_at plus "
                                                 "the 30 s clock-skew allowance")
    seconds_left: int = Field(description="whole seconds from this answer to accepted_until (rounded down): "
                                          "what the wallet counts down on its own clock")
    licences: list[str]
    disclosure: str
    short_code: str = Field(description="ten digits a clerk can type when the QR cannot be scanned "
                                        "(POST /api/v1/presentations/redeem-short-code); same code, same single use")


class _CounterFields(_Strict):
    operator_id: OperatorId | None = Field(
        default=None, description="the clerk's staff id; required with a department access token that names no "
                                  "operator, and left out (or the same) with a staff session, whose person it is")
    matter_code: MatterCode
    purpose: str = Field(min_length=1, max_length=200, pattern=LogText, description="用证事由: why the licence is used")
    case_number: str | None = Field(default=None, min_length=1, max_length=64, pattern=LogText)


class RedemptionCreate(_CounterFields):
    qr_text: str = Field(min_length=1, max_length=MAX_QR_TEXT)


class ShortCodeRedemptionCreate(_CounterFields):
    short_code: str = Field(min_length=10, max_length=16, description="the ten digits under the holder's QR; "
                                                                      "spaces and hyphens between them are ignored")

    @field_validator("short_code")
    @classmethod
    def _digits(cls, value: str) -> str:
        digits = value.replace(" ", "").replace("-", "")
        if len(digits) != 10 or not digits.isascii() or not digits.isdigit():
            raise ValueError("ten digits")
        return digits


class SealedForm(BaseModel):
    record: dict[str, Any]
    seal_signature: dict[str, str]


class RedeemedLicence(BaseModel):
    identifier: str
    type_code: str
    type_name: str
    holder_name: str
    status: str
    valid_from: date
    valid_until: date | None
    fields: dict[str, Any]
    labels: dict[str, str] = Field(description="the catalog's label of each field")
    sealed: SealedForm | None = Field(description="the sealed record; only with a full disclosure")


class RedemptionRead(BaseModel):
    valid: Literal[True] = True
    presentation_id: str
    disclosure: str
    redeemed_at: datetime
    licences: list[RedeemedLicence]
    trust_list_age_seconds: int


class VerifyRequest(_Strict):
    qr_text: str = Field(min_length=1, max_length=MAX_QR_TEXT)


class VerifyRead(BaseModel):
    valid: bool
    kind: str | None = None
    error: str | None = None
    message: str | None = None
    summary: dict[str, Any] | None = None
    issuer: str | None = None
    expires_at: datetime | None = None


class ProxyIn(_Strict):
    code: HolderCode
    code_type: Literal["111", "001"] = "111"


class DelegationCreate(_Strict):
    proxy: ProxyIn
    relation: Literal["guardian", "agent", "family"]
    type_codes: list[TypeCode] = Field(min_length=1, max_length=50)
    actions: list[Literal["present", "consent"]] = Field(min_length=1, max_length=2)
    valid_from: datetime | None = Field(default=None, description="default: now")
    valid_until: datetime


class DelegationRead(BaseModel):
    id: int
    principal_code: str = Field(description="masked")
    proxy_code: str = Field(description="masked")
    relation: str
    type_codes: list[str]
    actions: list[str]
    valid_from: datetime
    valid_until: datetime
    status: str
    active: bool
    revoked_at: datetime | None


class PrincipalRead(BaseModel):
    code: str = Field(description="in full: what a proxy names in `on_behalf_of` of 亮证 and consent requests "
                                  "(the wallet shows it masked)")
    code_type: str
    code_masked: str
    name: str | None = Field(description="the holder's name as on their licences (None when none is listed)")


class DelegationsRead(BaseModel):
    given: list[DelegationRead] = Field(description="delegations this holder gave")
    received: list[DelegationRead] = Field(description="delegations that let this holder act for another")
