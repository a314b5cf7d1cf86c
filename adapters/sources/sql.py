"""SQL source: one parametrized, read-only query per data item against a
department's database (any SQLAlchemy URL)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import OperationalError, ProgrammingError, SQLAlchemyError

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
                self._engine = create_external_engine(url, connect_timeout=self.binding.connect_timeout, where=where)
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
        with self.read_only(timeout=self.binding.statement_timeout) as connection:
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
    def read_only(self, *, timeout: float) -> Iterator[Connection]:
        """A connection in a transaction that is always rolled back, with the
        statement time bounded; database errors become SourceErrors."""
        try:
            with self.engine().connect() as connection:
                transaction = connection.begin()
                try:
                    with _statement_timeout(connection, timeout):
                        yield connection
                finally:
                    transaction.rollback()
        except SourceError:
            raise
        except SQLAlchemyError as exc:
            raise _classified(exc, binding=self.name) from None


@contextmanager
def _statement_timeout(connection: Connection, seconds: float) -> Iterator[None]:
    dialect = connection.dialect.name
    if dialect == "postgresql":
        connection.exec_driver_sql("SET TRANSACTION READ ONLY")
        # set_config(..., true) is SET LOCAL with a bound value: it ends with the transaction.
        connection.execute(text("SELECT set_config('statement_timeout', :ms, true)"), {"ms": str(int(seconds * 1000))})
        yield
    elif dialect == "sqlite":
        # SQLite has no statement timeout; its progress handler aborts the
        # running statement ("interrupted") once the deadline has passed.
        driver = connection.connection.driver_connection
        deadline_at = time.monotonic() + seconds
        driver.set_progress_handler(lambda: 1 if time.monotonic() > deadline_at else 0, 1000)
        try:
            yield
        finally:
            driver.set_progress_handler(None, 0)
    else:
        yield


def _classified(exc: SQLAlchemyError, *, binding: str) -> SourceError:
    original = getattr(exc, "orig", None)
    if getattr(original, "sqlstate", None) == _PG_QUERY_CANCELED or "interrupted" in str(original):
        return ProviderTimeout("the query exceeded the statement timeout", binding=binding)
    if isinstance(exc, ProgrammingError) or (isinstance(exc, OperationalError) and "no such" in str(original)):
        # The department's schema no longer matches the configured query.
        return MalformedResponse(f"the query failed ({type(original).__name__})", binding=binding)
    return ProviderUnavailable(f"database error ({type(original or exc).__name__})", binding=binding)
