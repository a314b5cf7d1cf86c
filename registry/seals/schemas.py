"""Request and response documents of the seal administration API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

Code18 = Annotated[str, Field(min_length=18, max_length=18)]
TypeCode = Annotated[str, Field(min_length=1, max_length=21)]


class SealCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    seal_type: Annotated[str, Field(min_length=1, max_length=12, examples=["电子证照专用章"])]
    licence_type_codes: list[TypeCode] = Field(min_length=1, max_length=500, description='type codes, or ["*"]')
    valid_from: datetime
    valid_to: datetime
    algorithm: Literal["ES256", "EdDSA", "SM2"] = "ES256"
    name: Annotated[str, Field(min_length=1, max_length=40)] | None = None
    owner_department: Code18 | None = Field(default=None, description="default: the caller's department")
    picture_png_base64: Annotated[str, Field(max_length=700_000)] | None = None


class SealKeyRead(BaseModel):
    kid: str
    algorithm: str
    status: str
    created_at: datetime
    compromised_at: datetime | None = None


class SealRead(BaseModel):
    es_id: str
    name: str
    seal_type: str
    owner_department_code: str
    licence_type_codes: list[str]
    valid_from: datetime
    valid_to: datetime
    status: str
    keys: list[SealKeyRead]
    revoked_at: datetime | None = None
    compromised_at: datetime | None = None
    revocation_reason: str | None = None


class SealRevoke(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Annotated[str, Field(min_length=1, max_length=500)]
    compromised_at: datetime | None = None


class SealSuspend(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Annotated[str, Field(min_length=1, max_length=500)] | None = None


class SealRotate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    algorithm: Literal["ES256", "EdDSA", "SM2"] | None = None


class AuthorizationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    grantee_department: Code18
    licence_type_codes: list[TypeCode] = Field(min_length=1, max_length=500)
    valid_from: datetime
    valid_to: datetime


class AuthorizationRead(BaseModel):
    id: int
    es_id: str
    grantee_department_code: str
    licence_type_codes: list[str]
    valid_from: datetime
    valid_to: datetime
    status: str
    revoked_at: datetime | None = None
