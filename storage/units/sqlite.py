"""The SQLite driver: every use case in a worker thread, in one
transaction; the write lock taken by a write; many rows by executemany;
a lock wait bounded by the connection's busy timeout."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import ColumnElement, Engine, Table, insert, text
from sqlalchemy.orm import Session, sessionmaker

from storage.units.port import DatabaseStatements, parsed_json
from storage.units.threads import ThreadedUnitOfWork

# Any write takes SQLite's one database-wide write lock, whatever it
# changes; this one changes nothing, on a table every migrated database has.
_TAKE_THE_WRITE_LOCK = text("UPDATE alembic_version SET version_num = version_num WHERE 1 = 0")


class SQLiteStatements(DatabaseStatements):
    def write_lock(self, *, session: Session) -> None:
        # SQLite has no row locks: a transaction that read first and writes
        # later fails at once with "database is locked" when another writer
        # committed in between (its WAL snapshot went stale). Writing first
        # makes concurrent units of work wait their turn (busy_timeout).
        session.execute(_TAKE_THE_WRITE_LOCK)

    def insert_many(self, *, session: Session, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
        insert_by_executemany(session=session, table=table, rows=rows)

    def any_of(self, column: ColumnElement[Any], values: Sequence[int], *, name: str) -> ColumnElement[bool]:
        return column.in_(values)  # no arrays in SQLite

    @contextmanager
    def bounded(self, sessions: sessionmaker[Session], *, lock_timeout_s: float,
                statement_timeout_s: float) -> Iterator[Session]:
        # The wait for the write lock is the busy timeout, a setting of the
        # connection: the session takes a connection of its own, shortens it
        # before the transaction begins and puts it back after. SQLite has
        # no statement timeout.
        session = sessions()
        bind = session.get_bind()
        if not isinstance(bind, Engine):  # already on a connection (and its transaction): left as it is
            try:
                yield session
            finally:
                session.close()
            return
        session.close()
        with bind.connect() as connection:
            driver = connection.connection.driver_connection
            assert driver is not None  # a connection just checked out of the pool
            previous = int(driver.execute("PRAGMA busy_timeout").fetchone()[0])
            driver.execute(f"PRAGMA busy_timeout={max(int(lock_timeout_s * 1000), 1)}")
            session = sessions(bind=connection)
            try:
                yield session
            finally:
                session.close()
                driver.execute(f"PRAGMA busy_timeout={previous}")


def insert_by_executemany(*, session: Session, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    if not rows:
        return
    session.connection().execute(insert(table), [{k: parsed_json(v) for k, v in row.items()} for row in rows])


class SQLiteUnitOfWork(ThreadedUnitOfWork):
    """Every use case in a worker thread, in one transaction of the app's
    engine (which begins IMMEDIATE: certhub.db)."""

    def __init__(self, sessions: Callable[[], Session], *, read_sessions: Callable[[], Session] | None = None) -> None:
        super().__init__(sessions, SQLiteStatements(), read_sessions=read_sessions)

