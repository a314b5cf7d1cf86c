"""Sharing agreements (共享申请): the catalog's sharing attribute decides
first; the provider approves, narrows or refuses; agreements expire and
end; both sides list them; has_active_agreement answers the subscribers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from exchange.agreements import has_active_agreement
from tests.factories.exchange import (
    BUSINESS_LICENCE,
    COUNTER,
    CRIMINAL_RECORD,
    ENTERPRISE_DATA,
    GULOU_POLICE,
    GULOU_SAMR,
    ID_CARD,
    PROPERTY_DATA,
    RESTAURANT,
    apply,
    decide,
)

pytestmark = [pytest.mark.exchange_world, pytest.mark.slow]  # in a savepoint of the world, built per module

URL = "/api/v1/exchange/agreements"


def _post(client, path, headers, **body):
    return client.post(f"{URL}{path}", json=body, headers=headers)


def test_sharing_attribute_decides_unconditional_and_not_shared_at_once(client, world):
    approved = apply(client, world.counter, ENTERPRISE_DATA, fields=["uscc", "registration_status"])
    assert (approved["status"], approved["automatic"], approved["provider"]) == ("approved", True,
                                                                                 "113500007574011216")
    refused = apply(client, world.counter, CRIMINAL_RECORD, fields=["has_record"])
    assert refused["status"] == "refused" and refused["automatic"] is True
    assert "刑事诉讼法" in refused["decision_reason"]
    pending = apply(client, world.counter, PROPERTY_DATA, fields=["property_count"])
    assert pending["status"] == "pending" and pending["provider"] == "123501002055265757"


def test_provider_narrows_fields_matters_clear_values_and_period(client, world):
    until = (datetime.now(UTC) + timedelta(days=300)).isoformat()
    asked = apply(client, world.counter, ID_CARD, provider=GULOU_POLICE, fields=["name", "id_number", "address"],
                  clear_fields=["name", "id_number"], valid_until=until)
    shorter = (datetime.now(UTC) + timedelta(days=30)).isoformat()
    granted = decide(client, world.gulou_police, asked["id"], fields=["name", "id_number"],
                     clear_fields=["name"], valid_until=shorter, reason="住址非本事项必需")
    assert granted["status"] == "approved"
    assert (granted["fields"], granted["clear_fields"]) == (["name", "id_number"], ["name"])
    assert granted["requested"]["fields"] == ["name", "address", "id_number"]  # catalog order
    assert datetime.fromisoformat(granted["valid_until"]) < datetime.fromisoformat(until)


def test_a_decision_may_only_narrow(client, world):
    asked = apply(client, world.counter, ID_CARD, provider=GULOU_POLICE, fields=["name"])
    wider = _post(client, f"/{asked['id']}/decision", world.gulou_police, decision="approve",
                  fields=["name", "address"])
    assert wider.status_code == 422 and "only narrow" in wider.json()["message"]
    later = (datetime.now(UTC) + timedelta(days=800)).isoformat()
    longer = _post(client, f"/{asked['id']}/decision", world.gulou_police, decision="approve", valid_until=later)
    assert longer.status_code == 422


def test_refusal_needs_a_reason_and_only_the_provider_decides_once(client, world):
    asked = apply(client, world.counter, BUSINESS_LICENCE, provider=GULOU_SAMR, fields=["name"])
    own = _post(client, f"/{asked['id']}/decision", world.counter, decision="approve")
    assert own.status_code == 403  # the consumer holds no exchange:provide scope
    stranger = _post(client, f"/{asked['id']}/decision", world.gulou_police, decision="approve")
    assert stranger.status_code == 404 and stranger.json()["error"] == "agreement_not_found"
    no_reason = _post(client, f"/{asked['id']}/decision", world.gulou_samr, decision="refuse")
    assert no_reason.status_code == 422
    refused = decide(client, world.gulou_samr, asked["id"], decision="refuse", reason="《市场主体登记管理条例》未授权")
    assert refused["status"] == "refused" and refused["decision_reason"].startswith("《市场主体")
    again = _post(client, f"/{asked['id']}/decision", world.gulou_samr, decision="approve")
    assert again.status_code == 409 and again.json()["error"] == "invalid_transition"


def test_applications_are_checked_against_the_catalog(client, world):
    def attempt(**body):
        body = {"item": BUSINESS_LICENCE, "provider": GULOU_SAMR, "matters": [RESTAURANT], "fields": ["name"],
                "reason": "需要", **body}
        return client.post(URL, json=body, headers=world.counter)

    assert "name the provider" in attempt(provider=None).json()["message"]
    assert attempt(provider=GULOU_POLICE).status_code == 422  # does not issue business licences
    assert attempt(fields=["salary"]).status_code == 422
    assert attempt(matters=["11350102360444289T9900009999"]).status_code == 422
    assert attempt(clear_fields=["uscc"]).status_code == 422  # not among the fields asked for
    assert attempt(item="999999/000001").status_code == 422
    assert attempt(valid_until="2020-01-01T00:00:00+08:00").status_code == 422
    assert attempt(reason="x" * 501).status_code == 422
    no_operator = {k: v for k, v in world.counter.items() if k != "X-Operator-Id"}
    body = {"item": ENTERPRISE_DATA, "matters": [RESTAURANT], "fields": ["name"], "reason": "需要"}
    assert client.post(URL, json=body, headers=no_operator).status_code == 422


def test_revoke_withdraw_and_listing_for_both_sides(client, world):
    first = apply(client, world.counter, BUSINESS_LICENCE, provider=GULOU_SAMR, fields=["name"])
    second = apply(client, world.counter, ID_CARD, provider=GULOU_POLICE, fields=["name"])
    decide(client, world.gulou_samr, first["id"])
    revoked = _post(client, f"/{first['id']}/revoke", world.gulou_samr, reason="数据安全检查整改期间暂停")
    assert revoked.status_code == 200 and revoked.json()["status"] == "revoked"
    assert _post(client, f"/{first['id']}/revoke", world.gulou_samr, reason="again").status_code == 409
    withdrawn = _post(client, f"/{second['id']}/withdraw", world.counter)
    assert withdrawn.status_code == 200 and withdrawn.json()["status"] == "withdrawn"

    mine = client.get(URL, params={"role": "consumer"}, headers=world.counter).json()
    assert [a["id"] for a in mine] == [second["id"], first["id"]]
    provided = client.get(URL, params={"role": "provider"}, headers=world.gulou_samr).json()
    assert [a["id"] for a in provided] == [first["id"]]
    assert client.get(URL, params={"role": "provider"}, headers=world.counter).json() == []
    assert client.get(f"{URL}/{first['id']}", headers=world.gulou_police).status_code == 404
    assert client.get(f"{URL}/{first['id']}", headers=world.gulou_samr).json()["ended_reason"].startswith("数据")


def test_withdraw_needs_no_body(client, world):
    asked = apply(client, world.counter, ID_CARD, provider=GULOU_POLICE, fields=["name"])
    withdrawn = client.post(f"{URL}/{asked['id']}/withdraw", headers=world.counter)
    assert withdrawn.status_code == 200 and withdrawn.json()["status"] == "withdrawn"
    assert withdrawn.json()["ended_reason"] in (None, "")


def test_has_active_agreement_follows_approval_period_and_revocation(client, db_session, world):
    now = datetime.now(UTC)
    assert not has_active_agreement(
        session=db_session, consumer_code=COUNTER, licence_type_code=BUSINESS_LICENCE, now=now
    )
    asked = apply(client, world.counter, BUSINESS_LICENCE, provider=GULOU_SAMR, fields=["name"],
                  valid_until=(now + timedelta(days=10)).isoformat())
    assert not has_active_agreement(
        session=db_session, consumer_code=COUNTER, licence_type_code=BUSINESS_LICENCE, now=now
    )
    decide(client, world.gulou_samr, asked["id"])
    later = datetime.now(UTC)
    assert has_active_agreement(
        session=db_session, consumer_code=COUNTER, licence_type_code=BUSINESS_LICENCE, now=later
    )
    assert not has_active_agreement(session=db_session, consumer_code=COUNTER, licence_type_code=ID_CARD, now=later)
    expired = later + timedelta(days=11)
    assert not has_active_agreement(session=db_session, consumer_code=COUNTER, licence_type_code=BUSINESS_LICENCE,
                                    now=expired)
    _post(client, f"/{asked['id']}/revoke", world.gulou_samr, reason="撤销")
    assert not has_active_agreement(session=db_session, consumer_code=COUNTER, licence_type_code=BUSINESS_LICENCE,
                                    now=datetime.now(UTC))
