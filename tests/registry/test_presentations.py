"""亮证: a holder (or their proxy) gets a one-time QR code for their own live
licences, signed by the registry's presentation key."""

from __future__ import annotations

import base64
import dataclasses
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from registry.config import RegistryConfig
from registry.presentations.models import Presentation, Redemption
from registry.presentations.redeem import SKEW
from signing import service as signing_service
from signing.models import SigningKey
from signing.qr import decode_qr_image, encode_presentation_qr, verify_qr
from signing.statuses import KeyPurpose
from storage.cache import Cache, InProcessCache
from tests.factories.licences import KEY_SECRET, REGISTRY_ID
from tests.factories.presentations import OTHER_CITIZEN, build, holder_auth, residence_body

pytestmark = pytest.mark.slow  # most of its tests are the slow tail (HTTP and database round trips)


@pytest.fixture
def world(client, app, db_session):
    return build(client, app, db_session)


def test_holder_gets_a_signed_one_time_code(world):
    response = world.present([world.residence["identifier"]], disclosure="masked")
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["licences"] == [world.residence["identifier"]] and body["disclosure"] == "masked"
    assert body["ttl_seconds"] == 60
    expires = datetime.fromisoformat(body["expires_at"])
    assert timedelta(seconds=55) < expires - datetime.now(UTC) <= timedelta(seconds=61)
    assert body["qr_text"].startswith("EL1:")
    # The PNG carries the same text, and the code verifies with the public trust list alone.
    assert decode_qr_image(base64.b64decode(body["qr_png_base64"])) == body["qr_text"]
    result = verify_qr(body["qr_text"], trust_store=world.trust_store(), now=datetime.now(UTC))
    assert result.kind == "presentation" and result.issuer == "https://registry.test"
    assert result.key.purpose == KeyPurpose.PRESENTATION
    assert result.presentation.presentation_id == body["id"]
    assert list(result.presentation.licence_identifiers) == body["licences"]
    row = world.session.get(Presentation, body["id"])
    assert row.holder_code == world.residence["holder_code"] and row.proxy_code is None


def test_ttl_comes_from_the_settings(world):
    services = world.app.state.services
    services.replace(RegistryConfig, dataclasses.replace(services.find(RegistryConfig), presentation_ttl_seconds=120))
    body = world.present([world.residence["identifier"]]).json()
    assert body["ttl_seconds"] == 120


def test_several_licences_in_one_code(world):
    other = world.issue(residence_body(face={"address": "福州市台江区"}, valid_until="2031-01-01"))
    body = world.present([world.residence["identifier"], other["identifier"]]).json()
    assert body["licences"] == [world.residence["identifier"], other["identifier"]]


def test_organisation_presents_its_business_licence(world):
    response = world.present([world.business["identifier"]], headers=world.company)
    assert response.status_code == 201, response.text


def test_another_holders_licence_is_not_found(world):
    stranger = holder_auth(world.app, code=OTHER_CITIZEN, name="李四")
    response = world.present([world.residence["identifier"]], headers=stranger)
    assert response.status_code == 404 and response.json()["error"] == "licence_not_found"
    # Mixed with an own licence: still refused, nothing issued.
    mine = world.issue(residence_body(holder_code=OTHER_CITIZEN))
    response = world.present([mine["identifier"], world.residence["identifier"]], headers=stranger)
    assert response.status_code == 404
    assert world.session.query(Presentation).count() == 0


def test_unknown_licence_answers_like_another_holders(world):
    unknown = world.residence["identifier"].replace(".001.", ".002.")
    response = world.present([unknown])
    assert response.status_code in (404, 422)
    assert "qr_text" not in response.json()


@pytest.mark.parametrize("action", ["suspend", "revoke"])
def test_only_live_licences_are_presented(world, action):
    identifier = world.residence["identifier"]
    changed = world.client.post(f"/api/v1/licences/{identifier}/{action}", json={"reason": "核查"}, headers=world.city)
    assert changed.status_code == 200, changed.text
    response = world.present([identifier])
    assert response.status_code == 409 and response.json()["error"] == "licence_not_presentable"


def test_an_old_version_presents_the_current_one(world):
    old = world.business["identifier"]
    changed = world.client.post(f"/api/v1/licences/{old}/versions", json={"face": {"legal_rep": "李四"}},
                                headers=world.city)
    assert changed.status_code == 201
    body = world.present([old], headers=world.company).json()
    assert body["licences"] == [changed.json()["identifier"]]


BAD_BODIES = [
    {"licences": [], "disclosure": "full"},
    {"licences": ["x"] * 11, "disclosure": "full"},
    {"licences": ["1.2.3"], "disclosure": "everything"},
    {"licences": ["1.2.3"], "disclosure": "full", "extra": 1},
]


