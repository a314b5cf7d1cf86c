"""The authorized-use log as the app's ``catalog.access.UseLog``.

Every data-serving use case records through this object, so the fail-closed
rule lives in one place: a granted use is refused while no checkpoint has
been published within ``max_lag``; a denied attempt is still recorded.
``health`` gives the same verdict with its figures for ``GET /log/health``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from catalog.access import UseLog, UseRecord
from exchange.auditlog.health import LogHealth, PublicationMonitor, ensure_log_healthy, log_health
from exchange.auditlog.records import insert_pending
from exchange.auditlog.search import has_used


class UseRecorder(UseLog):
    def __init__(
        self,
        *,
        max_lag: timedelta,
        monitor: PublicationMonitor | None = None,
        clock: Callable[[], datetime] | None = None,
        request_id: Callable[[], str | None] | None = None,
        observe: Callable[[Sequence[UseRecord]], None] | None = None,
        timestamp_tolerance: timedelta | None = None,
    ) -> None:
        """``request_id``: the id of the HTTP request being served, written
        beside its records (not in the signed entry: it correlates the record
        with the server's log lines, it is no part of what was used).
        ``observe``: told of every appended batch (the app's metrics).
        ``timestamp_tolerance``: with a TSA configured, how long checkpoints
        may go without an outside time-stamp (``exchange.auditlog.timestamps``)."""
        self.max_lag = max_lag
        self.timestamp_tolerance = timestamp_tolerance
        self.monitor = monitor
        self._clock = clock or (lambda: datetime.now(UTC))
        self._fresh_until: datetime | None = None
        self._request_id = request_id or (lambda: None)
        self._observe = observe

    def check_serving(self, *, session: Session) -> None:
        now = self._clock()
        # A checkpoint seen at time T keeps the log servable until T + max_lag
        # whatever happens meanwhile (later checkpoints only move that on),
        # so until then the check needs no query; likewise the time-stamp tolerance.
        if self._fresh_until is not None and now <= self._fresh_until:
            return
        health = ensure_log_healthy(session=session, now=now, max_lag=self.max_lag, monitor=self.monitor,
                                    timestamp_tolerance=self.timestamp_tolerance)
        self._fresh_until = health.servable_until(now)

    def health(self, *, session: Session) -> LogHealth:
        """The same verdict as ``check_serving``, with the figures behind it."""
        return log_health(
            session=session, now=self._clock(), max_lag=self.max_lag, monitor=self.monitor, count_pending=True,
            timestamp_tolerance=self.timestamp_tolerance,
        )

    def has_used(self, *, session: Session, department_code: str, subject_code: str,
                 licence_ids: Sequence[str]) -> bool:
        """Whether the log holds a granted use by the department of one of the licences."""
        return has_used(session=session, department_code=department_code, subject_code=subject_code,
                        licence_ids=licence_ids)

    def append(self, *, session: Session, records: Sequence[UseRecord]) -> int:
        """The records of one request (one or many), written together by
        ``insert_pending`` at this recorder's time: all of them or none; the
        count. Refused (LogUnavailable, nothing written) when any is a
        granted use and the log is not healthy; denied attempts are always
        written."""
        if any(record.result == "granted" for record in records):
            self.check_serving(session=session)
        count = insert_pending(session=session, records=records, now=self._clock(), request_id=self._request_id())
        if self._observe is not None:
            self._observe(records)
        return count
