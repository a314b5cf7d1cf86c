"""The journal of aggregation runs: what was read, how far it got, what came of it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from storage.base import Base, UTCDateTime, utcnow


class RunStatus:
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"  # stopped by an error; resumable
    INTERRUPTED = "interrupted"  # stopped by the operator (Ctrl-C); resumable

    RESUMABLE = (RUNNING, FAILED, INTERRUPTED)


class ImportRun(Base):
    """One aggregation run. A rerun of an unfinished run of the same source,
    mapping, type and issuer (the fingerprint) continues this row: the
    counts are cumulative and `committed_position` says which source rows
    are already in the registry. A killed run stays `running`."""

    __tablename__ = "adapters_import_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    run_key: Mapped[str] = mapped_column(String(32), unique=True)
    fingerprint: Mapped[str] = mapped_column(String(64), index=True)
    source_kind: Mapped[str] = mapped_column(String(8))
    source_name: Mapped[str] = mapped_column(String(300))
    source_system: Mapped[str] = mapped_column(String(100))
    type_code: Mapped[str] = mapped_column(String(21))
    issuer_code: Mapped[str] = mapped_column(String(18))
    status: Mapped[str] = mapped_column(String(16), default=RunStatus.RUNNING)
    total_rows: Mapped[int | None] = mapped_column(Integer, nullable=True)
    committed_position: Mapped[int] = mapped_column(Integer, default=0)  # source rows 1..n are done
    issued: Mapped[int] = mapped_column(Integer, default=0)
    changed: Mapped[int] = mapped_column(Integer, default=0)
    unchanged: Mapped[int] = mapped_column(Integer, default=0)
    failed: Mapped[int] = mapped_column(Integer, default=0)
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    last_error: Mapped[str | None] = mapped_column(String(500), nullable=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
