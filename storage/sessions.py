"""FastAPI dependencies for the request's unit of work: its database session
(committed when the handler succeeds), the cache, and the bounded pool that
short database work runs in.

The composition root (certhub.root) registers the app's sessionmaker, cache
and ``ShortWork`` pool as services (``wiring``); these functions find them
by type, so packages never import certhub.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any, TypeVar

import anyio
import anyio.to_thread
from fastapi import Depends, Request
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from storage.cache import Cache
from wiring import find_service

T = TypeVar("T")


async def get_session(request: Request) -> AsyncIterator[Session]:
    """One session per request, committed when the handler succeeds: the
    request is the unit of work.

    Opening a session touches no connection, so it happens on the event
    loop; the commit (or rollback) and the close talk to the database and
    run in the thread pool, in one hop, shielded from cancellation so a
    disconnecting client never leaves a connection checked out.
    """
    session: Session = find_service(request, sessionmaker)()
    try:
        yield session
    except BaseException:
        with anyio.CancelScope(shield=True):
            await run_in_threadpool(_discard, session)
        raise
    if _settled(session):  # the route committed already: nothing left to say to the database
        session.close()
        return
    with anyio.CancelScope(shield=True):
        await run_in_threadpool(_keep, session)


def _settled(session: Session) -> bool:
    return not session.in_transaction() and not (session.new or session.dirty or session.deleted)


def _keep(session: Session) -> None:
    try:
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def _discard(session: Session) -> None:
    try:
        session.rollback()
    finally:
        session.close()


# scope="function": the commit runs before the response is sent, so a failed
# commit becomes an error response instead of data the database never kept.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]


# Short work: database statements and Python, no calls to other systems
# (redeeming a code, reading a licence). One process runs Python on one core
# at a time, so admitting more such work at once than it takes to overlap
# the database's round trips only makes the threads fight over the
# interpreter lock. Work that waits on other systems (an adapter's call to
# a department) keeps the default pool, so a slow department cannot starve it.
SHORT_WORK_THREADS = 4


class ShortWork:
    """The app's bounded pool for short work: at most SHORT_WORK_THREADS
    calls at once per process."""

    def __init__(self, *, threads: int = SHORT_WORK_THREADS) -> None:
        self._threads = threads
        # One limiter per event loop (a limiter belongs to the loop it waits
        # on; tests may run an app on more than one), made on first use.
        self._limiter: tuple[asyncio.AbstractEventLoop, anyio.CapacityLimiter] | None = None

    def limiter(self) -> anyio.CapacityLimiter:
        loop = asyncio.get_running_loop()
        known = self._limiter
        if known is None or known[0] is not loop:
            known = self._limiter = (loop, anyio.CapacityLimiter(self._threads))
        return known[1]

    async def run(self, func: Callable[..., T], /, **kwargs: Any) -> T:
        """``func(**kwargs)`` in the thread pool, within the bound."""
        return await anyio.to_thread.run_sync(functools.partial(func, **kwargs), limiter=self.limiter())


async def run_short_work(request: Request, func: Callable[..., T], /, **kwargs: Any) -> T:
    """``func(**kwargs)`` in the app's ``ShortWork`` pool."""
    return await find_service(request, ShortWork).run(func, **kwargs)


async def get_cache(request: Request) -> Cache:
    return find_service(request, Cache)  # type: ignore[type-abstract]
