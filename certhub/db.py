"""Database engine, sessions and migrations for SQLite and PostgreSQL alike."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, inspect
from sqlalchemy.orm import Session, sessionmaker

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def create_db_engine(url: str, *, echo: bool = False, serve_requests: bool = False) -> Engine:
    """An engine for `url`. `serve_requests` is for the app's engine: on
    SQLite its transactions then take the write lock when they begin (see
    `_sqlite_engine`); command-line jobs keep SQLite's deferred default."""
    if url.startswith("sqlite"):
        return _sqlite_engine(url, echo=echo, immediate=serve_requests)
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    return create_engine(url, echo=echo, pool_pre_ping=True, pool_size=10, max_overflow=20)


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
    # serialised requests are fine. Jobs (imports, the CLI) stay deferred so
    # their reads never queue behind a writer.
    begin = "BEGIN IMMEDIATE" if immediate else "BEGIN"

    @event.listens_for(engine, "begin")
    def _begin(connection):
        connection.exec_driver_sql(begin)

    return engine


def create_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


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
