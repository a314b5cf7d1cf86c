"""The fail-closed rule and the log's health signal.

Like X-Road's time-stamping rule: if checkpoints cannot be signed or
published for longer than the configured period (``max_lag``), certhub stops
serving data rather than serve data whose use it cannot prove it logged, and
it says why — in the refusal (``LogUnavailable``, HTTP 503) and on
``GET /log/health``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from exchange.auditlog.checkpoints import latest_checkpoint
from exchange.auditlog.errors import LogUnavailable
from exchange.auditlog.models import LogEntry
from exchange.auditlog.publication import PublicationFailure, PublicationMonitor

# The monitor lives in its own module (the checkpointer reports into it without importing this one);
# re-exported here because callers read it together with the health verdict.
__all__ = [
    "PENDING_COUNT_CAP",
    "LogHealth",
    "PublicationFailure",
    "PublicationMonitor",
    "ensure_log_healthy",
    "log_health",
    "pending_entries",
]

# Counting pending rows is bounded: past this the signal says "at least".
PENDING_COUNT_CAP = 100_000


@dataclass(frozen=True)
class LogHealth:
    serving: bool
    reason: str | None
    checkpoint_size: int | None
    checkpoint_age_seconds: int | None
    max_lag_seconds: int
    pending_entries: int | None = None
    failure: PublicationFailure | None = None
    checkpoint_published_at: datetime | None = None

    def to_json(self) -> dict:
        failure = None
        if self.failure is not None:
            failure = {
                "code": self.failure.code,
                "since": self.failure.since.isoformat(),
                "attempts": self.failure.attempts,
            }
        return {
            "status": "ok" if self.serving else "unavailable",
            "serving": self.serving,
            "reason": self.reason,
            "checkpoint_size": self.checkpoint_size,
            "checkpoint_age_seconds": self.checkpoint_age_seconds,
            "max_lag_seconds": self.max_lag_seconds,
            "pending_entries": self.pending_entries,
            "pending_entries_capped": self.pending_entries is not None and self.pending_entries >= PENDING_COUNT_CAP,
            "publication_failure": failure,
        }


def log_health(
    *,
    session: Session,
    now: datetime,
    max_lag: timedelta,
    monitor: PublicationMonitor | None = None,
    count_pending: bool = False,
) -> LogHealth:
    """The log's state as the fail-closed rule sees it; no personal data."""
    latest = latest_checkpoint(session=session)
    failure = monitor.failure if monitor is not None else None
    limit = int(max_lag.total_seconds())
    pending = pending_entries(session=session) if count_pending else None
    if latest is None:
        reason = "the authorized-use log has no checkpoint yet; data is not served"
        return LogHealth(False, _with_failure(reason, failure), None, None, limit, pending, failure)
    age = now - latest.published_at
    age_s = int(age.total_seconds())
    if age > max_lag:
        reason = (
            f"the authorized-use log's last checkpoint is {age_s} s old (limit {limit} s); "
            "data is not served until checkpoints resume"
        )
        return LogHealth(False, _with_failure(reason, failure), latest.size, age_s, limit, pending, failure,
                         latest.published_at)
    return LogHealth(True, None, latest.size, age_s, limit, pending, failure, latest.published_at)


def ensure_log_healthy(
    *, session: Session, now: datetime, max_lag: timedelta, monitor: PublicationMonitor | None = None
) -> LogHealth:
    """Raise LogUnavailable, saying why, unless a checkpoint was published
    within ``max_lag``; the healthy verdict otherwise."""
    health = log_health(session=session, now=now, max_lag=max_lag, monitor=monitor)
    if not health.serving:
        raise LogUnavailable(health.reason or "the authorized-use log is unavailable")
    return health


def pending_entries(*, session: Session) -> int:
    """Records not yet sequenced into the tree (counted up to the cap)."""
    pending = select(LogEntry.id).where(LogEntry.leaf_index.is_(None)).limit(PENDING_COUNT_CAP).subquery()
    return int(session.scalar(select(func.count()).select_from(pending)) or 0)


def _with_failure(reason: str, failure: PublicationFailure | None) -> str:
    if failure is None:
        return reason
    return (
        f"{reason}; publishing a checkpoint has failed {failure.attempts} time(s) since "
        f"{failure.since.isoformat(timespec='seconds')} ({failure.code})"
    )
