"""Read-only work on PostgreSQL hot standbys, while they keep up.

A read-only unit of work (a route's ``ReadSessionDep``, a use case run with
``UnitOfWork.run(read_only=True)``) takes its session from ``ReadSessions``:
a standby's when one is within the replication lag bound, else the
primary's. This is the one place that chooses; routes and use cases only say
that their work reads.

How far behind a standby is, in seconds, is measured by comparing WAL
positions, not by ``now() - pg_last_xact_replay_timestamp()``: that
timestamp is the time of the last transaction *replayed*, so on a primary
with nothing to write it grows without bound while the standby is fully up
to date, and every standby would be bypassed exactly when it has nothing
to catch up. Instead each check notes the primary's flushed WAL position
(``pg_current_wal_flush_lsn()``: what a standby can have been sent) with the
time it was read, then asks each standby how far it has replayed
(``pg_last_wal_replay_lsn()``). A standby that has replayed up to a position
the primary had reached at time t holds everything committed by t, so it
is at most ``now - t`` behind; one that has replayed the primary's latest
position is not behind at all, however long ago the last write was.
# SPEC: PostgreSQL 15 documentation §9.27.4 (pg_current_wal_flush_lsn) and
# §9.27.5 (pg_last_wal_replay_lsn, pg_is_in_recovery).

The figures are cached for a moment (one check per ``check_interval_s``, in
a thread of their own, never on a request's path), and a figure ages: a
standby is used while its measured lag plus the age of the measurement is
within the bound. One that is down, not in recovery (promoted, or a primary
named by mistake), or not measured lately is bypassed, and reads go to the
primary.
"""

from __future__ import annotations

import itertools
import logging
import math
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

log = logging.getLogger(__name__)

PRIMARY = "primary"

_PRIMARY_POSITION = text("SELECT pg_wal_lsn_diff(pg_current_wal_flush_lsn(), '0/0')")
_STANDBY_POSITION = text("SELECT pg_is_in_recovery(), pg_wal_lsn_diff(pg_last_wal_replay_lsn(), '0/0')")


@dataclass(frozen=True)
class Standby:
    """A hot standby's name (its host and port: the pool named in metrics) and engine."""

    name: str
    engine: Engine


@dataclass
class _Measured:
    lag_s: float  # math.inf: down, not a standby, or further behind than remembered
    at: float  # the clock when measured


class ReadSessions:
    """Sessions for read-only work: a standby's within ``max_lag_s``, taken in
    turn, else one of ``primary`` (the app's sessions, or read-only ones).

    ``observe_pool`` hears which pool served each session (``"primary"`` or
    a standby's name), ``observe_lag`` each standby's measured lag (None when
    it could not be measured). ``check_interval_s`` None: no thread of its
    own, the owner calls ``check`` (tests, with their own ``clock``)."""

    def __init__(self, primary: Callable[[], Session], *, primary_engine: Engine | None = None,
                 standbys: Sequence[Standby] = (), max_lag_s: float = 5.0, check_interval_s: float | None = 1.0,
                 observe_pool: Callable[[str], None] = lambda pool: None,
                 observe_lag: Callable[[str, float | None], None] = lambda name, lag: None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if standbys and primary_engine is None:
            raise ValueError("standbys are measured against the primary: give its engine")
        self._primary = primary
        self._primary_engine = primary_engine
        self._standbys = list(standbys)
        self._standby_sessions = {s.name: sessionmaker(bind=s.engine, expire_on_commit=False) for s in self._standbys}
        self._max_lag_s = max_lag_s
        self._interval_s = check_interval_s
        self._observe_pool = observe_pool
        self._observe_lag = observe_lag
        self._clock = clock
        self._measured: dict[str, _Measured] = {}
        # (clock, primary's flushed WAL position), oldest first.
        self._positions: deque[tuple[float, float]] = deque()
        self._turn = itertools.count()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        if self._standbys and check_interval_s is not None:
            self._thread = threading.Thread(target=self._check_every_interval, daemon=True,
                                            name="certhub-replica-lag")
            self._thread.start()

    @property
    def standbys(self) -> list[Standby]:
        return list(self._standbys)

    def __call__(self) -> Session:
        pool = self.serving()
        self._observe_pool(pool)
        return self._primary() if pool == PRIMARY else self._standby_sessions[pool]()

    def serving(self) -> str:
        """The pool the next read-only unit goes to: a standby within the bound (in turn), else the primary."""
        now = self._clock()
        usable = [s.name for s in self._standbys if self.lag(s.name, now=now) <= self._max_lag_s]
        if not usable:
            return PRIMARY
        return usable[next(self._turn) % len(usable)]

    def lag(self, name: str, *, now: float | None = None) -> float:
        """How far behind the standby may be now, in seconds (infinite when unknown)."""
        measured = self._measured.get(name)
        if measured is None:
            return math.inf
        return measured.lag_s + max((self._clock() if now is None else now) - measured.at, 0.0)

    def check(self) -> None:
        """Measure every standby's lag once (the thread's round; tests call it themselves)."""
        now = self._clock()
        try:
            position = self._primary_position()
        except Exception as error:  # noqa: BLE001 - a primary that does not answer: nothing can be measured
            log.warning("replicas: the primary's WAL position could not be read (%s)", type(error).__name__)
            position = None
        if position is not None:
            self._remember(now, position)
        for standby in self._standbys:
            lag = self._standby_lag(standby, now=now) if position is not None else None
            self._measured[standby.name] = _Measured(lag_s=math.inf if lag is None else lag, at=now)
            self._observe_lag(standby.name, lag)

    def _standby_lag(self, standby: Standby, *, now: float) -> float | None:
        try:
            with standby.engine.connect() as connection:
                in_recovery, replayed = connection.execute(_STANDBY_POSITION).one()
        except Exception as error:  # noqa: BLE001 - a standby that does not answer is bypassed
            log.warning("replicas: %s did not answer (%s); reads go elsewhere", standby.name, type(error).__name__)
            return None
        if not in_recovery or replayed is None:
            log.warning("replicas: %s is not a standby in recovery; reads go elsewhere", standby.name)
            return None
        return self._staleness(float(replayed), now=now)

    def _remember(self, now: float, position: float) -> None:
        self._positions.append((now, position))
        # Keep what can still tell a standby within the bound from one beyond
        # it: the samples of the last bound, and the newest one before them.
        horizon = now - self._max_lag_s - (self._interval_s or 0.0)
        while len(self._positions) > 1 and self._positions[1][0] < horizon:
            self._positions.popleft()

    def _staleness(self, replayed: float, *, now: float) -> float:
        # The newest time at which the primary had written no more than the
        # standby has replayed: the standby holds everything committed by then.
        for at, position in reversed(self._positions):
            if position <= replayed:
                return max(now - at, 0.0)
        return math.inf  # behind every position remembered

    def _primary_position(self) -> float:
        assert self._primary_engine is not None
        with self._primary_engine.connect() as connection:
            return float(connection.execute(_PRIMARY_POSITION).scalar_one())

    def _check_every_interval(self) -> None:
        assert self._interval_s is not None
        while not self._stop.is_set():
            self.check()
            self._stop.wait(self._interval_s)

    def close(self) -> None:
        """Stop checking and close the standbys' connections (not the primary's: the app's)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        for standby in self._standbys:
            standby.engine.dispose()
