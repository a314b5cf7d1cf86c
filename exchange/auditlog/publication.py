"""What this process's checkpointer saw: the reason it cannot publish.

The checkpointer (``checkpoints``) reports each round here and the
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

    def succeeded(self) -> None:
        with self._lock:
            self._failure = None

    def failed(self, *, code: str, at: datetime) -> None:
        with self._lock:
            previous = self._failure
            if previous is None:
                self._failure = PublicationFailure(code=code, since=at, attempts=1)
            else:
                self._failure = PublicationFailure(code=code, since=previous.since, attempts=previous.attempts + 1)

    @property
    def failure(self) -> PublicationFailure | None:
        with self._lock:
            return self._failure
