"""The unit of work: the contract use cases are written against, whatever
the database.

A use case is a function of one ``Work``: it reads and writes through
``work.session`` and asks the work for the few things whose doing differs
by database (taking the write lock first, inserting many rows, calling
another system without holding a connection). A ``UnitOfWork`` runs it:
opens the session, commits when the use case returns, rolls back when it
raises. Which thread, loop, greenlet or transaction mode that takes is the
driver's business (``storage.units.sqlite``, ``storage.units.postgresql``);
a route says what its work is, never how to run it.

``DatabaseStatements`` are the statement-level differences on their own,
for code that holds a plain session (command-line jobs, background
threads): ``statements_for(session)`` picks the database's.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Table
from sqlalchemy.orm import Session, sessionmaker

T = TypeVar("T")


class JsonText(str):
    """A JSON column's value already serialized (a canonical record): a
    bulk insert sends it as is where it can, and parses it back where the
    column type must serialize it itself."""


class DatabaseStatements(ABC):
    """What one database does its own way at the statement level."""

    @abstractmethod
    def write_lock(self, *, session: Session) -> None:
        """Make the session's transaction the database's writer now, before
        it reads what it will write on (a no-op where row locks do that)."""

    @abstractmethod
    def insert_many(self, *, session: Session, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
        """Insert ``rows`` (all with the same keys) in the session's transaction."""

    @abstractmethod
    def any_of(self, column: ColumnElement[Any], values: Sequence[int], *, name: str) -> ColumnElement[bool]:
        """``column`` is one of ``values``, as the database parses fastest
        for thousands of values (``name``: the parameter's, where they are one)."""

    @abstractmethod
    def bounded(self, sessions: sessionmaker[Session], *, lock_timeout_s: float,
                statement_timeout_s: float) -> AbstractContextManager[Session]:
        """A session whose transaction waits at most ``lock_timeout_s`` for
        a lock (and, where the database can say so, ``statement_timeout_s``
        for a statement); closed on the way out."""


class Work(ABC):
    """One use case's run: its session, and what differs by database."""

    #: True when the work runs on the event loop's thread: a blocking call
    #: there holds up every other request, so it must be brief.
    on_event_loop: bool = False

    def __init__(self, *, session: Session, statements: DatabaseStatements) -> None:
        self.session = session
        self._statements = statements
        self._undo: list[Callable[[], None]] = []

    @abstractmethod
    def offload(self, call: Callable[..., T], /, *args: Any) -> T:
        """``call(*args)``: blocking I/O that does not use the session (a
        provider's HTTP call), made holding no database connection or lock.
        What the work did so far is committed first."""

    def write_lock(self) -> None:
        self._statements.write_lock(session=self.session)

    def insert_many(self, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
        self._statements.insert_many(session=self.session, table=table, rows=rows)

    def if_not_committed(self, undo: Callable[[], None]) -> None:
        """Call ``undo`` should the unit end without committing (the use
        case or the commit failed): for what lives outside the database,
        such as a claim in the cache."""
        self._undo.append(undo)

    def rolled_back(self) -> None:
        """For drivers: the unit ended without committing."""
        undo, self._undo = self._undo, []
        for step in reversed(undo):
            step()


class UnitOfWork(ABC):
    """Runs use cases, one session each: committed when the use case
    returns, rolled back when it raises (and its ``if_not_committed`` steps
    called)."""

    @abstractmethod
    async def run(self, work: Callable[[Work], T], *, calls_out: bool = False,
                  each_write_stands_alone: bool = False, read_only: bool = False) -> T:
        """Run ``work`` without blocking the event loop.

        What the route knows of its work, so the driver can choose how to
        run it: ``calls_out``, it calls other systems (``Work.offload``),
        which may take seconds; ``each_write_stands_alone``, every write it
        makes is one statement complete by itself, so the driver may run it
        without a transaction around it (its statements then commit one by
        one, and an error does not undo what was written); ``read_only``,
        it writes nothing, and what it reads may be a moment old, so it may
        run on a hot standby within the replication lag bound
        (``storage.units.replicas``). Work that reads and then writes on
        what it read is never read-only."""

    @abstractmethod
    def run_sync(self, work: Callable[[Work], T], *, read_only: bool = False) -> T:
        """Run ``work`` in this thread (command-line jobs, background threads)."""


def run_in_session(*, session: Session, work: Callable[[Work], T], unit: Work) -> T:
    """``work(unit)`` committed, or rolled back with its undo steps: the one
    commit of every driver's sessions."""
    try:
        result = work(unit)
        session.commit()
    except BaseException:
        session.rollback()
        unit.rolled_back()
        raise
    return result



def parsed_json(value: Any) -> Any:
    """``value``, with a ``JsonText`` parsed back (for a column type that serializes itself)."""
    return json.loads(value) if isinstance(value, JsonText) else value


def serialized_json(value: Any) -> str:
    """``value`` as JSON text (a ``JsonText`` as it is)."""
    return value if isinstance(value, JsonText) else json.dumps(value, ensure_ascii=False)
