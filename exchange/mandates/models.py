"""Supervision mandates: an enforcement department may query without the
holder's consent, for the matters its legal mandate lists."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, Text
from sqlalchemy.orm import Mapped, mapped_column

from catalog.models import JSONType
from storage.base import Base, UTCDateTime, utcnow


class Mandate(Base):
    __tablename__ = "exchange_mandates"

    id: Mapped[int] = mapped_column(primary_key=True)
    department_code: Mapped[str] = mapped_column(String(18), index=True)
    matters: Mapped[list] = mapped_column(JSONType)
    legal_basis: Mapped[str] = mapped_column(Text)  # the law and article, e.g. 《食品安全法》第一百一十条
    valid_from: Mapped[datetime] = mapped_column(UTCDateTime())
    valid_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # Covert use (an investigation): the holder's view of the log shows the
    # uses made under this mandate only from this instant on; the entries are
    # in the log, counted and proven, from the start.
    embargo_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    revoked_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_by: Mapped[str] = mapped_column(String(64))  # the admin client that recorded it
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
