"""The circuit breaker's state machine, on a controlled clock, and its
behaviour under concurrent callers."""

from __future__ import annotations

import threading

import pytest

from adapters.errors import CircuitOpen
from adapters.sources.breaker import CircuitBreaker, CircuitState


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_opens_after_n_failures_half_opens_after_cooldown_and_closes_on_success():
    clock = Clock()
    breaker = CircuitBreaker(name="b", failure_threshold=3, cooldown_seconds=30, clock=clock)
    for _ in range(2):
        breaker.before_call()
        breaker.record_failure()
    assert breaker.state is CircuitState.closed
    breaker.before_call()
    breaker.record_failure()
    assert breaker.state is CircuitState.open
    with pytest.raises(CircuitOpen):
        breaker.before_call()
    clock.now += 30
    assert breaker.state is CircuitState.half_open
    breaker.before_call()
    with pytest.raises(CircuitOpen, match="trial"):
        breaker.before_call()  # one trial at a time
    breaker.record_success()
    assert breaker.state is CircuitState.closed


def test_a_success_resets_the_consecutive_count():
    breaker = CircuitBreaker(name="b", failure_threshold=2, cooldown_seconds=1, clock=Clock())
    breaker.record_failure()
    breaker.record_success()
    breaker.record_failure()
    assert breaker.state is CircuitState.closed


def test_concurrent_callers_get_exactly_one_half_open_trial():
    clock = Clock()
    breaker = CircuitBreaker(name="b", failure_threshold=1, cooldown_seconds=5, clock=clock)
    breaker.record_failure()
    clock.now += 5
    admitted, refused = [], []
    barrier = threading.Barrier(16)

    def call():
        barrier.wait()
        try:
            breaker.before_call()
            admitted.append(1)
        except CircuitOpen:
            refused.append(1)

    threads = [threading.Thread(target=call) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert (len(admitted), len(refused)) == (1, 15)


def test_concurrent_failures_are_all_counted():
    breaker = CircuitBreaker(name="b", failure_threshold=400, cooldown_seconds=5, clock=Clock())
    threads = [threading.Thread(target=lambda: [breaker.record_failure() for _ in range(50)]) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert breaker.state is CircuitState.open
