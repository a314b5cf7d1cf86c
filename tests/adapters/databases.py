"""Departments' own databases for the SQL source: a SQLite file always,
and a schema of its own on PostgreSQL when CERTHUB_TEST_DATABASE_URL is set
(created for the test and dropped after)."""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, create_engine, text

POSTGRES_URL = os.environ.get("CERTHUB_TEST_DATABASE_URL")
BACKENDS = ["sqlite"] + (["postgresql"] if POSTGRES_URL else [])


@dataclass
class ProviderDatabase:
    backend: str
    url: str  # what a binding's url (or url_env) holds
    schema: str | None  # qualify table names with it (PostgreSQL)
    engine: Engine  # the test's own handle, to load and change data

    def table(self, name: str) -> str:
        return f"{self.schema}.{name}" if self.schema else name

    def run(self, sql: str, rows: list[dict] | None = None) -> None:
        """`{schema}.` qualifies tables; `TS('...')` is a timestamp literal
        (SQLite keeps ISO text: a CAST would turn it into a number)."""
        sql = sql.replace("{schema}.", f"{self.schema}." if self.schema else "")
        sql = re.sub(r"TS\(([^)]*)\)", r"\1" if self.backend == "sqlite" else r"CAST(\1 AS TIMESTAMP)", sql)
        with self.engine.begin() as connection:
            connection.execute(text(sql), rows or {})


@contextmanager
def provider_database(backend: str, directory: Path) -> Iterator[ProviderDatabase]:
    if backend == "sqlite":
        url = f"sqlite:///{directory / 'department.sqlite3'}"
        engine = create_engine(url)
        try:
            yield ProviderDatabase(backend, url, None, engine)
        finally:
            engine.dispose()
        return
    assert POSTGRES_URL is not None
    url = "postgresql+psycopg://" + POSTGRES_URL.removeprefix("postgresql://")
    schema = f"adapters_src_{secrets.token_hex(4)}"
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text(f"CREATE SCHEMA {schema}"))
    try:
        yield ProviderDatabase(backend, POSTGRES_URL, schema, engine)
    finally:
        with engine.begin() as connection:
            connection.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        engine.dispose()
