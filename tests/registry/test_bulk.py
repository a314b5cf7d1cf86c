"""The registry's licence importer (bulk issue and 归集) on its own: issue,
idempotent rerun, change by content, per-row refusals, duplicate keys."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select

from adapters.imports.mapping import MappedRow
from registry.identifiers import LicenceIdentifier
from registry.import_models import ImportedLicence
from registry.models import Licence, LicenceEvent, LicenceVersion
from registry.service import lifecycle
from registry.service.authority import Actor
from registry.service.bulk import LicenceImporter, content_digest
from signing.sealed import SealSignature, verify_sealed_record
from tests.factories.catalog import BUSINESS_LICENCE, CITY_SAMR, PROVINCE_SAMR
from tests.factories.licences import (
    CITY_IMPORTER,
    RESIDENCE_PERMIT,
    SIGNER,
    build_world,
    citizen_id,
    resident_row,
    trust_store,
)


def importer(type_code: str = RESIDENCE_PERMIT, *, actor: Actor = CITY_IMPORTER, system: str = "legacy-jzz") -> LicenceImporter:
    return LicenceImporter(actor=actor, type_code=type_code, source_system=system, signer=SIGNER)


@pytest.fixture
def world(db_session):
    return build_world(db_session)


def _count(session, model) -> int:
    return session.scalar(select(func.count()).select_from(model))


def test_first_run_issues_sealed_licences_and_a_rerun_changes_nothing(db_session, world, client):
    anchors, _seal = world
    rows = [resident_row(i) for i in range(1, 6)]
    outcomes = importer().write_batch(session=db_session, rows=rows, run_key="run-1")
    assert [o.outcome for o in outcomes] == ["issued"] * 5
    assert [o.ordinal for o in outcomes] == [1, 2, 3, 4, 5]
    db_session.commit()

    identifier = LicenceIdentifier.parse(outcomes[0].identifier)
    assert (identifier.type_code, identifier.issuer_code, identifier.version) == (RESIDENCE_PERMIT, CITY_SAMR, 1)
    serials = sorted(LicenceIdentifier.parse(o.identifier).serial for o in outcomes)
    assert len(set(serials)) == 5
    version = db_session.scalar(select(LicenceVersion).where(LicenceVersion.identifier == outcomes[0].identifier))
    assert version.record["face"] == {"address": "福州市鼓楼区五四路1号", "floor_area": 80}
    assert version.record["valid_until"] == "2028-01-01"
    store = trust_store(client, anchors)
    verify_sealed_record(record=version.record, signature=SealSignature.from_json(version.signature), trust=store)
    licences = db_session.scalars(select(Licence)).all()
    assert len({(licence.status_list_id, licence.status_index) for licence in licences}) == 5
    assert {e.action for e in db_session.scalars(select(LicenceEvent))} == {"issue"}

    again = importer().write_batch(session=db_session, rows=rows, run_key="run-2")
    assert [o.outcome for o in again] == ["unchanged"] * 5
    db_session.commit()
    assert (_count(db_session, Licence), _count(db_session, LicenceVersion), _count(db_session, LicenceEvent)) == (5, 5, 5)


def test_a_changed_record_makes_exactly_one_new_version(db_session, world):
    rows = [resident_row(i) for i in range(1, 4)]
    first = importer().write_batch(session=db_session, rows=rows, run_key="run-1")
    rows[1] = resident_row(2, address="福州市台江区八一七路9号", holder_name="张三丰", valid_until=date(2030, 1, 1))
    outcomes = importer().write_batch(session=db_session, rows=rows, run_key="run-2")
    assert [o.outcome for o in outcomes] == ["unchanged", "changed", "unchanged"]
    changed = LicenceIdentifier.parse(outcomes[1].identifier)
    assert changed.version == 2 and changed.base == LicenceIdentifier.parse(first[1].identifier).base
    licence = lifecycle.lock_licence(session=db_session, identifier=outcomes[1].identifier)
    assert (licence.current_version, licence.holder_name, licence.valid_until) == (2, "张三丰", date(2030, 1, 1))
    versions = db_session.scalars(select(LicenceVersion).where(LicenceVersion.licence_id == licence.id)
                                  .order_by(LicenceVersion.version)).all()
    assert [(v.version, v.superseded) for v in versions] == [(1, True), (2, False)]
    assert versions[1].face["address"] == "福州市台江区八一七路9号" and versions[1].record["holder_name"] == "张三丰"
    assert _count(db_session, LicenceVersion) == 4
    assert importer().write_batch(session=db_session, rows=rows, run_key="run-3")[1].outcome == "unchanged"


BAD_ROWS = [
    ({"holder_code": "350102199001011230"}, "holder.code", "invalid_holder"),  # wrong check digit
    ({"holder_code_type": "001"}, "holder.code_type", "invalid_holder"),
    ({"holder_name": None}, "holder.name", "invalid_holder"),
    ({"face": {"floor_area": 80}}, "face.address", "invalid_licence"),  # required field missing
    ({"face": {"address": "x", "colour": "red"}}, "face.colour", "invalid_licence"),
    ({"face": {"address": "x", "floor_area": "80"}}, "face.floor_area", "invalid_licence"),
    ({"valid_until": None}, "valid_until", "invalid_licence"),
    ({"valid_until": date(2024, 1, 1)}, "valid_until", "invalid_licence"),
]


def test_a_bad_row_fails_alone_naming_its_field(db_session, world):
    rows = [resident_row(1)] + [resident_row(n, **overrides) for n, (overrides, _f, _c) in enumerate(BAD_ROWS, start=2)]
    rows.append(resident_row(len(rows) + 1))
    outcomes = importer().write_batch(session=db_session, rows=rows, run_key="run-1")
    assert [o.outcome for o in outcomes] == ["issued"] + ["failed"] * len(BAD_ROWS) + ["issued"]
    assert [(o.field, o.code) for o in outcomes[1:-1]] == [(field, code) for _o, field, code in BAD_ROWS]
    assert all(o.message and "3501" not in o.message for o in outcomes[1:-1])  # no holder code in messages
    assert _count(db_session, Licence) == 2


def test_an_unknown_enum_value_fails(db_session, world):
    from tests.factories.licences import company_uscc

    code = company_uscc()
    row = MappedRow(ordinal=1, row=2, source_key="QY1", holder_name="福州示例餐饮有限公司", holder_code=code,
                    holder_code_type="001", valid_from=None, valid_until=None,
                    face={"uscc": code, "name": "福州示例餐饮有限公司", "kind": "合资企业"})
    outcome = importer(BUSINESS_LICENCE, system="legacy-qy").write_batch(session=db_session, rows=[row], run_key="r")[0]
    assert (outcome.outcome, outcome.field) == ("failed", "face.kind")
    assert "must be one of" in outcome.message


def test_a_repeated_source_key_is_a_duplicate_not_a_change(db_session, world):
    rows = [resident_row(1, key="K1"), resident_row(2, key="K1", address="别处")]
    outcomes = importer().write_batch(session=db_session, rows=rows, run_key="run-1")
    assert [o.outcome for o in outcomes] == ["issued", "failed"]
    assert outcomes[1].code == "duplicate_key" and "row 2" in outcomes[1].message
    # in a later batch of the same run too
    later = importer().write_batch(session=db_session, rows=[resident_row(7, key="K1", address="别处")], run_key="run-1")
    assert later[0].code == "duplicate_key"
    # and the same row read again in the same run (a source re-read) is no duplicate
    assert importer().write_batch(session=db_session, rows=[rows[0]], run_key="run-1")[0].outcome == "unchanged"
    assert _count(db_session, Licence) == 1


def test_a_final_licence_is_not_changed_by_the_source(db_session, world):
    first = importer().write_batch(session=db_session, rows=[resident_row(1)], run_key="run-1")
    lifecycle.revoke(session=db_session, actor=CITY_IMPORTER, identifier=first[0].identifier, reason="虚假材料", signer=SIGNER)
    outcome = importer().write_batch(session=db_session, rows=[resident_row(1, address="新地址")], run_key="run-2")[0]
    assert (outcome.outcome, outcome.code) == ("failed", "invalid_transition")
    assert "revoked" in outcome.message


def test_a_record_never_changes_holder(db_session, world):
    importer().write_batch(session=db_session, rows=[resident_row(1)], run_key="run-1")
    other = resident_row(1, holder_code=citizen_id("35010219851231002"))
    outcome = importer().write_batch(session=db_session, rows=[other], run_key="run-2")[0]
    assert (outcome.outcome, outcome.code, outcome.field) == ("failed", "holder_changed", "holder.code")


def test_the_key_includes_source_system_and_a_department_that_may_not_issue_is_refused(db_session, world):
    from registry.errors import NotIssuer

    importer().write_batch(session=db_session, rows=[resident_row(1)], run_key="run-1")
    assert importer(system="other-system").write_batch(session=db_session, rows=[resident_row(1)], run_key="run-2")[0].outcome == "issued"
    with pytest.raises(NotIssuer):
        importer(actor=Actor(department_code=PROVINCE_SAMR)).write_batch(session=db_session, rows=[resident_row(2)], run_key="run-3")


def test_the_content_digest_ignores_nothing_that_matters():
    holder = ("张三", citizen_id(), "111")
    base = content_digest(holder=holder, face={"a": 1}, valid_from=None, valid_until=None)
    assert base == content_digest(holder=holder, face={"a": 1}, valid_from=None, valid_until=None)
    assert base != content_digest(holder=holder, face={"a": 2}, valid_from=None, valid_until=None)
    assert base != content_digest(holder=holder, face={"a": 1}, valid_from=date(2025, 1, 1), valid_until=None)
    assert base != content_digest(holder=("张三丰", *holder[1:]), face={"a": 1}, valid_from=None, valid_until=None)


def test_imported_records_point_at_their_licences(db_session, world):
    outcomes = importer().write_batch(session=db_session, rows=[resident_row(1), resident_row(2)], run_key="run-1")
    rows = db_session.scalars(select(ImportedLicence).order_by(ImportedLicence.source_key)).all()
    assert [(r.source_key, r.last_run, r.last_row) for r in rows] == [("JZZ000001", "run-1", 2), ("JZZ000002", "run-1", 3)]
    bases = {LicenceIdentifier.parse(o.identifier).base for o in outcomes}
    assert {db_session.get(Licence, r.licence_id).base_identifier for r in rows} == bases
