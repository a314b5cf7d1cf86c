"""The fail-closed rule and the log's health signal.

Like X-Road's time-stamping rule: if checkpoints cannot be signed or
published for longer than the configured period (``max_lag``), certhub stops
serving data rather than serve data whose use it cannot prove it logged, and
it says why — in the refusal (``LogUnavailable``, HTTP 503) and on
``GET /log/health``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from exchange.auditlog.checkpoints import latest_checkpoint
from exchange.auditlog.errors import LogUnavailable
from exchange.auditlog.models import LogEntry
from exchange.auditlog.publication import PublicationFailure, PublicationMonitor
from exchange.auditlog.timestamps import TimestampState, timestamp_state

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
    # With a TSA configured: the tolerance, and since when checkpoints have gone without a time-stamp.
    timestamp_tolerance: timedelta | None = None
    timestamps: TimestampState | None = None
    timestamp_failure: PublicationFailure | None = None

    def to_json(self) -> dict:
        return {
            "status": "ok" if self.serving else "unavailable",
            "serving": self.serving,
            "reason": self.reason,
            "checkpoint_size": self.checkpoint_size,
            "checkpoint_age_seconds": self.checkpoint_age_seconds,
            "max_lag_seconds": self.max_lag_seconds,
            "pending_entries": self.pending_entries,
            "pending_entries_capped": self.pending_entries is not None and self.pending_entries >= PENDING_COUNT_CAP,
            "publication_failure": _failure_json(self.failure),
            "timestamps": self._timestamps_json(),
        }

    def _timestamps_json(self) -> dict | None:
        if self.timestamp_tolerance is None:
            return None
        state = self.timestamps or TimestampState(untimestamped_since=None, last_gen_time=None)
        return {
            "tolerance_seconds": int(self.timestamp_tolerance.total_seconds()),
            "untimestamped_since": state.untimestamped_since.isoformat() if state.untimestamped_since else None,
            "last_gen_time": state.last_gen_time.isoformat() if state.last_gen_time else None,
            "failure": _failure_json(self.timestamp_failure),
        }

    def servable_until(self, now: datetime) -> datetime | None:
        """Until when the verdict "serving" stands whatever happens meanwhile (None: not serving)."""
        if not self.serving or self.checkpoint_published_at is None:
            return None
        until = self.checkpoint_published_at + timedelta(seconds=self.max_lag_seconds)
        if self.timestamp_tolerance is not None:
            # A checkpoint published from now on is at least as young as `now`.
            since = self.timestamps.untimestamped_since if self.timestamps else None
            until = min(until, (since or now) + self.timestamp_tolerance)
        return until


def _failure_json(failure: PublicationFailure | None) -> dict | None:
    if failure is None:
        return None
    return {"code": failure.code, "since": failure.since.isoformat(), "attempts": failure.attempts}


def log_health(
    *,
    session: Session,
    now: datetime,
    max_lag: timedelta,
    monitor: PublicationMonitor | None = None,
    count_pending: bool = False,
    timestamp_tolerance: timedelta | None = None,
) -> LogHealth:
    """The log's state as the fail-closed rule sees it; no personal data.

    With ``timestamp_tolerance`` (a TSA is configured), also not serving once
    a checkpoint has gone without an outside time-stamp for longer than that
    (``exchange.auditlog.timestamps``)."""
    health = _checkpoint_health(session=session, now=now, max_lag=max_lag, monitor=monitor,
                                count_pending=count_pending)
    if timestamp_tolerance is None:
        return health
    return _with_timestamps(health, session=session, now=now, tolerance=timestamp_tolerance,
                            failure=monitor.timestamp_failure if monitor is not None else None)


def _checkpoint_health(*, session: Session, now: datetime, max_lag: timedelta, monitor: PublicationMonitor | None,
                       count_pending: bool) -> LogHealth:
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


def _with_timestamps(health: LogHealth, *, session: Session, now: datetime, tolerance: timedelta,
                     failure: PublicationFailure | None) -> LogHealth:
    """The X-Road rule: serving only while no checkpoint went untimestamped past the tolerance."""
    state = timestamp_state(session=session)
    health = replace(health, timestamp_tolerance=tolerance, timestamps=state, timestamp_failure=failure)
    since = state.untimestamped_since
    if not health.serving or since is None or now - since <= tolerance:
        return health  # (already refused: the checkpoint's own reason stands)
    reason = (
        f"the authorized-use log's checkpoints have had no outside time-stamp since "
        f"{since.isoformat(timespec='seconds')} ({int((now - since).total_seconds())} s; tolerance "
        f"{int(tolerance.total_seconds())} s); data is not served until time-stamps resume"
    )
    if failure is not None:
        reason += (f"; time-stamping has failed {failure.attempts} time(s) since "
                   f"{failure.since.isoformat(timespec='seconds')} ({failure.code})")
    return replace(health, serving=False, reason=reason)


def ensure_log_healthy(
    *, session: Session, now: datetime, max_lag: timedelta, monitor: PublicationMonitor | None = None,
    timestamp_tolerance: timedelta | None = None,
) -> LogHealth:
    """Raise LogUnavailable, saying why, unless a checkpoint was published
    within ``max_lag`` (and, with a TSA, time-stamped within the tolerance);
    the healthy verdict otherwise."""
    health = log_health(session=session, now=now, max_lag=max_lag, monitor=monitor,
                        timestamp_tolerance=timestamp_tolerance)
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
