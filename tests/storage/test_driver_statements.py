"""Statements on psycopg's own async connection: the same values as through
SQLAlchemy, SQLAlchemy's errors, no reuse of a broken connection, and
the same statement through SQLAlchemy on any other connection."""

from __future__ import annotations

import asyncio
import os
import secrets
from datetime import UTC, datetime, timedelta, timezone
from urllib.parse import quote

import pytest
from sqlalchemy import (
    BigInteger,
    Column,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    bindparam,
    create_engine,
    exc,
    insert,
    select,
    text,
)
from sqlalchemy.ext.asyncio import create_async_engine

from catalog.models import JSONType
from storage.base import UTCDateTime
from storage.driver_statements import DriverStatement

POSTGRES_URL = os.environ.get("CERTHUB_TEST_DATABASE_URL")
on_postgresql = pytest.mark.skipif(not POSTGRES_URL, reason="needs CERTHUB_TEST_DATABASE_URL (PostgreSQL)")

metadata = MetaData()
things = Table(
    "driver_things", metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("code", String(18), unique=True),
    Column("terms", JSONType),
    Column("valid_until", UTCDateTime()),
    Column("entry", LargeBinary),
)
COLUMNS = ("code", "terms", "valid_until", "entry")
INSERT_ONE = DriverStatement(insert(things).values({name: bindparam(name) for name in COLUMNS}).inline())
BY_CODE = select(things.c.id, things.c.code, things.c.terms, things.c.valid_until, things.c.entry).where(
    things.c.code == bindparam("code"))
SELECT_BY_CODE = DriverStatement(BY_CODE)


@pytest.fixture
def schema_url():
    schema = f"certhub_test_drv_{secrets.token_hex(3)}"
    admin = create_engine(POSTGRES_URL.replace("postgresql://", "postgresql+psycopg://", 1))
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    separator = "&" if "?" in POSTGRES_URL else "?"
    url = f"{POSTGRES_URL}{separator}options={quote(f'-csearch_path={schema}')}"
    tables = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    with tables.begin() as connection:
        metadata.create_all(connection)
    tables.dispose()
    try:
        yield url
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def _on_the_loop(url: str, work):
    """``work(connection)`` in SQLAlchemy's bridge over an autocommit psycopg async connection."""
    async def run():
        engine = create_async_engine(url.replace("postgresql://", "postgresql+psycopg_async://", 1),
                                     isolation_level="AUTOCOMMIT")
        try:
            async with engine.connect() as connection:
                return await connection.run_sync(work)
        finally:
            await engine.dispose()

    return asyncio.run(run())


def _values(code: str) -> dict:
    return {"code": code, "terms": {"matters": ["M1", "M2"], "fields": ["名称"]},
            "valid_until": datetime(2027, 1, 1, 8, tzinfo=timezone(timedelta(hours=8))), "entry": b"\x00\x01record"}


@on_postgresql
def test_what_the_driver_writes_and_reads_is_what_sqlalchemy_writes_and_reads(schema_url):
    def work(connection):
        assert INSERT_ONE.execute(connection, _values("A1")) == []
        connection.execute(insert(things), _values("B2"))  # the same through SQLAlchemy
        return (SELECT_BY_CODE.execute(connection, {"code": "A1"}), SELECT_BY_CODE.execute(connection, {"code": "B2"}),
                list(connection.execute(BY_CODE, {"code": "A1"})), list(connection.execute(BY_CODE, {"code": "B2"})))

    [on_driver_a], [on_driver_b], [through_a], [through_b] = _on_the_loop(schema_url, work)
    for driver_row, sqlalchemy_row in ((on_driver_a, through_a), (on_driver_b, through_b)):
        assert tuple(driver_row) == tuple(sqlalchemy_row)
    # The column types' processors ran: JSON decoded, the instant in UTC, bytes as bytes.
    assert on_driver_a.terms == {"matters": ["M1", "M2"], "fields": ["名称"]}
    assert on_driver_a.valid_until == datetime(2027, 1, 1, 0, tzinfo=UTC)
    assert on_driver_a.valid_until.tzinfo == UTC and on_driver_a.entry == b"\x00\x01record"
    assert (on_driver_a.code, on_driver_b.code) == ("A1", "B2")


@on_postgresql
def test_the_parameters_must_be_the_statement_s(schema_url):
    def work(connection):
        with pytest.raises(ValueError, match="not the statement's"):
            SELECT_BY_CODE.execute(connection, {"code": "A1", "extra": 1})
        with pytest.raises(ValueError, match="not the statement's"):
            INSERT_ONE.execute(connection, {"code": "A1"})
        return True

    assert _on_the_loop(schema_url, work)


@on_postgresql
def test_a_failing_statement_raises_sqlalchemy_s_error_without_its_parameters(schema_url):
    def work(connection):
        INSERT_ONE.execute(connection, _values("SECRET-123"))
        with pytest.raises(exc.IntegrityError) as raised:
            INSERT_ONE.execute(connection, _values("SECRET-123"))
        # The connection is fine: only the statement failed.
        return str(raised.value), connection.invalidated, SELECT_BY_CODE.execute(connection, {"code": "SECRET-123"})

    message, invalidated, rows = _on_the_loop(schema_url, work)
    # PostgreSQL's own message names the key, as through SQLAlchemy; the bound values are not shown.
    assert "[SQL parameters hidden" in message and "matters" not in message and "record" not in message
    assert invalidated is False and [row.code for row in rows] == ["SECRET-123"]


@on_postgresql
def test_a_connection_that_broke_is_not_reused(schema_url):
    def work(connection):
        pid = connection.exec_driver_sql("SELECT pg_backend_pid()").scalar_one()
        killer = create_engine(schema_url.replace("postgresql://", "postgresql+psycopg://", 1))
        with killer.begin() as other:
            other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        killer.dispose()
        with pytest.raises(exc.DBAPIError) as raised:
            SELECT_BY_CODE.execute(connection, {"code": "A1"})
        return raised.value.connection_invalidated, connection.invalidated

    assert _on_the_loop(schema_url, work) == (True, True)


def test_any_other_connection_runs_the_statement_through_sqlalchemy(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'other.sqlite3'}")
    metadata.create_all(engine)
    try:
        with engine.begin() as connection:
            assert INSERT_ONE.execute(connection, _values("A1")) == []
            [row] = SELECT_BY_CODE.execute(connection, {"code": "A1"})
            written = connection.execute(BY_CODE, {"code": "A1"}).one()
        assert (row.code, row.terms, row.valid_until, row.entry) == (
            "A1", _values("A1")["terms"], _values("A1")["valid_until"], b"\x00\x01record")
        assert tuple(row) == tuple(written)
    finally:
        engine.dispose()
