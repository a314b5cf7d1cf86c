"""SQL source: one parametrized, read-only query per data item against a
department's database (any SQLAlchemy URL).

Two bounds on every query: the server's (`statement_timeout`, which only a
live server enforces) and the client's own deadline (`deadline`), which
holds when the server has stopped answering altogether: at the deadline the
connection's socket is shut down from a timer thread, so whatever the
driver was waiting for returns at once.
"""

from __future__ import annotations

import math
import os
import socket
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import DBAPIError, OperationalError, ProgrammingError, SQLAlchemyError

from adapters.errors import (
    BindingMismatch,
    MalformedResponse,
    ProviderTimeout,
    ProviderUnavailable,
    ResponseTooLarge,
    SourceError,
)
from adapters.external_db import create_external_engine, resolve_url
from adapters.sources.breaker import CircuitBreaker
from adapters.sources.config import SqlBinding
from adapters.sources.records import Record

# SPEC: PostgreSQL errcodes appendix — 57014 query_canceled (statement_timeout).
_PG_QUERY_CANCELED = "57014"


class SqlSource:
    kind = "sql"

    def __init__(self, binding: SqlBinding, *, environ: Mapping[str, str]) -> None:
        self.name = binding.name
        self.binding = binding
        self.breaker = CircuitBreaker(
            name=binding.name,
            failure_threshold=binding.circuit.failure_threshold,
            cooldown_seconds=binding.circuit.cooldown,
        )
        self._environ = environ
        self._engine: Engine | None = None
        self._engine_lock = threading.Lock()

    @property
    def field_keys(self) -> set[str]:
        return set(self.binding.fields)

    def engine(self) -> Engine:
        with self._engine_lock:
            if self._engine is None:
                where = f"sql binding {self.name}"
                url = resolve_url(url=self.binding.url, url_env=self.binding.url_env, environ=self._environ, where=where)
                # Connecting is bounded by the driver (libpq's connect_timeout,
                # which rounds up to 2 s); no pool pre-ping: `read_only` checks a
                # pooled connection itself, under the deadline.
                connect_timeout = max(1, min(self.binding.connect_timeout, math.ceil(self.binding.deadline)))
                self._engine = create_external_engine(url, connect_timeout=connect_timeout, where=where,
                                                      pre_ping=False)
            return self._engine

    def close(self) -> None:
        with self._engine_lock:
            if self._engine is not None:
                self._engine.dispose()
                self._engine = None

    def fetch_raw(self, subject: str) -> list[Record]:
        if self.binding.query is None:
            raise BindingMismatch(f"sql binding {self.name} has no per-subject query")
        limit = self.binding.max_rows
        with self.read_only(timeout=self.binding.statement_timeout, deadline=self.binding.deadline) as connection:
            result = connection.execute(text(self.binding.query), {"subject": subject})
            rows = result.mappings().fetchmany(limit + 1)
        if len(rows) > limit:
            raise ResponseTooLarge(f"more than {limit} rows", binding=self.name)
        return [self._fields_of(row) for row in rows]

    def _fields_of(self, row: Mapping) -> Record:
        missing = [column for column in self.binding.fields.values() if column not in row]
        if missing:
            raise BindingMismatch(f"sql binding {self.name}: the query returns no column(s) {', '.join(missing)}")
        return {key: row[column] for key, column in self.binding.fields.items()}

    @contextmanager
    def read_only(self, *, timeout: float, deadline: float | None = None) -> Iterator[Connection]:
        """A connection in a transaction that is always rolled back, with the
        statement time bounded (`timeout`, by the server) and, given a
        `deadline` in seconds, the whole of it too (by the client: connecting,
        querying, reading, rolling back); database errors become SourceErrors."""
        deadline_at = None if deadline is None else time.monotonic() + deadline
        cut = None
        try:
            connection, cut = self._begin(deadline_at=deadline_at, timeout=timeout)
            try:
                with _interrupted_at(connection, deadline_at, timeout=timeout):
                    yield connection
                connection.rollback()
            finally:
                _release(connection, cut)
        except SourceError:
            raise
        except SQLAlchemyError as exc:
            if cut is not None and cut.fired:
                raise ProviderTimeout("no answer from the database before the deadline", binding=self.name) from None
            raise _classified(exc, binding=self.name) from None

    def _begin(self, *, deadline_at: float | None, timeout: float) -> tuple[Connection, _Cut | None]:
        """A connection in a read-only transaction, its deadline armed. A
        pooled connection the server has closed since (a restart) fails its
        first statement: it is dropped and a fresh one tried, once."""
        for attempt in (1, 2):
            connection = self.engine().connect()
            cut = _Cut.arm(connection, deadline_at) if deadline_at is not None else None
            try:
                connection.begin()
                _bounded_transaction(connection, timeout)
                return connection, cut
            except DBAPIError as exc:
                _release(connection, cut)
                if cut is not None and cut.fired:
                    raise ProviderTimeout("no answer from the database before the deadline", binding=self.name) from None
                if attempt == 2 or not exc.connection_invalidated:
                    raise
            except BaseException:
                _release(connection, cut)
                raise
        raise AssertionError("unreachable")  # pragma: no cover


