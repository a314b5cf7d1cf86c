"""What a test run is given: the repository it runs in, and the database and
cache backends to run on (SQLite and an in-process cache always; PostgreSQL
and Redis too when CERTHUB_TEST_DATABASE_URL / CERTHUB_TEST_REDIS_URL are set).

Plain values and functions, importable from any test module or conftest.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from urllib.parse import quote

from sqlalchemy import Engine, event, text

from certhub.db import create_db_engine

REPO_ROOT = Path(__file__).resolve().parent.parent

POSTGRES_URL = os.environ.get("CERTHUB_TEST_DATABASE_URL")
REDIS_URL = os.environ.get("CERTHUB_TEST_REDIS_URL")

DATABASE_BACKENDS = ["sqlite"] + (["postgresql"] if POSTGRES_URL else [])
CACHE_BACKENDS = ["memory"] + (["redis"] if REDIS_URL else [])


def engine_on_schema(url: str, schema: str) -> Engine:
    """A PostgreSQL engine whose every connection works in `schema` (also
    what other processes of a test use to reach the same tables)."""
    engine = create_db_engine(url)

    @event.listens_for(engine, "connect")
    def _search_path(dbapi_connection, _record):
        cursor = dbapi_connection.cursor()
        cursor.execute(f'SET search_path TO "{schema}"')
        cursor.close()
        # psycopg opens a transaction for SET; end it so pooled connections start clean.
        dbapi_connection.commit()

    return engine


def engine_on_new_schema(schema: str) -> Engine:
    """A PostgreSQL engine on a schema created for it (the caller drops it)."""
    engine = create_db_engine(POSTGRES_URL)
    with engine.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine.dispose()
    return engine_on_schema(POSTGRES_URL, schema)


def server_database(backend: str, tmp_path: Path, *, prefix: str) -> tuple[str, str | None]:
    """A database URL for a server process a test starts: a SQLite file in `tmp_path`, or a
    PostgreSQL schema of its own (named from `prefix`, set as the connections' search_path in the
    URL, so any process reaches it). Also the schema, for `drop_schema` after, or None."""
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'certhub.sqlite3'}", None
    assert POSTGRES_URL is not None, "the postgresql backend runs only with CERTHUB_TEST_DATABASE_URL"
    schema = f"{prefix}_{os.getpid()}_{secrets.token_hex(3)}"
    engine = create_db_engine(POSTGRES_URL)
    with engine.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine.dispose()
    separator = "&" if "?" in POSTGRES_URL else "?"
    return f"{POSTGRES_URL}{separator}options={quote(f'-csearch_path={schema}')}", schema


def drop_schema(schema: str) -> None:
    assert POSTGRES_URL is not None
    engine = create_db_engine(POSTGRES_URL)
    with engine.begin() as connection:
        connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    engine.dispose()
