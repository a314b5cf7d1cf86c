"""Disputes (异议/纠错): raised by the holder or a clerk, decided by the
issuer (a corrected version, or a reason), with a deadline, a trail, and
no two decisions winning on one dispute."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from catalog.access import UseRecord
from certhub.db import create_sessionmaker
from certhub.settings import Settings
from exchange.auditlog import insert_pending
from registry.errors import DisputeClosed
from registry.identifiers import LicenceIdentifier
from registry.models import DisputeEvent, DisputeStatus, Licence, LicenceDispute, LicenceEvent, LicenceVersion
from registry.service import disputes, issue, reads
from registry.service.authority import Actor
from tests.factories.catalog import CITY_SAMR, PROVINCE_SAMR
from tests.factories.licences import (
    KEY_SECRET,
    REGISTRY_ID,
    RESIDENCE_PERMIT,
    build_world,
    citizen_id,
    holder_headers,
    publish_log_checkpoint,
    token_headers,
)
from tests.factories.settings import TEST_SECRET
from tests.racing import THREADS, run_together

ALICE = citizen_id("35010219900101123")
BOB = citizen_id("35010219851231002")
DEADLINE_DAYS = 3


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(secret_key=TEST_SECRET, data_dir=tmp_path, registry_id=REGISTRY_ID, demo=True,
                    dispute_deadline_days=DEADLINE_DAYS)


@pytest.fixture
def city(client, db_session):
    build_world(db_session)
    return token_headers(client, db_session, CITY_SAMR, scopes=("licence:issue", "licence:manage", "licence:dispute"))


@pytest.fixture
def permit(client, city) -> dict:
    body = {"type_code": RESIDENCE_PERMIT, "holder": {"name": "张三", "code": ALICE, "code_type": "111"},
            "face": {"address": "福州市鼓楼区五四路1号", "floor_area": 88.5}, "valid_from": "2025-01-01",
            "valid_until": "2035-12-31"}
    response = client.post("/api/v1/licences", json=body, headers=city)
    assert response.status_code == 201, response.text
    return response.json()


@pytest.mark.slow
def test_holder_dispute_accepted_makes_a_corrected_version(client, db_session, city, permit):
    publish_log_checkpoint(db_session)
    alice = holder_headers(client, code=ALICE)
    raised = client.post("/api/v1/holders/me/disputes", headers=alice, json={
        "identifier": permit["identifier"], "field": "address", "reason": "门牌号错了", "proposed_value": "五四路10号"})
    assert raised.status_code == 201, raised.text
    dispute = raised.json()
    assert (dispute["status"], dispute["raised_by"], dispute["overdue"]) == ("open", "holder", False)
    due = datetime.fromisoformat(dispute["due_at"]) - datetime.fromisoformat(dispute["created_at"])
    assert due == timedelta(days=DEADLINE_DAYS)

    # Open disputes show on the licence, to the issuer and to the holder.
    read = client.get(f"/api/v1/licences/{permit['identifier']}", headers=city).json()
    assert [d["id"] for d in read["open_disputes"]] == [dispute["id"]]
    mine = client.get(f"/api/v1/holders/me/licences/{permit['identifier']}", headers=alice).json()
    assert mine["open_disputes"][0]["proposed_value"] == "五四路10号"
    assert client.get("/api/v1/holders/me/licences", headers=alice).json()[0]["open_disputes"] == 1
    listed = client.get("/api/v1/licences/disputes?status=open", headers=city).json()
    assert [d["id"] for d in listed] == [dispute["id"]]

    accepted = client.post(f"/api/v1/licences/disputes/{dispute['id']}/accept", headers={**city, "X-Operator-Id": "clerk-9"},
                           json={"value": "福州市鼓楼区五四路10号", "reason": "核实户籍地址"})
    assert accepted.status_code == 200, accepted.text
    decided = accepted.json()
    assert (decided["status"], decided["corrected_version"]) == ("accepted", 2)
    assert [(e["action"], e["to_status"], e["actor_kind"]) for e in decided["history"]] == [
        ("open", "open", "holder"), ("accept", "accepted", "department")]
    assert decided["history"][1]["operator"] == "clerk-9" and decided["history"][1]["reason"] == "核实户籍地址"

    current = client.get(f"/api/v1/holders/me/licences/{permit['identifier']}", headers=alice).json()
    assert current["current_version"] == 2 and current["open_disputes"] == []
    v2_identifier = str(LicenceIdentifier.parse(permit["identifier"]).with_version(2))
    v2 = client.get(f"/api/v1/licences/{v2_identifier}", headers=city).json()
    assert v2["face"] == {"address": "福州市鼓楼区五四路10号", "floor_area": 88.5}
    change = db_session.scalars(select(LicenceEvent).where(LicenceEvent.action == "change")).one()
    assert f"dispute {dispute['id']}" in change.reason and change.operator == "clerk-9"
    assert client.get("/api/v1/licences/disputes?status=open", headers=city).json() == []
    assert [d["status"] for d in client.get("/api/v1/holders/me/disputes", headers=alice).json()] == ["accepted"]


def _logged_use(session, *, department: str, identifier: str, result: str = "granted", kind: str = "department_query",
                basis: str = "consent:c1") -> None:
    """A use of the licence by the department, as the exchange query (or a
    counter's redemption) writes it to the log."""
    denied = {"reason_code": "consent_missing"} if result == "denied" else {"purpose": "核验居住证"}
    insert_pending(session=session, now=datetime.now(UTC), records=[UseRecord(
        kind=kind, department_code=department, operator_id="counter-3", basis=basis, result=result,
        subject_code=ALICE, licence_ids=[identifier] if result == "granted" else [], **denied)])
    session.commit()


@pytest.mark.slow
def test_clerk_dispute_rejected_with_a_reason_and_only_once(client, db_session, city, permit):
    province = token_headers(client, db_session, PROVINCE_SAMR, scopes=("licence:manage", "licence:dispute"))
    _logged_use(db_session, department=PROVINCE_SAMR, identifier=permit["identifier"])
    raised = client.post(f"/api/v1/licences/{permit['identifier']}/disputes",
                         headers={**province, "X-Operator-Id": "counter-3"},
                         json={"field": "floor_area", "reason": "与不动产登记面积不符", "proposed_value": "90"})
    assert raised.status_code == 201, raised.text
    dispute = raised.json()
    assert dispute["raised_by"] == "department" and dispute["raised_by_code"] == PROVINCE_SAMR

    # Only the issuer (or one it authorized) decides.
    assert client.post(f"/api/v1/licences/disputes/{dispute['id']}/reject", headers=province,
                       json={"reason": "x"}).status_code == 403
    assert client.get(f"/api/v1/licences/disputes/{dispute['id']}", headers=province).status_code == 403
    assert client.get("/api/v1/licences/disputes", headers=province).json() == []
    no_reason = client.post(f"/api/v1/licences/disputes/{dispute['id']}/reject", headers=city, json={"reason": " "})
    assert no_reason.status_code == 422
    rejected = client.post(f"/api/v1/licences/disputes/{dispute['id']}/reject", headers=city,
                           json={"reason": "面积以房产证为准，登记无误", "operator": "审核员王五"})
    assert rejected.status_code == 200, rejected.text
    assert rejected.json()["status"] == "rejected" and rejected.json()["decision_reason"] == "面积以房产证为准，登记无误"
    history = rejected.json()["history"]
    assert [(h["actor_code"], h["operator"]) for h in history] == [(PROVINCE_SAMR, "counter-3"), (CITY_SAMR, "审核员王五")]

    again = client.post(f"/api/v1/licences/disputes/{dispute['id']}/accept", headers=city, json={"value": 90})
    assert again.status_code == 409 and again.json()["error"] == "dispute_closed"
    assert db_session.scalars(select(Licence)).one().current_version == 1
    assert client.get("/api/v1/licences/disputes/999999", headers=city).status_code == 404


def test_a_department_disputes_only_what_it_issued_or_was_given_and_answers_alike(client, db_session, city, permit):
    """Scope licence:dispute, and a legitimate interest: the issuer, or a
    granted use in the log. A stranger's answer for a real licence is the
    answer for none at all."""
    body = {"field": "address", "reason": "门牌号错了"}
    url = f"/api/v1/licences/{permit['identifier']}/disputes"
    query_only = token_headers(client, db_session, PROVINCE_SAMR, scopes=("exchange:query",))
    assert client.post(url, headers=query_only, json=body).status_code == 403

    stranger = token_headers(client, db_session, PROVINCE_SAMR, scopes=("licence:dispute",))
    known = client.post(url, headers=stranger, json=body)
    parsed = LicenceIdentifier.parse(permit["identifier"])
    none = LicenceIdentifier(parsed.type_code, parsed.issuer_code, parsed.serial + "9", 1)
    absent = client.post(f"/api/v1/licences/{none}/disputes", headers=stranger, json=body)
    assert known.status_code == absent.status_code == 404
    assert known.json() == absent.json() and known.json()["error"] == "licence_not_found"
    # Nor does a field the licence lacks, or one it has, tell them apart.
    assert client.post(url, headers=stranger, json={**body, "field": "colour"}).json() == absent.json()

    _logged_use(db_session, department=PROVINCE_SAMR, identifier=permit["identifier"], result="denied")
    assert client.post(url, headers=stranger, json=body).status_code == 404  # refused uses show nothing
    _logged_use(db_session, department=CITY_SAMR, identifier=permit["identifier"])
    assert client.post(url, headers=stranger, json=body).status_code == 404  # another department's use
    # The holder showed it at the department's counter (亮证): a redemption in the log.
    _logged_use(db_session, department=PROVINCE_SAMR, identifier=permit["identifier"], kind="redemption",
                basis="holder_presentation")
    raised = client.post(url, headers=stranger, json=body)
    assert raised.status_code == 201 and raised.json()["raised_by_code"] == PROVINCE_SAMR
    assert db_session.scalars(select(LicenceDispute)).one().raised_by_code == PROVINCE_SAMR


def test_bad_disputes_are_refused_naming_the_field(client, city, permit):
    for body, field in (
        ({"field": "colour", "reason": "x"}, "field"),
        ({"field": "address", "reason": "  "}, "reason"),
        ({"field": "address", "reason": "x", "proposed_value": "a\x00b"}, "proposed_value"),
    ):
        response = client.post(f"/api/v1/licences/{permit['identifier']}/disputes", headers=city, json=body)
        assert response.status_code == 422 and response.json()["error"] == "invalid_dispute"
        assert response.json()["message"].startswith(field)
    too_long = client.post(f"/api/v1/licences/{permit['identifier']}/disputes", headers=city,
                           json={"field": "address", "reason": "x" * 2001})
    assert too_long.status_code == 422


def test_accepting_needs_a_value_that_is_valid_and_new(client, city, permit):
    raised = client.post(f"/api/v1/licences/{permit['identifier']}/disputes", headers=city,
                         json={"field": "floor_area", "reason": "面积有误"}).json()
    wrong_type = client.post(f"/api/v1/licences/disputes/{raised['id']}/accept", headers=city, json={"value": "很大"})
    assert wrong_type.status_code == 422 and wrong_type.json()["message"].startswith("face.floor_area")
    same = client.post(f"/api/v1/licences/disputes/{raised['id']}/accept", headers=city, json={"value": 88.5})
    assert same.status_code == 422 and same.json()["message"].startswith("value")
    assert client.post(f"/api/v1/licences/disputes/{raised['id']}/accept", headers=city, json={}).status_code == 422
    still = client.get(f"/api/v1/licences/disputes/{raised['id']}", headers=city).json()
    assert still["status"] == "open" and len(still["history"]) == 1


def test_final_licences_take_no_disputes(client, city, permit):
    client.post(f"/api/v1/licences/{permit['identifier']}/revoke", json={"reason": "吊销"}, headers=city)
    response = client.post(f"/api/v1/licences/{permit['identifier']}/disputes", headers=city,
                           json={"field": "address", "reason": "x"})
    assert response.status_code == 422 and "revoked" in response.json()["message"]


@pytest.mark.slow
def test_open_disputes_per_licence_are_bounded(client, db_session, city, permit):
    view = reads.get_or_raise(session=db_session, identifier=permit["identifier"])
    for i in range(disputes.MAX_OPEN_PER_LICENCE):
        disputes.open_dispute(session=db_session, view=view, disputer=disputes.Disputer.holder(ALICE), field="address",
                              reason=f"第{i}次")
    db_session.commit()
    response = client.post(f"/api/v1/licences/{permit['identifier']}/disputes", headers=city,
                           json={"field": "address", "reason": "再一次"})
    assert response.status_code == 409 and response.json()["error"] == "too_many_disputes"


def test_overdue_lists_open_disputes_past_their_deadline(client, db_session, city, permit):
    view = reads.get_or_raise(session=db_session, identifier=permit["identifier"])
    long_ago = datetime.now(UTC) - timedelta(days=20)
    old = disputes.open_dispute(
        session=db_session,
        view=view,
        disputer=disputes.Disputer.holder(ALICE),
        field="address",
        reason="早就提了",
        now=long_ago,
    )
    fresh = disputes.open_dispute(
        session=db_session, view=view, disputer=disputes.Disputer.holder(ALICE), field="floor_area", reason="刚提的"
    )
    decided = disputes.open_dispute(session=db_session, view=view, disputer=disputes.Disputer.holder(ALICE),
                                    field="moved_in", reason="也早", now=long_ago)
    disputes.reject(session=db_session, actor=Actor(department_code=CITY_SAMR), dispute_id=decided.id, reason="无误")
    db_session.commit()
    overdue = client.get("/api/v1/licences/disputes?status=overdue", headers=city).json()
    assert [(d["id"], d["overdue"]) for d in overdue] == [(old.id, True)]
    open_ = client.get("/api/v1/licences/disputes?status=open", headers=city).json()
    assert [d["id"] for d in open_] == [old.id, fresh.id]
    assert [d["id"] for d in client.get("/api/v1/licences/disputes?status=rejected", headers=city).json()] == [decided.id]
    assert client.get("/api/v1/licences/disputes?status=lost", headers=city).status_code == 422


@pytest.mark.slow
def test_racing_decisions_on_one_dispute_never_both_win(own_database):
    make = create_sessionmaker(own_database)
    signer = issue.Signer(registry_id=REGISTRY_ID, key_secret=KEY_SECRET)
    actor = Actor(department_code=CITY_SAMR, client_id="race")
    with make() as session:
        build_world(session)
        licence = issue.issue(session=session, actor=actor, signer=signer, request=issue.IssueRequest(
            type_code=RESIDENCE_PERMIT, holder_name="张三", holder_code=ALICE, holder_code_type="111",
            face={"address": "福州"}, valid_from=datetime(2025, 1, 1).date(), valid_until=datetime(2035, 1, 1).date()))
        first = LicenceIdentifier(licence.type_code, licence.issuer_code, licence.serial, 1)
        view = reads.get_or_raise(session=session, identifier=str(first))
        dispute_id = disputes.open_dispute(session=session, view=view, disputer=disputes.Disputer.holder(ALICE),
                                           field="address", reason="地址错").id
        session.commit()
    closed: list[int] = []

    def work(i: int) -> None:
        with make() as session:
            try:
                if i % 2:
                    disputes.accept(session=session, actor=actor, dispute_id=dispute_id, value=f"福州{i}号", signer=signer)
                else:
                    disputes.reject(session=session, actor=actor, dispute_id=dispute_id, reason=f"驳回{i}")
                session.commit()
            except DisputeClosed:
                closed.append(i)

    assert run_together(work) == []
    with make() as session:
        events = session.scalars(select(DisputeEvent).where(DisputeEvent.dispute_id == dispute_id)).all()
        assert [e.action for e in events][0] == "open" and len(events) == 2
        dispute = session.get(LicenceDispute, dispute_id)
        versions = session.scalars(select(LicenceVersion)).all()
        assert len(closed) == THREADS - 1
        if dispute.status == DisputeStatus.ACCEPTED:
            assert len(versions) == 2 and dispute.corrected_version == 2
        else:
            assert dispute.status == DisputeStatus.REJECTED and len(versions) == 1

