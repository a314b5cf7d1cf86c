"""API documents for data-return tickets."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

Text = Annotated[str, Field(min_length=1, max_length=2000)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class TicketCreate(_Strict):
    dataset: Annotated[str, Field(min_length=1, max_length=40)]
    purpose: Text
    target: Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.-]+$")]


class ProviderDecision(_Strict):
    decision: Literal["confirm", "refuse"]
    legal_basis: Text


class BureauDecision(_Strict):
    decision: Literal["approve", "reject"]
    note: Text | None = None


class TicketRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    dataset: str = Field(validation_alias="dataset_code")
    requester: str = Field(validation_alias="requester_code")
    region: str = Field(validation_alias="region_code")
    provider: str = Field(validation_alias="provider_code")
    bureau: str = Field(validation_alias="bureau_code")
    purpose: str
    target: str = Field(validation_alias="target_name")
    status: str
    legal_basis: str | None
    provider_decided_at: datetime | None
    bureau_note: str | None
    bureau_decided_at: datetime | None
    created_at: datetime
    updated_at: datetime


class DeliveryRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    sequence: int
    rows_sent: int
    checksum: str
    delivered_at: datetime
