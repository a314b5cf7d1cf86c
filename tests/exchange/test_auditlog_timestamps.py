"""RFC 3161 time-stamps of the log's checkpoints from a real TSA (OpenSSL's
`ts` on loopback, tests/tsa.py): stored beside the checkpoint, served at
/log/timestamp, and the X-Road-style tolerance when the TSA is down."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from pydantic import ValidationError
from sqlalchemy import select

from catalog.access import UseRecord
from certhub.settings import Settings
from exchange.auditlog import LogUnavailable, publish_round
from exchange.auditlog.health import PublicationMonitor, log_health
from exchange.auditlog.models import LogCheckpoint, LogCheckpointTimestamp
from exchange.auditlog.recorder import UseRecorder
from exchange.auditlog.timestamps import newest_untimestamped, timestamp_round
from registry.service.pdfsigning import TsaClient
from signing.transparency import Checkpoint, NoteSigner, NoteVerifier
from signing.transparency.errors import LogVerificationError
from signing.transparency.timestamps import (
    TimestampedCheckpoint,
    checkpoint_imprint,
    timestamp_request,
    verify_timestamp,
)
from storage.egress import Egress
from tests.factories.settings import TEST_SECRET
from tests.factories.use_records import DEPT, HOLDER, ORIGIN, SECRET, use
from tests.tsa import LoopbackTsa

LONG_LAG = timedelta(days=1)
TOLERANCE = timedelta(seconds=60)


@pytest.fixture
def tsa():
    with LoopbackTsa() as authority:
        yield authority


@pytest.fixture
def tsa_client(tsa):
    client = TsaClient(url=tsa.url, egress=Egress())
    yield client
    client.close()


def _newest(session) -> LogCheckpoint:
    return session.scalar(select(LogCheckpoint).order_by(LogCheckpoint.id.desc()).limit(1))


def _stamp_of(session, checkpoint: LogCheckpoint) -> LogCheckpointTimestamp | None:
    return session.scalar(select(LogCheckpointTimestamp).where(LogCheckpointTimestamp.checkpoint_id == checkpoint.id))


def _key(session) -> NoteVerifier:
    from exchange.auditlog import verifier_key

    return NoteVerifier.from_key_string(verifier_key(session=session, origin=ORIGIN))


def _granted() -> UseRecord:
    return UseRecord(kind="department_query", department_code=DEPT, operator_id="clerk-7",
                     basis="unconditional_sharing", subject_code=HOLDER, fields=("姓名",),
                     matter_code="350100-0001", purpose="办理营业执照变更")


def test_each_published_checkpoint_is_time_stamped_and_served(session_factory, db_session, tsa, tsa_client, client):
    use(db_session)
    db_session.commit()
    monitor = PublicationMonitor()
    assert publish_round(session_factory, SECRET, origin=ORIGIN, monitor=monitor, timestamps=tsa_client.post)
    newest = _newest(db_session)
    stamp = _stamp_of(db_session, newest)
    assert stamp is not None and tsa.replies == 1 and monitor.timestamp_failure is None

    served = client.get("/log/timestamp")
    assert served.status_code == 200 and served.headers["content-type"] == "application/json"
    resource = TimestampedCheckpoint.from_json(served.content)
    assert resource.note == bytes(newest.note)
    verified = verify_timestamp(resource, verifiers=[_key(db_session)],
                                tsa_roots=[x509.load_der_x509_certificate(tsa.ca_certificate)])
    assert verified.checkpoint.size == newest.size and verified.gen_time == stamp.gen_time
    # The imprint is the note's text: a cosignature line added later does not change it.
    cosigned = bytes(newest.note) + b"\xe2\x80\x94 witness.example/w1 AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n"
    assert checkpoint_imprint(cosigned) == checkpoint_imprint(bytes(newest.note))

    # A round whose newest checkpoint is already stamped asks the TSA nothing; nor does one
    # that published a checkpoint of a size already stamped (the same tree).
    assert timestamp_round(session_factory, post=tsa_client.post, monitor=monitor)
    assert publish_round(session_factory, SECRET, origin=ORIGIN, monitor=monitor, timestamps=tsa_client.post)
    assert _newest(db_session).id != newest.id and tsa.replies == 1
    assert newest_untimestamped(session=db_session) is None
    # The log grew: the next round stamps again.
    use(db_session)
    db_session.commit()
    assert publish_round(session_factory, SECRET, origin=ORIGIN, monitor=monitor, timestamps=tsa_client.post)
    assert tsa.replies == 2 and _stamp_of(db_session, _newest(db_session)) is not None


def test_no_time_stamp_is_served_before_the_first(client):
    assert client.get("/log/timestamp").status_code == 404


def test_the_token_is_checked_against_the_trusted_tsa_ca_only(session_factory, db_session, tsa, tsa_client, client):
    assert publish_round(session_factory, SECRET, origin=ORIGIN, timestamps=tsa_client.post)
    resource = TimestampedCheckpoint.from_json(client.get("/log/timestamp").content)
    with LoopbackTsa() as other:
        with pytest.raises(LogVerificationError) as refused:
            verify_timestamp(resource, verifiers=[_key(db_session)],
                             tsa_roots=[x509.load_der_x509_certificate(other.ca_certificate)])
    assert refused.value.code == "timestamp_untrusted"


def test_a_tsa_that_is_down_stops_no_checkpoint_and_past_the_tolerance_data_is_refused(
    session_factory, db_session, tsa, tsa_client,
):
    monitor = PublicationMonitor()
    assert publish_round(session_factory, SECRET, origin=ORIGIN, monitor=monitor, timestamps=tsa_client.post)
    tsa.stop()

    # Checkpoints go on being published while the TSA is down; they are not time-stamped.
    use(db_session)
    db_session.commit()
    assert publish_round(session_factory, SECRET, origin=ORIGIN, monitor=monitor, timestamps=tsa_client.post)
    unstamped = _newest(db_session)
    assert _stamp_of(db_session, unstamped) is None
    assert monitor.timestamp_failure is not None and monitor.timestamp_failure.code == "timestamp_unavailable"

    now = datetime.now(UTC)
    within = log_health(session=db_session, now=now, max_lag=LONG_LAG, monitor=monitor, timestamp_tolerance=TOLERANCE)
    assert within.serving
    assert within.to_json()["timestamps"]["untimestamped_since"] == unstamped.published_at.isoformat()
    assert within.to_json()["timestamps"]["failure"]["code"] == "timestamp_unavailable"

    later = now + TOLERANCE + timedelta(seconds=30)
    past = log_health(session=db_session, now=later, max_lag=LONG_LAG, monitor=monitor, timestamp_tolerance=TOLERANCE)
    assert not past.serving and "no outside time-stamp since" in past.reason
    assert "(timestamp_unavailable)" in past.reason
    recorder = UseRecorder(max_lag=LONG_LAG, monitor=monitor, timestamp_tolerance=TOLERANCE, clock=lambda: later)
    with pytest.raises(LogUnavailable):
        recorder.append(session=db_session, records=[_granted()])
    # Without a TSA configured the same log serves: the rule is the TSA's.
    assert UseRecorder(max_lag=LONG_LAG, clock=lambda: later).append(session=db_session, records=[_granted()]) == 1
    db_session.rollback()

    # Back: the next round time-stamps the newest checkpoint, which covers the gap.
    tsa.start()
    assert publish_round(session_factory, SECRET, origin=ORIGIN, monitor=monitor, timestamps=tsa_client.post)
    assert _stamp_of(db_session, _newest(db_session)) is not None and newest_untimestamped(session=db_session) is None
    assert monitor.timestamp_failure is None
    again = log_health(session=db_session, now=later, max_lag=LONG_LAG, monitor=monitor, timestamp_tolerance=TOLERANCE)
    assert again.serving and again.to_json()["timestamps"]["untimestamped_since"] is None
    recorder = UseRecorder(max_lag=LONG_LAG, monitor=monitor, timestamp_tolerance=TOLERANCE, clock=lambda: later)
    assert recorder.append(session=db_session, records=[_granted()]) == 1


def test_an_answer_to_another_question_is_not_stored(session_factory, db_session, tsa):
    """A TSA (or anything in between) that answers with a token for another imprint is a failure, not a stamp."""
    assert publish_round(session_factory, SECRET, origin=ORIGIN)
    another_log = NoteSigner.generate("another.example/log")
    other_query = timestamp_request(Checkpoint(origin="another.example/log", size=1, root_hash=bytes(32))
                                    .sign(signers=[another_log]))

    def replay(query: bytes) -> bytes:
        return tsa.reply(other_query.as_bytes())

    monitor = PublicationMonitor()
    assert not timestamp_round(session_factory, post=replay, monitor=monitor)
    assert monitor.timestamp_failure is not None and monitor.timestamp_failure.code == "malformed"
    assert _stamp_of(db_session, _newest(db_session)) is None


def test_the_tsa_settings_are_checked(tmp_path):
    base = {"secret_key": TEST_SECRET, "data_dir": tmp_path}
    configured = Settings(**base, auditlog_tsa_url="http://127.0.0.1:9/tsa", auditlog_tsa_tolerance_seconds=600)
    assert configured.auditlog_tsa_url == "http://127.0.0.1:9/tsa"
    assert Settings(**base, auditlog_tsa_url="").auditlog_tsa_url is None
    with pytest.raises(ValidationError, match="auditlog_tsa_url"):
        Settings(**base, auditlog_tsa_url="ftp://tsa.example/")
    # Each round is one chance to be time-stamped: the tolerance must leave room for more than one.
    with pytest.raises(ValidationError, match="below CERTHUB_AUDITLOG_TSA_TOLERANCE_SECONDS"):
        Settings(**base, auditlog_tsa_url="http://127.0.0.1:9/tsa", auditlog_tsa_tolerance_seconds=10,
                 auditlog_checkpoint_interval_seconds=10, auditlog_max_lag_seconds=300)
