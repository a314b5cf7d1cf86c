"""Holder consent (授权): a holder lets one department use listed licence
types and data items of theirs, for one matter, for a period."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from catalog.models import JSONType
from storage.base import Base, UTCDateTime, utcnow


class ConsentStatus:
    ACTIVE = "active"
    WITHDRAWN = "withdrawn"

    ALL = (ACTIVE, WITHDRAWN)


class Consent(Base):
    """`public_id` is the consent's id everywhere outside the database: the
    log's basis "consent:<public_id>" and the holder's API name it."""

    __tablename__ = "exchange_consents"
    __table_args__ = (
        Index("ix_exchange_consents_lookup", "holder_code", "department_code", "matter_code"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True)
    holder_code: Mapped[str] = mapped_column(String(18))
    holder_code_type: Mapped[str] = mapped_column(String(3))
    department_code: Mapped[str] = mapped_column(String(18))
    matter_code: Mapped[str] = mapped_column(String(40))
    items: Mapped[list] = mapped_column(JSONType)  # licence type and data item codes
    valid_from: Mapped[datetime] = mapped_column(UTCDateTime())
    valid_until: Mapped[datetime] = mapped_column(UTCDateTime())
    status: Mapped[str] = mapped_column(String(16))
    # Who granted it: the holder themself (null) or a proxy acting within a delegation.
    proxy_code: Mapped[str | None] = mapped_column(String(18), nullable=True, index=True)
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    withdrawn_by: Mapped[str | None] = mapped_column(String(18), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
