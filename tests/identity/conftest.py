"""Fixtures of the identity tests: the test catalog loaded, and a department
system holding private_key_jwt keys (tests.factories.clients)."""

from __future__ import annotations

import pytest

from catalog.service import document
from tests.factories.catalog import catalog_mapping
from tests.factories.clients import Department


@pytest.fixture
def loaded(db_session):
    document.load(session=db_session, document=document.parse_mapping(catalog_mapping()))
    db_session.commit()


@pytest.fixture
def dept(db_session, loaded):
    return Department(db_session)
