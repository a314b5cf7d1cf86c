"""Licences end to end through the API: issue, read, change, suspend,
revoke, cancel; who may do it; what an offline verifier can check."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import pytest
from PIL import Image
from pypdf import PdfReader

from identity.codes import uscc_check_character
from registry.identifiers import LicenceIdentifier
from registry.models import LicenceCopy, LicenceEvent
from signing.keys import load_public_key
from signing.sealed import SealSignature, verify_sealed_record
from signing.statuslist import TokenStatus, verify_status_list_token
from tests.factories.catalog import BUSINESS_LICENCE, CITY_SAMR, FOOD_LICENCE, PROVINCE_SAMR
from tests.factories.licences import (
    RESIDENCE_PERMIT,
    build_world,
    business_licence_body,
    citizen_id,
    company_uscc,
    publish_log_checkpoint,
    token_headers,
    trust_store,
)


@pytest.fixture
def world(db_session):
    return build_world(db_session)


@pytest.fixture
def city(client, db_session, world):
    return token_headers(client, db_session, CITY_SAMR)


@pytest.fixture
def log_published(db_session):
    """Downloads are recorded in the use log, which serves only while fresh."""
    publish_log_checkpoint(db_session)


def _issue(client, headers, body=None, **extra_headers):
    response = client.post("/api/v1/licences", json=body or business_licence_body(), headers={**headers, **extra_headers})
    assert response.status_code == 201, response.text
    return response.json()


def _status_of(client, licence) -> int:
    reference = licence["status_list"]
    list_id = reference["uri"].rsplit("/", 1)[1]
    key = load_public_key(client.get(f"/api/v1/status-lists/{list_id}/key").content)
    token = client.get(f"/api/v1/status-lists/{list_id}").text
    verified = verify_status_list_token(token, public_keys=[key], subject=reference["uri"])
    return verified.status(reference["idx"])


@pytest.mark.slow
def test_issue_read_change_revoke(client, city, world):
    anchors, _seal = world
    issued = _issue(client, city)
    identifier = LicenceIdentifier.parse(issued["identifier"])
    assert (identifier.type_code, identifier.issuer_code, identifier.version) == (BUSINESS_LICENCE, CITY_SAMR, 1)
    assert issued["status"] == "valid" and issued["valid_until"] is None
    assert issued["record"]["holder_code"] == company_uscc() and issued["record"]["issuer_name"] == "福州市市场监督管理局"

    read = client.get(f"/api/v1/licences/{issued['identifier']}", headers=city).json()
    assert read["record"] == issued["record"]
    store = trust_store(client, anchors)
    assert verify_sealed_record(record=read["record"], signature=SealSignature.from_dict(read["seal_signature"]),
                                trust=store) == read["record"]

    changed = client.post(f"/api/v1/licences/{issued['identifier']}/versions",
                          json={"face": {"legal_rep": "李四"}, "reason": "法定代表人变更"}, headers=city)
    assert changed.status_code == 201, changed.text
    v2 = changed.json()
    assert v2["version"] == 2 and v2["face"]["legal_rep"] == "李四" and v2["face"]["name"] == "福州示例餐饮有限公司"
    assert v2["identifier"] == str(identifier.with_version(2))
    verify_sealed_record(record=v2["record"], signature=SealSignature.from_dict(v2["seal_signature"]), trust=store)
    old = client.get(f"/api/v1/licences/{issued['identifier']}", headers=city).json()
    assert old["superseded"] is True and old["face"]["legal_rep"] == "张三丰"

    refused = client.post(f"/api/v1/licences/{v2['identifier']}/revoke", json={"reason": " "}, headers=city)
    assert refused.status_code == 422
    revoked = client.post(f"/api/v1/licences/{v2['identifier']}/revoke", json={"reason": "虚假登记"}, headers=city)
    assert revoked.json()["status"] == "revoked"
    history = client.get(f"/api/v1/licences/{v2['identifier']}/history", headers=city).json()
    assert [(e["action"], e["from_status"], e["to_status"]) for e in history] == [
        ("issue", None, "valid"), ("change", "valid", "valid"), ("revoke", "valid", "revoked")]
    assert history[-1]["reason"] == "虚假登记" and history[-1]["acting_department_code"] == CITY_SAMR
    again = client.post(f"/api/v1/licences/{v2['identifier']}/versions", json={"face": {}}, headers=city)
    assert again.status_code == 409


def test_other_department_is_refused(client, db_session, city):
    issued = _issue(client, city)
    province = token_headers(client, db_session, PROVINCE_SAMR)
    assert client.post("/api/v1/licences", json=business_licence_body(), headers=province).status_code == 403
    assert client.get(f"/api/v1/licences/{issued['identifier']}", headers=province).status_code == 403
    response = client.post(f"/api/v1/licences/{issued['identifier']}/revoke", json={"reason": "x"}, headers=province)
    assert response.status_code == 403 and response.json()["error"] == "not_issuer"


def test_scope_is_required(client, db_session, world):
    reader = token_headers(client, db_session, CITY_SAMR, scopes=("licence:manage",))
    assert client.post("/api/v1/licences", json=business_licence_body(), headers=reader).status_code == 403


@pytest.mark.slow
def test_cross_level_authorization_lets_the_province_issue_with_the_city_seal(client, db_session, world):
    from signing import service as signing_service

    _anchors, seal = world
    signing_service.authorize_cross_level(
        session=db_session, es_id=seal.es_id, grantor_department_code=CITY_SAMR, grantee_department_code=PROVINCE_SAMR,
        licence_type_codes=[BUSINESS_LICENCE], valid_from=datetime(2025, 1, 1, tzinfo=UTC),
        valid_to=datetime(2035, 1, 1, tzinfo=UTC),
    )
    db_session.commit()
    province = token_headers(client, db_session, PROVINCE_SAMR)
    issued = _issue(client, province)
    assert issued["issuer_code"] == CITY_SAMR
    assert issued["seal_signature"]["signer_department_code"] == PROVINCE_SAMR


@pytest.mark.parametrize(
    ("face", "field"),
    [
        ({"name": "x"}, "face.uscc"),
        ({"uscc": "1" * 19, "name": "x"}, "face.uscc"),
        ({"uscc": "1", "name": "x", "colour": "red"}, "face.colour"),
        ({"uscc": "1", "name": "x", "kind": "合伙企业"}, "face.kind"),
        ({"uscc": "1", "name": "x", "founded": "2020-02-30"}, "face.founded"),
        ({"uscc": "1", "name": 5}, "face.name"),
    ],
)
@pytest.mark.slow
def test_bad_field_is_refused_naming_it(client, city, face, field):
    response = client.post("/api/v1/licences", json=business_licence_body(face=face), headers=city)
    assert response.status_code == 422
    assert response.json()["error"] == "invalid_licence"
    assert response.json()["message"].startswith(field)


def test_citizen_holder_id_number_is_checked(client, city):
    body = {
        "type_code": RESIDENCE_PERMIT,
        "holder": {"name": "张三", "code": citizen_id(), "code_type": "111"},
        "face": {"address": "福州市鼓楼区五四路1号", "floor_area": 88.5, "moved_in": "2024-01-01"},
        "valid_from": "2025-01-01",
        "valid_until": "2027-12-31",
    }
    issued = _issue(client, city, body)
    assert issued["holder_code"] == citizen_id() and issued["valid_until"] == "2027-12-31"
    wrong = citizen_id()[:-1] + ("0" if citizen_id()[-1] != "0" else "1")
    bad = client.post("/api/v1/licences", json={**body, "holder": {**body["holder"], "code": wrong}}, headers=city)
    assert bad.status_code == 422 and bad.json()["error"] == "invalid_holder" and "check character" in bad.json()["message"]
    as_org = client.post("/api/v1/licences", json={**body, "holder": {**body["holder"], "code_type": "001"}}, headers=city)
    assert as_org.status_code == 422 and as_org.json()["message"].startswith("holder.code_type")
    no_dates = {k: v for k, v in body.items() if k != "valid_until"}
    assert client.post("/api/v1/licences", json=no_dates, headers=city).status_code == 422


def test_validity_in_years_ends_the_day_before(client, city):
    body = {"type_code": FOOD_LICENCE, "holder": business_licence_body()["holder"],
            "face": {"operator": "福州示例餐饮有限公司"}, "valid_from": "2025-03-01"}
    issued = _issue(client, city, body)
    assert (issued["valid_from"], issued["valid_until"]) == ("2025-03-01", "2030-02-28")


def test_idempotent_retry_returns_the_same_licence(client, city, db_session):
    first = _issue(client, city, **{"Idempotency-Key": "batch-7-row-1"})
    retry = client.post("/api/v1/licences", json=business_licence_body(), headers={**city, "Idempotency-Key": "batch-7-row-1"})
    assert retry.status_code == 201 and retry.json()["identifier"] == first["identifier"]
    other = business_licence_body(holder={"name": "另一家公司", "code": company_uscc(), "code_type": "001"})
    conflict = client.post("/api/v1/licences", json=other, headers={**city, "Idempotency-Key": "batch-7-row-1"})
    assert conflict.status_code == 409 and conflict.json()["error"] == "idempotency_conflict"
    second = _issue(client, city)
    assert second["serial"] != first["serial"]


def test_identifier_check_character_is_enforced(client, city):
    issued = _issue(client, city)
    text = issued["identifier"]
    wrong = text[:-1] + ("A" if text[-1] != "A" else "B")
    response = client.get(f"/api/v1/licences/{wrong}", headers=city)
    assert response.status_code == 422 and response.json()["error"] == "invalid_identifier"
    assert LicenceIdentifier.parse(text).check == text[-1]


@pytest.mark.slow
def test_status_list_follows_transitions_and_verifies_offline(client, city):
    issued = _issue(client, city)
    ident = issued["identifier"]
    assert _status_of(client, issued) == TokenStatus.VALID
    client.post(f"/api/v1/licences/{ident}/suspend", json={"reason": "核查"}, headers=city)
    assert _status_of(client, issued) == TokenStatus.SUSPENDED
    assert client.post(f"/api/v1/licences/{ident}/suspend", json={}, headers=city).status_code == 409
    client.post(f"/api/v1/licences/{ident}/resume", json={}, headers=city)
    assert _status_of(client, issued) == TokenStatus.VALID
    client.post(f"/api/v1/licences/{ident}/revoke", json={"reason": "吊销"}, headers=city)
    assert _status_of(client, issued) == TokenStatus.INVALID
    assert client.post(f"/api/v1/licences/{ident}/resume", json={}, headers=city).status_code == 409


@pytest.mark.slow
def test_status_list_is_cacheable(client, city):
    issued = _issue(client, city)
    list_id = issued["status_list"]["uri"].rsplit("/", 1)[1]
    first = client.get(f"/api/v1/status-lists/{list_id}")
    assert first.headers["content-type"].startswith("application/statuslist+jwt")
    assert "max-age" in first.headers["cache-control"]
    assert client.get(f"/api/v1/status-lists/{list_id}", headers={"If-None-Match": first.headers["etag"]}).status_code == 304
    client.post(f"/api/v1/licences/{issued['identifier']}/suspend", json={}, headers=city)
    assert client.get(f"/api/v1/status-lists/{list_id}").headers["etag"] != first.headers["etag"]
    assert client.get("/api/v1/status-lists/999999").status_code == 404


def test_cancel_cancels_dependent_licences_of_the_same_holder(client, city, db_session):
    business = _issue(client, city)
    food = _issue(client, city, {"type_code": FOOD_LICENCE, "holder": business_licence_body()["holder"],
                                 "face": {"operator": "福州示例餐饮有限公司"}})
    other_holder = {"name": "别家", "code": "91350100MA2YYYYYY" + uscc_check_character("91350100MA2YYYYYY"),
                    "code_type": "001"}
    unrelated = _issue(client, city, {"type_code": FOOD_LICENCE, "holder": other_holder, "face": {"operator": "别家"}})
    response = client.post(f"/api/v1/licences/{business['identifier']}/cancel", json={"reason": "企业注销"}, headers=city)
    assert response.json()["cancelled"] == [business["base_identifier"], food["base_identifier"]]
    assert client.get(f"/api/v1/licences/{food['identifier']}", headers=city).json()["status"] == "cancelled"
    assert client.get(f"/api/v1/licences/{unrelated['identifier']}", headers=city).json()["status"] == "valid"
    events = db_session.query(LicenceEvent).filter_by(action="joint_cancel").all()
    assert len(events) == 1 and business["base_identifier"] in events[0].reason


@pytest.mark.slow
def test_layout_png_and_pdf_show_the_licence_and_the_seal(client, city, tmp_path, log_published):
    issued = _issue(client, city)
    png = client.get(f"/api/v1/licences/{issued['identifier']}/layout.png", headers=city)
    assert png.status_code == 200 and png.headers["content-type"] == "image/png"
    image = Image.open(io.BytesIO(png.content)).convert("RGB")
    raw = image.tobytes()
    reds = sum(1 for i in range(0, len(raw), 3) if raw[i] > 150 and raw[i + 1] < 90 and raw[i + 2] < 90)
    assert reds > 2000  # the red seal picture and the red title
    (tmp_path / "licence.png").write_bytes(png.content)
    pdf = client.get(f"/api/v1/licences/{issued['identifier']}/layout.pdf", headers=city)
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    text = _pdf_text(pdf.content)
    assert "营业执照" in text and "福州市市场监督管理局" in text
    assert b"/Subtype /Image" in pdf.content or b"/Subtype/Image" in pdf.content


def _pdf_text(data: bytes) -> str:
    # The embedded CJK font maps to two-byte codes; pypdf leaves a NUL before each character.
    return "".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages).replace("\x00", "")


@pytest.mark.slow
def test_purpose_limited_copy_is_watermarked_and_recorded(client, city, db_session, log_published):
    issued = _issue(client, city)
    expires = (datetime.now(UTC) + timedelta(days=7)).isoformat()
    response = client.post(f"/api/v1/licences/{issued['identifier']}/copies",
                           json={"purpose": "办理银行开户", "expires_at": expires}, headers=city)
    assert response.status_code == 201 and response.content.startswith(b"%PDF")
    assert "仅用于办理银行开户" in _pdf_text(response.content)
    copy = db_session.get(LicenceCopy, int(response.headers["X-Copy-Id"]))
    assert copy.purpose == "办理银行开户" and copy.requested_by == CITY_SAMR
    past = client.post(f"/api/v1/licences/{issued['identifier']}/copies",
                       json={"purpose": "x", "expires_at": "2020-01-01T00:00:00Z"}, headers=city)
    assert past.status_code == 422


@pytest.mark.slow
def test_expiring_lists_licences_ending_soon(client, city):
    soon = (datetime.now(UTC) + timedelta(days=10)).date()
    body = {"type_code": RESIDENCE_PERMIT, "holder": {"name": "张三", "code": citizen_id(), "code_type": "111"},
            "face": {"address": "福州"}, "valid_from": "2024-01-01", "valid_until": soon.isoformat()}
    issued = _issue(client, city, body)
    _issue(client, city)  # permanent: never listed
    listed = client.get("/api/v1/licences/expiring?days=30", headers=city).json()
    assert [r["base_identifier"] for r in listed] == [issued["base_identifier"]]
    assert client.get("/api/v1/licences/expiring?days=5", headers=city).json() == []
