"""The wallet's offline copy of a licence's printed static QR: the holder's
own licences only, verifiable offline with the trust list, and each read
recorded in the use log."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from certhub.settings import Settings
from exchange.auditlog import LogEntry
from exchange.auditlog.records import parse_entry
from signing.qr import decode_qr_image, verify_qr
from tests.factories.licences import (
    REGISTRY_ID,
    build_world,
    citizen_id,
    holder_headers,
    issue_residence_permit_through_the_api,
    trust_store,
)
from tests.factories.settings import TEST_SECRET

ALICE = citizen_id("35010219900101123")
BOB = citizen_id("35010219851231002")


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(secret_key=TEST_SECRET, data_dir=tmp_path, registry_id=REGISTRY_ID, demo=True)


@pytest.fixture
def world(client, db_session):
    anchors, _seal = build_world(db_session)
    return anchors, issue_residence_permit_through_the_api(client, db_session, holder_code=ALICE)


def test_the_holder_gets_the_printed_static_qr_verifiable_offline(client, db_session, world):
    anchors, licence = world
    answer = client.get(f"/api/v1/holders/me/licences/{licence['identifier']}/static-qr",
                        headers=holder_headers(client, code=ALICE))
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["identifier"] == licence["identifier"] and body["type_name"] == "居住证"
    assert body["valid_until"] == "2035-12-31"
    verified = verify_qr(body["qr_text"], trust_store=trust_store(client, anchors), now=datetime.now(UTC))
    assert verified.kind == "licence" and verified.summary.identifier == licence["identifier"]
    assert verified.summary.holder_name_masked == "张*"
    assert decode_qr_image(base64.b64decode(body["qr_png_base64"])) == body["qr_text"]

    [entry] = db_session.scalars(select(LogEntry).where(LogEntry.kind == "holder_access")).all()
    record = parse_entry(entry.entry)
    assert record["subject"] == ALICE and record["licence_ids"] == [licence["identifier"]]
    assert "static_qr.identifier" in record["fields"]


def test_another_holders_static_qr_is_not_found(client, world):
    _anchors, licence = world
    answer = client.get(f"/api/v1/holders/me/licences/{licence['identifier']}/static-qr",
                        headers=holder_headers(client, code=BOB, name="李四"))
    assert answer.status_code == 404 and answer.json()["error"] == "licence_not_found"
