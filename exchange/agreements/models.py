"""Sharing agreements (共享申请): a consumer department's application for a
licence type or data item, and the provider's decision on it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from catalog.models import JSONType
from storage.base import Base, UTCDateTime, utcnow


class AgreementStatus:
    PENDING = "pending"
    APPROVED = "approved"
    REFUSED = "refused"
    REVOKED = "revoked"  # ended by the provider
    WITHDRAWN = "withdrawn"  # ended by the consumer

    ALL = (PENDING, APPROVED, REFUSED, REVOKED, WITHDRAWN)


class ItemKind:
    LICENCE_TYPE = "licence_type"
    DATA_ITEM = "data_item"

    ALL = (LICENCE_TYPE, DATA_ITEM)


class Agreement(Base):
    """One application and, once decided, the terms the provider granted.

    `fields`, `matters`, `clear_fields` and `valid_until` hold what was
    applied for until the decision, then what was granted (the provider may
    only narrow them); the applied-for terms stay in `requested`.
    Expiry is not a status: an approved agreement past `valid_until` is
    expired by the clock alone.
    """

    __tablename__ = "exchange_agreements"
    __table_args__ = (
        Index("ix_exchange_agreements_lookup", "consumer_code", "item_code", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    consumer_code: Mapped[str] = mapped_column(String(18))
    provider_code: Mapped[str] = mapped_column(String(18), index=True)
    item_kind: Mapped[str] = mapped_column(String(20))
    item_code: Mapped[str] = mapped_column(String(40))
    matters: Mapped[list] = mapped_column(JSONType)
    fields: Mapped[list] = mapped_column(JSONType)
    clear_fields: Mapped[list] = mapped_column(JSONType)
    valid_from: Mapped[datetime] = mapped_column(UTCDateTime())
    valid_until: Mapped[datetime] = mapped_column(UTCDateTime())
    requested: Mapped[dict] = mapped_column(JSONType)
    reason: Mapped[str] = mapped_column(Text)  # the consumer's legal basis / need
    status: Mapped[str] = mapped_column(String(16))
    automatic: Mapped[bool] = mapped_column(Boolean, default=False)  # decided by the catalog's sharing attribute
    decision_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    decided_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    ended_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    ended_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    applied_by: Mapped[str] = mapped_column(String(64))  # the consumer's operator
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
