"""The exchange query: every refusal names its machine reason; answers carry
only the agreed fields, masked as agreed, and a request hash that binds
them to the request; the log gets one record per item; batches answer per
subject; providers' failures become clear refusals."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.orm import sessionmaker

from adapters.sources.registry import BindingRegistry
from exchange.auditlog.models import LogEntry
from exchange.auditlog.records import parse_entry
from exchange.errors import Refusal
from exchange.query.policy import AllOf, AnyOf
from exchange.query.request_hash import request_hash
from identity.codes import uscc_check_character
from tests.adapters import loopback
from tests.factories.exchange import (
    BUSINESS_LICENCE,
    COMPANY,
    COUNTER,
    CRIMINAL_RECORD,
    ENTERPRISE_DATA,
    GULOU_POLICE,
    GULOU_SAMR,
    ID_CARD,
    OTHER_COMPANY,
    OWNER,
    RESTAURANT,
    apply,
    bindings_for,
    business_licence,
    consent,
    decide,
    holder,
    id_card,
    issue,
    query,
    results_by_item,
)

pytestmark = [pytest.mark.exchange_world, pytest.mark.slow]  # in a savepoint of the world, built per module

FIRE_RECORD = "305001/000001"  # bound to kind "registry": no provider system connected


def _reason(client, headers, subject, subject_type, item, **extra):
    body = query(client, headers, subject, subject_type, [item], **extra).json()
    return results_by_item(body)[item if isinstance(item, str) else item["code"]]["reason"]


def test_empty_policies_deny():
    for empty in (AllOf(), AnyOf()):
        with pytest.raises(Refusal) as refused:
            empty.check(object())
        assert refused.value.code == "no_policy"


def test_refusal_reasons(app, client, world):
    counter = world.counter
    assert _reason(client, counter, COMPANY, "001", BUSINESS_LICENCE) == "no_agreement"
    assert _reason(client, counter, COMPANY, "001", CRIMINAL_RECORD) == "subject_kind_mismatch"
    assert _reason(client, counter, OWNER, "111", CRIMINAL_RECORD) == "item_not_shared"
    assert _reason(client, counter, OWNER, "111", "999999/000001") == "item_unknown"
    assert query(client, counter, COMPANY, "002", [BUSINESS_LICENCE]).status_code == 422

    pending = apply(client, counter, BUSINESS_LICENCE, provider=GULOU_SAMR, fields=["name", "uscc"])
    assert _reason(client, counter, COMPANY, "001", BUSINESS_LICENCE) == "agreement_pending"
    decide(client, world.gulou_samr, pending["id"])
    assert _reason(client, counter, COMPANY, "001", {"code": BUSINESS_LICENCE, "fields": ["domicile"]}) \
        == "field_not_agreed"
    assert _reason(client, counter, COMPANY, "001", {"code": BUSINESS_LICENCE, "fields": ["salary"]}) \
        == "field_unknown"
    assert _reason(client, counter, COMPANY, "001", BUSINESS_LICENCE) == "consent_missing"
    client.post(f"/api/v1/exchange/agreements/{pending['id']}/revoke", json={"reason": "暂停"},
                headers=world.gulou_samr)
    assert _reason(client, counter, COMPANY, "001", BUSINESS_LICENCE) == "agreement_revoked"

    invalid = query(client, counter, "350102198503011230", "111", [ID_CARD]).json()
    assert results_by_item(invalid)[ID_CARD]["reason"] == "subject_invalid"
    assert query(client, counter, COMPANY, "001", [BUSINESS_LICENCE], purpose="x" * 201).status_code == 422
    assert query(client, counter, COMPANY, "001", [BUSINESS_LICENCE], purpose=" ").status_code == 422
    assert query(client, counter, COMPANY, "001", [BUSINESS_LICENCE], case_number="a\nb").status_code == 422
    assert query(client, counter, COMPANY, "001", [BUSINESS_LICENCE],
                 matter="11350102360444289T9900009999").status_code == 422
    assert query(client, world.gulou_samr, COMPANY, "001", [BUSINESS_LICENCE]).status_code == 403  # no scope


def test_matter_and_expiry_of_agreements(client, db_session, world):
    from exchange.agreements.models import Agreement

    asked = apply(client, world.counter, ENTERPRISE_DATA, fields=["name"], matters=[RESTAURANT])
    row = db_session.get(Agreement, asked["id"])
    row.matters = ["11350102360444289T9900002000"]
    db_session.commit()
    assert _reason(client, world.counter, COMPANY, "001", ENTERPRISE_DATA) == "matter_not_agreed"
    row.matters = [RESTAURANT]
    row.valid_until = datetime.now(UTC) - timedelta(seconds=1)
    db_session.commit()
    assert _reason(client, world.counter, COMPANY, "001", ENTERPRISE_DATA) == "agreement_expired"


def test_answer_is_masked_as_agreed_and_bound_to_its_request(app, client, db_session, world):
    card = issue(client, world.gulou_police, id_card())
    asked = apply(client, world.counter, ID_CARD, provider=GULOU_POLICE, fields=["name", "id_number", "sex"],
                  clear_fields=["name"])
    decide(client, world.gulou_police, asked["id"])
    consent(client, holder(app, OWNER, "111", "张三丰"), "11350102360444289T", [ID_CARD])
    response = query(client, world.counter, OWNER, "111", [{"code": ID_CARD, "fields": ["name", "id_number"]}])
    body = response.json()
    licence = results_by_item(body)[ID_CARD]["licences"][0]
    assert licence["fields"] == {"name": "张三丰", "id_number": OWNER[:4] + "*" * 10 + OWNER[-4:]}
    assert licence["masked_fields"] == ["id_number"]

    # The consumer recomputes the hash from what it sent plus the hub's request id and time.
    sent = {"subject": {"code": OWNER, "type": "111"}, "items": [{"code": ID_CARD, "fields": ["name", "id_number"]}],
            "matter": RESTAURANT, "purpose": "开餐馆一件事：核验经营者证照", "case_number": "GL-2025-000123"}
    document = {"request_id": body["request_id"], "time": body["request_time"], "department": COUNTER,
                "client_id": body["client_id"], "operator": "clerk-07", "body": sent}
    assert request_hash(document) == body["request_hash"] == response.headers["X-Request-Hash"]

    entries = [parse_entry(bytes(e.entry)) for e in db_session.query(LogEntry).filter_by(subject_code=OWNER)]
    granted = [e for e in entries if e["result"] == "granted"]
    assert len(granted) == 1 and granted[0]["request_hash"] == body["request_hash"]
    assert granted[0]["licence_ids"] == [card["identifier"]] and granted[0]["fields"] == ["name", "id_number"]


def test_sealed_record_goes_out_only_when_everything_is_disclosed_in_clear(app, client, world):
    issue(client, world.gulou_samr, business_licence())
    fields = ["uscc", "name", "company_type", "legal_representative", "business_scope", "registered_capital",
              "established_date", "business_term", "domicile", "registration_authority", "registration_date"]
    decide(client, world.gulou_samr,
           apply(client, world.counter, BUSINESS_LICENCE, provider=GULOU_SAMR, fields=fields)["id"])
    consent(client, holder(app, COMPANY, "001", "福州示例餐饮有限公司"), COUNTER, [BUSINESS_LICENCE])
    full = results_by_item(query(client, world.counter, COMPANY, "001", [BUSINESS_LICENCE]).json())
    licence = full[BUSINESS_LICENCE]["licences"][0]
    assert licence["sealed_record"]["identifier"] == licence["identifier"] and licence["seal_signature"]
    part = results_by_item(query(client, world.counter, COMPANY, "001",
                                 [{"code": BUSINESS_LICENCE, "fields": ["name"]}]).json())
    assert "sealed_record" not in part[BUSINESS_LICENCE]["licences"][0]


def test_provider_failures_become_refusals(app, client, world):
    apply(client, world.counter, ENTERPRISE_DATA, fields=["name"])
    ok = results_by_item(query(client, world.counter, OTHER_COMPANY, "001", [ENTERPRISE_DATA]).json())
    assert ok[ENTERPRISE_DATA]["records"] == [{"name": "福州示例餐饮有限公司"}]
    unknown = "91350102MA8XYW789" + uscc_check_character("91350102MA8XYW789")
    nobody = results_by_item(query(client, world.counter, unknown, "001", [ENTERPRISE_DATA]).json())
    assert nobody[ENTERPRISE_DATA]["result"] == "granted" and nobody[ENTERPRISE_DATA]["records"] == []

    world.register.routes["/enterprises"] = lambda handler: handler.reply(200, b"not json")
    assert _reason(client, world.counter, COMPANY, "001", ENTERPRISE_DATA) == "provider_error"
    # A record in which none of the binding's paths finds a value is no answer: never granted with empty fields.
    world.register.routes["/enterprises"] = lambda handler: handler.reply(200, b'{"data": {"entName": "x"}}')
    assert _reason(client, world.counter, COMPANY, "001", ENTERPRISE_DATA) == "provider_error"
    app.state.services.find(BindingRegistry).close()
    app.state.services.replace(BindingRegistry, bindings_for(f"http://127.0.0.1:{loopback.closed_port()}"))
    assert _reason(client, world.counter, COMPANY, "001", ENTERPRISE_DATA) == "provider_unavailable"
    apply(client, world.counter, FIRE_RECORD, fields=["result"])
    assert _reason(client, world.counter, COMPANY, "001", FIRE_RECORD) == "provider_not_connected"


def test_batch_answers_per_subject_and_is_bounded(app, client, world):
    issue(client, world.gulou_samr, business_licence())
    decide(client, world.gulou_samr,
           apply(client, world.counter, BUSINESS_LICENCE, provider=GULOU_SAMR, fields=["name"])["id"])
    consent(client, holder(app, COMPANY, "001", "福州示例餐饮有限公司"), COUNTER, [BUSINESS_LICENCE])
    body = {"subjects": [{"code": COMPANY, "type": "001"}, {"code": OTHER_COMPANY, "type": "001"},
                         {"code": "91350102MA8XYW1230", "type": "001"}],
            "items": [BUSINESS_LICENCE], "matter": RESTAURANT, "purpose": "专项检查", "case_number": "JC-2025-01"}
    response = client.post("/api/v1/exchange/query/batch", json=body, headers=world.counter)
    assert response.status_code == 200, response.text
    answer = response.json()
    reasons = [s["results"][0].get("reason") or s["results"][0]["result"] for s in answer["subjects"]]
    assert reasons == ["granted", "consent_missing", "subject_invalid"]
    assert answer["summary"] == {"granted": 1, "refused": 2}
    assert response.headers["X-Request-Hash"] == answer["request_hash"]
    too_many = dict(body, subjects=[{"code": COMPANY, "type": "001"}] * 501)
    assert client.post("/api/v1/exchange/query/batch", json=too_many, headers=world.counter).status_code == 422


def test_a_stale_log_stops_queries_before_any_provider_is_asked(app, client, world):
    from catalog.access import UseLog
    from exchange.auditlog.recorder import UseRecorder

    apply(client, world.counter, ENTERPRISE_DATA, fields=["name"])
    later = datetime.now(UTC) + timedelta(hours=1)
    app.state.services.replace(UseLog, UseRecorder(max_lag=timedelta(minutes=5), clock=lambda: later))
    before = len(world.register.requests_to("/enterprises"))
    response = query(client, world.counter, COMPANY, "001", [ENTERPRISE_DATA])
    assert response.status_code == 503 and response.json()["error"] == "log_unavailable"
    assert len(world.register.requests_to("/enterprises")) == before


class _WatchingBindings(BindingRegistry):
    """The real bindings, noting whether any of the request's sessions held
    a transaction (and so a pooled connection) while the provider answered."""

    def __init__(self, real: BindingRegistry, sessions: list) -> None:
        vars(self).update(vars(real))  # the real registry's sources and targets: it does the work
        self.real, self.sessions, self.held = real, sessions, []

    def fetch(self, *, data_item, subject):
        self.held.append(any(session.in_transaction() for session in self.sessions))
        return self.real.fetch(data_item=data_item, subject=subject)


class _WatchedSessions(sessionmaker):
    """The app's sessionmaker, noting every session it makes."""

    def __init__(self, real: sessionmaker, sessions: list) -> None:
        super().__init__(class_=real.class_, **real.kw)
        self.sessions = sessions

    def __call__(self, **local_kw):
        session = super().__call__(**local_kw)
        self.sessions.append(session)
        return session


