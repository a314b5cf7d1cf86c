"""Reading and writing the run journal. The caller's unit of work commits:
the runner commits each batch's journal step with the batch's licences, so
the journal never claims rows the registry does not hold, nor the reverse."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from adapters.imports.models import ImportRun, RunStatus

MAX_ERROR = 500


@dataclass(frozen=True)
class RunTarget:
    fingerprint: str
    source_kind: str
    source_name: str
    source_system: str
    type_code: str
    issuer_code: str
    total_rows: int | None


def start(*, session: Session, target: RunTarget, restart_counts: bool, now: datetime) -> ImportRun:
    """Continue the latest unfinished run of the same fingerprint, or begin one.

    `restart_counts`: the source is read again from its first row (a live
    database cannot pin its content), so the counts start again too.
    """
    run = session.scalar(
        select(ImportRun)
        .where(ImportRun.fingerprint == target.fingerprint, ImportRun.status.in_(RunStatus.RESUMABLE))
        .order_by(ImportRun.id.desc()).limit(1).with_for_update()
    )
    if run is None:
        run = ImportRun(
            run_key=secrets.token_hex(16), fingerprint=target.fingerprint, source_kind=target.source_kind,
            source_name=target.source_name[:300], source_system=target.source_system, type_code=target.type_code,
            issuer_code=target.issuer_code, status=RunStatus.RUNNING, total_rows=target.total_rows,
            committed_position=0, issued=0, changed=0, unchanged=0, failed=0, attempts=1, started_at=now,
            updated_at=now,
        )
        session.add(run)
    else:
        run.status = RunStatus.RUNNING
        run.attempts += 1
        run.last_error = None
        run.updated_at = now
        if restart_counts:
            run.committed_position = run.issued = run.changed = run.unchanged = run.failed = 0
    session.flush()
    return run


def advance(*, session: Session, run_key: str, position: int, issued: int, changed: int, unchanged: int,
            failed: int, now: datetime) -> None:
    """Record one committed batch (the same transaction as its licences)."""
    session.execute(
        update(ImportRun).where(ImportRun.run_key == run_key).values(
            committed_position=position, issued=ImportRun.issued + issued, changed=ImportRun.changed + changed,
            unchanged=ImportRun.unchanged + unchanged, failed=ImportRun.failed + failed, updated_at=now,
        )
    )


def finish(*, session: Session, run_key: str, status: str, now: datetime, error: str | None = None) -> ImportRun:
    run = get_or_none(session=session, run_key=run_key)
    if run is None:  # pragma: no cover - the run row is created before any batch
        raise LookupError(f"import run {run_key} not found")
    run.status = status
    run.updated_at = now
    run.last_error = error[:MAX_ERROR] if error else None
    if status == RunStatus.COMPLETED:
        run.finished_at = now
    session.flush()
    return run


def get_or_none(*, session: Session, run_key: str) -> ImportRun | None:
    return session.scalar(select(ImportRun).where(ImportRun.run_key == run_key))


def list_runs(*, session: Session, limit: int = 50) -> list[ImportRun]:
    return list(session.scalars(select(ImportRun).order_by(ImportRun.id.desc()).limit(limit)))
