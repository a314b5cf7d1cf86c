"""开餐馆一件事 end to end through the HTTP API: the plan lists the materials;
the counter with agreements and the holders' consent gets the licences and
data, masked as agreed; without consent it is refused with the reason;
after the holder withdraws consent it is refused again; every answer and
refusal is in the log and visible to the holder."""

from __future__ import annotations

import pytest

from exchange.auditlog.search import SearchFilter, search
from tests.factories.exchange import (
    BUSINESS_LICENCE,
    COMPANY,
    COUNTER,
    ENTERPRISE_DATA,
    FOOD_LICENCE,
    GULOU_POLICE,
    GULOU_SAMR,
    ID_CARD,
    OWNER,
    RESTAURANT,
    apply,
    business_licence,
    consent,
    decide,
    food_licence,
    holder,
    id_card,
    issue,
    query,
    results_by_item,
)

pytestmark = [pytest.mark.exchange_world, pytest.mark.slow]  # in a savepoint of the world, built per module

PLAN_URL = f"/api/v1/matters/{RESTAURANT}/plan"


def _plan(client, headers, subject, subject_type):
    return client.post(PLAN_URL, headers=headers, json={
        "subject": {"code": subject, "type": subject_type}, "purpose": "开餐馆一件事：生成免证办清单",
        "case_number": "GL-2025-000123"})


