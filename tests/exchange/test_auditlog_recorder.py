"""The app's use recorder: records in the caller's transaction and refuses
granted uses while the log is not healthy (fail closed)."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event

from catalog.access import UseLog, UseRecord
from exchange.auditlog import LogEntry, LogUnavailable, publish_checkpoint
from exchange.auditlog.recorder import UseRecorder
from tests.factories.use_records import newest_entry

KEY_SECRET = b"k" * 32
ORIGIN = "certhub.test/log"


def _use(**overrides) -> UseRecord:
    fields = {"kind": "department_query", "department_code": "11350000003591038H",
              "operator_id": "clerk-7", "basis": "unconditional_sharing", "subject_code": "350102199001011234",
              "purpose": "开办餐馆核验营业执照"}
    fields.update(overrides)
    return UseRecord(**fields)


def _record(recorder, session, **overrides):
    assert recorder.append(session=session, records=[_use(**overrides)]) == 1
    return newest_entry(session)  # the row as written


def test_the_recorder_is_the_use_log_port():
    assert isinstance(UseRecorder(max_lag=timedelta(minutes=5)), UseLog)


def test_one_call_appends_many_records_at_the_recorders_time(db_session):
    publish_checkpoint(session=db_session, key_secret=KEY_SECRET, origin=ORIGIN)
    moment = datetime.now(UTC).replace(microsecond=0)
    recorder = UseRecorder(max_lag=timedelta(minutes=5), clock=lambda: moment)
    granted = _use(matter_code="350100-000-01", purpose="开办餐馆核验营业执照")
    denied = _use(result="denied", reason_code="consent_missing")
    assert recorder.append(session=db_session, records=[granted, denied, granted]) == 3
    rows = db_session.query(LogEntry).order_by(LogEntry.id).all()
    assert [row.result for row in rows] == ["granted", "denied", "granted"]
    # SQLite keeps the UTC time without its zone; PostgreSQL keeps the instant.
    assert {row.recorded_at if row.recorded_at.tzinfo else row.recorded_at.replace(tzinfo=UTC)
            for row in rows} == {moment}


def test_a_batch_with_a_granted_use_is_refused_whole_while_the_log_is_unhealthy(db_session):
    recorder = UseRecorder(max_lag=timedelta(minutes=5))
    denied = _use(result="denied", reason_code="consent_missing")
    with pytest.raises(LogUnavailable):
        recorder.append(session=db_session, records=[denied, _use(purpose="核验")])
    assert db_session.query(LogEntry).count() == 0


def test_granted_use_is_refused_before_any_checkpoint(db_session):
    recorder = UseRecorder(max_lag=timedelta(minutes=5))
    with pytest.raises(LogUnavailable):
        _record(recorder, db_session)
    assert db_session.query(LogEntry).count() == 0


def test_denied_attempt_is_recorded_even_when_log_is_unhealthy(db_session):
    recorder = UseRecorder(max_lag=timedelta(minutes=5))
    row = _record(recorder, db_session, result="denied", reason_code="no_agreement")
    assert row.result == "denied"


def test_granted_use_is_recorded_after_a_fresh_checkpoint(db_session):
    publish_checkpoint(session=db_session, key_secret=KEY_SECRET, origin=ORIGIN)
    recorder = UseRecorder(max_lag=timedelta(minutes=5))
    row = _record(recorder, db_session, matter_code="350100-000-01", purpose="开办餐馆核验营业执照")
    assert row.result == "granted" and row.leaf_index is None


def test_stale_checkpoint_stops_granted_uses(db_session):
    publish_checkpoint(session=db_session, key_secret=KEY_SECRET, origin=ORIGIN)
    later = datetime.now(UTC) + timedelta(minutes=6)
    recorder = UseRecorder(max_lag=timedelta(minutes=5), clock=lambda: later)
    with pytest.raises(LogUnavailable, match="checkpoint"):
        _record(recorder, db_session, matter_code="350100-000-01", purpose="开办餐馆核验营业执照")



class _Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def test_a_fresh_checkpoint_is_trusted_until_it_ages_out_then_checked_again(db_session):
    publish_checkpoint(session=db_session, key_secret=KEY_SECRET, origin=ORIGIN)
    clock = _Clock(datetime.now(UTC))
    recorder = UseRecorder(max_lag=timedelta(minutes=5), clock=clock)
    statements = []

    def count(*_args):
        statements.append(1)

    event.listen(db_session.bind, "before_cursor_execute", count)
    try:
        recorder.check_serving(session=db_session)
        asked_first = len(statements)
        clock.now += timedelta(minutes=4)
        recorder.check_serving(session=db_session)  # still within the lag of the checkpoint seen
        assert asked_first >= 1 and len(statements) == asked_first
        clock.now += timedelta(minutes=2)  # past it: the database is asked, and the log is stale
        with pytest.raises(LogUnavailable, match="checkpoint"):
            recorder.check_serving(session=db_session)
        assert len(statements) > asked_first
    finally:
        event.remove(db_session.bind, "before_cursor_execute", count)


def test_a_newer_checkpoint_moves_the_trusted_window_on(db_session):
    clock = _Clock(datetime.now(UTC))
    publish_checkpoint(session=db_session, key_secret=KEY_SECRET, origin=ORIGIN, now=clock.now)
    recorder = UseRecorder(max_lag=timedelta(minutes=5), clock=clock)
    recorder.check_serving(session=db_session)
    clock.now += timedelta(minutes=4)
    publish_checkpoint(session=db_session, key_secret=KEY_SECRET, origin=ORIGIN, now=clock.now)
    clock.now += timedelta(minutes=3)  # 7 min after the first checkpoint, 3 after the second
    recorder.check_serving(session=db_session)
    clock.now += timedelta(minutes=3)  # 6 min after the second: stale
    with pytest.raises(LogUnavailable, match="checkpoint"):
        recorder.check_serving(session=db_session)
