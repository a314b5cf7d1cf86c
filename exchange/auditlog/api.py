"""The auditor's API (scope ``audit:read``): proofs, records, statistics,
anomaly flags, streamed export, and publishing a checkpoint on demand.

Whatever may name a holder (the record search, a holder's records, the
export) is a POST with its filters in the body: a holder's code in a URL is
written to the access log before anything could refuse it.

A department's officers count their own department's uses through
``usage_router`` (scope ``usage:read``): the department is the caller's,
never a parameter, so no department reads another's figures.

Holders read their own records through ``holder_api``; the public tiles,
checkpoint and health signal are in ``log_api``.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse
from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from catalog.access import UseLog
from exchange.auditlog import answers, proofs, search, subjects
from exchange.auditlog.checkpoints import publish_checkpoint
from exchange.auditlog.config import LogConfig
from exchange.auditlog.errors import LogUnavailable
from exchange.auditlog.models import LogCheckpoint
from exchange.auditlog.recorder import UseRecorder
from exchange.auditlog.schemas import AnswerAtIndexIn, ExportIn, RecordSearchIn, SubjectRecordsIn
from exchange.auditlog.witnessing import LogWitnesses, witness_latest
from identity.deps import require_scopes
from identity.tokens import Principal
from registry.config import RegistryConfig
from storage.base import utcnow
from storage.params import MAX_SQL_INTEGER
from storage.sessions import ReadSessionDep, SessionDep
from wiring import find_service, optional_service, service

router = APIRouter(
    prefix="/api/v1/audit", tags=["authorized-use log"], dependencies=[Depends(require_scopes("audit:read"))]
)

usage_router = APIRouter(prefix="/api/v1/usage", tags=["authorized-use log"])

_EXPORT_CHUNK_CHARS = 1 << 16


@router.get("/proofs/inclusion")
def inclusion_proof(session: ReadSessionDep, index: Annotated[int, Query(ge=0, le=MAX_SQL_INTEGER)],
                    size: Annotated[int, Query(ge=1, le=MAX_SQL_INTEGER)]) -> dict:
    return proofs.inclusion(session=session, index=index, size=size)


@router.get("/proofs/consistency")
def consistency_proof(session: ReadSessionDep, old: Annotated[int, Query(ge=1, le=MAX_SQL_INTEGER)],
                      new: Annotated[int, Query(ge=1, le=MAX_SQL_INTEGER)]) -> dict:
    return proofs.consistency(session=session, old=old, new=new)


@router.post("/records/search")
def search_records(session: ReadSessionDep, body: RecordSearchIn) -> dict:
    return search.search(session=session, filters=body.search_filter(), limit=body.limit, before_id=body.before_id)


@router.post("/subjects/records")
def subject_records(session: ReadSessionDep, body: SubjectRecordsIn,
                    registry: Annotated[RegistryConfig, service(RegistryConfig)]) -> dict:
    # Auditors see embargoed uses whole: the embargo is toward the subject only.
    return proofs.records_for_subject(session=session, subject_code=body.subject,
                                      tag_key=subjects.tag_key(registry.key_secret), now=utcnow(),
                                      hide_embargoed=False).to_json()


@router.post("/answers/check")
def check_answer(session: ReadSessionDep, body: AnswerAtIndexIn) -> dict:
    """Whether an answer a department received (its values and salts, e.g.
    produced in a dispute) is what the entry at ``index`` committed to."""
    return answers.check_at_index(session=session, index=body.index, values=body.values, salts=body.salts)


@router.get("/stats")
def stats(session: ReadSessionDep, since: datetime, until: datetime) -> dict:
    return search.statistics(session=session, since=since, until=until)


@usage_router.get("/stats")
def department_usage_stats(session: SessionDep, principal: Annotated[Principal, Depends(require_scopes("usage:read"))],
                           since: datetime, until: datetime) -> dict:
    """The caller's own department's use records counted per day, matter and kind (granted / denied)."""
    return search.department_statistics(session=session, department_code=principal.department_code,
                                        since=since, until=until)


@router.get("/anomalies")
def anomaly_flags(
    session: SessionDep,
    since: datetime,
    until: datetime,
    max_subjects: Annotated[int, Query(ge=1, le=10_000)] = 20,
    subjects_window_min: Annotated[int, Query(ge=1, le=1440)] = 10,
    max_denials: Annotated[int, Query(ge=1, le=10_000)] = 5,
    denials_window_min: Annotated[int, Query(ge=1, le=1440)] = 10,
) -> dict:
    thresholds = search.AnomalyThresholds(
        max_subjects=max_subjects,
        subjects_window=timedelta(minutes=subjects_window_min),
        max_denials=max_denials,
        denials_window=timedelta(minutes=denials_window_min),
    )
    return search.anomalies(session=session, since=since, until=until, thresholds=thresholds)


@router.post("/export")
def export(body: ExportIn, sessions: Annotated[sessionmaker, service(sessionmaker)]) -> StreamingResponse:
    """JSON lines, streamed: the bounds are checked now, rows are read in
    batches while the response is sent, in a session the stream owns."""
    filters = body.search_filter()
    search.check_export(filters=filters, limit=body.limit)
    return StreamingResponse(
        _stream_export(sessions, filters, body.limit),
        media_type="application/x-ndjson",
        headers={"Cache-Control": "private, no-store"},
    )


def _stream_export(make_session, filters: search.SearchFilter, limit: int) -> Iterator[str]:
    # The request's SessionDep session is closed before the body is sent.
    session = make_session()
    try:
        # Each chunk is one hop to the worker thread: send ~64 KiB, not a line, at a time.
        chunk: list[str] = []
        size = 0
        for line in search.export_lines(session=session, filters=filters, limit=limit):
            chunk.append(line)
            size += len(line)
            if size >= _EXPORT_CHUNK_CHARS:
                yield "".join(chunk)
                chunk, size = [], 0
        if chunk:
            yield "".join(chunk)
    finally:
        session.rollback()  # read only
        session.close()


@router.post("/checkpoint")
def publish(session: SessionDep, registry: Annotated[RegistryConfig, service(RegistryConfig)],
            log: Annotated[LogConfig, service(LogConfig)],
            witnesses: Annotated[LogWitnesses | None, optional_service(LogWitnesses)]) -> dict:
    published = publish_checkpoint(session=session, key_secret=registry.key_secret, origin=log.origin)
    note = published.note
    if witnesses is not None:
        # Witnesses are asked about a committed checkpoint only, as the checkpointer does.
        session.commit()
        if witness_latest(session=session, witnesses=witnesses) is not None:
            note = bytes(session.scalars(select(LogCheckpoint.note).order_by(LogCheckpoint.id.desc()).limit(1)).one())
    return {"size": published.size, "root_hash": proofs.b64(published.root_hash), "note": note.decode()}


@router.get("/health")
def health(request: Request, session: SessionDep) -> dict:
    """Like ``GET /log/health``, but a 503 error when data is not served."""
    recorder = find_service(request, UseLog)
    if not isinstance(recorder, UseRecorder):
        raise LogUnavailable("no authorized-use log is configured; data is not served")
    recorder.check_serving(session=session)
    return recorder.health(session=session).to_json()
