"""The public check: anyone posts a QR text and learns whether it is genuine
and what the code itself says — nothing more, and nothing is written."""

from __future__ import annotations

import pytest

from exchange.auditlog import LogEntry
from registry.presentations.models import Redemption
from registry.service import documents, reads
from tests.factories.licences import KEY_SECRET, REGISTRY_ID
from tests.factories.presentations import build

pytestmark = pytest.mark.slow  # most of its tests are the slow tail (HTTP and database round trips)


@pytest.fixture
def world(client, app, db_session):
    return build(client, app, db_session)


def _static(world, identifier):
    view = reads.get_or_raise(session=world.session, identifier=identifier)
    return documents.static_qr_text(session=world.session, view=view, registry_id=REGISTRY_ID, key_secret=KEY_SECRET)


def _check(world, text):
    response = world.client.post("/api/v1/verify", json={"qr_text": text})  # no credentials
    assert response.status_code == 200, response.text
    return response.json()


def test_a_printed_licence_qr_with_its_status(world):
    identifier = world.residence["identifier"]
    text = _static(world, identifier)
    body = _check(world, text)
    assert body["valid"] is True and body["kind"] == "licence" and body["issuer"] == REGISTRY_ID
    assert body["summary"] == {
        "type_code": world.residence["type_code"], "identifier": identifier, "holder_name_masked": "张*丰",
        "issuer_code": world.residence["issuer_code"], "valid_from": "2025-01-01", "valid_until": "2035-12-31",
        "status": "valid",
    }
    assert body["expires_at"].startswith("2035-12-31T16:00:00")
    world.client.post(f"/api/v1/licences/{identifier}/suspend", json={"reason": "核查"}, headers=world.city)
    body = _check(world, text)
    assert body == {"valid": False, "error": "suspended", "message": body["message"]}


def test_a_presentation_code_is_checked_not_consumed(world):
    text = world.code(disclosure="masked")
    before = world.session.query(LogEntry).count()
    body = _check(world, text)
    assert body["valid"] is True and body["kind"] == "presentation"
    assert body["summary"]["licences"] == [world.residence["identifier"]] and body["summary"]["disclosure"] == "masked"
    assert "fields" not in str(body) and "地址" not in str(body)
    assert world.session.query(LogEntry).count() == before and world.session.query(Redemption).count() == 0
    assert world.redeem(text).status_code == 200  # still usable at the counter


def test_garbage_is_invalid_with_its_reason(world):
    for text, code in (("hello", "prefix_invalid"), ("EL1:%%%", "base45_invalid")):
        body = _check(world, text)
        assert body["valid"] is False and body["error"] == code


def test_a_tampered_code_is_invalid(world):
    text = _static(world, world.residence["identifier"])
    flipped = text[:-6] + ("0" if text[-6] != "0" else "1") + text[-5:]
    body = _check(world, flipped)
    assert body["valid"] is False and body["error"] in {"signature_invalid", "zlib_invalid", "cose_invalid",
                                                          "base45_invalid"}


def test_bodies_are_bounded(world):
    assert world.client.post("/api/v1/verify", json={"qr_text": "EL1:" + "A" * 5000}).status_code == 422
    huge = world.client.post("/api/v1/verify", content=b'{"qr_text": "' + b"A" * 20000 + b'"}',
                             headers={"Content-Type": "application/json"})
    assert huge.status_code == 413
