"""Where aggregated (归集) licences came from: one row per source record,
so that importing the same record again issues nothing twice."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from storage.base import Base, UTCDateTime, utcnow


class ImportedLicence(Base):
    """The licence a source record became, and the SHA-256 of the content it
    was last issued or changed with: the same content again changes nothing,
    other content makes a new version."""

    __tablename__ = "registry_imported_licences"
    # The unique key of idempotent aggregation; named explicitly, since the
    # conventional name would pass PostgreSQL's 63-character limit. The source
    # key leads: a batch looks up its keys with `source_key IN (...)`, which
    # then is an index condition whatever the planner's statistics say.
    __table_args__ = (
        UniqueConstraint("source_key", "source_system", "type_code", "issuer_code",
                         name="uq_registry_imported_licences_source"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    issuer_code: Mapped[str] = mapped_column(String(18))
    type_code: Mapped[str] = mapped_column(String(21))
    source_system: Mapped[str] = mapped_column(String(100))
    source_key: Mapped[str] = mapped_column(String(200))
    licence_id: Mapped[int] = mapped_column(ForeignKey("registry_licences.id", ondelete="CASCADE"), index=True)
    content_sha256: Mapped[str] = mapped_column(String(64))
    # The import run that last read this record, and where: a second record
    # with the same key in one run is a duplicate in the source, not a change.
    last_run: Mapped[str] = mapped_column(String(64))
    last_row: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
