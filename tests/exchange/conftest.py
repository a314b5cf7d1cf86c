"""The exchange world as fixtures (its data: tests.factories.exchange).

Modules marked `exchange_world` run every test in a savepoint of one world
built per module and backend; the other exchange modules start from an
empty database as everywhere else.
"""

from __future__ import annotations

import pytest
from sqlalchemy.orm import sessionmaker

from adapters.sources.registry import BindingRegistry
from catalog import snapshots
from identity import clients
from tests.adapters import loopback
from tests.factories.exchange import WORLD_CLIENTS, World, bindings_for, enterprise_register, load_world


@pytest.fixture(scope="module")
def world_connection(migrated_engine):
    """The world is built once per module (and backend) in an outer
    transaction; each test runs in a savepoint of it, rolled back after."""
    connection = migrated_engine.connect()
    outer = connection.begin()
    session = sessionmaker(bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False)()
    load_world(session)
    credentials = {}
    for name, (code, scopes, _operator) in WORLD_CLIENTS.items():
        new = clients.create(session=session, department_code=code, name=f"test {name}", scopes=scopes)
        credentials[name] = (new.client_id, new.client_secret)
    session.commit()
    session.close()
    connection.info["exchange_world_clients"] = credentials
    try:
        yield connection
    finally:
        outer.rollback()
        connection.close()
        snapshots.forget(migrated_engine)  # the world's catalog is gone with the rollback


@pytest.fixture
def db_connection(request, migrated_engine):
    """Overrides tests/conftest.py's: in a module marked `exchange_world`, a
    savepoint of the world; elsewhere the usual empty database. (Naming
    `migrated_engine` here makes every test run on each backend.)"""
    if request.node.get_closest_marker("exchange_world") is None:
        yield request.getfixturevalue("empty_db_connection")
        return
    world_connection = request.getfixturevalue("world_connection")
    savepoint = world_connection.begin_nested()
    try:
        yield world_connection
    finally:
        if savepoint.is_active:
            savepoint.rollback()


def _headers(client, credentials: tuple[str, str], operator: str) -> dict:
    token = client.post("/api/v1/oauth/token", data={"grant_type": "client_credentials"},
                        auth=credentials).json()["access_token"]
    return {"Authorization": f"Bearer {token}", "X-Operator-Id": operator}


@pytest.fixture
def world(app, client, world_connection):
    register = enterprise_register()
    bindings = bindings_for(register.base_url)
    app.state.services.register(BindingRegistry, bindings)
    credentials = world_connection.info["exchange_world_clients"]
    try:
        yield World(register=register, **{name: _headers(client, credentials[name], operator)
                                          for name, (_code, _scopes, operator) in WORLD_CLIENTS.items()})
    finally:
        bindings.close()
        loopback.stop(register)