@pytest.mark.parametrize("path", ["/api/v1/exchange/query", "/api/v1/exchange/query/batch"])
def test_no_transaction_is_held_while_a_provider_answers(app, client, db_session, world, path):
    apply(client, world.counter, ENTERPRISE_DATA, fields=["name"])
    sessions: list = []
    services = app.state.services
    make_session = services.find(sessionmaker)
    services.replace(sessionmaker, _WatchedSessions(make_session, sessions))
    watching = _WatchingBindings(services.find(BindingRegistry), sessions)
    services.replace(BindingRegistry, watching)
    try:
        common = {"items": [ENTERPRISE_DATA], "matter": RESTAURANT, "purpose": "开餐馆一件事",
                  "case_number": "ZC-2025-7"}
        if path.endswith("batch"):
            body = {"subjects": [{"code": COMPANY, "type": "001"}, {"code": OTHER_COMPANY, "type": "001"}], **common}
        else:
            body = {"subject": {"code": COMPANY, "type": "001"}, **common}
        response = client.post(path, json=body, headers=world.counter)
    finally:
        services.replace(sessionmaker, make_session)
        services.replace(BindingRegistry, watching.real)
    assert response.status_code == 200, response.text
    answers = response.json().get("subjects") or [response.json()]
    assert [a["results"][0]["result"] for a in answers] == ["granted"] * len(answers)
    assert watching.held == [False] * len(answers)
    # ...and every answer was logged all the same, after the providers answered.
    digest = response.json()["request_hash"]
    logged = [e for e in (parse_entry(bytes(row.entry)) for row in db_session.query(LogEntry))
              if e["request_hash"] == digest]
    assert sorted(e["result"] for e in logged) == ["granted"] * len(answers)


