"""Rate limits and daily quotas per department, counted in the app cache.

Counting is per department (every client of a department shares its
counters), in fixed windows aligned to the clock:
- a per-minute limit per bucket (e.g. "exchange"): the minute window;
- a daily quota over every bucket: the day, 00:00-24:00 China Standard Time.
Each window's counter lives under a key naming the window, created by the
cache's atomic increment with a TTL that outlasts the window, so Redis (every
app process) and the in-process cache (one process) behave the same. The
counters one request counts together carry the department as their hash tag
(``{<department>}``), so on a Redis Cluster they sit on one node and one
script counts them (``storage.cache.same_slot``).

A refused request answers 429 with {"error": "rate_limited"|"quota_exceeded"}
and `Retry-After` = seconds until the window ends (RFC 9110 §10.2.3).
"""

from __future__ import annotations

import asyncio
import logging
import math
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from identity.errors import IdentityError
from storage.cache import Cache, Counter

log = logging.getLogger("certhub.ratelimit")

MINUTE = 60
DAY = 86400
CHINA_STANDARD_TIME_OFFSET = 8 * 3600  # quota days start at 00:00 UTC+8
_BUCKET = re.compile(r"[a-z][a-z0-9_\-]{0,31}")


class RateLimited(IdentityError):
    """Too many requests in the current minute."""

    code = "rate_limited"

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class QuotaExceeded(RateLimited):
    """The department's daily quota is used up."""

    code = "quota_exceeded"


class RateLimitUnavailable(IdentityError):
    """The counters cannot be reached: refuse rather than serve unmetered."""

    code = "rate_limit_unavailable"


@dataclass(frozen=True)
class Limits:
    per_minute: int
    daily: int

    def __post_init__(self) -> None:
        if self.per_minute < 1 or self.daily < 1:
            raise ValueError("rate limits must be positive integers")

    @classmethod
    def from_override(cls, value: Mapping[str, int], *, default: Limits) -> Limits:
        unknown = set(value) - {"per_minute", "daily"}
        if unknown:
            raise ValueError(f"unknown rate limit setting(s): {', '.join(sorted(unknown))}")
        return cls(per_minute=int(value.get("per_minute", default.per_minute)),
                   daily=int(value.get("daily", default.daily)))


class RateLimiter:
    def __init__(
        self,
        cache: Cache,
        *,
        default: Limits,
        overrides: Mapping[str, Limits] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._cache = cache
        self._default = default
        self._overrides = dict(overrides or {})
        self._clock = clock

    def limits_for(self, department_code: str) -> Limits:
        return self._overrides.get(department_code, self._default)

    def charge(self, *, department_code: str, bucket: str) -> None:
        """Count one request of an authenticated department; raise
        RateLimited or QuotaExceeded when it is over, RateLimitUnavailable
        when the counters cannot be reached (fail closed).

        The one way to count. Called on the event loop's thread (the
        exchange query on PostgreSQL runs there), it waits for the cache only
        briefly (``Cache.increment_within_briefly``): a blocking wait there
        holds up every request of the process. Elsewhere (a worker thread) it
        waits as long as any other cache call."""
        window = self._window(department_code=department_code, bucket=bucket)
        increment = self._cache.increment_within_briefly if _on_event_loop() else self._cache.increment_within
        window.judge(self._counted(window.counters, increment))

    def count_attempts(self, *, bucket: str, within: str, limits: Sequence[tuple[str, int]], what: str) -> None:
        """Count one attempt at something guessable (the digits of a code typed at a
        counter) against fixed per-minute limits, one per scope it is counted in (a
        clerk, a department), every scope inside ``within`` (the department):
        RateLimited past any of them, RateLimitUnavailable when the counters
        cannot be reached (fail closed), as ``charge`` does. No daily quota: a
        bound on guessing, not a department's request budget."""
        valid_bucket(bucket)
        now = self._clock()
        minute = int(now // MINUTE)
        minute_end = (minute + 1) * MINUTE
        counters = [Counter(f"attempts:{_tag(within)}:{bucket}:{scope}:m{minute}", minute_end - now + 1, limit)
                    for scope, limit in limits]
        increment = self._cache.increment_within_briefly if _on_event_loop() else self._cache.increment_within
        counts = self._counted(counters, increment)
        if len(counts) < len(counters) or any(count > c.limit for count, c in zip(counts, counters, strict=False)):
            raise RateLimited(f"too many {what} this minute", retry_after=_seconds(minute_end - now))

    def _window(self, *, department_code: str, bucket: str) -> _Window:
        valid_bucket(bucket)
        limits = self.limits_for(department_code)
        now = self._clock()
        minute = int(now // MINUTE)
        minute_end = (minute + 1) * MINUTE
        day = int((now + CHINA_STANDARD_TIME_OFFSET) // DAY)
        day_end = (day + 1) * DAY - CHINA_STANDARD_TIME_OFFSET
        # The minute's count first: a request it refuses does not use the day's quota.
        return _Window(bucket=bucket, limits=limits, now=now, minute_end=minute_end, day_end=day_end, counters=[
            Counter(f"ratelimit:{_tag(department_code)}:{bucket}:m{minute}", minute_end - now + 1, limits.per_minute),
            Counter(f"quota:{_tag(department_code)}:d{day}", day_end - now + 1, limits.daily),
        ])

    def _counted(self, counters: list[Counter], increment_within: Callable[[list[Counter]], list[int]]) -> list[int]:
        try:
            counts = increment_within(counters)
        except Exception as exc:  # noqa: BLE001 - any cache failure: fail closed
            raise _unavailable(exc) from None
        return self._checked(counters, counts)

    @staticmethod
    def _checked(counters: list[Counter], counts: list[int]) -> list[int]:
        complete = len(counts) == len(counters)
        stopped_over = 0 < len(counts) < len(counters) and counts[-1] > counters[len(counts) - 1].limit
        if not (complete or stopped_over):
            raise RateLimitUnavailable("the rate limit counters answered wrongly; try again later")
        return counts


@dataclass(frozen=True)
class _Window:
    """One request's counters (this minute's, today's) and how to judge their counts."""

    bucket: str
    limits: Limits
    now: float
    minute_end: float
    day_end: float
    counters: list[Counter]

    def judge(self, counts: list[int]) -> None:
        if counts[0] > self.limits.per_minute:
            raise RateLimited(
                f"more than {self.limits.per_minute} requests a minute to {self.bucket}",
                retry_after=_seconds(self.minute_end - self.now),
            )
        if counts[1] > self.limits.daily:
            raise QuotaExceeded(
                f"the daily quota of {self.limits.daily} requests is used up",
                retry_after=_seconds(self.day_end - self.now),
            )


def valid_bucket(bucket: str) -> str:
    if not _BUCKET.fullmatch(bucket):
        raise ValueError(f"bad rate limit bucket name {bucket!r}")
    return bucket


def _tag(scope: str) -> str:
    """``scope`` as the hash tag of the counters counted together (a department code: no braces in it)."""
    if "{" in scope or "}" in scope:
        raise ValueError("a rate limit scope has no braces")
    return "{" + scope + "}"


def _unavailable(exc: Exception) -> RateLimitUnavailable:
    log.error("rate limit counter unavailable: %s", type(exc).__name__)
    return RateLimitUnavailable("the rate limit counters are unavailable; try again later")


def _seconds(remaining: float) -> int:
    return max(1, math.ceil(remaining))


def _on_event_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True
