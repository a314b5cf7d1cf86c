"""The auditor's API (scope ``audit:read``): proofs, records, statistics,
anomaly flags, export, and publishing a checkpoint on demand.

The holder-facing endpoint (a holder reading their own records) waits for
holder authentication; ``records_for_subject`` is the service it will call.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import StreamingResponse

from catalog.deps import SessionDep, require_scopes
from exchange.auditlog import proofs, search
from exchange.auditlog.checkpoints import ensure_log_healthy, publish_checkpoint

router = APIRouter(
    prefix="/api/v1/audit", tags=["authorized-use log"], dependencies=[Depends(require_scopes("audit:read"))]
)

_Code = Annotated[str | None, Query(max_length=100)]


def _filters(
    department: _Code = None,
    operator: _Code = None,
    subject: _Code = None,
    matter: _Code = None,
    basis: _Code = None,
    result: _Code = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> search.SearchFilter:
    return search.SearchFilter(
        department=department, operator=operator, subject=subject, matter=matter,
        basis=basis, result=result, since=since, until=until,
    )


FiltersDep = Annotated[search.SearchFilter, Depends(_filters)]


@router.get("/proofs/inclusion")
def inclusion_proof(session: SessionDep, index: Annotated[int, Query(ge=0)], size: Annotated[int, Query(ge=1)]) -> dict:
    return proofs.inclusion(session=session, index=index, size=size)


@router.get("/proofs/consistency")
def consistency_proof(session: SessionDep, old: Annotated[int, Query(ge=1)], new: Annotated[int, Query(ge=1)]) -> dict:
    return proofs.consistency(session=session, old=old, new=new)


@router.get("/records")
def search_records(
    session: SessionDep,
    filters: FiltersDep,
    limit: Annotated[int, Query(ge=1, le=search.MAX_PAGE)] = 100,
    before_id: Annotated[int | None, Query(ge=1)] = None,
) -> dict:
    return search.search(session=session, filters=filters, limit=limit, before_id=before_id)


@router.get("/subjects/{subject_code}/records")
def subject_records(session: SessionDep, subject_code: str) -> dict:
    return proofs.records_for_subject(session=session, subject_code=subject_code).to_json()


@router.get("/stats")
def stats(session: SessionDep, since: datetime, until: datetime) -> dict:
    return search.statistics(session=session, since=since, until=until)


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


@router.get("/export")
def export(session: SessionDep, filters: FiltersDep) -> StreamingResponse:
    # Materialised inside the request's session: the stream must not outlive it.
    lines = list(search.export_lines(session=session, filters=filters))
    return StreamingResponse(iter(lines), media_type="application/x-ndjson")


@router.post("/checkpoint")
def publish(request: Request, session: SessionDep) -> dict:
    published = publish_checkpoint(
        session=session, key_secret=request.app.state.key_secret, origin=request.app.state.auditlog_origin
    )
    return {"size": published.size, "root_hash": proofs.b64(published.root_hash), "note": published.note.decode()}


@router.get("/health")
def health(request: Request, session: SessionDep) -> dict:
    ensure_log_healthy(session=session, now=datetime.now(timezone.utc), max_lag=request.app.state.auditlog_max_lag)
    return {"status": "ok"}
