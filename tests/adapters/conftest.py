"""Fixtures for the adapters: a catalog with data items bound to adapters
(tests.factories.adapters), a loopback provider, and a provider's
population table on each database backend (tests.factories.population)."""

from __future__ import annotations

import pytest

from catalog.service import document
from tests.adapters import loopback
from tests.adapters.databases import BACKENDS
from tests.factories.adapters import catalog_mapping
from tests.factories.population import population_database, population_registry


@pytest.fixture
def adapters_catalog(db_session):
    document.load(session=db_session, document=document.parse_mapping(catalog_mapping()))
    db_session.commit()


@pytest.fixture
def provider():
    running = loopback.start()
    yield running
    loopback.stop(running)


@pytest.fixture(params=BACKENDS)
def police_db(request, tmp_path):
    """The province's population table, on each database backend."""
    with population_database(request.param, tmp_path) as database:
        yield database


@pytest.fixture
def registry(police_db, tmp_path, adapters_catalog):
    instance = population_registry(police_db, tmp_path)
    yield instance
    instance.close()
