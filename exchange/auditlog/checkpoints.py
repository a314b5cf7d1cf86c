"""Signed checkpoints of the log, its signing key, and the checkpointer.

# SPEC: C2SP tlog-checkpoint, C2SP signed-note (Ed25519).
The key is created once, on first publication, and kept in
``auditlog_signing_keys`` with its seed AES-GCM encrypted under the
deployment secret (``signing.keys.encrypt_private_key``), or, when the
deployment keeps its keys in a PKCS#11 token, generated in the token
(``signing.hsm``): the row then holds only the token object's CKA_ID.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from exchange.auditlog import subjects
from exchange.auditlog.errors import AuditLogError
from exchange.auditlog.integration import DEFAULT_BATCH, integrate_pending, lock_state
from exchange.auditlog.models import LogCheckpoint, LogEntry, LogSigningKey
from exchange.auditlog.publication import PublicationMonitor
from exchange.auditlog.timestamps import TsaPost, timestamp_round
from exchange.auditlog.witnessing import LogWitnesses, witness_round
from signing.algorithms import Algorithm, PrivateKey
from signing.eddsa import Ed25519PrivateKey
from signing.errors import SigningError
from signing.hsm import Pkcs11Token, TokenPrivateKey, object_id_text, parse_object_id, token_of
from signing.keys import decrypt_private_key, encrypt_private_key
from signing.transparency import Checkpoint, NoteSigner, TransparencyLogError
from storage.partitions import extend_range_partitions
from storage.units import bounded

log = logging.getLogger("certhub.auditlog")

ORIGIN_SUFFIX = "/authorized-use-log"
# Bounds how long one publication holds the append lock.
MAX_BATCHES_PER_PUBLICATION = 64
# PostgreSQL's codes for a statement that waited past lock_timeout or ran
# past statement_timeout (SPEC: PostgreSQL Appendix A, 55P03, 57014).
_BLOCKED_SQLSTATES = frozenset({"55P03", "57014"})
# The log's range partitions (PostgreSQL, migration 0027) kept this many
# partitions past its size; one publication sequences at most
# MAX_BATCHES_PER_PUBLICATION * DEFAULT_BATCH entries, far less than one.
LOG_PARTITIONS_AHEAD = 2
# A new partition waits at most this long for the DEFAULT partition's
# exclusive lock: queued longer, it would hold up every append behind it.
PARTITION_LOCK_TIMEOUT_S = 1.0


@dataclass(frozen=True)
class RoundBounds:
    """How long one checkpointer round may wait for a lock, and run one
    statement. Unbounded, a round stuck behind a lock (a transaction left
    open on the log's state row, a long ALTER) never failed: the monitor
    stayed empty and the 503 that followed gave no cause."""

    lock_timeout_s: float = 10.0
    statement_timeout_s: float = 60.0


DEFAULT_ROUND_BOUNDS = RoundBounds()


def log_origin(registry_id: str) -> str:
    """``<registry host>/authorized-use-log``: the checkpoint origin and key name."""
    host = urlsplit(registry_id).netloc or registry_id
    return host.rstrip("/") + ORIGIN_SUFFIX


@dataclass(frozen=True)
class PublishedCheckpoint:
    size: int
    root_hash: bytes
    note: bytes
    published_at: datetime


def get_or_create_signer(*, session: Session, key_secret: bytes, origin: str) -> NoteSigner:
    """The log's note signer; created on first use.

    Called under the append lock (from ``publish_checkpoint``), so two
    processes never create two keys for one origin.
    """
    row = session.scalar(_active_key(origin))
    token = token_of(key_secret)
    if row is None:
        key = token.generate(Algorithm.EDDSA, purpose="checkpoint") if token is not None else Ed25519PrivateKey.generate()
        signer = NoteSigner.from_private_key(name=origin, key=key)
        session.add(LogSigningKey(
            name=origin,
            kid=key.kid,
            verifier_key=signer.verifier.to_key_string(),
            encrypted_seed=None if isinstance(key, TokenPrivateKey) else encrypt_private_key(key, secret=key_secret),
            token_object=object_id_text(key.object_id) if isinstance(key, TokenPrivateKey) else None,
        ))
        session.flush()
        return signer
    return NoteSigner.from_private_key(name=origin, key=_stored_key(row, token=token, key_secret=key_secret))


def _stored_key(row: LogSigningKey, *, token: Pkcs11Token | None, key_secret: bytes) -> PrivateKey:
    if row.token_object is not None:
        if token is None:
            raise AuditLogError("the log's checkpoint key lives in a PKCS#11 token: configure CERTHUB_KEY_TOKEN_* to sign")
        key = token.key(parse_object_id(row.token_object), algorithm=Algorithm.EDDSA)
        if key.kid != row.kid:
            raise AuditLogError("the token's key under the log's reference is not the log's key")
        return key
    if row.encrypted_seed is None:
        raise AuditLogError("the log's checkpoint key row has neither a seed nor a token reference")
    return decrypt_private_key(row.encrypted_seed, algorithm=Algorithm.EDDSA, kid=row.kid, secret=key_secret)


def _active_key(origin: str):
    return select(LogSigningKey).where(LogSigningKey.name == origin, LogSigningKey.retired_at.is_(None))


def verifier_key(*, session: Session, origin: str) -> str | None:
    """The verifier key string auditors are given, once a key exists."""
    return session.scalar(
        select(LogSigningKey.verifier_key).where(LogSigningKey.name == origin, LogSigningKey.retired_at.is_(None))
    )


def verifier_keys(*, session: Session, origin: str) -> list[str]:
    """The published key history: every verifier key string the log ever
    signed with, oldest first (the last is the active one)."""
    query = select(LogSigningKey.verifier_key).where(LogSigningKey.name == origin).order_by(LogSigningKey.id)
    return list(session.scalars(query))


def rotate_checkpoint_key(
    *, session: Session, key_secret: bytes, origin: str, now: datetime | None = None
) -> PublishedCheckpoint:
    """Retire the log's checkpoint key and sign a checkpoint with a new one; the caller commits.

    Takes the append lock first, as key creation does, so no checkpointer
    round signs in between. Checkpoints signed before stay verifiable with
    the retired key, which `verifier_keys` keeps publishing.
    """
    moment = now or datetime.now(UTC)
    lock_state(session=session)
    for row in session.scalars(_active_key(origin)).all():
        row.retired_at = moment
    session.flush()
    return publish_checkpoint(session=session, key_secret=key_secret, origin=origin, now=moment)


def publish_checkpoint(
    *, session: Session, key_secret: bytes, origin: str, now: datetime | None = None, max_batch: int = DEFAULT_BATCH
) -> PublishedCheckpoint:
    """Integrate pending entries and sign a fresh checkpoint; the caller commits.

    A checkpoint is published even when the size did not change: its time
    is what the fail-closed rule measures. Its extension line commits to the
    per-subject map of the tree it signs (``subjects``), brought up to that
    size here, under the same lock.
    """
    result = integrate_pending(session=session, max_batch=max_batch)
    for _ in range(MAX_BATCHES_PER_PUBLICATION - 1):
        if result.new_size - result.old_size < max_batch:
            break
        result = integrate_pending(session=session, max_batch=max_batch)
    subject_map = subjects.advance(session=session, key=subjects.tag_key(key_secret), new_size=result.new_size)
    map_root = subject_map.root()
    map_line = subjects.extension_line(leaves=subject_map.size, root=map_root)
    try:
        signer = get_or_create_signer(session=session, key_secret=key_secret, origin=origin)
        note = Checkpoint(origin=origin, size=result.new_size, root_hash=result.root_hash,
                          extensions=(map_line,)).sign(signers=[signer])
    except (SigningError, TransparencyLogError) as error:
        raise AuditLogError(f"cannot sign the checkpoint: {error}", code="checkpoint_signing_failed") from error
    published_at = now or datetime.now(UTC)
    session.add(LogCheckpoint(size=result.new_size, root_hash=result.root_hash, note=note, published_at=published_at,
                              subject_map_root=map_root))
    session.flush()
    return PublishedCheckpoint(size=result.new_size, root_hash=result.root_hash, note=note, published_at=published_at)


def latest_checkpoint(*, session: Session) -> LogCheckpoint | None:
    return session.scalar(select(LogCheckpoint).order_by(LogCheckpoint.id.desc()).limit(1))


def _blocked(error: Exception) -> bool:
    """A lock waited for too long or a statement cut off, on either backend."""
    if not isinstance(error, DBAPIError):
        return False
    if getattr(error.orig, "sqlstate", None) in _BLOCKED_SQLSTATES:
        return True
    return error.orig is not None and "database is locked" in str(error.orig)


def publish_round(
    sessionmaker: sessionmaker[Session],
    key_secret: bytes,
    *,
    origin: str,
    monitor: PublicationMonitor | None = None,
    bounds: RoundBounds = DEFAULT_ROUND_BOUNDS,
    timestamps: TsaPost | None = None,
    witnesses: LogWitnesses | None = None,
) -> bool:
    """One checkpointer round in its own bounded transaction; True if it published.

    Failures are logged by error code only (no record content) and reported
    to ``monitor``, whose reason the fail-closed refusals then quote. A round
    that waited past ``bounds`` for a lock fails as ``checkpoint_blocked``.
    With ``timestamps`` (a TSA), the newest checkpoint is then time-stamped,
    after the commit (``timestamps.timestamp_round``): a TSA that is down
    never stops a checkpoint, and one that comes back stamps the newest.
    """
    try:
        with bounded(sessionmaker, lock_timeout_s=bounds.lock_timeout_s,
                     statement_timeout_s=bounds.statement_timeout_s) as session:
            try:
                published = publish_checkpoint(session=session, key_secret=key_secret, origin=origin)
                session.commit()
            except BaseException:
                session.rollback()
                raise
    except Exception as error:  # noqa: BLE001 - the loop must survive to retry
        code = "checkpoint_blocked" if _blocked(error) else getattr(error, "code", None) or type(error).__name__
        log.error("checkpoint publication failed: %s", code)
        if monitor is not None:
            monitor.failed(code=str(code)[:64], at=datetime.now(UTC))
        return False
    log.debug("checkpoint published: size %d", published.size)
    if monitor is not None:
        monitor.succeeded()
    make_room(sessionmaker, size=published.size, bounds=bounds)
    if timestamps is not None:
        timestamp_round(sessionmaker, post=timestamps, monitor=monitor)
    if witnesses is not None:
        _ask_witnesses(sessionmaker, witnesses)
    return True


def make_room(sessionmaker: sessionmaker[Session], *, size: int, bounds: RoundBounds = DEFAULT_ROUND_BOUNDS) -> list[str]:
    """Keep the log's partitions ahead of its ``size``, in a transaction of
    its own after the publication; the partitions created. Its failure is
    logged and retried next round: until then the DEFAULT partition takes
    the rows, so no append waits for it."""
    with sessionmaker() as probe:  # opening a session touches no connection
        if probe.get_bind().dialect.name != "postgresql":
            return []  # SQLite's tables are not partitioned
    try:
        with bounded(sessionmaker, lock_timeout_s=PARTITION_LOCK_TIMEOUT_S,
                     statement_timeout_s=bounds.statement_timeout_s) as session:
            created = extend_range_partitions(session.connection(), table=LogEntry.__tablename__, covering=size,
                                              ahead=LOG_PARTITIONS_AHEAD)
            session.commit()
    except Exception as error:  # noqa: BLE001 - the checkpointer loop must go on
        log.error("creating the log's next partition failed: %s",
                  "partition_blocked" if _blocked(error) else type(error).__name__)
        return []
    for name in created:
        log.info("log partition created: %s", name)
    return created


def _ask_witnesses(sessionmaker: sessionmaker[Session], witnesses: LogWitnesses) -> None:
    """After the checkpoint is committed: a witness's trouble never undoes a publication."""
    try:
        witness_round(sessionmaker, witnesses)
    except Exception as error:  # noqa: BLE001 - the checkpointer loop must go on
        log.error("asking the witnesses failed: %s", getattr(error, "code", None) or type(error).__name__)


def run_checkpointer(
    sessionmaker: sessionmaker[Session],
    key_secret: bytes,
    interval_s: float,
    stop_event: threading.Event,
    *,
    origin: str,
    monitor: PublicationMonitor | None = None,
    timestamps: TsaPost | None = None,
    witnesses: LogWitnesses | None = None,
) -> None:
    """Publish (and, with a TSA, time-stamp) a checkpoint every ``interval_s`` seconds until ``stop_event`` is set.

    Meant for a daemon thread started by the app. A failed round is retried
    next round; if failures persist past the fail-closed period,
    ``health.ensure_log_healthy`` turns them into refusals.
    """
    while not stop_event.is_set():
        # One checkpoint per interval, time-stamped and put to the witnesses after its commit.
        publish_round(sessionmaker, key_secret, origin=origin, monitor=monitor, timestamps=timestamps,
                      witnesses=witnesses)
        stop_event.wait(interval_s)
