"""Holder proxies: a holder delegates presenting (or consenting) for some
licence types to another holder, within a period; the proxy acts only
inside that scope; the holder lists and revokes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from registry.presentations.errors import InvalidPresentationRequest, ProxyNotAllowed
from registry.presentations.models import Delegation, Presentation
from registry.service import delegations
from tests.factories.catalog import BUSINESS_LICENCE
from tests.factories.licences import RESIDENCE_PERMIT
from tests.factories.presentations import CITIZEN, OTHER_CITIZEN, PROXY, build, holder_auth

NOW = datetime.now(UTC)


@pytest.fixture
def world(client, app, db_session):
    return build(client, app, db_session)


def _delegate(world, *, types=(RESIDENCE_PERMIT,), actions=("present",), until=None, headers=None, **extra):
    body = {"proxy": {"code": PROXY, "code_type": "111"}, "relation": "family", "type_codes": list(types),
            "actions": list(actions), "valid_until": (until or NOW + timedelta(days=30)).isoformat(), **extra}
    return world.client.post("/api/v1/holders/me/delegations", json=body, headers=headers or world.citizen)


@pytest.mark.slow
def test_proxy_presents_within_the_delegated_scope(world):
    created = _delegate(world)
    assert created.status_code == 201, created.text
    delegation = created.json()
    assert delegation["active"] and delegation["proxy_code"] == PROXY[:4] + "*" * 10 + PROXY[-4:]
    proxy = holder_auth(world.app, code=PROXY, name="张大山")
    response = world.present([world.residence["identifier"]], headers=proxy, on_behalf_of=CITIZEN)
    assert response.status_code == 201, response.text
    row = world.session.get(Presentation, response.json()["id"])
    assert (row.holder_code, row.proxy_code, row.delegation_id) == (CITIZEN, PROXY, delegation["id"])
    # The counter gets the holder's licence; the use is the holder's.
    assert world.redeem(response.json()["qr_text"]).status_code == 200


@pytest.mark.slow
def test_proxy_without_delegation_is_refused(world):
    proxy = holder_auth(world.app, code=PROXY, name="张大山")
    response = world.present([world.residence["identifier"]], headers=proxy, on_behalf_of=CITIZEN)
    assert response.status_code == 403 and response.json()["error"] == "proxy_not_allowed"
    # Nor can a proxy simply name the holder's licence as their own.
    response = world.present([world.residence["identifier"]], headers=proxy)
    assert response.status_code == 404


def test_proxy_outside_the_scope_is_refused(world):
    assert _delegate(world, actions=("consent",)).status_code == 201  # consent only, no presenting
    proxy = holder_auth(world.app, code=PROXY, name="张大山")
    response = world.present([world.residence["identifier"]], headers=proxy, on_behalf_of=CITIZEN)
    assert response.status_code == 403


@pytest.mark.slow
def test_revoked_delegation_stops_the_proxy(world):
    delegation = _delegate(world).json()
    revoked = world.client.post(f"/api/v1/holders/me/delegations/{delegation['id']}/revoke", headers=world.citizen)
    assert revoked.status_code == 200 and revoked.json()["status"] == "revoked" and not revoked.json()["active"]
    proxy = holder_auth(world.app, code=PROXY, name="张大山")
    response = world.present([world.residence["identifier"]], headers=proxy, on_behalf_of=CITIZEN)
    assert response.status_code == 403


def test_only_the_principal_revokes_and_both_see_it(world):
    delegation = _delegate(world).json()
    proxy = holder_auth(world.app, code=PROXY, name="张大山")
    response = world.client.post(f"/api/v1/holders/me/delegations/{delegation['id']}/revoke", headers=proxy)
    assert response.status_code == 404
    mine = world.client.get("/api/v1/holders/me/delegations", headers=world.citizen).json()
    theirs = world.client.get("/api/v1/holders/me/delegations", headers=proxy).json()
    assert [d["id"] for d in mine["given"]] == [delegation["id"]] and mine["received"] == []
    assert [d["id"] for d in theirs["received"]] == [delegation["id"]] and theirs["given"] == []


BAD_DELEGATIONS = [
    {"proxy": {"code": CITIZEN, "code_type": "111"}},  # oneself
    {"proxy": {"code": "350102199001011230", "code_type": "111"}},  # wrong check character
    {"type_codes": ["11100000MB0000004X999"]},  # not a licence type
    {"valid_until": (NOW - timedelta(days=1)).isoformat()},
    {"valid_until": (NOW + timedelta(days=6 * 366)).isoformat()},
    {"relation": "neighbour"},
    {"actions": ["revoke"]},
]


@pytest.mark.slow
def test_bad_delegations_are_refused(world):
    for overrides in BAD_DELEGATIONS:
        assert _delegate(world, **overrides).status_code == 422, overrides


def test_check_proxy_for_the_exchange(db_session, world):
    created = _delegate(world, types=(RESIDENCE_PERMIT, BUSINESS_LICENCE), actions=("present", "consent")).json()
    now = datetime.now(UTC)
    found = delegations.check_proxy(session=db_session, proxy_code=PROXY, principal_code=CITIZEN, action="consent",
                                    type_code=BUSINESS_LICENCE, now=now)
    assert found.id == created["id"]
    with pytest.raises(ProxyNotAllowed):
        delegations.check_proxy(session=db_session, proxy_code=PROXY, principal_code=CITIZEN, action="consent",
                                type_code="11100000MB0000004X999", now=now)
    with pytest.raises(ProxyNotAllowed):  # after the period
        delegations.check_proxy(session=db_session, proxy_code=PROXY, principal_code=CITIZEN, action="consent",
                                type_code=BUSINESS_LICENCE, now=now + timedelta(days=31))
    with pytest.raises(InvalidPresentationRequest):
        delegations.check_proxy(session=db_session, proxy_code=PROXY, principal_code=CITIZEN, action="revoke",
                                type_code=BUSINESS_LICENCE, now=now)


def _records_of(world, headers):
    response = world.client.get("/api/v1/holders/me/use-records", headers=headers)
    assert response.status_code == 200, response.text
    return [item["record"] for item in response.json()["records"]]


@pytest.mark.slow
def test_proxy_lists_the_principals_delegated_licences_and_the_principal_reads_it(world):
    delegation = _delegate(world).json()
    proxy = holder_auth(world.app, code=PROXY, name="张大山")
    response = world.client.get(f"/api/v1/holders/me/delegations/{delegation['id']}/licences", headers=proxy)
    assert response.status_code == 200, response.text
    body = response.json()
    assert [line["identifier"] for line in body["licences"]] == [world.residence["identifier"]]
    # The full code is what the proxy names in on_behalf_of; the page shows the masked one.
    assert body["principal"]["code"] == CITIZEN and body["principal"]["code_masked"] == CITIZEN[:4] + "*" * 10 + CITIZEN[-4:]
    assert body["delegation"]["id"] == delegation["id"] and body["delegation"]["active"]
    # With what the listing gave, the proxy shows the licence without typing anything.
    shown = world.present([body["licences"][0]["identifier"]], headers=proxy, on_behalf_of=body["principal"]["code"])
    assert shown.status_code == 201, shown.text
    # The listing is a use of the principal's data, on the delegation's basis, in the principal's own records.
    uses = [r for r in _records_of(world, world.citizen) if r["kind"] == "proxy_access"]
    assert len(uses) == 1
    assert uses[0]["basis"] == f"delegation:{delegation['id']}" and uses[0]["operator"] == "proxy"
    assert uses[0]["subject"] == CITIZEN and uses[0]["licence_ids"] == [world.residence["identifier"]]
    # ... and it is news to them (the polled feed, which Web Push follows too).
    cursor = world.client.get("/api/v1/holders/me/use-notices", headers=world.citizen).json()["cursor"]
    world.client.get(f"/api/v1/holders/me/delegations/{delegation['id']}/licences", headers=proxy)
    notices = world.client.get(f"/api/v1/holders/me/use-notices?after={cursor}", headers=world.citizen).json()
    assert [n["kind"] for n in notices["notices"]] == ["proxy_access"]


def test_proxy_sees_only_the_delegated_types(world):
    # The citizen holds a residence permit; the delegation covers business licences only.
    delegation = _delegate(world, types=(BUSINESS_LICENCE,), actions=("present",)).json()
    proxy = holder_auth(world.app, code=PROXY, name="张大山")
    response = world.client.get(f"/api/v1/holders/me/delegations/{delegation['id']}/licences", headers=proxy)
    assert response.status_code == 200 and response.json()["licences"] == []
    assert [r for r in _records_of(world, world.citizen) if r["kind"] == "proxy_access"] == []  # nothing shown
    refused = world.present([world.residence["identifier"]], headers=proxy, on_behalf_of=CITIZEN)
    assert refused.status_code == 403 and refused.json()["error"] == "proxy_not_allowed"


@pytest.mark.slow
def test_a_revoked_or_expired_delegation_lists_nothing(world, db_session):
    proxy = holder_auth(world.app, code=PROXY, name="张大山")
    revoked = _delegate(world).json()
    world.client.post(f"/api/v1/holders/me/delegations/{revoked['id']}/revoke", headers=world.citizen)
    expired = _delegate(world).json()
    row = db_session.get(Delegation, expired["id"])
    row.valid_from, row.valid_until = NOW - timedelta(days=10), NOW - timedelta(seconds=1)
    db_session.flush()
    for delegation in (revoked, expired):
        response = world.client.get(f"/api/v1/holders/me/delegations/{delegation['id']}/licences", headers=proxy)
        assert response.status_code == 403 and response.json()["error"] == "delegation_inactive", response.text
    assert [r for r in _records_of(world, world.citizen) if r["kind"] == "proxy_access"] == []
    # Another holder's delegation is as unknown as one that does not exist, and the principal is not its proxy.
    stranger = holder_auth(world.app, code=OTHER_CITIZEN, name="李四")
    for headers in (stranger, world.citizen):
        response = world.client.get(f"/api/v1/holders/me/delegations/{expired['id']}/licences", headers=headers)
        assert response.status_code == 404 and response.json()["error"] == "delegation_not_found"
