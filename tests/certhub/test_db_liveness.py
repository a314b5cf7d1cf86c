"""Pooled connections are tested before use only after sitting idle, and a
connection the database closed is replaced, not handed to a request."""

from __future__ import annotations

import os

import pytest
from sqlalchemy import create_engine, text

from certhub.db import create_db_engine, ping_idle_connections

POSTGRES_URL = os.environ.get("CERTHUB_TEST_DATABASE_URL")


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _counting_pings(engine) -> list:
    pings = []
    real = engine.dialect.do_ping

    def counted(dbapi_connection):
        pings.append(1)
        return real(dbapi_connection)

    engine.dialect.do_ping = counted
    return pings


def test_a_connection_used_a_moment_ago_is_not_pinged(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'pool.sqlite3'}")
    clock = FakeClock()
    ping_idle_connections(engine, idle_before_ping=1.0, clock=clock)
    pings = _counting_pings(engine)
    with engine.connect() as connection:  # a new connection: pinged
        connection.execute(text("select 1"))
    assert len(pings) == 1
    clock.now += 0.5
    with engine.connect() as connection:
        connection.execute(text("select 1"))
    assert len(pings) == 1
    clock.now += 1.5
    with engine.connect() as connection:
        connection.execute(text("select 1"))
    assert len(pings) == 2
    engine.dispose()


@pytest.mark.skipif(not POSTGRES_URL, reason="needs a database server that can close a connection: "
                                             "set CERTHUB_TEST_DATABASE_URL (CI does)")
def test_an_idle_connection_the_database_closed_is_replaced():
    engine = create_db_engine(POSTGRES_URL)
    killer = create_db_engine(POSTGRES_URL)
    clock = FakeClock()
    # The app's engine already pings idle connections; a second listener with
    # a clock of our own makes "idle" controllable here.
    ping_idle_connections(engine, idle_before_ping=1.0, clock=clock)
    try:
        with engine.connect() as connection:
            first = connection.execute(text("select pg_backend_pid()")).scalar_one()
        with killer.connect() as connection:
            connection.execute(text("select pg_terminate_backend(:pid)"), {"pid": first})
        clock.now += 5
        with engine.connect() as connection:
            second = connection.execute(text("select pg_backend_pid()")).scalar_one()
        assert second != first
    finally:
        engine.dispose()
        killer.dispose()
