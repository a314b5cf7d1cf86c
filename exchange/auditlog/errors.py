"""The authorized-use log's exception family. No HTTP statuses here: the app
maps these in certhub/errors.py."""

from __future__ import annotations


class AuditLogError(Exception):
    code = "audit_log_error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        if code is not None:
            self.code = code


class InvalidQuery(AuditLogError):
    code = "invalid_query"


class NotInLog(AuditLogError):
    """The index or size asked for is not (yet) covered by a checkpoint."""

    code = "not_in_log"


class LogUnavailable(AuditLogError):
    """Checkpoints could not be signed or published for too long: certhub
    stops serving data rather than serve it unlogged (fail closed)."""

    code = "log_unavailable"


class LogCorrupted(AuditLogError):
    """Stored tiles or state contradict each other; an operator must look."""

    code = "log_corrupted"
