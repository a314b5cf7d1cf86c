"""The PostgreSQL driver.

Row locks need no write lock first; many rows go in by COPY; a transaction
is bounded by SET LOCAL lock_timeout and statement_timeout.

A use case whose every write stands alone (the exchange query) runs on the
event loop, on an asynchronous engine in autocommit
(``certhub.db.create_query_engine``): its synchronous code runs unchanged
through ``AsyncSession.run_sync``, SQLAlchemy's greenlet bridge, so its
statements are awaited on the loop without blocking it, and only calls to
other systems (``Work.offload``) go to a worker thread. Running it wholly in
a worker thread made it wait for the interpreter lock after each blocking
call and for the two trips between loop and thread; at 10 clients that was
most of the hub's overhead (see docs/exchange.md). Every other use case runs
as on SQLite, in a worker thread in one transaction.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Executor
from contextlib import contextmanager
from typing import Any, TypeVar

import psycopg
from psycopg import sql as pg_sql
from sqlalchemy import JSON, ColumnElement, Table, any_, bindparam, func, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.util import await_only

from storage.units.port import DatabaseStatements, Work, run_in_session, serialized_json
from storage.units.sqlite import insert_by_executemany
from storage.units.threads import ThreadedUnitOfWork

T = TypeVar("T")


class PostgreSQLStatements(DatabaseStatements):
    def write_lock(self, *, session: Session) -> None:
        """Nothing: the statements that need it take row locks (``with_for_update``)."""

    def insert_many(self, *, session: Session, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
        """COPY on psycopg: one statement, no parse and plan per row."""
        if not rows:
            return
        driver = session.connection().connection.driver_connection
        if not isinstance(driver, psycopg.Connection):  # another driver, or psycopg's async connection
            insert_by_executemany(session=session, table=table, rows=rows)
            return
        columns = list(rows[0])
        json_columns = {name for name in columns if isinstance(table.c[name].type, JSON)}
        copy_sql = pg_sql.SQL("COPY {} ({}) FROM STDIN").format(
            pg_sql.Identifier(table.name), pg_sql.SQL(", ").join(pg_sql.Identifier(name) for name in columns))
        with driver.cursor() as cursor, cursor.copy(copy_sql) as copy:
            for row in rows:
                copy.write_row([serialized_json(row[name]) if name in json_columns else row[name]
                                for name in columns])

    def any_of(self, column: ColumnElement[Any], values: Sequence[int], *, name: str) -> ColumnElement[bool]:
        # One array parameter: IN renders a parameter per value, and psycopg
        # parses a statement that long anew each time (it caches the parse
        # only up to 50 parameters): a third of a log round's CPU for 4,000
        # entries (37 against 24 ms).
        return column == any_(bindparam(name, list(values), type_=ARRAY(column.type)))

    @contextmanager
    def bounded(self, sessions: sessionmaker[Session], *, lock_timeout_s: float,
                statement_timeout_s: float) -> Iterator[Session]:
        # SET LOCAL (through set_config, so the values are parameters): the
        # bounds end with the transaction.
        session = sessions()
        try:
            session.execute(select(
                func.set_config("lock_timeout", f"{max(int(lock_timeout_s * 1000), 1)}ms", True),
                func.set_config("statement_timeout", f"{max(int(statement_timeout_s * 1000), 1)}ms", True),
            ))
            yield session
        finally:
            session.close()


class LoopWork(Work):
    """A use case on the event loop, in SQLAlchemy's greenlet bridge."""

    on_event_loop = True

    def __init__(self, *, session: Session, statements: DatabaseStatements, loop: asyncio.AbstractEventLoop,
                 calls: Executor | None) -> None:
        super().__init__(session=session, statements=statements)
        self._loop = loop
        self._calls = calls

    def offload(self, call: Callable[..., T], /, *args: Any) -> T:
        # The session gives its connection back before the other system is asked.
        self.session.commit()
        # The loop's own hand-off to a thread, awaited from the bridge (the
        # loop serves other requests meanwhile): anyio's adds a pass through
        # the loop on the way back, and on a busy loop each pass queues
        # behind other requests' work.
        return await_only(self._loop.run_in_executor(self._calls, call, *args))


class PostgreSQLUnitOfWork(ThreadedUnitOfWork):
    """``loop_sessions``: sessions of the asynchronous autocommit engine
    (None: every use case in a worker thread). ``calls``: the thread pool
    the loop's use cases call other systems from (read when a use case runs:
    the app builds it at start-up; None is the loop's default pool).
    ``read_sessions``: read-only work's (``storage.units.replicas``)."""

    def __init__(self, sessions: Callable[[], Session], *, loop_sessions: async_sessionmaker | None = None,
                 calls: Callable[[], Executor | None] = lambda: None,
                 read_sessions: Callable[[], Session] | None = None) -> None:
        super().__init__(sessions, PostgreSQLStatements(), read_sessions=read_sessions)
        self._loop_sessions = loop_sessions
        self._calls = calls

    async def run(self, work: Callable[[Work], T], *, calls_out: bool = False,
                  each_write_stands_alone: bool = False, read_only: bool = False) -> T:
        if read_only or not each_write_stands_alone or self._loop_sessions is None:
            return await super().run(work, calls_out=calls_out, read_only=read_only)
        loop = asyncio.get_running_loop()
        async with self._loop_sessions() as session:
            # One pass through the bridge for the whole use case: each pass
            # costs a greenlet and a trip through the session's machinery.
            # (run_sync hands the bridged session over positionally; the bridge takes it by name.)
            return await session.run_sync(
                lambda bridged: self._run_in_the_bridge(session=bridged, work=work, loop=loop))

    def _run_in_the_bridge(self, *, session: Session, work: Callable[[Work], T], loop: asyncio.AbstractEventLoop) -> T:
        unit = LoopWork(session=session, statements=self._statements, loop=loop, calls=self._calls())
        return run_in_session(session=session, work=work, unit=unit)


