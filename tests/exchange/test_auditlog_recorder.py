"""The app's use recorder: records in the caller's transaction and refuses
granted uses while the log is not healthy (fail closed)."""

from datetime import datetime, timedelta, timezone

import pytest

from exchange.auditlog import LogEntry, LogUnavailable, publish_checkpoint
from exchange.auditlog.recorder import UseRecorder

KEY_SECRET = b"k" * 32
ORIGIN = "certhub.test/log"


def _record(recorder, session, **overrides):
    fields = dict(session=session, kind="department_query", department_code="11350000003591038H",
                  operator_id="clerk-7", basis="unconditional_sharing", subject_code="350102199001011234")
    fields.update(overrides)
    return recorder.record(**fields)


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
    later = datetime.now(timezone.utc) + timedelta(minutes=6)
    recorder = UseRecorder(max_lag=timedelta(minutes=5), clock=lambda: later)
    with pytest.raises(LogUnavailable, match="checkpoint"):
        _record(recorder, db_session, matter_code="350100-000-01", purpose="开办餐馆核验营业执照")

