"""The holder's wallet through the API: own licences only (another holder's
are "not found" on every route), versions, layout documents, expiry, and
every read recorded in the use log."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from certhub.settings import Settings
from exchange.auditlog import LogEntry
from exchange.auditlog.records import parse_entry
from registry.identifiers import LicenceIdentifier
from signing.sealed import SealSignature, verify_sealed_record
from tests.factories.catalog import CITY_SAMR
from tests.factories.licences import (
    REGISTRY_ID,
    RESIDENCE_PERMIT,
    build_world,
    business_licence_body,
    citizen_id,
    company_uscc,
    holder_headers,
    publish_log_checkpoint,
    token_headers,
    trust_store,
)
from tests.factories.settings import TEST_SECRET

ALICE = citizen_id("35010219900101123")
BOB = citizen_id("35010219851231002")


@pytest.fixture
def settings(tmp_path) -> Settings:
    # The development login (how these tests sign holders in) exists only in demo mode.
    return Settings(secret_key=TEST_SECRET, data_dir=tmp_path, registry_id=REGISTRY_ID, demo=True)


@pytest.fixture
def world(db_session):
    return build_world(db_session)


@pytest.fixture
def city(client, db_session, world):
    return token_headers(client, db_session, CITY_SAMR)


@pytest.fixture
def log_published(db_session):
    publish_log_checkpoint(db_session)


def _permit(client, city, holder: str, *, until: str = "2035-12-31", address: str = "福州市鼓楼区五四路1号") -> dict:
    body = {"type_code": RESIDENCE_PERMIT, "holder": {"name": "张三", "code": holder, "code_type": "111"},
            "face": {"address": address}, "valid_from": "2025-01-01", "valid_until": until}
    response = client.post("/api/v1/licences", json=body, headers=city)
    assert response.status_code == 201, response.text
    return response.json()


@pytest.fixture
def licences(client, city):
    first = _permit(client, city, ALICE)
    second = _permit(client, city, ALICE, address="福州市台江区")
    changed = client.post(f"/api/v1/licences/{second['identifier']}/versions",
                          json={"face": {"address": "福州市仓山区"}, "reason": "搬家"}, headers=city)
    assert changed.status_code == 201
    revoked = client.post(f"/api/v1/licences/{first['identifier']}/revoke", json={"reason": "虚假材料"}, headers=city)
    assert revoked.status_code == 200
    bobs = _permit(client, city, BOB)
    return {"first": first, "second": second, "second_v2": changed.json(), "bobs": bobs}


def test_holder_lists_own_licences_newest_first_with_every_status(client, licences, log_published):
    alice = holder_headers(client, code=ALICE)
    listed = client.get("/api/v1/holders/me/licences", headers=alice)
    assert listed.status_code == 200, listed.text
    rows = listed.json()
    assert [r["base_identifier"] for r in rows] == [licences["second"]["base_identifier"],
                                                   licences["first"]["base_identifier"]]
    assert [r["status"] for r in rows] == ["valid", "revoked"]
    assert rows[0]["type_name"] == "居住证" and rows[0]["current_version"] == 2
    assert rows[0]["identifier"] == licences["second_v2"]["identifier"]
    only_revoked = client.get("/api/v1/holders/me/licences?status=revoked", headers=alice).json()
    assert [r["base_identifier"] for r in only_revoked] == [licences["first"]["base_identifier"]]
    assert client.get("/api/v1/holders/me/licences?status=lost", headers=alice).status_code == 422
    assert client.get("/api/v1/holders/me/licences?limit=101", headers=alice).status_code == 422


def test_holder_reads_a_version_with_face_versions_and_sealed_record(client, world, licences, log_published):
    anchors, _seal = world
    alice = holder_headers(client, code=ALICE)
    current = client.get(f"/api/v1/holders/me/licences/{licences['second_v2']['identifier']}", headers=alice)
    assert current.status_code == 200, current.text
    body = current.json()
    assert body["face"] == {"address": "福州市仓山区"} and body["status"] == "valid" and body["open_disputes"] == []
    assert [v["version"] for v in body["versions"]] == [1, 2]
    record = verify_sealed_record(record=body["record"], signature=SealSignature.from_dict(body["seal_signature"]),
                                  trust=trust_store(client, anchors))
    assert record["holder_code"] == ALICE
    old = client.get(f"/api/v1/holders/me/licences/{licences['second']['identifier']}", headers=alice).json()
    assert old["superseded"] is True and old["face"] == {"address": "福州市台江区"}


@pytest.mark.slow
def test_holder_downloads_own_layout_documents(client, licences, log_published):
    alice = holder_headers(client, code=ALICE)
    ident = licences["second_v2"]["identifier"]
    png = client.get(f"/api/v1/holders/me/licences/{ident}/layout.png", headers=alice)
    assert png.status_code == 200 and png.content.startswith(b"\x89PNG")
    pdf = client.get(f"/api/v1/holders/me/licences/{ident}/layout.pdf", headers=alice)
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")


def test_another_holders_licence_is_not_found_on_every_read(client, licences, log_published):
    bob = holder_headers(client, code=BOB, name="李四")
    # Exactly what a licence that does not exist gets: its existence does not leak.
    missing = _with_serial(licences["bobs"]["identifier"], "00000099")
    for route in ("", "/layout.png", "/layout.pdf"):
        for identifier in (licences["first"]["identifier"], licences["second"]["identifier"],
                           licences["second_v2"]["identifier"], missing):
            response = client.get(f"/api/v1/holders/me/licences/{identifier}{route}", headers=bob)
            assert response.status_code == 404 and response.json()["error"] == "licence_not_found", route


def _with_serial(identifier: str, serial: str) -> str:
    parsed = LicenceIdentifier.parse(identifier)
    return str(LicenceIdentifier(parsed.type_code, parsed.issuer_code, serial, parsed.version))


def test_another_holders_licences_never_appear_in_lists(client, licences, log_published):
    bob = holder_headers(client, code=BOB, name="李四")
    rows = client.get("/api/v1/holders/me/licences", headers=bob).json()
    assert [r["base_identifier"] for r in rows] == [licences["bobs"]["base_identifier"]]
    dispute = client.post("/api/v1/holders/me/disputes", headers=bob, json={
        "identifier": licences["second_v2"]["identifier"], "field": "address", "reason": "不是我的地址"})
    assert dispute.status_code == 404
    assert client.get("/api/v1/holders/me/disputes", headers=bob).json() == []
    # The same citizen ID number as an organisation code type is another holder.
    company = holder_headers(client, code=company_uscc(), code_type="001", name="福州示例餐饮有限公司")
    assert client.get("/api/v1/holders/me/licences", headers=company).json() == []


def test_organisation_holder_sees_its_licences(client, city, log_published):
    issued = client.post("/api/v1/licences", json=business_licence_body(), headers=city).json()
    company = holder_headers(client, code=company_uscc(), code_type="001", name="福州示例餐饮有限公司")
    rows = client.get("/api/v1/holders/me/licences", headers=company).json()
    assert [r["identifier"] for r in rows] == [issued["identifier"]]
    assert client.get(f"/api/v1/holders/me/licences/{issued['identifier']}", headers=company).status_code == 200


def test_holder_expiring_lists_only_own_live_licences_ending_soon(client, city, log_published):
    soon = (datetime.now(UTC) + timedelta(days=10)).date().isoformat()
    mine = _permit(client, city, ALICE, until=soon)
    _permit(client, city, ALICE)  # ends in 2035
    _permit(client, city, BOB, until=soon)
    alice = holder_headers(client, code=ALICE)
    listed = client.get("/api/v1/holders/me/licences/expiring?days=30", headers=alice)
    assert listed.status_code == 200, listed.text
    assert [r["base_identifier"] for r in listed.json()] == [mine["base_identifier"]]
    assert client.get("/api/v1/holders/me/licences/expiring?days=5", headers=alice).json() == []
    assert client.get("/api/v1/holders/me/licences/expiring?days=-1", headers=alice).status_code == 422


@pytest.mark.slow
def test_each_holder_read_is_recorded_as_holder_self_access(client, db_session, licences, log_published):
    alice = holder_headers(client, code=ALICE)
    ident = licences["second_v2"]["identifier"]
    assert client.get(f"/api/v1/holders/me/licences/{ident}", headers=alice).status_code == 200
    assert client.get(f"/api/v1/holders/me/licences/{ident}/layout.png", headers=alice).status_code == 200
    assert client.get("/api/v1/holders/me/licences", headers=alice).status_code == 200
    rows = db_session.scalars(select(LogEntry).where(LogEntry.kind == "holder_access").order_by(LogEntry.id)).all()
    assert len(rows) == 3
    for row in rows:
        record = parse_entry(row.entry)
        assert (row.basis, row.department_code, row.subject_code, row.operator_id) == (
            "holder_self", CITY_SAMR, ALICE, "holder")
        assert record["purpose"] == "本人查看" and record["result"] == "granted"
    assert parse_entry(rows[0].entry)["licence_ids"] == [ident]
    assert parse_entry(rows[0].entry)["fields"] == ["address"]
    assert set(parse_entry(rows[2].entry)["licence_ids"]) == {
        licences["second_v2"]["identifier"], licences["first"]["identifier"]}
    # Another holder's 404 is not a use of anybody's data.
    bob = holder_headers(client, code=BOB, name="李四")
    client.get(f"/api/v1/holders/me/licences/{ident}", headers=bob)
    assert db_session.scalars(select(LogEntry).where(LogEntry.subject_code == BOB)).all() == []


@pytest.mark.slow
def test_holder_reads_fail_closed_without_a_fresh_log(client, db_session, licences):
    alice = holder_headers(client, code=ALICE)
    for route in ("", "/{ident}", "/{ident}/layout.png", "/{ident}/layout.pdf", "/expiring?days=3660"):
        path = "/api/v1/holders/me/licences" + route.format(ident=licences["second_v2"]["identifier"])
        response = client.get(path, headers=alice)
        assert response.status_code == 503 and response.json()["error"] == "log_unavailable", route
    assert db_session.scalars(select(LogEntry)).all() == []


def test_department_and_holder_tokens_never_stand_in_for_each_other(client, city, licences, log_published):
    ident = licences["second_v2"]["identifier"]
    assert client.get("/api/v1/holders/me/licences", headers=city).status_code == 401
    assert client.get(f"/api/v1/holders/me/licences/{ident}", headers=city).status_code == 401
    alice = holder_headers(client, code=ALICE)
    assert client.get(f"/api/v1/licences/{ident}", headers=alice).status_code == 401
    assert client.get("/api/v1/holders/me/licences").status_code == 401
