"""Demo mode's one-click sign-in for the counter and auditor pages: only in
demo mode, only for the demo client, and only with the one scope a page needs."""

from __future__ import annotations

import dataclasses

import pytest

from catalog.service import document
from certhub.demo.seed import DEMO_CLIENT_NAME
from identity import clients
from identity.config import IdentityConfig
from identity.scopes import KNOWN_SCOPES
from identity.tokens import TokenAuthority
from tests.factories.catalog import PROVINCE_SAMR as PROVINCE
from tests.factories.catalog import catalog_mapping

pytestmark = pytest.mark.slow  # signs in through the demo app end to end


def _demo_client(session):
    document.load(session=session, document=document.parse_mapping(catalog_mapping()))
    made = clients.create(session=session, department_code=PROVINCE, name=DEMO_CLIENT_NAME, scopes=list(KNOWN_SCOPES))
    session.commit()
    return made


def test_refused_outside_demo_mode(client, db_session):
    _demo_client(db_session)
    answer = client.post("/web/api/demo/department-token", json={"role": "audit"})
    assert answer.status_code == 403 and answer.json()["error"] == "login_unavailable"


def test_tokens_carry_one_scope(app, client, db_session):
    made = _demo_client(db_session)
    app.state.services.replace(IdentityConfig, dataclasses.replace(app.state.services.find(IdentityConfig), demo=True))
    audit = client.post("/web/api/demo/department-token", json={"role": "audit"}).json()
    assert audit["scope"] == "audit:read" and audit["client_id"] == made.client_id
    principal = app.state.services.find(TokenAuthority).verify(audit["access_token"])
    assert principal.scopes == frozenset({"audit:read"}) and principal.department_code == PROVINCE
    counter = client.post("/web/api/demo/department-token", json={"role": "counter"}).json()
    assert app.state.services.find(TokenAuthority).verify(counter["access_token"]).scopes == frozenset({"presentation:redeem"})
    assert client.post("/web/api/demo/department-token", json={"role": "admin"}).status_code == 422


def test_needs_the_demo_client(app, client):
    app.state.services.replace(IdentityConfig, dataclasses.replace(app.state.services.find(IdentityConfig), demo=True))
    answer = client.post("/web/api/demo/department-token", json={"role": "counter"})
    assert answer.status_code == 409 and answer.json()["error"] == "no_demo_client"
