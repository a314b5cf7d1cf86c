"""Fixtures of the registry tests."""

from __future__ import annotations

import os
import secrets

import pytest
from sqlalchemy import text

from certhub.db import create_db_engine, upgrade
from tests.environment import DATABASE_BACKENDS, engine_on_new_schema


@pytest.fixture(params=DATABASE_BACKENDS)
def own_database(request, tmp_path):
    """A fresh migrated database, since these tests must really commit."""
    if request.param == "sqlite":
        engine = create_db_engine(f"sqlite:///{tmp_path / 'race.sqlite3'}")
        upgrade(engine)
        yield engine
        engine.dispose()
        return
    schema = f"certhub_race_{os.getpid()}_{secrets.token_hex(3)}"
    engine = engine_on_new_schema(schema)
    upgrade(engine)
    yield engine
    engine.dispose()
    cleanup = create_db_engine(os.environ["CERTHUB_TEST_DATABASE_URL"])
    with cleanup.begin() as connection:
        connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    cleanup.dispose()
