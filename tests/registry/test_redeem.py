"""Redemption at the counter: verify, use once, check each licence, record
the use in the same transaction — and every way it must fail."""

from __future__ import annotations

import hashlib
import zlib
from datetime import UTC, datetime, timedelta

import base45
import cbor2
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, func, select, text
from sqlalchemy.orm import sessionmaker

from exchange.auditlog import LogEntry
from exchange.auditlog.records import parse_entry
from registry.presentations.models import Presentation, Redemption
from registry.presentations.redeem import claim_key
from signing import service as signing_service
from signing.algorithms import Algorithm
from signing.canonical import canonical_json
from signing.keys import generate_private_key
from signing.models import SigningKey
from signing.qr import QrSigner, encode_presentation_qr
from signing.sealed import SealSignature, verify_sealed_record
from storage.cache import Cache, InProcessCache
from tests.factories.catalog import COUNTY_CENTRE, MATTER
from tests.factories.licences import KEY_SECRET, REGISTRY_ID, token_headers
from tests.factories.presentations import CITIZEN, PURPOSE, build, publish_log

pytestmark = pytest.mark.slow  # most of its tests are the slow tail (HTTP and database round trips)


@pytest.fixture
def world(client, app, db_session):
    return build(client, app, db_session)


def _entries(world, **where):
    query = select(LogEntry).where(LogEntry.kind == "redemption").order_by(LogEntry.id)
    for name, value in where.items():
        query = query.where(getattr(LogEntry, name) == value)
    return list(world.session.scalars(query))