def test_bad_requests_are_refused(world):
    for body in BAD_BODIES:
        response = world.client.post("/api/v1/presentations", json=body, headers=world.citizen)
        assert response.status_code == 422, body


def test_a_bad_identifier_is_refused(world):
    response = world.present(["not-an-identifier"])
    assert response.status_code == 422 and response.json()["error"] == "invalid_presentation"


def test_department_tokens_cannot_present(world):
    response = world.present([world.residence["identifier"]], headers=world.city)
    assert response.status_code == 401



def _entries_denied(world) -> list[str]:
    from exchange.auditlog import LogEntry

    query = select(LogEntry.reason_code).where(LogEntry.kind == "redemption", LogEntry.result == "denied")
    return list(world.session.scalars(query.order_by(LogEntry.id)))


def test_a_new_code_for_a_licence_supersedes_the_old_one(world):
    residence = world.residence["identifier"]
    other = world.issue(residence_body(face={"address": "福州市台江区"}, valid_until="2031-01-01"))["identifier"]
    old = world.code(residence)
    pair = world.present([residence, other]).json()["qr_text"]  # shows the residence permit again
    only_other = world.code(other)  # shows `other` again: replaces the pair, not `old`'s successor
    new = world.code(residence, disclosure="masked")

    for replaced in (old, pair):
        refused = world.redeem(replaced)
        assert refused.status_code == 422 and refused.json()["error"] == "superseded", refused.text
        assert "licences" not in refused.json()
        checked = world.client.post("/api/v1/verify", json={"qr_text": replaced}).json()
        assert checked["valid"] is False and checked["error"] == "superseded"
    assert _entries_denied(world) == ["superseded", "superseded"]
    assert world.session.query(Redemption).count() == 0
    # Kept in the database, not only in one process's cache: a process that never saw the codes agrees.
    world.app.state.services.replace(Cache, InProcessCache())
    assert world.redeem(old).json()["error"] == "superseded"
    # The current code of each licence still works.
    assert world.client.post("/api/v1/verify", json={"qr_text": new}).json()["valid"] is True
    assert world.redeem(new).status_code == 200
    assert world.redeem(only_other).status_code == 200


def test_codes_of_other_holders_and_licences_are_left_alone(world):
    mine = world.code()
    company = world.code(world.business["identifier"], headers=world.company)
    stranger = holder_auth(world.app, code=OTHER_CITIZEN, name="李四")
    theirs = world.issue(residence_body(holder_code=OTHER_CITIZEN))
    world.code(theirs["identifier"], headers=stranger)
    assert world.redeem(mine).status_code == 200
    assert world.redeem(company).status_code == 200


def test_the_answer_says_until_when_the_counter_accepts_the_code(world):
    body = world.present([world.residence["identifier"]]).json()
    expires = datetime.fromisoformat(body["expires_at"])
    accepted_until = datetime.fromisoformat(body["accepted_until"])
    assert accepted_until == expires + SKEW  # the clock-skew allowance, not the bare `exp`
    assert body["ttl_seconds"] + SKEW.seconds - 2 <= body["seconds_left"] <= body["ttl_seconds"] + SKEW.seconds
    # The counter agrees: a code is redeemed up to that instant and refused after it.
    assert world.redeem(_aged_code(world, seconds_left=2)).status_code == 200
    late = world.redeem(_aged_code(world, seconds_left=-2))
    assert late.status_code == 422 and late.json()["error"] == "expired"


def _aged_code(world, *, seconds_left: int) -> str:
    """A genuine code made earlier, `seconds_left` before the instant its answer named (negative: after)."""
    ttl = timedelta(seconds=60)
    issued = datetime.now(UTC).replace(microsecond=0) - (ttl + SKEW) + timedelta(seconds=seconds_left)
    signer = signing_service.presentation_qr_signer(session=world.session, key_secret=KEY_SECRET)
    key_row = world.session.scalar(select(SigningKey).where(SigningKey.kid == signer.kid))
    key_row.created_at = issued - timedelta(days=1)  # a key refuses codes older than itself
    row = Presentation(id=f"aged-{seconds_left + 100:04d}", holder_code=world.residence["holder_code"],
                       holder_code_type="111", licence_identifiers=[world.residence["identifier"]],
                       disclosure="full", kid=signer.kid, issued_at=issued, expires_at=issued + ttl)
    world.session.add(row)
    world.session.commit()
    return encode_presentation_qr(signer=signer, issuer=REGISTRY_ID, presentation_id=row.id,
                                  licence_identifiers=row.licence_identifiers, disclosure="full",
                                  issued_at=row.issued_at, expires_at=row.expires_at)
