"""Batch issue (`registry.service.bulk.LicenceImporter`, the one batch path):
the same licences as one by one — serials contiguous with single issues,
sealed versions that verify, history, status-list indices — a bad row
refused alone, naming its row, and a whole batch refused without the right
to issue."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from adapters.imports.mapping import MappedRow
from registry.errors import NotIssuer
from registry.identifiers import LicenceIdentifier
from registry.models import Licence, LicenceEvent, LicenceVersion
from registry.service import issue, reads
from registry.service.authority import Actor
from registry.service.bulk import LicenceImporter
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


def _business_request() -> issue.IssueRequest:
    body = business_licence_body()
    return issue.IssueRequest(type_code=BUSINESS_LICENCE, holder_name=body["holder"]["name"],
                              holder_code=company_uscc(), holder_code_type="001", face=body["face"])


def _business_row(ordinal: int, name: str = "福州示例餐饮有限公司", **face) -> MappedRow:
    body = business_licence_body()
    return MappedRow(ordinal=ordinal, row=ordinal + 1, source_key=f"YYZZ{ordinal:06d}", holder_name=name,
                     holder_code=company_uscc(), holder_code_type="001", valid_from=None, valid_until=None,
                     face={**body["face"], "name": name, **face})


def _food_row(ordinal: int) -> MappedRow:
    return MappedRow(ordinal=ordinal, row=ordinal + 1, source_key=f"SPJY{ordinal:06d}",
                     holder_name="福州示例餐饮有限公司", holder_code=company_uscc(), holder_code_type="001",
                     valid_from=None, valid_until=None, face={"operator": "福州示例餐饮有限公司"})


def _importer(type_code: str, *, actor: Actor = ACTOR) -> LicenceImporter:
    return LicenceImporter(actor=actor, type_code=type_code, source_system="batch-job", signer=SIGNER)


def _licence(session, identifier: str) -> Licence:
    return session.scalar(select(Licence).where(Licence.base_identifier == LicenceIdentifier.parse(identifier).base))


def test_batch_issues_sealed_numbered_licences_in_row_order(client, db_session):
    anchors, _seal = build_world(db_session)
    first = issue.issue(session=db_session, actor=ACTOR, request=_business_request(), signer=SIGNER)
    business = _importer(BUSINESS_LICENCE).write_batch(
        session=db_session, rows=[_business_row(1, "甲公司"), _business_row(2, "乙公司")], run_key="run-1")
    food = _importer(FOOD_LICENCE).write_batch(session=db_session, rows=[_food_row(3)], run_key="run-1")
    after = issue.issue(session=db_session, actor=ACTOR, request=_business_request(), signer=SIGNER)
    db_session.commit()
    assert [(o.ordinal, o.outcome) for o in business + food] == [(1, "issued"), (2, "issued"), (3, "issued")]
    batch = [_licence(db_session, o.identifier) for o in business + food]
    assert [x.type_code for x in batch] == [BUSINESS_LICENCE, BUSINESS_LICENCE, FOOD_LICENCE]
    # One serial counter per (type, issuer), shared by single and batch issue: contiguous, never twice.
    assert [int(x.serial) for x in [first, batch[0], batch[1], after]] == [1, 2, 3, 4]
    assert batch[2].serial == "00000001" and batch[2].valid_until is not None
    slots = {(x.status_list_id, x.status_index) for x in [first, *batch, after]}
    assert len(slots) == 5

    store = trust_store(client, anchors)
    for licence in batch:
        version = db_session.scalars(select(LicenceVersion).where(LicenceVersion.licence_id == licence.id)).one()
        assert LicenceIdentifier.parse(version.identifier).base == licence.base_identifier
        signature = SealSignature.from_json(version.signature)
        assert verify_sealed_record(record=version.record, signature=signature, trust=store) == version.record
        assert signature.signer_department_code == CITY_SAMR
        events = reads.history(session=db_session, licence=licence)
        assert [(e.action, e.to_status, e.operator) for e in events] == [("issue", "valid", "bulk-job")]
    assert [batch[0].holder_name, batch[1].holder_name] == ["甲公司", "乙公司"]


def test_a_bad_row_is_refused_alone_naming_its_row_and_field(db_session):
    build_world(db_session)
    bad = _business_row(2, "x", uscc="")
    outcomes = _importer(BUSINESS_LICENCE).write_batch(
        session=db_session, rows=[_business_row(1), bad, _business_row(3)], run_key="run-1")
    assert [(o.ordinal, o.outcome) for o in outcomes] == [(1, "issued"), (2, "failed"), (3, "issued")]
    assert outcomes[1].field == "face.uscc" and outcomes[1].identifier is None
    issued = db_session.scalars(select(Licence).order_by(Licence.serial)).all()
    assert [x.serial for x in issued] == ["00000001", "00000002"]  # the refused row takes no serial
    assert len(db_session.scalars(select(LicenceEvent)).all()) == 2
    assert _importer(BUSINESS_LICENCE).write_batch(session=db_session, rows=[], run_key="run-2") == []


def test_batch_needs_the_right_to_issue(db_session):
    build_world(db_session)
    with pytest.raises(NotIssuer):
        _importer(BUSINESS_LICENCE, actor=Actor(department_code=PROVINCE_SAMR)).write_batch(
            session=db_session, rows=[_business_row(1)], run_key="run-1")
    assert db_session.scalars(select(Licence)).all() == []
