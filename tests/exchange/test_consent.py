"""Holder consent (授权): grant, see, withdraw; checked at query time;
proxies consent only within a delegation's scope."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from identity.codes import citizen_id_check_character
from registry.service import delegations
from tests.factories.exchange import (
    BUSINESS_LICENCE,
    COUNTER,
    GULOU_POLICE,
    ID_CARD,
    OWNER,
    PROPERTY_DATA,
    apply,
    consent,
    decide,
    holder,
    id_card,
    issue,
    query,
    results_by_item,
)

pytestmark = [pytest.mark.exchange_world, pytest.mark.slow]  # in a savepoint of the world, built per module

URL = "/api/v1/holders/me/consents"
CHILD = "35010220150601002" + citizen_id_check_character("35010220150601002")


def test_holder_grants_sees_and_withdraws_consents(app, client, world):
    owner = holder(app, OWNER, "111", "张三丰")
    granted = consent(client, owner, COUNTER, [ID_CARD, PROPERTY_DATA])
    assert granted["status"] == "active" and granted["items"] == [ID_CARD, PROPERTY_DATA]
    assert len(granted["id"]) == 32 and granted["granted_by_proxy"] is False
    other = holder(app, CHILD, "111", "张小明")
    assert client.get(URL, headers=other).json() == []
    assert client.post(f"{URL}/{granted['id']}/withdraw", headers=other).status_code == 404

    withdrawn = client.post(f"{URL}/{granted['id']}/withdraw", headers=owner)
    assert withdrawn.status_code == 200 and withdrawn.json()["status"] == "withdrawn"
    assert client.post(f"{URL}/{granted['id']}/withdraw", headers=owner).status_code == 200  # idempotent
    assert [c["status"] for c in client.get(URL, headers=owner).json()] == ["withdrawn"]


def test_consents_are_validated(app, client, world):
    owner = holder(app, OWNER, "111", "张三丰")

    def attempt(**body):
        body = {"department": COUNTER, "matter": "11350102360444289T9900001000", "items": [ID_CARD], **body}
        return client.post(URL, json=body, headers=owner)

    assert attempt(items=[BUSINESS_LICENCE]).status_code == 422  # held by organisations
    assert attempt(department="91350102MA8XYW456X").status_code == 422
    assert attempt(matter="11350102360444289T9900009999").status_code == 422
    too_long = (datetime.now(UTC) + timedelta(days=400)).isoformat()
    assert attempt(valid_until=too_long).status_code == 422
    assert attempt(items=[]).status_code == 422
    assert client.post(URL, json={"department": COUNTER}, headers=world.counter).status_code == 401


def test_consent_is_checked_at_query_time_and_expires(app, client, db_session, world):
    issue(client, world.gulou_police, id_card())
    decide(client, world.gulou_police,
           apply(client, world.counter, ID_CARD, provider=GULOU_POLICE, fields=["sex"])["id"])
    owner = holder(app, OWNER, "111", "张三丰")
    soon = (datetime.now(UTC) + timedelta(seconds=2)).isoformat()
    short = consent(client, owner, COUNTER, [ID_CARD], valid_until=soon)
    answer = results_by_item(query(client, world.counter, OWNER, "111", [ID_CARD]).json())[ID_CARD]
    assert answer["result"] == "granted" and answer["basis"] == f"consent:{short['id']}"

    from exchange.consent import service as consents
    from exchange.errors import Refusal

    later = datetime.now(UTC) + timedelta(seconds=5)
    try:
        consents.covering(session=db_session, holder_code=OWNER, department_code=COUNTER,
                          matter_code="11350102360444289T9900001000", item_code=ID_CARD, now=later)
    except Refusal as refusal:
        assert refusal.code == "consent_expired" and refusal.basis == f"consent:{short['id']}"
    else:
        raise AssertionError("an expired consent must not cover the use")


def _delegate(db_session, *, principal, principal_type, proxy, types, actions=("consent",)):
    now = datetime.now(UTC)
    delegations.create(
        session=db_session,
        principal_code=principal,
        principal_code_type=principal_type,
        proxy_code=proxy,
        proxy_code_type="111",
        relation="guardian",
        type_codes=list(types),
        actions=list(actions),
        valid_from=now - timedelta(minutes=1),
        valid_until=now + timedelta(days=30),
        now=now,
    )
    db_session.commit()


def test_a_proxy_consents_within_the_delegated_scope_only(app, client, db_session, world):
    guardian = holder(app, OWNER, "111", "张三丰")
    for_child = {"on_behalf_of": {"code": CHILD, "code_type": "111"}}
    refused = client.post(URL, json={"department": COUNTER, "matter": "11350102360444289T9900001000",
                                     "items": [ID_CARD], **for_child}, headers=guardian)
    assert refused.status_code == 403 and refused.json()["error"] == "proxy_not_allowed"

    _delegate(db_session, principal=CHILD, principal_type="111", proxy=OWNER, types=[ID_CARD])
    granted = consent(client, guardian, COUNTER, [ID_CARD], **for_child)
    assert granted["granted_by_proxy"] is True
    data_item = client.post(URL, json={"department": COUNTER, "matter": "11350102360444289T9900001000",
                                       "items": [PROPERTY_DATA], **for_child}, headers=guardian)
    assert data_item.status_code == 422 and "delegations cover licence types only" in data_item.json()["message"]

    # The child sees the consent given for them and may withdraw it; so may the guardian.
    child = holder(app, CHILD, "111", "张小明")
    assert [c["id"] for c in client.get(URL, headers=child).json()] == [granted["id"]]
    assert [c["id"] for c in client.get(URL, headers=guardian).json()] == [granted["id"]]
    assert client.post(f"{URL}/{granted['id']}/withdraw", headers=child).json()["status"] == "withdrawn"


def test_a_delegation_for_showing_only_does_not_let_the_proxy_consent(app, client, db_session, world):
    _delegate(db_session, principal=CHILD, principal_type="111", proxy=OWNER, types=[ID_CARD], actions=["present"])
    guardian = holder(app, OWNER, "111", "张三丰")
    response = client.post(URL, json={"department": COUNTER, "matter": "11350102360444289T9900001000",
                                      "items": [ID_CARD], "on_behalf_of": {"code": CHILD, "code_type": "111"}},
                           headers=guardian)
    assert response.status_code == 403


def test_revoking_the_delegation_ends_the_consents_given_under_it(app, client, db_session, world):
    """Checked at query time: the refusal names the consent, the holder's
    list shows it ended, and a delegation given afresh does not revive it."""
    issue(client, world.gulou_police, id_card(CHILD))
    decide(client, world.gulou_police,
           apply(client, world.counter, ID_CARD, provider=GULOU_POLICE, fields=["sex"])["id"])
    guardian = holder(app, OWNER, "111", "张三丰")
    child = holder(app, CHILD, "111", "张小明")
    _delegate(db_session, principal=CHILD, principal_type="111", proxy=OWNER, types=[ID_CARD])
    given = consent(client, guardian, COUNTER, [ID_CARD], on_behalf_of={"code": CHILD, "code_type": "111"})
    answer = results_by_item(query(client, world.counter, CHILD, "111", [ID_CARD]).json())[ID_CARD]
    assert answer["result"] == "granted" and answer["basis"] == f"consent:{given['id']}"

    delegation = client.get("/api/v1/holders/me/delegations", headers=child).json()["given"][0]
    revoked = client.post(f"/api/v1/holders/me/delegations/{delegation['id']}/revoke", headers=child)
    assert revoked.status_code == 200 and revoked.json()["status"] == "revoked"
    answer = results_by_item(query(client, world.counter, CHILD, "111", [ID_CARD]).json())[ID_CARD]
    assert (answer["result"], answer["reason"]) == ("refused", "delegation_ended")
    assert [c["status"] for c in client.get(URL, headers=child).json()] == ["delegation_ended"]

    _delegate(db_session, principal=CHILD, principal_type="111", proxy=OWNER, types=[ID_CARD])
    answer = results_by_item(query(client, world.counter, CHILD, "111", [ID_CARD]).json())[ID_CARD]
    assert answer["reason"] == "delegation_ended"
    again = consent(client, guardian, COUNTER, [ID_CARD], on_behalf_of={"code": CHILD, "code_type": "111"})
    answer = results_by_item(query(client, world.counter, CHILD, "111", [ID_CARD]).json())[ID_CARD]
    assert answer["result"] == "granted" and answer["basis"] == f"consent:{again['id']}"
