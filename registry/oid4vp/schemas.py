"""Bodies of the verifier's API."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class VpRequestCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    dcql_query: dict[str, Any]
    # The matter the check serves, when the party is a counter (logged with the use).
    matter_code: str | None = Field(default=None, pattern=r"^[0-9A-Za-z][0-9A-Za-z._:\-]{0,63}$")


class CounterRequestCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    matter_code: str = Field(pattern=r"^[0-9A-Za-z][0-9A-Za-z._:\-]{0,63}$")
    purpose: str = Field(min_length=1, max_length=200)  # 用证事由, shown to the holder and logged
    situation: str | None = Field(default=None, pattern=r"^[a-z0-9_]{1,40}$")  # the matter's situation key


class VpRequestRead(BaseModel):
    request_id: str
    client_id: str
    request_uri: str
    # What the QR or the same-device link carries (SPEC: OpenID4VP 1.0 §5.7, §5.10): the wallet fetches the rest.
    authorization_request_uri: str
    qr_png_base64: str  # the same link as a QR code, for a wallet on another device
    authorization_request: dict[str, Any]
    expires_at: datetime


class VpResultRead(BaseModel):
    request_id: str
    status: str  # pending | verified | refused
    error: str | None = None
    answered_at: datetime | None = None
    # {credential query id: {vct, issuer, status, key_bound_at, claims}}: only the disclosed claims.
    credentials: dict[str, Any] | None = None
