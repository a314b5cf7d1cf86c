"""Automatic expiry: the job marks licences past their last valid day and
publishes it in the status list; the licence's own rule (`Licence.expired_at`)
turns at the same instant."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from exchange.query import fetch
from registry.models import CHINA_TIME, Licence, LicenceEvent, LicenceStatus, StatusList
from registry.service import issue, lifecycle, reads
from registry.service.authority import Actor
from registry.service.records import china_date
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
        made.append(issue.issue(session=db_session, actor=actor, request=request, signer=SIGNER,
                                now=datetime(2025, 6, 1, tzinfo=UTC)))
    # 2026-02-01 00:30 in Fuzhou is still 2026-01-31 in UTC: China time decides.
    count = lifecycle.expire_due(
        session=db_session, signer=SIGNER, now=datetime(2026, 1, 31, 16, 30, tzinfo=UTC)
    )
    assert count == 1
    assert [m.status for m in made] == [LicenceStatus.EXPIRED, LicenceStatus.VALID]
    row = db_session.get(StatusList, made[0].status_list_id)
    bits = BitList(size=row.size, bits=row.bits, data=row.data)
    assert bits.get(made[0].status_index) == TokenStatus.INVALID and bits.get(made[1].status_index) == 0
    event = db_session.query(LicenceEvent).filter_by(licence_id=made[0].id, action="expire").one()
    assert event.from_status == "valid" and event.acting_department_code is None
    assert reads.list_for_holder(session=db_session, holder_code=citizen_id(), live_only=True) == [made[1]]


# The rule on the licence: a validity ending on 2026-01-31 has ended from 2026-02-01 00:00 China time
# (2026-01-31 16:00 UTC) on, the moment the expiry job's date-based rule turns too.
LAST_DAY = date(2026, 1, 31)
END = datetime(2026, 2, 1, 0, 0, tzinfo=CHINA_TIME)


def test_expired_at_turns_exactly_at_the_end_of_the_last_valid_day():
    licence = Licence(valid_until=LAST_DAY, status=LicenceStatus.VALID)
    assert Licence.end_of_validity(LAST_DAY) == END == datetime(2026, 1, 31, 16, 0, tzinfo=UTC)
    one_second = timedelta(seconds=1)
    for moment, expired in ((END - one_second, False), (END, True), (END + one_second, True)):
        for same_instant in (moment, moment.astimezone(UTC)):
            assert licence.expired_at(same_instant) is expired, same_instant
            assert Licence.validity_ended_at(valid_until=LAST_DAY, moment=same_instant) is expired
            assert licence.status_at(same_instant) == ("expired" if expired else "valid")
            assert fetch.effective_status(licence, now=same_instant) == licence.status_at(same_instant)
            # The expiry job selects by the date in China time: the same instant turns it.
            assert licence.validity_ended(china_date(same_instant)) is expired


def test_a_permanent_licence_never_expires_and_an_ended_status_stays():
    permanent = Licence(valid_until=None, status=LicenceStatus.VALID)
    far = datetime(9999, 12, 30, tzinfo=UTC)
    assert Licence.end_of_validity(None) is None
    assert not permanent.expired_at(far) and permanent.status_at(far) == "valid"
    assert not Licence.validity_ended_at(valid_until=None, moment=far)
    revoked = Licence(valid_until=LAST_DAY, status=LicenceStatus.REVOKED)
    assert revoked.expired_at(END) and revoked.status_at(END) == "revoked"
    suspended = Licence(valid_until=LAST_DAY, status=LicenceStatus.SUSPENDED)
    assert suspended.status_at(END - timedelta(seconds=1)) == "suspended" and suspended.status_at(END) == "expired"
