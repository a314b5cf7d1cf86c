"""A department manages its own API clients through the API (scope
clients:manage): list, rotate a secret (shown once, the old one refused at
once), disable (its tokens stop counting); another department's clients
answer as if there were none."""

from __future__ import annotations

import logging

import pytest

from identity import clients
from identity.tokens import TokenAuthority
from tests.factories.catalog import CITY_SAMR, PROVINCE_SAMR

CLIENTS = "/api/v1/clients"
AGREEMENTS = "/api/v1/exchange/agreements"

pytestmark = pytest.mark.usefixtures("loaded")


def _manager(app, department: str = CITY_SAMR, scopes: tuple[str, ...] = ("clients:manage",)) -> dict:
    token = app.state.services.find(TokenAuthority).issue(client_id="officer-session", department_code=department,
                                                          scopes=list(scopes))
    return {"Authorization": f"Bearer {token}"}


def _system(db_session, department: str = CITY_SAMR) -> clients.NewClient:
    new = clients.create(session=db_session, department_code=department, name="审批业务系统",
                         scopes=["exchange:query"])
    db_session.commit()
    return new


def _token(client, client_id: str, secret: str):
    return client.post("/api/v1/oauth/token", data={"grant_type": "client_credentials"}, auth=(client_id, secret))


def test_a_department_lists_its_own_clients_and_never_a_secret(client, app, db_session):
    own = _system(db_session)
    other = _system(db_session, PROVINCE_SAMR)
    answer = client.get(CLIENTS, headers=_manager(app))
    assert answer.status_code == 200, answer.text
    listed = {c["client_id"]: c for c in answer.json()}
    assert own.client_id in listed and other.client_id not in listed
    assert listed[own.client_id]["active"] is True and listed[own.client_id]["auth_method"] == "client_secret"
    assert own.client_secret not in answer.text and "secret_hash" not in answer.text


def test_a_rotated_secret_is_shown_once_and_the_old_one_is_refused(client, app, db_session, caplog):
    own = _system(db_session)
    assert _token(client, own.client_id, own.client_secret).status_code == 200
    with caplog.at_level(logging.DEBUG):
        answer = client.post(f"{CLIENTS}/{own.client_id}/secret", headers=_manager(app))
    assert answer.status_code == 200, answer.text
    assert answer.headers["cache-control"] == "no-store"
    new_secret = answer.json()["client_secret"]
    assert new_secret and new_secret != own.client_secret
    assert new_secret not in caplog.text, "a secret is never logged"
    assert _token(client, own.client_id, own.client_secret).status_code == 401
    assert _token(client, own.client_id, new_secret).status_code == 200
    # Shown once: the list never carries it.
    assert new_secret not in client.get(CLIENTS, headers=_manager(app)).text


def test_disabling_a_client_ends_its_tokens_and_its_secret(client, app, db_session):
    own = _system(db_session)
    token = _token(client, own.client_id, own.client_secret).json()["access_token"]
    assert client.get(AGREEMENTS, headers={"Authorization": f"Bearer {token}"}).status_code == 200
    answer = client.post(f"{CLIENTS}/{own.client_id}/disable", headers=_manager(app))
    assert answer.status_code == 200, answer.text
    assert answer.json()["active"] is False
    assert client.get(AGREEMENTS, headers={"Authorization": f"Bearer {token}"}).status_code == 401
    assert _token(client, own.client_id, own.client_secret).status_code == 401
    # A disabled client gets no new secret.
    assert client.post(f"{CLIENTS}/{own.client_id}/secret", headers=_manager(app)).status_code == 422


def test_another_departments_client_is_as_if_there_were_none(client, app, db_session):
    other = _system(db_session, PROVINCE_SAMR)
    for action in ("secret", "disable"):
        answer = client.post(f"{CLIENTS}/{other.client_id}/{action}", headers=_manager(app))
        assert answer.status_code == 404, answer.text
    assert _token(client, other.client_id, other.client_secret).status_code == 200


def test_managing_clients_needs_the_scope(client, app, db_session):
    own = _system(db_session)
    headers = _manager(app, scopes=("exchange:query", "licence:manage"))
    assert client.get(CLIENTS, headers=headers).status_code == 403
    assert client.post(f"{CLIENTS}/{own.client_id}/secret", headers=headers).status_code == 403
    assert client.post(f"{CLIENTS}/{own.client_id}/disable", headers=headers).status_code == 403
    assert client.get(CLIENTS).status_code == 401
