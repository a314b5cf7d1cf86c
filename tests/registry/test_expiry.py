"""Automatic expiry: the job marks licences past their last valid day and
publishes it in the status list."""

from __future__ import annotations

from datetime import date, datetime, timezone

from registry.models import LicenceEvent, LicenceStatus, StatusList
from registry.service import issue, lifecycle, reads
from registry.service.authority import Actor
from signing.statuslist import StatusList as BitList
from signing.statuslist import TokenStatus
from tests.factories.catalog import CITY_SAMR
from tests.factories.licences import KEY_SECRET, REGISTRY_ID, RESIDENCE_PERMIT, build_world, citizen_id

SIGNER = issue.Signer(registry_id=REGISTRY_ID, key_secret=KEY_SECRET)


def test_expire_due_marks_past_licences_only(db_session):
    build_world(db_session)
    actor = Actor(department_code=CITY_SAMR, client_id="job")
    made = []
    for until in (date(2026, 1, 31), date(2026, 2, 1)):
        request = issue.IssueRequest(type_code=RESIDENCE_PERMIT, holder_name="张三", holder_code=citizen_id(),
                                     holder_code_type="111", face={"address": "福州"},
                                     valid_from=date(2025, 1, 1), valid_until=until)
        made.append(issue.issue(db_session, actor=actor, request=request, signer=SIGNER,
                                now=datetime(2025, 6, 1, tzinfo=timezone.utc)))
    # 2026-02-01 00:30 in Fuzhou is still 2026-01-31 in UTC: China time decides.
    count = lifecycle.expire_due(db_session, signer=SIGNER, now=datetime(2026, 1, 31, 16, 30, tzinfo=timezone.utc))
    assert count == 1
    assert [m.status for m in made] == [LicenceStatus.EXPIRED, LicenceStatus.VALID]
    row = db_session.get(StatusList, made[0].status_list_id)
    bits = BitList(size=row.size, bits=row.bits, data=row.data)
    assert bits.get(made[0].status_index) == TokenStatus.INVALID and bits.get(made[1].status_index) == 0
    event = db_session.query(LicenceEvent).filter_by(licence_id=made[0].id, action="expire").one()
    assert event.from_status == "valid" and event.acting_department_code is None
    assert reads.list_for_holder(db_session, holder_code=citizen_id(), live_only=True) == [made[1]]