def _refused(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"] == code and "licences" not in body
    return body


def test_full_disclosure_returns_fields_and_the_sealed_licence(world):
    code = world.code(disclosure="full")
    response = world.redeem(code)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["valid"] is True and body["disclosure"] == "full"
    [licence] = body["licences"]
    assert licence["identifier"] == world.residence["identifier"] and licence["type_name"] == "居住证"
    assert licence["holder_name"] == "张三丰" and licence["status"] == "valid"
    assert licence["fields"] == {"address": "福州市鼓楼区五四路100号", "floor_area": 88.5, "moved_in": "2020-06-01"}
    assert licence["labels"]["address"] == "居住地址"
    assert (licence["valid_from"], licence["valid_until"]) == ("2025-01-01", "2035-12-31")
    sealed = licence["sealed"]
    assert verify_sealed_record(record=sealed["record"], signature=SealSignature.from_dict(sealed["seal_signature"]),
                                trust=world.trust_store()) == sealed["record"]
    assert 0 <= body["trust_list_age_seconds"] < 600

    redemption = world.session.scalar(select(Redemption).where(Redemption.presentation_id == body["presentation_id"]))
    assert (redemption.department_code, redemption.operator_id, redemption.matter_code) == (
        COUNTY_CENTRE, "clerk-7", MATTER)

    [entry] = _entries(world, result="granted")
    record = parse_entry(entry.entry)
    assert record["basis"] == "holder_presentation" and record["department"] == COUNTY_CENTRE
    assert record["operator"] == "clerk-7" and record["subject"] == CITIZEN and record["matter"] == MATTER
    assert record["purpose"] == PURPOSE and record["case_number"] == "CASE-2025-001"
    assert record["licence_ids"] == [world.residence["identifier"]]
    assert "face.address" in record["fields"] and "sealed_record" in record["fields"]
    sent = {"qr_text": code, "operator_id": "clerk-7", "matter_code": MATTER, "purpose": PURPOSE,
            "case_number": "CASE-2025-001"}
    assert record["request_hash"] == hashlib.sha256(canonical_json(sent)).hexdigest()


def test_masked_disclosure_masks_sensitive_fields_and_withholds_the_seal(world):
    code = world.code(world.business["identifier"], disclosure="masked", headers=world.company)
    response = world.redeem(code)
    assert response.status_code == 200, response.text
    [licence] = response.json()["licences"]
    assert licence["fields"]["legal_rep"] == "张*丰"  # sensitive, mask rule "name"
    assert licence["fields"]["name"] == "福州示例餐饮有限公司"  # not sensitive
    assert licence["holder_name"] == "福州示例餐饮有限公司"  # organisations' names are public
    assert licence["sealed"] is None
    record = parse_entry(_entries(world, result="granted")[0].entry)
    assert "face.legal_rep:masked" in record["fields"] and "sealed_record" not in record["fields"]


def test_masked_disclosure_masks_a_citizens_name(world):
    response = world.redeem(world.code(disclosure="masked"))
    assert response.json()["licences"][0]["holder_name"] == "张*丰"


def test_replayed_code_gets_no_data(world):
    code = world.code()
    assert world.redeem(code).status_code == 200
    _refused(world.redeem(code), 409, "replayed")
    [denied] = _entries(world, result="denied")
    assert denied.reason_code == "replayed" and denied.department_code == COUNTY_CENTRE
    assert parse_entry(denied.entry)["fields"] == []


def test_the_database_stops_a_replay_when_the_cache_forgot(world):
    code = world.code()
    first = world.redeem(code)
    assert first.status_code == 200
    # Simulate Redis losing its data: a cache that never saw the code.
    world.app.state.services.replace(Cache, InProcessCache())
    _refused(world.redeem(code), 409, "replayed")
    assert world.session.query(Redemption).count() == 1


def _stale_code(world, *, age: timedelta, ttl: timedelta = timedelta(seconds=60)) -> str:
    """A genuine code, stored and signed as the registry would have, `age` ago."""
    issued = datetime.now(UTC).replace(microsecond=0) - age
    signer = signing_service.presentation_qr_signer(session=world.session, key_secret=KEY_SECRET)
    # The registry's presentation key existed long before (a key refuses codes older than itself).
    key_row = world.session.scalar(select(SigningKey).where(SigningKey.kid == signer.kid))
    key_row.created_at = issued - timedelta(days=1)
    row = Presentation(id="stale-code-0001", holder_code=CITIZEN, holder_code_type="111",
                       licence_identifiers=[world.residence["identifier"]], disclosure="full", kid=signer.kid,
                       issued_at=issued, expires_at=issued + ttl)
    world.session.add(row)
    world.session.commit()
    return encode_presentation_qr(signer=signer, issuer=REGISTRY_ID, presentation_id=row.id,
                                  licence_identifiers=row.licence_identifiers, disclosure="full",
                                  issued_at=row.issued_at, expires_at=row.expires_at)


def test_expired_code_gets_no_data(world):
    code = _stale_code(world, age=timedelta(minutes=5))
    _refused(world.redeem(code), 422, "expired")
    assert _entries(world, result="denied")[0].reason_code == "expired"


def test_code_within_the_clock_skew_still_redeems(world):
    code = _stale_code(world, age=timedelta(seconds=70))  # expired 10 s ago: within the 30 s skew
    assert world.redeem(code).status_code == 200


def _unwrap(code: str) -> list:
    sign1 = cbor2.loads(zlib.decompress(base45.b45decode(code.removeprefix("EL1:"))))
    return list(sign1.value)


def _wrap(parts: list) -> str:
    return "EL1:" + base45.b45encode(zlib.compress(cbor2.dumps(cbor2.CBORTag(18, parts)))).decode()


def test_tampered_payload_fails_the_signature(world):
    other = world.issue(_residence_of_stranger())
    code = world.code()
    protected, unprotected, payload, signature = _unwrap(code)
    claims = cbor2.loads(payload)
    claims[-65538]["l"] = [other["identifier"]]  # swap in another holder's licence
    tampered = _wrap([protected, unprotected, cbor2.dumps(claims), signature])
    _refused(world.redeem(tampered), 422, "signature_invalid")


def _residence_of_stranger() -> dict:
    from tests.factories.presentations import OTHER_CITIZEN, residence_body

    return residence_body(holder_code=OTHER_CITIZEN)


def test_tampered_signature_fails(world):
    protected, unprotected, payload, signature = _unwrap(world.code())
    forged = _wrap([protected, unprotected, payload, bytes([signature[0] ^ 1]) + signature[1:]])
    _refused(world.redeem(forged), 422, "signature_invalid")


MALFORMED = [
    ("HELLO", "prefix_invalid"),
    ("EL1:%%%%", "base45_invalid"),
    ("EL1:" + base45.b45encode(b"not zlib at all").decode(), "zlib_invalid"),
    ("EL1:" + base45.b45encode(zlib.compress(b"\xa0")).decode(), "cose_invalid"),
]


def test_malformed_codes_get_their_step_code(world):
    for qr_text, code in MALFORMED:
        _refused(world.redeem(qr_text), 422, code)
    assert [e.reason_code for e in _entries(world, result="denied")] == [code for _, code in MALFORMED]


def test_unknown_signer_gets_no_data(world):
    key = generate_private_key(Algorithm.ES256)
    now = datetime.now(UTC).replace(microsecond=0)
    forged = encode_presentation_qr(
        signer=QrSigner(kid=key.kid, private_key=key), issuer=REGISTRY_ID, presentation_id="forged-0001",
        licence_identifiers=[world.residence["identifier"]], disclosure="full", issued_at=now,
        expires_at=now + timedelta(seconds=60),
    )
    _refused(world.redeem(forged), 422, "unknown_key")


def test_a_printed_licence_qr_is_not_a_presentation(world):
    from registry.service import documents, reads

    view = reads.get_or_raise(session=world.session, identifier=world.residence["identifier"])
    static = documents.static_qr_text(session=world.session, view=view, registry_id=REGISTRY_ID, key_secret=KEY_SECRET)
    _refused(world.redeem(static), 422, "not_a_presentation")


@pytest.mark.parametrize("action, code", [("revoke", "revoked"), ("suspend", "suspended")])
def test_a_licence_revoked_or_suspended_after_the_code_was_made(world, action, code):
    qr_text = world.code()
    identifier = world.residence["identifier"]
    assert world.client.post(f"/api/v1/licences/{identifier}/{action}", json={"reason": "核查"},
                             headers=world.city).status_code == 200
    _refused(world.redeem(qr_text), 409, code)
    assert world.session.query(Redemption).count() == 0
    if action == "suspend":
        # The refusal did not burn the code: once the licence is resumed, it redeems.
        resumed = world.client.post(f"/api/v1/licences/{identifier}/resume", json={}, headers=world.city)
        assert resumed.status_code == 200
        assert world.redeem(qr_text).status_code == 200


def test_wrong_scope_is_refused_and_recorded(world):
    no_redeem = token_headers(world.client, world.session, COUNTY_CENTRE, scopes=("exchange:query",))
    _refused(world.redeem(world.code(), headers=no_redeem), 403, "forbidden")
    [denied] = _entries(world, result="denied")
    assert denied.reason_code == "forbidden"


def test_holder_tokens_cannot_redeem(world):
    response = world.redeem(world.code(), headers=world.citizen)
    assert response.status_code == 401


def test_unknown_matter_is_refused(world):
    _refused(world.redeem(world.code(), matter_code="NO-SUCH-MATTER"), 422, "invalid_presentation")


def test_bad_redemption_requests(world):
    code = world.code()
    for overrides in ({"purpose": ""}, {"purpose": "x" * 201}, {"operator_id": "clerk 7"}, {"matter_code": "a b"},
                      {"case_number": "x" * 65}):
        assert world.redeem(code, **overrides).status_code == 422, overrides
    body = {"qr_text": code, "operator_id": "clerk-7", "matter_code": MATTER}  # no purpose
    assert world.client.post("/api/v1/presentations/redeem", json=body, headers=world.counter).status_code == 422
    assert world.redeem("EL1:" + "A" * 5000).status_code == 422
    assert world.redeem(code).status_code == 200  # none of that touched the code


def test_log_unavailable_means_no_data_and_the_code_survives(client, app, db_session):
    world = build(client, app, db_session, log=False)  # no checkpoint was ever published
    code = world.code()
    _refused(world.redeem(code), 503, "log_unavailable")
    assert world.session.query(Redemption).count() == 0
    presentation_id = _presentation_id(code)
    assert world.app.state.services.find(Cache).get(claim_key(presentation_id)) is None  # the claim was given back
    [denied] = _entries(world, result="denied")
    assert denied.reason_code == "log_unavailable"
    publish_log(world.session)
    assert world.redeem(code).status_code == 200


def _presentation_id(code: str) -> str:
    claims = cbor2.loads(_unwrap(code)[2])
    return claims[7].decode()


def test_the_issuing_department_needs_the_redeem_scope_too(world):
    _refused(world.redeem(world.code(), headers=world.city), 403, "forbidden")


def test_a_commit_that_fails_leaves_the_code_usable_and_is_recorded(world):
    code = world.code()
    failed = []

    def refuse_once(session):
        # The database refuses the redemption's unit of work as it commits
        # (a statement it cannot run), once; other sessions commit as usual.
        if not failed and session.scalar(select(func.count()).select_from(Redemption)):
            failed.append(True)
            session.execute(text("INSERT INTO no_such_table_of_certhub VALUES (1)"))

    sessions = world.app.state.services.find(sessionmaker)
    event.listen(sessions, "before_commit", refuse_once)
    try:
        body = {"qr_text": code, "operator_id": "clerk-7", "matter_code": MATTER, "purpose": PURPOSE}
        http = TestClient(world.app, raise_server_exceptions=False)
        response = http.post("/api/v1/presentations/redeem", json=body, headers=world.counter)
    finally:
        event.remove(sessions, "before_commit", refuse_once)
    assert failed and response.status_code >= 500, response.text
    assert "licences" not in response.text
    assert world.session.query(Redemption).count() == 0
    assert world.app.state.services.find(Cache).get(claim_key(_presentation_id(code))) is None  # the claim was given back
    [denied] = _entries(world, result="denied")  # the failed attempt is in the log
    assert denied.reason_code == "error" and parse_entry(denied.entry)["fields"] == []
    assert world.redeem(code).status_code == 200  # and the code still works
    assert len(_entries(world, result="granted")) == 1
