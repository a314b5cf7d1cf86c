"""FastAPI dependencies for the request's unit of work: its database session
(committed when the handler succeeds) and the cache. (The hot routes run
their use cases in the app's ``storage.units.UnitOfWork`` instead.)

A route whose reads may be a moment old and that writes nothing on what it
read asks for ``ReadSessionDep``: its session comes from
``storage.units.ReadSessions``, a hot standby's while one keeps up, else the
primary's, in a read-only transaction. Which one is that class's choice
alone. A route that also records a use (a wallet list) writes the record
through a ``SessionDep`` on the primary beside it.

The composition root (certhub.root) registers the app's sessionmaker and cache
as services (``wiring``); these functions find them
by type, so packages never import certhub.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Annotated

import anyio
from fastapi import Depends, Request
from sqlalchemy.orm import Session, sessionmaker
from starlette.concurrency import run_in_threadpool

from storage.cache import Cache
from storage.units import ReadSessions
from wiring import find_service


async def get_session(request: Request) -> AsyncIterator[Session]:
    """One session per request, committed when the handler succeeds: the
    request is the unit of work.

    Opening a session touches no connection, so it happens on the event
    loop; the commit (or rollback) and the close talk to the database and
    run in the thread pool, in one hop, shielded from cancellation so a
    disconnecting client never leaves a connection checked out.
    """
    async with _unit_of(find_service(request, sessionmaker)) as session:
        yield session


async def get_read_session(request: Request) -> AsyncIterator[Session]:
    """One session per request for read-only work (``ReadSessions``): ended
    as ``get_session``'s is."""
    async with _unit_of(find_service(request, ReadSessions)) as session:
        yield session


@asynccontextmanager
async def _unit_of(sessions: Callable[[], Session]) -> AsyncIterator[Session]:
    session = sessions()
    try:
        yield session
    except BaseException:
        with anyio.CancelScope(shield=True):
            await run_in_threadpool(_discard, session=session)
        raise
    if _settled(session=session):  # the route committed already: nothing left to say to the database
        session.close()
        return
    with anyio.CancelScope(shield=True):
        await run_in_threadpool(_keep, session=session)


def _settled(*, session: Session) -> bool:
    return not session.in_transaction() and not (session.new or session.dirty or session.deleted)


def _keep(*, session: Session) -> None:
    try:
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def _discard(*, session: Session) -> None:
    try:
        session.rollback()
    finally:
        session.close()


# scope="function": the commit runs before the response is sent, so a failed
# commit becomes an error response instead of data the database never kept.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]
ReadSessionDep = Annotated[Session, Depends(get_read_session, scope="function")]


async def get_cache(request: Request) -> Cache:
    return find_service(request, Cache)  # type: ignore[type-abstract]
