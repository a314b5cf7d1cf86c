"""What went out: each granted answer of an exchange query is committed to in
its use record, item by item (a salted SHA-256 digest per licence or
provider record), so a later dispute can prove what the department
received. The department gets the salts with the answer; the holder gets
values and salts in their record view; the log holds neither, only digests.
Old entries (format 1) stay as they were and commit to nothing."""

from __future__ import annotations

import copy
import logging
from datetime import UTC, datetime

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import undefer

from exchange.auditlog import LogEntry, integrate_pending, publish_checkpoint
from exchange.auditlog.answers import AnswerNotVerified, verify_answer
from exchange.auditlog.records import parse_entry
from identity.tokens import TokenAuthority
from signing.transparency.tiles import bundles_for_size
from tests.factories.exchange import (
    COMPANY,
    ENTERPRISE_DATA,
    GULOU_POLICE,
    ID_CARD,
    KEY_SECRET,
    ORIGIN,
    OWNER,
    apply,
    consent,
    decide,
    holder,
    id_card,
    issue,
    query,
    results_by_item,
)
from tests.factories.use_records import use

pytestmark = [pytest.mark.exchange_world, pytest.mark.slow]  # in a savepoint of the world, built per module


def _enterprise_answer(client, world) -> tuple[dict, dict]:
    """A query answered by the provider's own system (the enterprise register on loopback); body, result."""
    apply(client, world.counter, ENTERPRISE_DATA, fields=["uscc", "name", "registration_status"])
    response = query(client, world.counter, COMPANY, "001", [ENTERPRISE_DATA])
    assert response.status_code == 200, response.text
    body = response.json()
    return body, results_by_item(body)[ENTERPRISE_DATA]


def _id_card_answer(app, client, world) -> tuple[dict, dict]:
    """A query answered with a licence from the registry; body, result."""
    issue(client, world.gulou_police, id_card())
    asked = apply(client, world.counter, ID_CARD, provider=GULOU_POLICE, fields=["name", "id_number", "sex"],
                  clear_fields=["name"])
    decide(client, world.gulou_police, asked["id"])
    consent(client, holder(app, OWNER, "111", "张三丰"), "11350102360444289T", [ID_CARD])
    response = query(client, world.counter, OWNER, "111", [ID_CARD])
    assert response.status_code == 200, response.text
    body = response.json()
    return body, results_by_item(body)[ID_CARD]


def _logged(db_session, body: dict, subject: str) -> LogEntry:
    """The granted record the query's request hash names."""
    rows = db_session.scalars(select(LogEntry).options(undefer(LogEntry.disclosed))
                              .where(LogEntry.subject_code == subject, LogEntry.result == "granted")).all()
    mine = [row for row in rows if parse_entry(bytes(row.entry))["request_hash"] == body["request_hash"]]
    assert len(mine) == 1
    return mine[0]


def _strings(value) -> set[str]:
    if isinstance(value, dict):
        return {s for item in value.values() for s in _strings(item)}
    if isinstance(value, list):
        return {s for item in value for s in _strings(item)}
    return {value} if isinstance(value, str) else set()


def _refused_as(code: str, **given) -> None:
    with pytest.raises(AnswerNotVerified) as refused:
        verify_answer(**given)
    assert refused.value.code == code


def test_a_providers_answer_is_committed_to_and_a_changed_value_is_detected(client, db_session, world):
    body, result = _enterprise_answer(client, world)
    records, salts = result["records"], result["answer_salts"]
    assert len(records) == 1 and len(salts) == 1
    assert records[0]["name"] == "福州示例餐饮有限公司"  # the provider's data, as the department received it

    record = parse_entry(bytes(_logged(db_session, body, COMPANY).entry))
    assert record["v"] == 2
    assert record["answer"]["scheme"] == "sha-256/rfc8785-salted" and len(record["answer"]["digests"]) == 1
    verify_answer(record=record, values=records, salts=salts)  # what went out is what the record commits to

    changed = copy.deepcopy(records)
    changed[0]["registration_status"] = "注销"
    _refused_as("answer_mismatch", record=record, values=changed, salts=salts)
    _refused_as("answer_mismatch", record=record, values=records, salts=["00" * 16])
    _refused_as("answer_mismatch", record=record, values=records + records, salts=salts + salts)
    _refused_as("answer_mismatch", record=record, values=[], salts=[])


def test_a_licence_answer_is_committed_to_licence_by_licence(app, client, db_session, world):
    body, result = _id_card_answer(app, client, world)
    licences, salts = result["licences"], result["answer_salts"]
    assert len(licences) == 1 and len(salts) == 1 and licences[0]["fields"]["name"] == "张三丰"
    record = parse_entry(bytes(_logged(db_session, body, OWNER).entry))
    verify_answer(record=record, values=licences, salts=salts)
    changed = copy.deepcopy(licences)
    changed[0]["status"] = "revoked"
    _refused_as("answer_mismatch", record=record, values=changed, salts=salts)


