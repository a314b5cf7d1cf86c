"""What this process's checkpointer saw: the reason it cannot publish.

The checkpointer (``checkpoints``, and ``timestamps`` for its time-stamps) reports each round here and the
fail-closed rule (``health``) quotes it; kept apart from both so that
neither has to import the other's module to share it.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class PublicationFailure:
    code: str
    since: datetime
    attempts: int


class PublicationMonitor:
    """What this process's checkpointer saw: the reason it cannot publish.

    Shared between the checkpointer thread and request handlers; holds only
    error codes, never record content.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._failure: PublicationFailure | None = None
        self._timestamp_failure: PublicationFailure | None = None

    def succeeded(self) -> None:
        with self._lock:
            self._failure = None

    def failed(self, *, code: str, at: datetime) -> None:
        with self._lock:
            self._failure = _next_failure(self._failure, code=code, at=at)

    @property
    def failure(self) -> PublicationFailure | None:
        with self._lock:
            return self._failure

    # Time-stamping (exchange.auditlog.timestamps) fails on its own: the TSA
    # may be down while checkpoints are published fine.
    def timestamp_succeeded(self) -> None:
        with self._lock:
            self._timestamp_failure = None

    def timestamp_failed(self, *, code: str, at: datetime) -> None:
        with self._lock:
            self._timestamp_failure = _next_failure(self._timestamp_failure, code=code, at=at)

    @property
    def timestamp_failure(self) -> PublicationFailure | None:
        with self._lock:
            return self._timestamp_failure


def _next_failure(previous: PublicationFailure | None, *, code: str, at: datetime) -> PublicationFailure:
    if previous is None:
        return PublicationFailure(code=code, since=at, attempts=1)
    return PublicationFailure(code=code, since=previous.since, attempts=previous.attempts + 1)
