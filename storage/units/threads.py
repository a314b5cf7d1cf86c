"""Use cases run in a worker thread, in one synchronous session: how the
SQLite driver runs everything, and the PostgreSQL driver what needs a
transaction."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from typing import Any, TypeVar

import anyio
import anyio.to_thread
from sqlalchemy.orm import Session

from storage.units.port import DatabaseStatements, UnitOfWork, Work, run_in_session

T = TypeVar("T")

# Short work: database statements and Python, no calls to other systems
# (redeeming a code). One process runs Python on one core at a time, so
# admitting more such work at once than it takes to overlap the database's
# round trips only makes the threads fight over the interpreter lock. Work
# that calls other systems (a department's system, which may take seconds)
# keeps anyio's default pool, so a slow department cannot starve it.
SHORT_WORK_THREADS = 4


class ThreadWork(Work):
    """A use case in a worker thread (or any thread that may block)."""

    def offload(self, call: Callable[..., T], /, *args: Any) -> T:
        # Ending the transaction gives the connection back to the pool (and,
        # on SQLite, the write lock) while the other system answers.
        self.session.commit()
        return call(*args)


class ThreadedUnitOfWork(UnitOfWork):
    """Each use case in a worker thread, in one session of ``sessions``
    (of ``read_sessions`` when it only reads: ``storage.units.replicas``)."""

    def __init__(self, sessions: Callable[[], Session], statements: DatabaseStatements, *,
                 read_sessions: Callable[[], Session] | None = None) -> None:
        self._sessions = sessions
        self._read_sessions = read_sessions or sessions
        self._statements = statements
        self._short_work: tuple[asyncio.AbstractEventLoop, anyio.CapacityLimiter] | None = None

    async def run(self, work: Callable[[Work], T], *, calls_out: bool = False,
                  each_write_stands_alone: bool = False, read_only: bool = False) -> T:
        # One trip to the thread for the work and its commit.
        limiter = None if calls_out else self._short_work_limiter()
        return await anyio.to_thread.run_sync(functools.partial(self.run_sync, work, read_only=read_only),
                                              limiter=limiter)

    def run_sync(self, work: Callable[[Work], T], *, read_only: bool = False) -> T:
        # Opened, committed and closed on this same thread.
        with (self._read_sessions if read_only else self._sessions)() as session:
            return run_in_session(session=session, work=work, unit=ThreadWork(session=session, statements=self._statements))

    def _short_work_limiter(self) -> anyio.CapacityLimiter:
        # A limiter belongs to the loop it waits on, and tests may run an
        # app on more than one: one per loop, made on first use.
        loop = asyncio.get_running_loop()
        known = self._short_work
        if known is None or known[0] is not loop:
            known = self._short_work = (loop, anyio.CapacityLimiter(SHORT_WORK_THREADS))
        return known[1]
