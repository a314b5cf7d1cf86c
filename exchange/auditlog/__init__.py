"""The authorized-use log: every read of licence or shared data, recorded in
a tamper-evident, append-only Merkle log (RFC 9162, C2SP tlog-tiles)."""

from exchange.auditlog.checkpoints import (
    PublishedCheckpoint,
    get_or_create_signer,
    latest_checkpoint,
    log_origin,
    publish_checkpoint,
    publish_round,
    run_checkpointer,
    verifier_key,
)
from exchange.auditlog.errors import (
    AuditLogError,
    InvalidQuery,
    InvalidRecord,
    LogCorrupted,
    LogUnavailable,
    NotInLog,
)
from exchange.auditlog.health import LogHealth, PublicationMonitor, ensure_log_healthy, log_health
from exchange.auditlog.integration import DbTileReader, integrate_pending
from exchange.auditlog.models import LogEntry
from exchange.auditlog.proofs import consistency, inclusion, records_for_subject
from exchange.auditlog.records import append_use, record_use, record_uses

__all__ = [
    "AuditLogError",
    "DbTileReader",
    "InvalidQuery",
    "InvalidRecord",
    "LogCorrupted",
    "LogEntry",
    "LogHealth",
    "LogUnavailable",
    "NotInLog",
    "PublicationMonitor",
    "PublishedCheckpoint",
    "append_use",
    "consistency",
    "ensure_log_healthy",
    "get_or_create_signer",
    "inclusion",
    "integrate_pending",
    "latest_checkpoint",
    "log_health",
    "log_origin",
    "publish_checkpoint",
    "publish_round",
    "record_use",
    "record_uses",
    "records_for_subject",
    "run_checkpointer",
    "verifier_key",
]
