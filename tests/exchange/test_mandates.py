"""Supervision mandates: an enforcement department queries without consent
for the matters its mandate lists; the access is flagged in the log and
the holder sees it."""

from __future__ import annotations

import pytest

from tests.factories.exchange import (
    BUSINESS_LICENCE,
    CITY_SAMR,
    COMPANY,
    GULOU_SAMR,
    RESTAURANT,
    apply,
    business_licence,
    decide,
    holder,
    issue,
    query,
    results_by_item,
)

pytestmark = [pytest.mark.exchange_world, pytest.mark.slow]  # in a savepoint of the world, built per module

URL = "/api/v1/exchange/mandates"


def _mandate(client, headers, **body):
    body = {"department": CITY_SAMR, "matters": [RESTAURANT], "legal_basis": "《中华人民共和国食品安全法》第一百一十条",
            **body}
    return client.post(URL, json=body, headers=headers)


def test_only_catalog_admins_manage_mandates(client, world):
    assert _mandate(client, world.city_samr).status_code == 403
    assert _mandate(client, world.admin, matters=["11350102360444289T9900009999"]).status_code == 422
    assert _mandate(client, world.admin, legal_basis=" ").status_code == 422
    created = _mandate(client, world.admin)
    assert created.status_code == 201 and created.json()["active"] is True
    listed = client.get(URL, params={"department": CITY_SAMR}, headers=world.admin).json()
    assert [m["id"] for m in listed] == [created.json()["id"]]


def test_mandate_stands_in_for_consent_and_is_flagged_for_the_holder(app, client, world):
    issued = issue(client, world.gulou_samr, business_licence())
    decide(client, world.gulou_samr,
           apply(client, world.city_samr, BUSINESS_LICENCE, provider=GULOU_SAMR, fields=["name"])["id"])
    without = results_by_item(query(client, world.city_samr, COMPANY, "001", [BUSINESS_LICENCE]).json())
    assert without[BUSINESS_LICENCE]["reason"] == "consent_missing"

    mandate = _mandate(client, world.admin).json()
    answer = results_by_item(query(client, world.city_samr, COMPANY, "001", [BUSINESS_LICENCE]).json())
    item = answer[BUSINESS_LICENCE]
    assert (item["result"], item["basis"], item["access_kind"]) == ("granted", "supervision_mandate",
                                                                    "supervision_access")
    assert item["licences"][0]["identifier"] == issued["identifier"]
    assert item["licences"][0]["fields"] == {"name": "福州示例餐饮有限公司"}  # still only the agreed fields

    company = holder(app, COMPANY, "001", "福州示例餐饮有限公司")
    records = [r["record"] for r in client.get("/api/v1/holders/me/use-records", headers=company).json()["records"]]
    flagged = [r for r in records if r["kind"] == "supervision_access"]
    assert len(flagged) == 1 and flagged[0]["basis"] == "supervision_mandate"
    assert flagged[0]["department"] == CITY_SAMR and flagged[0]["licence_ids"] == [issued["identifier"]]

    revoked = client.post(f"{URL}/{mandate['id']}/revoke", json={"reason": "专项检查结束"}, headers=world.admin)
    assert revoked.status_code == 200 and revoked.json()["active"] is False
    after = results_by_item(query(client, world.city_samr, COMPANY, "001", [BUSINESS_LICENCE]).json())
    assert after[BUSINESS_LICENCE]["reason"] == "consent_missing"


def test_a_mandate_covers_only_its_matters(client, db_session, world):
    decide(client, world.gulou_samr, apply(client, world.city_samr, BUSINESS_LICENCE, provider=GULOU_SAMR,
                                           fields=["name"])["id"])
    from catalog.service import document
    from tests.factories.exchange import world_catalog

    other = dict(world_catalog()["matters"][0], code="11350102360444289T9900002000", name="另一件事")
    document.load(session=db_session, document=document.parse_mapping({"version": 1, "matters": [other]}))
    db_session.commit()
    _mandate(client, world.admin, matters=[other["code"]])
    answer = results_by_item(query(client, world.city_samr, COMPANY, "001", [BUSINESS_LICENCE]).json())
    assert answer[BUSINESS_LICENCE]["reason"] == "consent_missing"


def test_a_covert_mandates_uses_are_logged_at_once_and_shown_to_the_holder_after_its_embargo(
        app, client, db_session, world):
    from datetime import timedelta

    from exchange.auditlog import publish_checkpoint, records_for_subject
    from exchange.auditlog.completeness import verify_subject_records
    from exchange.auditlog.subjects import tag_key
    from signing.transparency import NoteVerifier
    from storage.base import utcnow
    from tests.factories.exchange import KEY_SECRET, ORIGIN

    issue(client, world.gulou_samr, business_licence())
    decide(client, world.gulou_samr,
           apply(client, world.city_samr, BUSINESS_LICENCE, provider=GULOU_SAMR, fields=["name"])["id"])
    embargo = utcnow() + timedelta(days=60)
    assert _mandate(client, world.admin, embargo_until=(utcnow() - timedelta(days=1)).isoformat()).status_code == 422
    assert _mandate(client, world.admin, embargo_until=(utcnow() + timedelta(days=3650)).isoformat()).status_code == 422
    mandate = _mandate(client, world.admin, embargo_until=embargo.isoformat())
    assert mandate.status_code == 201 and mandate.json()["embargo_until"] is not None
    answer = results_by_item(query(client, world.city_samr, COMPANY, "001", [BUSINESS_LICENCE]).json())
    assert answer[BUSINESS_LICENCE]["result"] == "granted"
    publish_checkpoint(session=db_session, key_secret=KEY_SECRET, origin=ORIGIN)
    db_session.commit()

    company = holder(app, COMPANY, "001", "福州示例餐饮有限公司")
    mine = client.get("/api/v1/holders/me/use-records", headers=company).json()
    assert not [r for r in mine["records"] if r["record"]["kind"] == "supervision_access"]
    assert len(mine["embargoed"]) == 1  # it exists, and the holder's proof counts it
    verifiers = [NoteVerifier.from_key_string(client.get("/log/verifier-key").text.strip())]
    assert verify_subject_records(mine, subject_code=COMPANY, verifiers=verifiers).embargoed == 1

    after = records_for_subject(session=db_session, subject_code=COMPANY, tag_key=tag_key(KEY_SECRET),
                                now=embargo + timedelta(seconds=1), hide_embargoed=True).to_json()
    covert = [r for r in after["records"] if r["record"]["kind"] == "supervision_access"]
    assert len(covert) == 1 and covert[0]["record"]["department"] == CITY_SAMR and after["embargoed"] == []
    assert verify_subject_records(after, subject_code=COMPANY, verifiers=verifiers).embargoed == 0
