"""The authorized-use log's plain settings, as one typed value found by its
type (``wiring.service(LogConfig)``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta


@dataclass(frozen=True)
class LogConfig:
    # The checkpoint origin line (C2SP signed-note; exchange.auditlog.log_origin).
    origin: str
    # Data is not served while the newest checkpoint is older than this (fail closed).
    max_lag: timedelta
    # How often the checkpointer signs a new checkpoint.
    checkpoint_interval_s: float
    # With a TSA (CERTHUB_AUDITLOG_TSA_URL): how long checkpoints may go without an outside time-stamp.
    timestamp_tolerance: timedelta | None = None