def test_who_is_asking_is_checked_in_order_and_documented(app, client, world):
    """The query's caller is one dependency (identity.deps.operating_caller):
    no token 401, a missing scope 403, then the operator header 422; the API
    document still shows the bearer scheme and the header."""
    body = {"subject": {"code": COMPANY, "type": "001"}, "items": [BUSINESS_LICENCE], "matter": RESTAURANT,
            "purpose": "核验", "case_number": "CASE-1"}
    url = "/api/v1/exchange/query"
    too_long = {**world.counter, "X-Operator-Id": "x" * 65}
    no_operator = {k: v for k, v in world.counter.items() if k != "X-Operator-Id"}
    assert client.post(url, json=body, headers={"X-Operator-Id": "x" * 65}).status_code == 401
    assert client.post(url, json=body, headers={**world.gulou_samr, "X-Operator-Id": "x" * 65}).status_code == 403
    for headers in (too_long, no_operator):
        refused = client.post(url, json=body, headers=headers)
        assert refused.status_code == 422 and "X-Operator-Id" in refused.text
    batch = {**{k: v for k, v in body.items() if k != "subject"}, "subjects": [body["subject"]]}
    refused = client.post(url + "/batch", json=batch, headers=too_long)
    assert refused.status_code == 422 and "X-Operator-Id" in refused.text
    assert client.post(url + "/batch", json=batch, headers=world.counter).status_code == 200

    document = client.get("/openapi.json").json()
    for path, scope in ((url, "exchange:query"), (url + "/batch", "exchange:query"),
                        ("/api/v1/presentations/redeem", "presentation:redeem")):
        operation = document["paths"][path]["post"]
        # A department system's token, or a signed-in staff member's session (docs/staff.md).
        assert operation["security"] == [{"OAuth2": [scope]}, {"StaffSession": []}], path
    [operator] = document["paths"][url]["post"]["parameters"]
    assert (operator["name"], operator["in"], operator["schema"]["maxLength"]) == ("X-Operator-Id", "header", 64)
