"""Database engine, sessions and migrations for SQLite and PostgreSQL alike."""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import Executor
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, exc, inspect
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.orm import Session, sessionmaker

from storage.units import PostgreSQLUnitOfWork, SQLiteUnitOfWork, UnitOfWork

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def create_db_engine(url: str, *, echo: bool = False, serve_requests: bool = False,
                     run_jobs: bool = False) -> Engine:
    """An engine for `url`. `serve_requests` is for the app's engine,
    `run_jobs` for command-line jobs (imports, `clients create`, the expiry
    job): on SQLite their transactions take the write lock when they begin,
    so they wait their turn behind another process's writer (see
    `_sqlite_engine`). Other engines (tests, benchmarks) keep SQLite's
    deferred default."""
    if url.startswith("sqlite"):
        return _sqlite_engine(url, echo=echo, immediate=serve_requests or run_jobs)
    engine = create_engine(_with_driver(url), echo=echo, pool_size=10, max_overflow=20)
    ping_idle_connections(engine)
    return engine


# A standby that does not answer within this is bypassed (its lag check fails).
STANDBY_CONNECT_TIMEOUT_S = 2


def create_standby_engine(url: str) -> Engine:
    """An engine on a hot standby, for read-only work (storage.units.replicas):
    a smaller pool than the primary's, and a connect timeout so a standby
    that went away is noticed in seconds."""
    engine = create_engine(_with_driver(url), pool_size=5, max_overflow=10,
                           connect_args={"connect_timeout": STANDBY_CONNECT_TIMEOUT_S})
    ping_idle_connections(engine)
    return engine


def create_query_engine(url: str) -> AsyncEngine | None:
    """The exchange query's engine on PostgreSQL: asynchronous (psycopg's
    async driver), every statement committing by itself (DBAPI autocommit);
    None on SQLite, where the query runs in the app's transactions in a
    worker thread.

    Asynchronous, so the query reads and logs on the event loop: its service
    code runs unchanged through ``AsyncSession.run_sync``, SQLAlchemy's
    bridge, and only the provider's call goes to a worker thread. A query
    that ran wholly in a worker thread waited for the worker's interpreter
    lock after each of its four blocking calls (rate limit, read, provider,
    log) and for the two trips between the loop and the thread; at 10
    clients that was most of the hub's overhead (see docs/exchange.md).

    Autocommit: the app runs at PostgreSQL's default READ COMMITTED, where
    every statement of a transaction takes a snapshot of its own, so a
    transaction around the reads adds a BEGIN and a COMMIT round trip and no
    consistency. The records go in one multi-row INSERT
    (``exchange.auditlog.insert_pending``), atomic by itself and as durable
    when it returns as a COMMIT is. That leaves two database round trips.

    Its own pool, a smaller one (10 connections at most: a query holds one
    only while it reads or writes, never across a provider's call; the
    pools of every worker together must stay under PostgreSQL's
    max_connections).
    """
    if not url.startswith("postgresql"):
        return None
    engine = create_async_engine(_with_driver(url, asynchronous=True), isolation_level="AUTOCOMMIT",
                                 pool_size=5, max_overflow=5)
    ping_idle_connections(engine.sync_engine)
    return engine


def _with_driver(url: str, *, asynchronous: bool = False) -> str:
    """A plain postgresql:// URL names psycopg (3), the driver we install
    (its async form for an async engine)."""
    if url.startswith("postgresql://"):
        return ("postgresql+psycopg_async://" if asynchronous else "postgresql+psycopg://") + \
            url.removeprefix("postgresql://")
    if asynchronous and url.startswith("postgresql+psycopg://"):
        return "postgresql+psycopg_async://" + url.removeprefix("postgresql+psycopg://")
    return url


# A pooled connection checked in this recently was working a moment ago.
IDLE_BEFORE_PING = 1.0  # seconds
_CHECKED_IN_AT = "certhub.checked_in_at"


