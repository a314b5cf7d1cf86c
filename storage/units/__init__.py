"""The unit of work and its two drivers (SQLite, PostgreSQL); see ``port``.
Read-only work may go to PostgreSQL hot standbys: ``replicas``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any

from sqlalchemy import ColumnElement, Connection, Engine, Table
from sqlalchemy.orm import Session, sessionmaker

from storage.units.port import DatabaseStatements, JsonText, UnitOfWork, Work
from storage.units.postgresql import PostgreSQLStatements, PostgreSQLUnitOfWork
from storage.units.replicas import ReadSessions, Standby
from storage.units.sqlite import SQLiteStatements, SQLiteUnitOfWork
from storage.units.threads import ThreadWork

_STATEMENTS: dict[str, DatabaseStatements] = {"sqlite": SQLiteStatements(), "postgresql": PostgreSQLStatements()}


def statements_for(bind: Session | Connection | Engine) -> DatabaseStatements:
    """The statement-level driver of the database ``bind`` talks to."""
    dialect = (bind.get_bind() if isinstance(bind, Session) else bind).dialect
    try:
        return _STATEMENTS[dialect.name]
    except KeyError:
        raise ValueError(f"certhub runs on SQLite or PostgreSQL, not {dialect.name}") from None


def work_on(*, session: Session) -> Work:
    """The ``Work`` of a session its caller already holds (a request's
    session), for code written against ``Work``; the caller commits."""
    return ThreadWork(session=session, statements=statements_for(session))


def write_lock(*, session: Session) -> None:
    """``Work.write_lock`` for code holding a plain session."""
    statements_for(session).write_lock(session=session)


def insert_many(*, session: Session, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """``Work.insert_many`` for code holding a plain session."""
    statements_for(session).insert_many(session=session, table=table, rows=rows)


def any_of(*, session: Session, column: ColumnElement[Any], values: Sequence[int], name: str) -> ColumnElement[bool]:
    """``DatabaseStatements.any_of`` of the session's database."""
    return statements_for(session).any_of(column, values, name=name)


def bounded(sessions: sessionmaker[Session], *, lock_timeout_s: float,
            statement_timeout_s: float) -> AbstractContextManager[Session]:
    with sessions() as probe:  # opening a session touches no connection
        statements = statements_for(probe)
    return statements.bounded(sessions, lock_timeout_s=lock_timeout_s, statement_timeout_s=statement_timeout_s)


__all__ = [
    "DatabaseStatements", "JsonText", "PostgreSQLStatements", "PostgreSQLUnitOfWork", "ReadSessions",
    "SQLiteStatements", "SQLiteUnitOfWork", "Standby", "UnitOfWork", "Work",
    "any_of", "bounded", "insert_many", "statements_for", "work_on", "write_lock",
]
