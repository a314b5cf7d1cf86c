"""Outside time for the log: an RFC 3161 time-stamp of each published checkpoint.

After each checkpointer round publishes, the newest checkpoint is sent to
the deployment's time-stamping authority (CERTHUB_AUDITLOG_TSA_URL) and the
answer is kept beside it (``auditlog_checkpoint_timestamps``). The request
is made with no transaction open: a slow TSA never holds the append lock or
a database connection. What is time-stamped, and how anyone checks it:
``signing.transparency.timestamps``.

Fail closed, after X-Road's time-stamping tolerance: while the TSA is down,
checkpoints go on being published (they are signed; the log keeps proving
itself) and the next round that reaches the TSA time-stamps the newest
checkpoint, whose consistency with every earlier one anyone can prove, so
one token covers the records of the gap. A checkpoint of a size already
time-stamped is the same tree and is not sent again: the TSA is asked only
when the log grew. Once the oldest checkpoint with
no time-stamp after it is older than the tolerance period, granted uses are
refused and /log/health is red (``health.log_health``) until a time-stamp
is stored again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from exchange.auditlog.models import LogCheckpoint, LogCheckpointTimestamp
from exchange.auditlog.publication import PublicationMonitor
from signing.errors import SigningError
from signing.transparency import TransparencyLogError
from signing.transparency.timestamps import TimestampedCheckpoint, check_timestamp_reply, timestamp_request

log = logging.getLogger("certhub.auditlog")

# Bytes of a DER TimeStampReq in, bytes of a TimeStampResp out (registry.service.pdfsigning.TsaClient.post).
TsaPost = Callable[[bytes], bytes]


@dataclass(frozen=True)
class TimestampState:
    """What the fail-closed rule needs: since when checkpoints have gone without an outside time-stamp."""

    # The oldest checkpoint that grew the tree past the newest time-stamped one (None: all are covered).
    untimestamped_since: datetime | None
    # The newest stored token's genTime.
    last_gen_time: datetime | None


@dataclass(frozen=True)
class PendingCheckpoint:
    id: int
    note: bytes


def newest_untimestamped(*, session: Session) -> PendingCheckpoint | None:
    """The newest checkpoint when no time-stamp covers it yet: one of the same size
    (the same tree: the log only grows) or a later one does (see the module doc)."""
    newest = session.execute(
        select(LogCheckpoint.id, LogCheckpoint.size, LogCheckpoint.note).order_by(LogCheckpoint.id.desc()).limit(1)
    ).first()
    if newest is None:
        return None
    stamped = _newest_stamped(session=session)
    if stamped is not None and stamped.size >= newest.size:
        return None
    return PendingCheckpoint(id=newest.id, note=bytes(newest.note))


def _newest_stamped(*, session: Session):
    return session.execute(
        select(LogCheckpointTimestamp.checkpoint_id, LogCheckpointTimestamp.gen_time, LogCheckpoint.size)
        .join(LogCheckpoint, LogCheckpoint.id == LogCheckpointTimestamp.checkpoint_id)
        .order_by(LogCheckpointTimestamp.checkpoint_id.desc()).limit(1)
    ).first()


def request_timestamp(checkpoint: PendingCheckpoint, *, post: TsaPost) -> LogCheckpointTimestamp:
    """The TSA's checked answer for `checkpoint`, as a row to store.

    Raises SigningError (``TimestampUnavailable``: the TSA is unreachable or
    answered an HTTP error) or TransparencyLogError (a refusal, or an answer
    to another question)."""
    request = timestamp_request(checkpoint.note)
    reply = post(request.as_bytes())
    gen_time = check_timestamp_reply(reply, request=request).tst_info.gen_time
    return LogCheckpointTimestamp(checkpoint_id=checkpoint.id, response=reply,
                                  gen_time=gen_time if gen_time.tzinfo else gen_time.replace(tzinfo=UTC))


def timestamp_round(sessions: sessionmaker[Session], *, post: TsaPost, monitor: PublicationMonitor | None = None) -> bool:
    """One attempt; True if the newest checkpoint is time-stamped afterwards.

    The TSA is asked between two short sessions, so no transaction (nor the
    append lock) is held while it answers. A failure is logged by its code
    and kept by ``monitor`` (refusals and /log/health quote it); the next
    round tries again.
    """
    try:
        with sessions() as session:
            pending = newest_untimestamped(session=session)
        if pending is not None:
            row = request_timestamp(pending, post=post)
            with sessions() as session:
                session.add(row)
                try:
                    session.commit()
                except IntegrityError:
                    session.rollback()  # another process time-stamped the same checkpoint first: covered
    except (SigningError, TransparencyLogError) as error:
        _failed(monitor, code=error.code, message=str(error))
        return False
    except Exception as error:  # noqa: BLE001 - the checkpointer loop must survive to retry
        _failed(monitor, code=type(error).__name__, message=type(error).__name__)
        return False
    if monitor is not None:
        monitor.timestamp_succeeded()
    return True


def _failed(monitor: PublicationMonitor | None, *, code: str, message: str) -> None:
    # The message names the TSA's answer or the transport's reason; it holds no record content.
    log.error("checkpoint time-stamp failed: %s (%s)", code, message[:200])
    if monitor is not None:
        monitor.timestamp_failed(code=code[:64], at=datetime.now(UTC))


def timestamp_state(*, session: Session) -> TimestampState:
    """Since when records have gone without a time-stamp: the oldest checkpoint
    that grew the tree past the newest time-stamped one (two indexed queries)."""
    newest = _newest_stamped(session=session)
    after = select(func.min(LogCheckpoint.published_at))
    if newest is not None:
        after = after.where(LogCheckpoint.id > newest.checkpoint_id, LogCheckpoint.size > newest.size)
    return TimestampState(untimestamped_since=session.scalar(after),
                          last_gen_time=newest.gen_time if newest is not None else None)


def newest_timestamped(*, session: Session) -> TimestampedCheckpoint | None:
    """The published resource: the newest time-stamped checkpoint's note and its TimeStampResp."""
    row = session.execute(
        select(LogCheckpoint.note, LogCheckpointTimestamp.response)
        .join(LogCheckpointTimestamp, LogCheckpointTimestamp.checkpoint_id == LogCheckpoint.id)
        .order_by(LogCheckpointTimestamp.checkpoint_id.desc()).limit(1)
    ).first()
    return TimestampedCheckpoint(note=bytes(row.note), response=bytes(row.response)) if row is not None else None
