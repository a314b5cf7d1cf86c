"""免证办 plans: each material with how it is satisfied; statuses only where
the caller's own query for this matter would be answered; pre-fill only
from what it may receive, and only from valid licences."""

from __future__ import annotations

from datetime import timedelta

import pytest

from registry.config import RegistryConfig
from registry.service.issue import Signer
from registry.service.lifecycle import expire_due
from storage.base import utcnow
from tests.factories.exchange import (
    BUSINESS_LICENCE,
    COMPANY,
    COUNTER,
    FOOD_LICENCE,
    GULOU_SAMR,
    RESTAURANT,
    apply,
    business_licence,
    consent,
    decide,
    department,
    food_licence,
    holder,
    issue,
)

pytestmark = [pytest.mark.exchange_world, pytest.mark.slow]  # in a savepoint of the world, built per module

URL = f"/api/v1/matters/{RESTAURANT}/plan"
BODY = {"subject": {"code": COMPANY, "type": "001"}, "purpose": "开餐馆一件事", "case_number": "GL-1"}


def _plan(client, headers, **fields):
    response = client.post(URL, json={**BODY, **fields}, headers=headers)
    assert response.status_code == 200, response.text
    return {m["key"]: m for m in response.json()["materials"]}, response.json()


def _agree_and_consent(app, client, world):
    for item, fields in ((BUSINESS_LICENCE, ["name", "legal_representative"]), (FOOD_LICENCE, ["licence_number"])):
        decide(client, world.gulou_samr,
               apply(client, world.counter, item, provider=GULOU_SAMR, fields=fields)["id"])
    consent(client, holder(app, COMPANY, "001", "福州示例餐饮有限公司"), COUNTER, [BUSINESS_LICENCE, FOOD_LICENCE])


def test_statuses_missing_expired_and_suspended(app, client, db_session, world):
    _agree_and_consent(app, client, world)
    materials, body = _plan(client, world.counter)
    assert materials["business_licence"]["status"] == "missing" and body["prefill"] == []

    # A licence past its validity is not issued: this one expires by the expiry job, run on a later day.
    food = issue(client, world.gulou_samr, food_licence())
    registry = app.state.services.find(RegistryConfig)
    signer = Signer(registry_id=registry.registry_id, key_secret=registry.key_secret)
    assert expire_due(session=db_session, signer=signer, now=utcnow() + timedelta(days=20 * 366)) == 1
    db_session.commit()
    business = issue(client, world.gulou_samr, business_licence())
    manager = department(client, db_session, GULOU_SAMR, "licence:manage", operator="samr-02")
    suspended = client.post(f"/api/v1/licences/{business['identifier']}/suspend",
                            json={"reason": "责令停业整顿"}, headers=manager)
    assert suspended.status_code == 200, suspended.text
    materials, body = _plan(client, world.counter)
    assert (materials["food_licence"]["status"], materials["food_licence"]["licence"]) == ("expired",
                                                                                          food["identifier"])
    assert materials["business_licence"]["status"] == "suspended"
    assert not materials["business_licence"]["satisfied"]
    assert body["prefill"] == []  # nothing valid to pre-fill from
    own_premises = next(s for s in body["situations"] if s["key"] == "own_premises")
    assert not own_premises["paper_free"] and "business_licence" in own_premises["outstanding"]


def test_other_departments_learn_nothing_about_the_holder(app, client, db_session, world):
    issue(client, world.gulou_samr, business_licence())
    _agree_and_consent(app, client, world)
    materials, body = _plan(client, world.city_samr)
    assert materials["business_licence"]["status"] == "undisclosed"
    assert materials["business_licence"]["reason"] == "no_agreement"
    assert "licence" not in materials["business_licence"] and body["prefill"] == []

    materials, body = _plan(client, world.counter)
    assert materials["business_licence"]["status"] == "valid"
    assert {(p["field"], p["value"]) for p in body["prefill"] if p["source"] == BUSINESS_LICENCE} == {
        ("name", "福州示例餐饮有限公司"), ("legal_representative", "张三丰")}


def test_plan_requests_are_validated(client, world):
    bad_check = {"code": "91350102MA8XYW1230", "type": "001"}
    assert client.post(URL, json={**BODY, "subject": bad_check}, headers=world.counter).status_code == 422
    assert client.post(URL, json={**BODY, "purpose": "x" * 201}, headers=world.counter).status_code == 422
    assert client.post(URL, json={**BODY, "subject_type": "001"}, headers=world.counter).status_code == 422
    assert client.post("/api/v1/matters/11350102360444289T9900009999/plan", json=BODY,
                       headers=world.counter).status_code == 422
    no_operator = {k: v for k, v in world.counter.items() if k != "X-Operator-Id"}
    assert client.post(URL, json=BODY, headers=no_operator).status_code == 422


def test_a_subject_in_the_url_is_not_served(client, world):
    # The identifier would already be in the access log; no route answers it.
    params = {"subject": COMPANY, "subject_type": "001", "purpose": "开餐馆一件事", "case_number": "GL-1"}
    assert client.get(URL, params=params, headers=world.counter).status_code == 405
