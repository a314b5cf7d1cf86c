"""The authorized-use log as the app's ``catalog.access.AccessRecorder``.

Every data-serving route records through this object, so the fail-closed
rule lives in one place: a granted use is refused while no checkpoint has
been published within ``max_lag``; a denied attempt is still recorded.
``health`` gives the same verdict with its figures for ``GET /log/health``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta, timezone

from sqlalchemy.orm import Session

from exchange.auditlog.health import LogHealth, PublicationMonitor, ensure_log_healthy, log_health
from exchange.auditlog.models import LogEntry
from exchange.auditlog.records import record_use


class UseRecorder:
    def __init__(
        self,
        *,
        max_lag: timedelta,
        monitor: PublicationMonitor | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.max_lag = max_lag
        self.monitor = monitor
        self._clock = clock or (lambda: datetime.now(timezone.utc))

    def check_serving(self, *, session: Session) -> None:
        ensure_log_healthy(session=session, now=self._clock(), max_lag=self.max_lag, monitor=self.monitor)

    def health(self, *, session: Session) -> LogHealth:
        """The same verdict as ``check_serving``, with the figures behind it."""
        return log_health(
            session=session, now=self._clock(), max_lag=self.max_lag, monitor=self.monitor, count_pending=True
        )

    def record(
        self,
        *,
        session: Session,
        kind: str,
        department_code: str,
        operator_id: str,
        basis: str,
        result: str = "granted",
        reason_code: str | None = None,
        subject_code: str | None = None,
        licence_ids: Sequence[str] = (),
        data_items: Sequence[str] = (),
        fields: Sequence[str] = (),
        matter_code: str | None = None,
        purpose: str | None = None,
        case_number: str | None = None,
        request_hash: str | None = None,
    ) -> LogEntry:
        if result == "granted":
            self.check_serving(session=session)
        return record_use(
            session=session, kind=kind, department_code=department_code, operator_id=operator_id, basis=basis,
            result=result, reason_code=reason_code, subject_code=subject_code, licence_ids=licence_ids,
            data_items=data_items, fields=fields, matter_code=matter_code, purpose=purpose,
            case_number=case_number, request_hash=request_hash, now=self._clock(),
        )
