"""Back-dated licences whose validity has already ended: a fresh issue is
refused (422 validity_ended), aggregation (归集) stores them as expired with
their status-list entry set — never published as valid until the expiry job
runs. The rule is the licence's own (`Licence.validity_ended`)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from adapters.imports.mapping import MappedRow
from registry.errors import ValidityEnded
from registry.models import Licence, LicenceEvent, LicenceStatus, StatusList
from registry.service import issue, lifecycle
from registry.service.authority import Actor
from registry.service.bulk import LicenceImporter
from registry.service.records import china_date
from signing.statuslist import StatusList as BitList
from signing.statuslist import TokenStatus
from tests.factories.catalog import CITY_SAMR
from tests.factories.licences import (
    KEY_SECRET,
    REGISTRY_ID,
    RESIDENCE_PERMIT,
    build_world,
    citizen_id,
    token_headers,
)

SIGNER = issue.Signer(registry_id=REGISTRY_ID, key_secret=KEY_SECRET)
CITY = Actor(department_code=CITY_SAMR, operator="backdate-test")
NOW = datetime(2026, 3, 10, 4, 0, tzinfo=UTC)  # 2026-03-10 12:00 in Fuzhou
TODAY = date(2026, 3, 10)


@pytest.fixture
def world(db_session):
    return build_world(db_session)


def _permit(valid_until: date, holder: str = "35010219900101123") -> issue.IssueRequest:
    return issue.IssueRequest(type_code=RESIDENCE_PERMIT, holder_name="张三", holder_code=citizen_id(holder),
                              holder_code_type="111", face={"address": "福州市鼓楼区五四路1号"},
                              valid_from=date(2023, 1, 1), valid_until=valid_until)


def _bit(session, licence: Licence) -> int:
    row = session.get(StatusList, licence.status_list_id)
    return BitList(size=row.size, bits=row.bits, data=row.data).get(licence.status_index)


@pytest.mark.slow
def test_the_api_refuses_a_fresh_licence_whose_validity_has_ended(client, db_session, world):
    headers = token_headers(client, db_session, CITY_SAMR)
    today = china_date(datetime.now(UTC))

    def post(until: date):
        return client.post("/api/v1/licences", headers=headers, json={
            "type_code": RESIDENCE_PERMIT, "holder": {"name": "张三", "code": citizen_id(), "code_type": "111"},
            "face": {"address": "福州市鼓楼区五四路1号"}, "valid_from": "2023-01-01",
            "valid_until": until.isoformat()})

    refused = post(today - timedelta(days=1))
    assert refused.status_code == 422, refused.text
    assert refused.json()["error"] == "validity_ended"
    assert db_session.scalar(select(Licence.id)) is None
    last_day = post(today)  # its last valid day is today: still valid
    assert last_day.status_code == 201 and last_day.json()["status"] == "valid"


def test_service_issue_refuses_it_naming_the_field(db_session, world):
    """(The batch path stores such a licence as expired instead: the aggregation tests below.)"""
    with pytest.raises(ValidityEnded) as single:
        issue.issue(session=db_session, actor=CITY, request=_permit(TODAY - timedelta(days=1)), signer=SIGNER, now=NOW)
    assert single.value.field == "valid_until"
    assert issue.issue(session=db_session, actor=CITY, request=_permit(TODAY), signer=SIGNER, now=NOW).status == "valid"


def _row(ordinal: int, valid_until: date) -> MappedRow:
    return MappedRow(ordinal=ordinal, row=ordinal + 1, source_key=f"JZZ{ordinal:06d}", holder_name="张三",
                     holder_code=citizen_id(f"3501021990010{ordinal}123"), holder_code_type="111",
                     valid_from=date(2020, 1, 1), valid_until=valid_until, face={"address": "福州市鼓楼区五四路1号"})


def test_aggregation_stores_a_historic_licence_as_expired(db_session, world):
    importer = LicenceImporter(actor=CITY, type_code=RESIDENCE_PERMIT, source_system="legacy-jzz", signer=SIGNER,
                               clock=lambda: NOW)
    outcomes = importer.write_batch(session=db_session, rows=[_row(1, date(2024, 12, 31)), _row(2, TODAY)], run_key="run-1")
    db_session.commit()
    assert [o.outcome for o in outcomes] == ["issued", "issued"]
    ended, live = (db_session.scalar(select(Licence).where(Licence.base_identifier == o.identifier.rsplit(".", 2)[0]))
                   for o in outcomes)
    assert (ended.status, live.status) == (LicenceStatus.EXPIRED, LicenceStatus.VALID)
    assert (_bit(db_session, ended), _bit(db_session, live)) == (TokenStatus.INVALID, TokenStatus.VALID)
    event = db_session.scalar(select(LicenceEvent).where(LicenceEvent.licence_id == ended.id))
    assert event.action == "issue" and event.to_status == LicenceStatus.EXPIRED and "stored as expired" in event.reason
    # The expiry job and the importer apply the same rule: nothing is left for the job.
    assert lifecycle.expire_due(session=db_session, signer=SIGNER, now=NOW) == 0
    assert lifecycle.expire_due(session=db_session, signer=SIGNER, now=NOW + timedelta(days=1)) == 1


def test_a_change_that_ends_the_validity_expires_the_licence(db_session, world):
    importer = LicenceImporter(actor=CITY, type_code=RESIDENCE_PERMIT, source_system="legacy-jzz", signer=SIGNER,
                               clock=lambda: NOW)
    [first] = importer.write_batch(session=db_session, rows=[_row(1, date(2027, 1, 1))], run_key="run-1")
    [changed] = importer.write_batch(session=db_session, rows=[_row(1, date(2025, 6, 30))], run_key="run-2")
    db_session.commit()
    assert changed.outcome == "changed"
    licence = db_session.scalar(select(Licence).where(Licence.base_identifier == first.identifier.rsplit(".", 2)[0]))
    assert licence.status == LicenceStatus.EXPIRED and _bit(db_session, licence) == TokenStatus.INVALID
    actions = db_session.scalars(select(LicenceEvent.action).where(LicenceEvent.licence_id == licence.id)
                                 .order_by(LicenceEvent.id)).all()
    assert actions == ["issue", "change", "expire"]


def test_the_rule_is_the_licences_in_python_and_in_sql(db_session, world):
    licence = issue.issue(session=db_session, actor=CITY, request=_permit(TODAY), signer=SIGNER, now=NOW)
    assert not licence.validity_ended(TODAY) and licence.validity_ended(TODAY + timedelta(days=1))
    ended = select(Licence.id).where(Licence.validity_ended(TODAY + timedelta(days=1)))
    assert db_session.scalars(ended).all() == [licence.id]
    assert db_session.scalars(select(Licence.id).where(Licence.validity_ended(TODAY))).all() == []
    # Before the expiry job has run, what the licence says of itself is already expired.
    assert (licence.status_at(NOW), licence.status_at(NOW + timedelta(days=1))) == ("valid", "expired")
    assert licence.status == LicenceStatus.VALID


def test_a_batch_of_historic_licences_signs_each_list_once(db_session, world):
    importer = LicenceImporter(actor=CITY, type_code=RESIDENCE_PERMIT, source_system="legacy-jzz", signer=SIGNER,
                               clock=lambda: NOW)
    importer.write_batch(session=db_session, rows=[_row(1, TODAY)], run_key="run-0")  # the list exists, signed
    db_session.commit()
    before = {row.id: row.revision for row in db_session.scalars(select(StatusList))}
    rows = [_row(ordinal, date(2024, 12, 31)) for ordinal in range(2, 7)]
    outcomes = importer.write_batch(session=db_session, rows=rows, run_key="run-1")
    db_session.commit()
    ended = [db_session.scalar(select(Licence).where(Licence.base_identifier == o.identifier.rsplit(".", 2)[0]))
             for o in outcomes]
    assert {_bit(db_session, licence) for licence in ended} == {TokenStatus.INVALID}
    after = {row.id: row.revision for row in db_session.scalars(select(StatusList))}
    # Five entries set, one new signature of the list that holds them.
    assert {list_id: after[list_id] - before[list_id] for list_id in before} == {ended[0].status_list_id: 1}