def test_restaurant_flow(app, client, db_session, world):
    # The issuers have issued the company's licences and the owner's ID card.
    business = issue(client, world.gulou_samr, business_licence())
    food = issue(client, world.gulou_samr, food_licence())
    card = issue(client, world.gulou_police, id_card())

    # The plan lists every material; with no agreement nothing about the holder is disclosed.
    plan = _plan(client, world.counter, COMPANY, "001")
    assert plan.status_code == 200, plan.text
    materials = {m["key"]: m for m in plan.json()["materials"]}
    assert list(materials) == ["applicant_id", "business_licence", "enterprise_status", "food_licence",
                               "fire_check", "fire_commitment", "fire_inspection_record", "premises_property",
                               "premises_lease", "drainage_licence", "layout_plan"]
    assert materials["business_licence"]["status"] == "undisclosed"
    assert materials["business_licence"]["reason"] == "no_agreement"
    assert materials["applicant_id"]["status"] == "other_subject"
    assert materials["fire_commitment"]["way"] == "commitment" and materials["fire_commitment"]["commitment_template"]
    assert materials["premises_lease"]["status"] == "paper_required"
    assert "licence" not in materials["business_licence"] and plan.json()["prefill"] == []

    # 共享申请: the licences are conditional (the issuer decides), the register unconditional.
    licence_fields = ["uscc", "name", "legal_representative", "domicile", "registration_authority"]
    business_ask = apply(client, world.counter, BUSINESS_LICENCE, provider=GULOU_SAMR, fields=licence_fields)
    assert business_ask["status"] == "pending"
    decide(client, world.gulou_samr, business_ask["id"])
    food_ask = apply(client, world.counter, FOOD_LICENCE, provider=GULOU_SAMR,
                     fields=["operator_name", "uscc", "licence_number", "business_items", "valid_to"])
    decide(client, world.gulou_samr, food_ask["id"], fields=["operator_name", "licence_number", "valid_to"])
    register_ask = apply(client, world.counter, ENTERPRISE_DATA, fields=["uscc", "name", "registration_status"])
    assert register_ask["status"] == "approved" and register_ask["automatic"] is True
    card_ask = apply(client, world.counter, ID_CARD, provider=GULOU_POLICE, fields=["name", "id_number", "sex"],
                     clear_fields=["name", "id_number"])
    narrowed = decide(client, world.gulou_police, card_ask["id"], clear_fields=[],
                      reason="最小必要：姓名、身份证号脱敏返回")
    assert narrowed["clear_fields"] == [] and narrowed["status"] == "approved"

    # Without the holders' consent the licences are refused with the reason; the
    # unconditionally shared register still answers.
    refused = query(client, world.counter, COMPANY, "001", [BUSINESS_LICENCE, FOOD_LICENCE, ENTERPRISE_DATA])
    assert refused.status_code == 200, refused.text
    by_item = results_by_item(refused.json())
    assert by_item[BUSINESS_LICENCE]["result"] == "refused"
    assert by_item[BUSINESS_LICENCE]["reason"] == "consent_missing"
    assert "licences" not in by_item[BUSINESS_LICENCE]
    assert by_item[ENTERPRISE_DATA]["result"] == "granted"
    assert by_item[ENTERPRISE_DATA]["basis"] == "unconditional_sharing"
    assert by_item[ENTERPRISE_DATA]["records"] == [
        {"uscc": COMPANY, "name": "福州示例餐饮有限公司", "registration_status": "存续（在营、开业、在册）"}]

    # The company (through its operator) and the owner consent for this matter.
    company = holder(app, COMPANY, "001", "福州示例餐饮有限公司")
    owner = holder(app, OWNER, "111", "张三丰")
    company_consent = consent(client, company, COUNTER, [BUSINESS_LICENCE, FOOD_LICENCE])
    consent(client, owner, COUNTER, [ID_CARD])
    assert [c["status"] for c in client.get("/api/v1/holders/me/consents", headers=company).json()] == ["active"]

    granted = query(client, world.counter, COMPANY, "001", [BUSINESS_LICENCE, FOOD_LICENCE])
    assert granted.status_code == 200, granted.text
    body = granted.json()
    assert granted.headers["X-Request-Hash"] == body["request_hash"]
    by_item = results_by_item(body)
    licence = by_item[BUSINESS_LICENCE]["licences"][0]
    assert by_item[BUSINESS_LICENCE]["basis"] == f"consent:{company_consent['id']}"
    assert licence["identifier"] == business["identifier"] and licence["status"] == "valid"
    assert licence["fields"] == {"uscc": COMPANY, "name": "福州示例餐饮有限公司", "legal_representative": "张三丰",
                                 "domicile": "福建省福州市鼓楼区五四路100号",
                                 "registration_authority": "福州市鼓楼区市场监督管理局"}
    food_answer = by_item[FOOD_LICENCE]["licences"][0]
    assert food_answer["identifier"] == food["identifier"]
    assert set(food_answer["fields"]) == {"operator_name", "licence_number", "valid_to"}  # as narrowed

    card_answer = query(client, world.counter, OWNER, "111", [ID_CARD]).json()
    card_licence = results_by_item(card_answer)[ID_CARD]["licences"][0]
    assert card_licence["identifier"] == card["identifier"]
    assert card_licence["fields"] == {"name": "张*丰", "sex": "男", "id_number": OWNER[:4] + "*" * 10 + OWNER[-4:]}
    assert card_licence["masked_fields"] == ["name", "id_number"] and "sealed_record" not in card_licence

    # The plan now shows what the counter may know, and pre-fills its form.
    plan = _plan(client, world.counter, COMPANY, "001").json()
    materials = {m["key"]: m for m in plan["materials"]}
    assert materials["business_licence"]["status"] == "valid"
    assert materials["business_licence"]["licence"] == business["identifier"]
    assert materials["food_licence"]["satisfied"] is True
    assert materials["enterprise_status"]["status"] == "available"
    assert materials["fire_check"]["reason"] == "no_agreement"
    prefill = {(p["source"], p["field"]): p["value"] for p in plan["prefill"]}
    assert prefill[(BUSINESS_LICENCE, "legal_representative")] == "张三丰"
    assert prefill[(ENTERPRISE_DATA, "registration_status")] == "存续（在营、开业、在册）"

    # The company withdraws its consent: refused again, with the reason.
    withdrawn = client.post(f"/api/v1/holders/me/consents/{company_consent['id']}/withdraw", headers=company)
    assert withdrawn.status_code == 200 and withdrawn.json()["status"] == "withdrawn"
    again = results_by_item(query(client, world.counter, COMPANY, "001", [BUSINESS_LICENCE]).json())
    assert again[BUSINESS_LICENCE]["result"] == "refused"
    assert again[BUSINESS_LICENCE]["reason"] == "consent_withdrawn"

    # Every answer and refusal is in the log, with the request hash of its request ...
    page = search(session=db_session, filters=SearchFilter(subject=COMPANY, department=COUNTER), limit=100)
    records = [r["record"] for r in page["records"]]
    licence_records = [r for r in records if r["licence_ids"] or r["reason"] in ("consent_missing",
                                                                                  "consent_withdrawn")]
    outcomes = sorted((r["result"], r["reason"] or r["basis"]) for r in licence_records
                      if r["matter"] == RESTAURANT)
    assert ("denied", "consent_missing") in outcomes and ("denied", "consent_withdrawn") in outcomes
    assert ("granted", f"consent:{company_consent['id']}") in outcomes
    assert body["request_hash"] in {r["request_hash"] for r in records}
    assert all(r["purpose"] and r["case_number"] == "GL-2025-000123" and r["operator"] == "clerk-07"
               for r in records)
    granted_record = next(r for r in records if r["request_hash"] == body["request_hash"]
                          and business["identifier"] in r["licence_ids"])
    assert granted_record["fields"] == licence_fields

    # ... and visible to the holder.
    mine = client.get("/api/v1/holders/me/use-records", headers=company)
    assert mine.status_code == 200, mine.text
    seen = {(r["record"]["result"], r["record"]["reason"]) for r in mine.json()["records"]}
    assert {("granted", None), ("denied", "consent_missing"), ("denied", "consent_withdrawn")} <= seen
    owner_seen = client.get("/api/v1/holders/me/use-records", headers=owner).json()["records"]
    assert [r["record"]["licence_ids"] for r in owner_seen] == [[card["identifier"]]]