def _bounded_transaction(connection: Connection, seconds: float) -> None:
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql("SET TRANSACTION READ ONLY")
        # set_config(..., true) is SET LOCAL with a bound value: it ends with the transaction.
        connection.execute(text("SELECT set_config('statement_timeout', :ms, true)"), {"ms": str(int(seconds * 1000))})


@contextmanager
def _interrupted_at(connection: Connection, deadline_at: float | None, *, timeout: float) -> Iterator[None]:
    """SQLite has no statement timeout and no socket to cut; its progress
    handler aborts the running statement ("interrupted") once the statement
    timeout or the deadline has passed, whichever comes first."""
    if connection.dialect.name != "sqlite":
        yield
        return
    driver = connection.connection.driver_connection
    assert driver is not None, "a checked-out connection holds its DBAPI connection"
    stop_at = time.monotonic() + timeout
    if deadline_at is not None:
        stop_at = min(stop_at, deadline_at)
    driver.set_progress_handler(lambda: 1 if time.monotonic() > stop_at else 0, 1000)
    try:
        yield
    finally:
        driver.set_progress_handler(None, 0)


def _release(connection: Connection, cut: _Cut | None) -> None:
    """Disarm first, so the timer can never cut a connection the pool has
    handed to someone else; a connection that was cut is discarded."""
    if cut is not None:
        cut.disarm()
        if cut.fired:
            connection.invalidate()
    connection.close()


class _Cut:
    """The deadline of one connection's use: at `deadline_at` a timer thread
    shuts its socket down. The socket is duplicated when armed, so a late
    shutdown can only ever reach this connection's socket, never another
    that reused its descriptor number; the lock makes disarming final (once
    `disarm` returns, the cut has happened or never will)."""

    def __init__(self, sock: socket.socket | None) -> None:
        self._socket = sock
        self._lock = threading.Lock()
        self._armed = True
        self.fired = False
        self._timer: threading.Timer | None = None

    @classmethod
    def arm(cls, connection: Connection, deadline_at: float) -> _Cut:
        cut = cls(_socket_of(connection))
        cut._timer = threading.Timer(max(deadline_at - time.monotonic(), 0.0), cut._fire)
        cut._timer.daemon = True
        cut._timer.start()
        return cut

    def _fire(self) -> None:
        with self._lock:
            if not self._armed:
                return
            self._armed = False
            self.fired = True
            if self._socket is not None:
                try:
                    self._socket.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass  # already closed by the peer

    def disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        with self._lock:
            self._armed = False
            if self._socket is not None:
                self._socket.close()
                self._socket = None


def _socket_of(connection: Connection) -> socket.socket | None:
    """A duplicate of the connection's socket (psycopg: libpq's PQsocket);
    None for drivers without one (SQLite)."""
    pgconn = getattr(connection.connection.driver_connection, "pgconn", None)
    if pgconn is None:
        return None
    try:
        return socket.socket(fileno=os.dup(pgconn.socket))
    except OSError:
        return None


def _classified(exc: SQLAlchemyError, *, binding: str) -> SourceError:
    original = getattr(exc, "orig", None)
    if getattr(original, "sqlstate", None) == _PG_QUERY_CANCELED or "interrupted" in str(original):
        return ProviderTimeout("the query exceeded the statement timeout", binding=binding)
    if type(original).__name__ == "ConnectionTimeout":  # psycopg: no answer within connect_timeout
        return ProviderTimeout("no answer from the database within the connect timeout", binding=binding)
    if isinstance(exc, ProgrammingError) or (isinstance(exc, OperationalError) and "no such" in str(original)):
        # The department's schema no longer matches the configured query.
        return MalformedResponse(f"the query failed ({type(original).__name__})", binding=binding)
    return ProviderUnavailable(f"database error ({type(original or exc).__name__})", binding=binding)
