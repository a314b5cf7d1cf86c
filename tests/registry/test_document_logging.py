"""Department downloads of layout documents and purpose-limited copies are
recorded in the authorized-use log, in the request's transaction: no
record, no document."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from exchange.auditlog import LogEntry, log_origin, publish_checkpoint
from exchange.auditlog.records import parse_entry
from registry.models import LicenceCopy
from tests.factories.catalog import CITY_SAMR, PROVINCE_SAMR
from tests.factories.licences import (
    KEY_SECRET,
    REGISTRY_ID,
    build_world,
    business_licence_body,
    company_uscc,
    publish_log_checkpoint,
    token_headers,
)

pytestmark = pytest.mark.slow  # most of its tests are the slow tail (HTTP and database round trips)


@pytest.fixture
def city(client, db_session):
    build_world(db_session)
    return token_headers(client, db_session, CITY_SAMR)


@pytest.fixture
def licence(client, city) -> dict:
    response = client.post("/api/v1/licences", json=business_licence_body(), headers=city)
    assert response.status_code == 201, response.text
    return response.json()


def _entries(session, kind: str) -> list[LogEntry]:
    return session.scalars(select(LogEntry).where(LogEntry.kind == kind).order_by(LogEntry.id)).all()


def test_downloads_and_copies_are_recorded_with_operator_and_purpose(client, db_session, city, licence):
    publish_log_checkpoint(db_session)
    ident = licence["identifier"]
    png = client.get(f"/api/v1/licences/{ident}/layout.png", headers={**city, "X-Operator-Id": "clerk-7"})
    assert png.status_code == 200 and png.content.startswith(b"\x89PNG")
    pdf = client.get(f"/api/v1/licences/{ident}/layout.pdf?purpose=档案归档", headers=city)
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    first, second = _entries(db_session, "layout_download")
    assert (first.department_code, first.operator_id, first.basis, first.subject_code, first.result) == (
        CITY_SAMR, "clerk-7", "issuer", company_uscc(), "granted")
    record = parse_entry(first.entry)
    assert record["licence_ids"] == [ident] and "legal_rep" in record["fields"]
    assert record["purpose"] == "发证部门管理本部门证照"
    # Without the header the department's client is the operator on record.
    assert second.operator_id.startswith(CITY_SAMR.lower() + "-")
    assert parse_entry(second.entry)["purpose"] == "档案归档"

    expires = (datetime.now(UTC) + timedelta(days=7)).isoformat()
    copy = client.post(f"/api/v1/licences/{ident}/copies", headers={**city, "X-Operator-Id": "clerk-8"},
                       json={"purpose": "办理银行开户", "expires_at": expires})
    assert copy.status_code == 201, copy.text
    (entry,) = _entries(db_session, "annotated_copy_download")
    assert (entry.operator_id, entry.basis, entry.department_code) == ("clerk-8", "issuer", CITY_SAMR)
    assert parse_entry(entry.entry)["purpose"] == "办理银行开户"


@pytest.mark.parametrize("checkpoint_age", [None, timedelta(hours=1)])
def test_no_document_leaves_while_the_log_is_stale(client, db_session, city, licence, checkpoint_age):
    if checkpoint_age is not None:
        publish_checkpoint(session=db_session, key_secret=KEY_SECRET, origin=log_origin(REGISTRY_ID),
                           now=datetime.now(UTC) - checkpoint_age)
        db_session.commit()
    ident = licence["identifier"]
    expires = (datetime.now(UTC) + timedelta(days=7)).isoformat()
    for response in (
        client.get(f"/api/v1/licences/{ident}/layout.png", headers=city),
        client.get(f"/api/v1/licences/{ident}/layout.pdf", headers=city),
        client.post(f"/api/v1/licences/{ident}/copies", headers=city,
                    json={"purpose": "办理银行开户", "expires_at": expires}),
    ):
        assert response.status_code == 503 and response.json()["error"] == "log_unavailable"
        assert not response.content.startswith((b"%PDF", b"\x89PNG"))
    assert db_session.scalars(select(LogEntry)).all() == []
    assert db_session.scalars(select(LicenceCopy)).all() == []


def test_bad_operator_and_other_departments_are_refused(client, db_session, city, licence):
    publish_log_checkpoint(db_session)
    ident = licence["identifier"]
    bad = client.get(f"/api/v1/licences/{ident}/layout.png", headers={**city, "X-Operator-Id": "clerk 7; drop"})
    assert bad.status_code == 422
    province = token_headers(client, db_session, PROVINCE_SAMR)
    assert client.get(f"/api/v1/licences/{ident}/layout.png", headers=province).status_code == 403
    assert db_session.scalars(select(LogEntry)).all() == []