def test_the_log_holds_no_disclosed_value_and_no_salt(app, client, db_session, world):
    body, result = _enterprise_answer(client, world)
    card_body, card = _id_card_answer(app, client, world)
    integrate_pending(session=db_session, max_batch=1000)
    size = publish_checkpoint(session=db_session, key_secret=KEY_SECRET, origin=ORIGIN).size
    db_session.commit()

    # Every byte of every entry bundle the auditors (and `certhub audit verify`) read.
    token = app.state.services.find(TokenAuthority).issue(client_id="auditor-1", department_code=COMPANY,
                                                           scopes=["audit:read"])
    bundles = b""
    for coord in bundles_for_size(size):
        served = client.get(f"/log/{coord.path}", headers={"Authorization": f"Bearer {token}"})
        assert served.status_code == 200, coord.path
        bundles += served.content
    leaves = [bytes(_logged(db_session, body, COMPANY).entry), bytes(_logged(db_session, card_body, OWNER).entry)]
    assert all(leaf in bundles for leaf in leaves)  # the records are in what was read

    # What a record names anyway is no disclosure: the subject, the licences'
    # identifiers (which hold the issuer's code) and the names of the fields.
    named = {COMPANY, OWNER} | {licence[key] for licence in card["licences"] for key in ("identifier", "issuer_code")}
    named |= set(result["fields"]) | set(card["fields"])
    disclosed = (_strings(result["records"]) | _strings(card["licences"])) - named
    assert "福州示例餐饮有限公司" in disclosed and "张三丰" in disclosed
    secrets = disclosed | set(result["answer_salts"]) | set(card["answer_salts"])
    assert sorted(value for value in secrets if value.encode("utf-8") in bundles) == []


def test_no_salt_reaches_a_log_line(client, world, caplog):
    caplog.set_level(logging.DEBUG)
    _body, result = _enterprise_answer(client, world)
    assert result["answer_salts"]
    # The app's own lines about the query were captured (the access line, the provider's adapter) ...
    assert {"certhub.access", "certhub.adapters"} <= {record.name for record in caplog.records}
    # ... and none carries a salt: with one, a low-entropy value could be tested against the log.
    assert [salt for salt in result["answer_salts"] if salt in caplog.text] == []


def test_the_holder_sees_and_checks_what_went_out_about_them(app, client, db_session, world):
    body, result = _enterprise_answer(client, world)
    company = holder(app, COMPANY, "001", "福州示例餐饮有限公司")
    view = client.get("/api/v1/holders/me/use-records", headers=company).json()
    shown = next(r for r in view["records"] if r["record"]["request_hash"] == body["request_hash"]
                 and r["record"]["result"] == "granted")
    assert shown["disclosed"] == {"values": result["records"], "salts": result["answer_salts"]}
    verify_answer(record=shown["record"], values=shown["disclosed"]["values"], salts=shown["disclosed"]["salts"])

    check = "/api/v1/holders/me/use-records/check"
    kept = client.post(check, headers=company, json={"leaf_hash": shown["leaf_hash"]})
    assert kept.status_code == 200, kept.text
    assert kept.json() == {"leaf_hash": shown["leaf_hash"], "verified": True, "code": None}
    changed = copy.deepcopy(result["records"])
    changed[0]["name"] = "另一家公司"
    shown_to_them = client.post(check, headers=company, json={
        "leaf_hash": shown["leaf_hash"], "answer": {"values": changed, "salts": result["answer_salts"]}})
    assert shown_to_them.json()["verified"] is False and shown_to_them.json()["code"] == "answer_mismatch"

    # The copy kept beside the log is checked against the log, not trusted: a changed copy is caught.
    row = _logged(db_session, body, COMPANY)
    tampered = bytes(row.disclosed).replace("存续".encode(), "注销".encode())
    assert tampered != bytes(row.disclosed)
    db_session.execute(update(LogEntry).where(LogEntry.id == row.id).values(disclosed=tampered))
    db_session.commit()
    assert client.post(check, headers=company, json={"leaf_hash": shown["leaf_hash"]}).json()["verified"] is False

    # Another holder cannot check (or find) this record.
    other = holder(app, OWNER, "111", "张三丰")
    assert client.post(check, headers=other, json={"leaf_hash": shown["leaf_hash"]}).status_code == 422
    assert client.post(check, json={"leaf_hash": shown["leaf_hash"]}).status_code == 401


def test_the_auditor_checks_an_answer_produced_in_a_dispute(app, client, db_session, world):
    body, result = _enterprise_answer(client, world)
    old = use(db_session, subject_code=COMPANY, now=datetime.now(UTC))  # a record that committed to no answer
    integrate_pending(session=db_session, max_batch=1000)
    publish_checkpoint(session=db_session, key_secret=KEY_SECRET, origin=ORIGIN)
    db_session.commit()
    index = _logged(db_session, body, COMPANY).leaf_index
    db_session.refresh(old)
    assert "answer" not in parse_entry(bytes(old.entry))

    token = app.state.services.find(TokenAuthority).issue(client_id="auditor-1", department_code=COMPANY,
                                                           scopes=["audit:read"])
    auditor = {"Authorization": f"Bearer {token}"}
    check = "/api/v1/audit/answers/check"
    answer = {"values": result["records"], "salts": result["answer_salts"]}
    verified = client.post(check, headers=auditor, json={"index": index, **answer})
    assert verified.status_code == 200, verified.text
    assert verified.json()["verified"] is True and verified.json()["record"]["request_hash"] == body["request_hash"]
    changed = copy.deepcopy(answer)
    changed["values"][0]["uscc"] = "91350100MA00000000"
    assert client.post(check, headers=auditor, json={"index": index, **changed}).json() == {
        **verified.json(), "verified": False, "code": "answer_mismatch"}
    older = client.post(check, headers=auditor, json={"index": old.leaf_index, **answer}).json()
    assert (older["verified"], older["code"]) == (False, "no_commitment")
    assert client.post(check, headers=auditor, json={"index": 10**9, **answer}).status_code == 422
    assert client.post(check, headers=auditor, json={"index": index, "values": [], "salts": ["x"]}).status_code == 422
    assert client.post(check, json={"index": index, **answer}).status_code == 401
