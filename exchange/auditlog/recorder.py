"""The authorized-use log as the app's ``catalog.access.AccessRecorder``.

Every data-serving route records through this object, so the fail-closed
rule lives in one place: a granted use is refused while no checkpoint has
been published within ``max_lag``; a denied attempt is still recorded.
``health`` gives the same verdict with its figures for ``GET /log/health``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy.orm import Session

from exchange.auditlog.health import LogHealth, PublicationMonitor, ensure_log_healthy, log_health
from exchange.auditlog.records import append_use, append_uses
from exchange.auditlog.search import has_used


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
        self._fresh_until: datetime | None = None

    def check_serving(self, *, session: Session) -> None:
        now = self._clock()
        # A checkpoint seen at time T keeps the log servable until T + max_lag
        # whatever happens meanwhile (later checkpoints only move that on),
        # so until then the check needs no query.
        if self._fresh_until is not None and now <= self._fresh_until:
            return
        health = ensure_log_healthy(session=session, now=now, max_lag=self.max_lag, monitor=self.monitor)
        if health.checkpoint_published_at is not None:
            self._fresh_until = health.checkpoint_published_at + self.max_lag

    def health(self, *, session: Session) -> LogHealth:
        """The same verdict as ``check_serving``, with the figures behind it."""
        return log_health(
            session=session, now=self._clock(), max_lag=self.max_lag, monitor=self.monitor, count_pending=True
        )

    def has_used(self, *, session: Session, department_code: str, subject_code: str,
                 licence_ids: Sequence[str]) -> bool:
        """Whether the log holds a granted use by the department of one of the licences."""
        return has_used(session=session, department_code=department_code, subject_code=subject_code,
                        licence_ids=licence_ids)

    def record(self, *, session: Session, result: str = "granted", **fields: Any) -> int:
        """``append_use`` behind the fail-closed check (the new row's id);
        ``fields`` are its keyword arguments, as ``catalog.access.AccessRecorder.record`` lists them."""
        if result == "granted":
            self.check_serving(session=session)
        return append_use(session=session, result=result, now=self._clock(), **fields)

    def record_all(self, *, session: Session, uses: Sequence[Mapping[str, Any]]) -> int:
        """The use records of one request (``record``'s keyword arguments
        each, without the session), written together by ``append_uses``:
        all of them or none; the count. Refused like ``record`` when any is
        a granted use and the log is not healthy."""
        if any(use.get("result", "granted") == "granted" for use in uses):
            self.check_serving(session=session)
        now = self._clock()
        return append_uses(session=session, uses=[{"now": now, **use} for use in uses])
