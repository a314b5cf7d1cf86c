"""A circuit breaker per binding: stop calling a provider that keeps failing,
so a dead department system costs callers nothing but a quick refusal.

closed --(N consecutive failures)--> open --(cool-down)--> half-open
half-open lets ONE trial call through: success closes, failure re-opens.
Thread-safe: one breaker is shared by every request using the binding.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from enum import StrEnum

from adapters.errors import CircuitOpen


class CircuitState(StrEnum):
    closed = "closed"
    open = "open"
    half_open = "half_open"


class CircuitBreaker:
    def __init__(
        self,
        *,
        name: str,
        failure_threshold: int,
        cooldown_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if failure_threshold < 1 or cooldown_seconds <= 0:
            raise ValueError("failure_threshold must be >= 1 and cooldown_seconds > 0")
        self.name = name
        self._threshold = failure_threshold
        self._cooldown = cooldown_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._state = CircuitState.closed
        self._failures = 0
        self._opened_at = 0.0
        self._trial_in_flight = False

    @property
    def state(self) -> CircuitState:
        with self._lock:
            if self._state is CircuitState.open and self._cooled_down():
                return CircuitState.half_open
            return self._state

    def before_call(self) -> None:
        """Raise CircuitOpen unless a call may go through now."""
        with self._lock:
            if self._state is CircuitState.closed:
                return
            if self._state is CircuitState.open:
                if not self._cooled_down():
                    raise CircuitOpen("circuit open after repeated failures; try again later", binding=self.name)
                self._state = CircuitState.half_open
            # half-open: exactly one trial at a time.
            if self._trial_in_flight:
                raise CircuitOpen("circuit half-open; a trial call is in progress", binding=self.name)
            self._trial_in_flight = True

    def record_success(self) -> None:
        with self._lock:
            self._state = CircuitState.closed
            self._failures = 0
            self._trial_in_flight = False

    def record_failure(self) -> None:
        with self._lock:
            self._failures += 1
            self._trial_in_flight = False
            if self._state is CircuitState.half_open or self._failures >= self._threshold:
                self._state = CircuitState.open
                self._opened_at = self._clock()

    def record_neutral(self) -> None:
        """The call ended in a way that says nothing about the provider's
        health (e.g. a subject-specific error): free the trial slot only."""
        with self._lock:
            if self._state is CircuitState.half_open:
                # The provider answered, which is what the trial wanted to learn.
                self._state = CircuitState.closed
                self._failures = 0
            self._trial_in_flight = False

    def _cooled_down(self) -> bool:
        return self._clock() - self._opened_at >= self._cooldown
