"""Batch issue (`issue.issue_many`): the same licences as one by one —
contiguous serials, sealed versions that verify, history, status-list
indices — and a bad request fails the whole batch, naming its position."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from registry.errors import InvalidLicenceRequest, NotIssuer
from registry.identifiers import LicenceIdentifier
from registry.models import Licence, LicenceEvent, LicenceVersion
from registry.service import issue, reads
from registry.service.authority import Actor
from signing.sealed import SealSignature, verify_sealed_record
from tests.factories.catalog import BUSINESS_LICENCE, CITY_SAMR, FOOD_LICENCE, PROVINCE_SAMR
from tests.factories.licences import (
    KEY_SECRET,
    REGISTRY_ID,
    build_world,
    business_licence_body,
    company_uscc,
    trust_store,
)

SIGNER = issue.Signer(registry_id=REGISTRY_ID, key_secret=KEY_SECRET)
ACTOR = Actor(department_code=CITY_SAMR, client_id="batch", operator="bulk-job")


def _business(name: str = "福州示例餐饮有限公司") -> issue.IssueRequest:
    body = business_licence_body()
    return issue.IssueRequest(type_code=BUSINESS_LICENCE, holder_name=name, holder_code=company_uscc(),
                              holder_code_type="001", face={**body["face"], "name": name})


def _food() -> issue.IssueRequest:
    return issue.IssueRequest(type_code=FOOD_LICENCE, holder_name="福州示例餐饮有限公司", holder_code=company_uscc(),
                              holder_code_type="001", face={"operator": "福州示例餐饮有限公司"})


def test_batch_issues_sealed_numbered_licences_in_request_order(client, db_session):
    anchors, _seal = build_world(db_session)
    first = issue.issue(db_session, actor=ACTOR, request=_business(), signer=SIGNER)
    batch = issue.issue_many(db_session, actor=ACTOR, signer=SIGNER,
                             requests=[_business("甲公司"), _food(), _business("乙公司")])
    after = issue.issue(db_session, actor=ACTOR, request=_business(), signer=SIGNER)
    db_session.commit()
    assert [x.type_code for x in batch] == [BUSINESS_LICENCE, FOOD_LICENCE, BUSINESS_LICENCE]
    business = [first, batch[0], batch[2], after]
    assert [int(x.serial) for x in business] == [1, 2, 3, 4]
    assert batch[1].serial == "00000001" and batch[1].valid_until is not None
    slots = {(x.status_list_id, x.status_index) for x in [first, *batch, after]}
    assert len(slots) == 5

    store = trust_store(client, anchors)
    for licence in batch:
        version = db_session.scalars(select(LicenceVersion).where(LicenceVersion.licence_id == licence.id)).one()
        assert LicenceIdentifier.parse(version.identifier).base == licence.base_identifier
        signature = SealSignature.from_json(version.signature)
        assert verify_sealed_record(record=version.record, signature=signature, trust=store) == version.record
        assert signature.signer_department_code == CITY_SAMR
        events = reads.history(db_session, licence=licence)
        assert [(e.action, e.to_status, e.operator) for e in events] == [("issue", "valid", "bulk-job")]
    assert [batch[0].holder_name, batch[2].holder_name] == ["甲公司", "乙公司"]


def test_a_bad_request_fails_the_whole_batch_naming_it(db_session):
    build_world(db_session)
    bad = issue.IssueRequest(type_code=BUSINESS_LICENCE, holder_name="x", holder_code=company_uscc(),
                             holder_code_type="001", face={"name": "x"})
    with pytest.raises(InvalidLicenceRequest, match=r"^request 1: face\.uscc") as raised:
        with db_session.begin_nested():
            issue.issue_many(db_session, actor=ACTOR, signer=SIGNER, requests=[_business(), bad, _business()])
    assert raised.value.field == "face.uscc"
    assert db_session.scalars(select(Licence)).all() == []
    assert db_session.scalars(select(LicenceEvent)).all() == []
    with pytest.raises(InvalidLicenceRequest):
        issue.issue_many(db_session, actor=ACTOR, signer=SIGNER, requests=[])


def test_batch_needs_the_right_to_issue(db_session):
    build_world(db_session)
    with pytest.raises(NotIssuer):
        issue.issue_many(db_session, actor=Actor(department_code=PROVINCE_SAMR), signer=SIGNER,
                         requests=[_business()])
