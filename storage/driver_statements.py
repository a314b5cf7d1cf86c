"""Fixed Core statements run on psycopg's own async connection.

The exchange query on the event loop (``certhub.db.create_query_engine``)
runs its service code in SQLAlchemy's greenlet bridge. There, one statement
through the Core's execution layer and SQLAlchemy's adaptation of psycopg's
async cursor cost about five times what the same statement costs on
psycopg's connection itself (0.50 against 0.09 ms of CPU for the agreement
read, measured side by side), and every query runs two of them.

A ``DriverStatement`` is one such statement: compiled once per dialect by
SQLAlchemy, its values converted by the column types' own bind and result
processors (so they are stored and read exactly as through SQLAlchemy), and
run on the driver connection under the caller's SQLAlchemy connection. On
any other connection (SQLite, the synchronous engine) it runs through
SQLAlchemy as usual: callers write one path, the driver picks the way.

A database error on the driver's connection is raised as SQLAlchemy's
(``DBAPIError``), so callers see one error family; a connection that broke
is invalidated, so the pool does not hand it out again.
"""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Mapping
from typing import Any, cast

import psycopg
from sqlalchemy import Connection, Select, exc
from sqlalchemy.sql import ClauseElement, Executable
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.util import await_only


class DriverStatement:
    """``statement`` with named bound parameters (their types are the ones
    SQLAlchemy infers, from the columns they are compared with or written
    to); its result rows have the statement's selected columns as attributes."""

    def __init__(self, statement: ClauseElement) -> None:
        self._statement = statement
        self._compiled: dict[str, tuple[str, dict, list, type | None]] = {}

    def execute(self, connection: Connection, parameters: Mapping[str, Any]) -> list:
        """Run the statement on ``connection``: its rows (an empty list for a
        statement that returns none). On psycopg's async connection itself,
        elsewhere through SQLAlchemy."""
        driver = connection.connection.driver_connection
        if not isinstance(driver, psycopg.AsyncConnection):
            result = connection.execute(cast(Executable, self._statement), parameters)
            return list(result) if result.returns_rows else []
        sql, binds, results, row = self._for(connection)
        if parameters.keys() != binds.keys():
            raise ValueError(f"parameters {sorted(parameters)} are not the statement's {sorted(binds)}")
        values = {name: (process(parameters[name]) if process is not None else parameters[name])
                  for name, process in binds.items()}
        try:
            cursor = await_only(driver.execute(sql, values, prepare=True))
            fetched = await_only(cursor.fetchall()) if cursor.description is not None else []
        except psycopg.Error as error:
            if driver.broken or driver.closed:  # the connection failed, not the statement
                connection.invalidate(error)
            # Without the parameters: they carry holders' codes, and errors are logged.
            raise exc.DBAPIError.instance(sql, values, error, psycopg.Error, hide_parameters=True,
                                          connection_invalidated=connection.invalidated) from error
        except BaseException:
            # Cancelled (the caller went away) with the statement in flight:
            # the connection's state is unknown, so it is not reused.
            connection.invalidate()
            raise
        if row is None:
            return fetched
        return [row(*(process(value) if process is not None else value for process, value in zip(results, raw, strict=True)))
                for raw in fetched]

    def _for(self, connection: Connection) -> tuple[str, dict, list, type | None]:
        dialect = connection.dialect
        compiled = self._compiled.get(dialect.name)
        if compiled is None:
            statement = cast(SQLCompiler, self._statement.compile(dialect=dialect))  # a DML or SELECT statement's
            sql = str(statement)
            binds = {name: bind.type.dialect_impl(dialect).bind_processor(dialect)
                     for name, bind in statement.binds.items()}
            columns: list[Any] = list(self._statement.selected_columns) if isinstance(self._statement, Select) else []
            results = [column.type.dialect_impl(dialect).result_processor(dialect, None) for column in columns]
            row = namedtuple("Row", [column.key for column in columns]) if columns else None
            compiled = self._compiled[dialect.name] = (sql, binds, results, row)
        return compiled