def ping_idle_connections(engine: Engine, *, idle_before_ping: float = IDLE_BEFORE_PING,
                          clock: Callable[[], float] = time.monotonic) -> None:
    """Test a pooled connection before handing it out, unless it was in use
    within the last ``idle_before_ping`` seconds.

    SQLAlchemy's ``pool_pre_ping`` pings at every checkout: one more round
    trip for every transaction, two per exchange query. A restarted database
    closes connections that sit idle in the pool; one that served a request
    a moment ago is checked by that use. A dead connection is reported to
    the pool, which discards it and hands out another (SQLAlchemy's
    "pessimistic disconnect handling" through the checkout event)."""
    dialect = engine.dialect

    @event.listens_for(engine, "checkin")
    def _checked_in(_dbapi_connection, record) -> None:
        if record is not None:
            record.info[_CHECKED_IN_AT] = clock()

    @event.listens_for(engine, "checkout")
    def _checkout(dbapi_connection, record, _proxy) -> None:
        # record.info is emptied when a connection is invalidated, so a new one is pinged too.
        checked_in_at = record.info.get(_CHECKED_IN_AT)
        if checked_in_at is not None and clock() - checked_in_at < idle_before_ping:
            return
        try:
            dialect.do_ping(dbapi_connection)
        except dialect.loaded_dbapi.Error as error:
            if dialect.is_disconnect(error, dbapi_connection, None):
                raise exc.DisconnectionError("a pooled connection was closed by the database") from error
            raise


def _sqlite_engine(url: str, *, echo: bool, immediate: bool) -> Engine:
    path = url.split("///", 1)[-1] if "///" in url else ""
    if path and path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, echo=echo, connect_args={"check_same_thread": False, "timeout": 30})

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection, _record):
        # The driver's own implicit transactions would end SAVEPOINTs early
        # (a RELEASE with no BEGIN commits); SQLAlchemy emits BEGIN instead.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    # Request handlers often read and then write (a use record, a last-used
    # time). On SQLite such a deferred transaction fails at once with
    # "database is locked" when another connection committed in between: WAL
    # cannot upgrade a stale read snapshot, and busy_timeout does not apply.
    # The app's engine therefore begins IMMEDIATE, so requests wait their
    # turn instead; the embedded default serves one counter or one demo, where
    # serialised requests are fine. Command-line jobs beside a running server
    # (a bulk import, `clients create`) read then write just the same, so
    # they begin IMMEDIATE too: a job waits up to busy_timeout for the
    # server's write, where a deferred one failed at once.
    begin = "BEGIN IMMEDIATE" if immediate else "BEGIN"

    @event.listens_for(engine, "begin")
    def _begin(connection):
        # Read-only work (``read_only_engine``) never writes: a deferred
        # transaction reads a snapshot without the write lock, so it neither
        # waits for a writer nor holds one up (WAL).
        connection.exec_driver_sql("BEGIN" if connection.get_execution_options().get(_READS_ONLY) else begin)

    return engine


_READS_ONLY = "certhub_reads_only"


def read_only_engine(engine: Engine) -> Engine:
    """``engine`` (its pool) for read-only work on the primary: on
    PostgreSQL every transaction begins READ ONLY (psycopg puts it in the
    BEGIN: no extra round trip), so work that declared it only reads fails
    if it writes, as it would on a standby; on SQLite a deferred BEGIN
    instead of the app's IMMEDIATE one."""
    if engine.dialect.name == "postgresql":
        return engine.execution_options(postgresql_readonly=True)
    return engine.execution_options(**{_READS_ONLY: True})


def create_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


def create_async_sessionmaker(engine: AsyncEngine) -> async_sessionmaker:
    return async_sessionmaker(bind=engine, expire_on_commit=False)


def create_unit_of_work(engine: Engine, *, sessions: Callable[[], Session],
                        query_sessions: async_sessionmaker | None = None,
                        calls: Callable[[], Executor | None] = lambda: None,
                        read_sessions: Callable[[], Session] | None = None) -> UnitOfWork:
    """The unit-of-work driver for ``engine``'s database (storage.units).
    ``sessions``: the app's sessions; on PostgreSQL ``query_sessions`` are
    those of ``create_query_engine`` (None: every use case in a worker
    thread) and ``calls`` the thread pool their calls to other systems go
    to. ``read_sessions``: read-only work's (``storage.units.ReadSessions``;
    None: ``sessions``)."""
    if engine.dialect.name == "sqlite":
        return SQLiteUnitOfWork(sessions, read_sessions=read_sessions)
    return PostgreSQLUnitOfWork(sessions, loop_sessions=query_sessions, calls=calls, read_sessions=read_sessions)


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(engine: Engine, revision: str = "heads") -> None:
    """Build or upgrade the schema by running the migrations (every branch:
    each package's tables may start as a branch off the catalog's)."""
    config = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        if not inspect(connection).has_table("alembic_version"):
            return None
        return connection.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
