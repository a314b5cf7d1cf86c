"""The authorized-use log: every read of licence or shared data, recorded in
a tamper-evident, append-only Merkle log (RFC 9162, C2SP tlog-tiles)."""

from exchange.auditlog.checkpoints import (
    PublishedCheckpoint,
    get_or_create_signer,
    latest_checkpoint,
    log_origin,
    publish_checkpoint,
    publish_round,
    rotate_checkpoint_key,
    run_checkpointer,
    verifier_key,
    verifier_keys,
)
from exchange.auditlog.errors import (
    AuditLogError,
    InvalidQuery,
    LogCorrupted,
    LogUnavailable,
    NotInLog,
)
from exchange.auditlog.health import LogHealth, PublicationMonitor, ensure_log_healthy, log_health
from exchange.auditlog.integration import DbTileReader, integrate_pending
from exchange.auditlog.models import LogEntry
from exchange.auditlog.proofs import consistency, inclusion, records_for_subject
from exchange.auditlog.recorder import UseRecorder
from exchange.auditlog.records import insert_pending

__all__ = [
    "AuditLogError",
    "DbTileReader",
    "InvalidQuery",
    "LogCorrupted",
    "LogEntry",
    "LogHealth",
    "LogUnavailable",
    "NotInLog",
    "PublicationMonitor",
    "PublishedCheckpoint",
    "UseRecorder",
    "consistency",
    "ensure_log_healthy",
    "get_or_create_signer",
    "inclusion",
    "insert_pending",
    "integrate_pending",
    "latest_checkpoint",
    "log_health",
    "log_origin",
    "publish_checkpoint",
    "publish_round",
    "records_for_subject",
    "rotate_checkpoint_key",
    "run_checkpointer",
    "verifier_key",
    "verifier_keys",
]
