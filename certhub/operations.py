"""The operator's routes: ``/readyz`` (may this process take traffic?) and
``/metrics`` (Prometheus, for a client holding ``metrics:read``).

``/healthz`` (certhub.app) stays a liveness check: it answers while the
process runs, whatever the database does, so a supervisor restarts only a
process that is stuck, not one whose database is away.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from catalog.access import UseLog
from certhub import metrics
from exchange.auditlog.health import PublicationMonitor, log_health
from exchange.auditlog.recorder import UseRecorder
from identity.deps import require_scopes
from storage.cache import Cache, RedisCache
from storage.units import bounded
from wiring import find_service

METRICS_SCOPE = "metrics:read"
# A readiness probe answers within a few seconds even when what it checks hangs.
CHECK_TIMEOUT_S = 2.0
log = logging.getLogger(__name__)
router = APIRouter(tags=["meta"])


@dataclass(frozen=True)
class Check:
    ok: bool
    detail: str | None = None

    def to_json(self) -> dict:
        return {"ok": self.ok, "detail": self.detail}


@router.get("/readyz", summary="Readiness: the database, Redis (when configured) and the log's publication")
async def readyz(request: Request) -> JSONResponse:
    """200 when this process can serve: the database answers, Redis answers
    (when one is configured), and the authorized-use log is serving (a
    checkpoint published within the allowed lag). 503 otherwise, naming
    what failed; a failing publication is reported while the log still serves."""
    sessions: sessionmaker[Session] = find_service(request, sessionmaker)
    recorder = find_service(request, UseLog)
    monitor = find_service(request, PublicationMonitor)
    cache = find_service(request, Cache)  # type: ignore[type-abstract]  # registered under the protocol
    checks = await asyncio.to_thread(_readiness, sessions, recorder, monitor, cache)
    ready = all(check.ok for check in checks.values())
    return JSONResponse({"status": "ready" if ready else "not_ready",
                         "checks": {name: check.to_json() for name, check in checks.items()}},
                        status_code=200 if ready else 503, headers={"Cache-Control": "no-store"})


def _readiness(sessions: sessionmaker[Session], recorder: object, monitor: PublicationMonitor,
               cache: Cache) -> dict[str, Check]:
    checks = {"database": Check(False, "not reached"), "log": Check(False, "the database did not answer")}
    try:
        with bounded(sessions, lock_timeout_s=CHECK_TIMEOUT_S, statement_timeout_s=CHECK_TIMEOUT_S) as session:
            session.execute(text("SELECT 1"))
            checks["database"] = Check(True)
            checks["log"] = _log_check(session, recorder, monitor)
    except Exception as error:  # what failed is named, never the connection string
        checks["database"] = Check(False, type(error).__name__)
    if isinstance(cache, RedisCache):
        try:
            cache.ping()
            checks["redis"] = Check(True)
        except Exception as error:
            checks["redis"] = Check(False, type(error).__name__)
    return checks


def _log_check(session: Session, recorder: object, monitor: PublicationMonitor) -> Check:
    if not isinstance(recorder, UseRecorder):  # a test's own log: nothing to publish
        return Check(True, "no published log in this app")
    health = log_health(session=session, now=datetime.now(UTC), max_lag=recorder.max_lag, monitor=monitor)
    if not health.serving:
        return Check(False, health.reason)
    failure = monitor.failure
    if failure is not None:
        return Check(True, f"publishing has failed {failure.attempts} time(s) since {failure.since.isoformat()} "
                           f"({failure.code}); still serving within the allowed lag")
    return Check(True)


@router.get("/metrics", summary="Prometheus metrics", dependencies=[Depends(require_scopes(METRICS_SCOPE))],
            response_class=Response, responses={200: {"content": {"text/plain": {}}}})
async def prometheus_metrics(request: Request) -> Response:
    """Every worker's counters and the gauges read at this scrape (docs/monitoring.md)."""
    sessions: sessionmaker[Session] = find_service(request, sessionmaker)
    recorder = find_service(request, UseLog)
    cache = find_service(request, Cache)  # type: ignore[type-abstract]  # registered under the protocol
    monitor = find_service(request, PublicationMonitor)
    max_lag = recorder.max_lag if isinstance(recorder, UseRecorder) else None

    def health(session: Session) -> object:
        if max_lag is None:
            return None
        return log_health(session=session, now=datetime.now(UTC), max_lag=max_lag, monitor=monitor,
                          count_pending=True)

    collector = metrics.ScrapeTimeCollector(sessions=lambda: sessions, log_health=health,
                                            redis_ping=cache.ping if isinstance(cache, RedisCache) else None)
    body, content_type = await asyncio.to_thread(metrics.exposition, collector)
    return Response(body, media_type=content_type, headers={"Cache-Control": "no-store"})
