"""RFC 3161 time-stamps of checkpoints (signing.transparency.timestamps) and the
monitor's state and rounds (signing.transparency.monitor), over logs on disk and
tokens from a real TSA (OpenSSL `ts` on loopback, tests/tsa.py)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509

from signing.transparency.checkpoint import Checkpoint
from signing.transparency.errors import LogVerificationError, MalformedError
from signing.transparency.monitor import MonitorState, check_round, load_state, save_state
from signing.transparency.note import NoteSigner
from signing.transparency.sources import DirectorySource
from signing.transparency.timestamps import (
    TimestampedCheckpoint,
    check_timestamp_reply,
    load_certificates,
    timestamp_request,
    verify_timestamp,
)
from signing.transparency.verifier import verify_log
from signing.transparency.writer import DirectoryStorage, LogWriter
from tests.tsa import LoopbackTsa

from .logs import ORIGIN, SEED, sample_entries


@pytest.fixture(scope="module")
def tsa():
    with LoopbackTsa() as authority:
        yield authority


def _roots(tsa: LoopbackTsa) -> list[x509.Certificate]:
    return load_certificates(tsa.ca_certificate)


def _stamp(tsa: LoopbackTsa, note: bytes) -> TimestampedCheckpoint:
    request = timestamp_request(note)
    reply = tsa.reply(request.as_bytes())
    check_timestamp_reply(reply, request=request)
    return TimestampedCheckpoint(note=note, response=reply)


class _Log:
    """A log on disk that grows, with the time-stamp resource written beside it as certhub serves it."""

    def __init__(self, directory) -> None:
        self.directory = directory
        self.signer = NoteSigner(name=ORIGIN, seed=SEED)
        self.writer = LogWriter(storage=DirectoryStorage(directory), origin=ORIGIN, signers=[self.signer])
        self.appended = 0

    def grow(self, count: int) -> bytes:
        note = self.writer.append(sample_entries(count, start=self.appended))
        self.appended += count
        return note

    def publish_timestamp(self, stamped: TimestampedCheckpoint) -> None:
        (self.directory / "timestamp").write_bytes(stamped.to_json())

    @property
    def key(self) -> str:
        return self.signer.verifier.to_key_string()


def test_the_resource_round_trips():
    stamped = TimestampedCheckpoint(note=b"origin\n1\nroot\n\n\xe2\x80\x94 sig\n", response=b"\x30\x03\x02\x01\x00")
    assert TimestampedCheckpoint.from_json(stamped.to_json()) == stamped
    with pytest.raises(MalformedError):
        TimestampedCheckpoint.from_json(b'{"checkpoint": 1}')


def test_a_log_with_a_time_stamp_verifies_and_reports_it(tsa, tmp_path):
    log = _Log(tmp_path)
    stamped_note = log.grow(300)
    log.publish_timestamp(_stamp(tsa, stamped_note))
    log.grow(20)  # the log grew after the time-stamp: the stamped checkpoint must be a prefix
    report = verify_log(source=DirectorySource(tmp_path), verifier_key=log.key, tsa_roots=_roots(tsa))
    assert report.size == 320 and report.timestamp is not None and report.timestamp.checkpoint.size == 300


def test_a_time_stamp_is_required_once_tsa_roots_are_given(tsa, tmp_path):
    log = _Log(tmp_path)
    log.grow(5)
    assert verify_log(source=DirectorySource(tmp_path), verifier_key=log.key).timestamp is None
    with pytest.raises(LogVerificationError) as missing:
        verify_log(source=DirectorySource(tmp_path), verifier_key=log.key, tsa_roots=_roots(tsa))
    assert missing.value.code == "missing_timestamp"


def test_a_time_stamp_of_another_history_is_refused(tsa, tmp_path):
    """Signed by the log's key and time-stamped, but not a prefix of what is served now: a fork."""
    for name in ("fork", "log"):
        (tmp_path / name).mkdir()
    forked_note = _Log(tmp_path / "fork").writer.append([b"another history"] * 3)
    log = _Log(tmp_path / "log")
    log.grow(10)
    log.publish_timestamp(_stamp(tsa, forked_note))
    with pytest.raises(LogVerificationError) as refused:
        verify_log(source=DirectorySource(tmp_path / "log"), verifier_key=log.key, tsa_roots=_roots(tsa))
    assert refused.value.code == "inconsistent_history"


def test_genTime_must_be_sane(tsa, tmp_path):  # noqa: N802 - RFC 3161's name
    log = _Log(tmp_path)
    stamped = _stamp(tsa, log.grow(3))
    roots = _roots(tsa)
    gen_time = verify_timestamp(stamped, verifiers=[log.signer.verifier], tsa_roots=roots).gen_time
    with pytest.raises(LogVerificationError) as future:
        verify_timestamp(stamped, verifiers=[log.signer.verifier], tsa_roots=roots, now=gen_time - timedelta(hours=1))
    assert future.value.code == "timestamp_in_future"
    with pytest.raises(LogVerificationError) as stale:
        verify_timestamp(stamped, verifiers=[log.signer.verifier], tsa_roots=roots,
                         now=gen_time + timedelta(hours=5), max_age=timedelta(hours=4))
    assert stale.value.code == "timestamp_stale"


def test_a_token_for_another_checkpoint_does_not_match(tsa, tmp_path):
    log = _Log(tmp_path)
    first = _stamp(tsa, log.grow(3))
    second_note = log.grow(1)
    with pytest.raises(LogVerificationError) as refused:
        verify_timestamp(TimestampedCheckpoint(note=second_note, response=first.response),
                         verifiers=[log.signer.verifier], tsa_roots=_roots(tsa))
    assert refused.value.code == "timestamp_mismatch"


def test_a_checkpoint_not_signed_by_the_log_is_refused(tsa, tmp_path):
    log = _Log(tmp_path)
    impostor = NoteSigner(name=ORIGIN, seed=bytes(32))
    note = Checkpoint(origin=ORIGIN, size=1, root_hash=bytes(32)).sign(signers=[impostor])
    with pytest.raises(LogVerificationError) as refused:
        verify_timestamp(_stamp(tsa, note), verifiers=[log.signer.verifier], tsa_roots=_roots(tsa))
    assert refused.value.code == "timestamp_checkpoint_invalid"


def test_the_monitor_state_round_trips_and_is_replaced_whole(tmp_path):
    state = MonitorState(checkpoint=b"a\n1\nb\n\n\xe2\x80\x94 c\n", timestamp_gen_time=datetime(2026, 1, 2, tzinfo=UTC),
                         checked_at=datetime(2026, 1, 3, tzinfo=UTC))
    assert MonitorState.from_json(state.to_json()) == state
    path = tmp_path / "state.json"
    assert load_state(path) == MonitorState()
    save_state(path, state)
    assert load_state(path) == state
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]  # no temporary file left behind
    path.write_text(json.dumps({"version": 99}))
    with pytest.raises(MalformedError):
        load_state(path)


def test_monitor_rounds_follow_the_log_and_stop_at_a_break(tsa, tmp_path):
    log = _Log(tmp_path)
    log.publish_timestamp(_stamp(tsa, log.grow(10)))
    source = DirectorySource(tmp_path)
    state, _ = check_round(source=source, verifier_key=[log.key], state=MonitorState(), check_entries=True,
                           tsa_roots=_roots(tsa))
    assert state.checkpoint is not None and state.timestamp_gen_time is not None
    log.publish_timestamp(_stamp(tsa, log.grow(300)))
    state, report = check_round(source=source, verifier_key=[log.key], state=state, check_entries=True,
                                tsa_roots=_roots(tsa))
    assert report.since is not None and report.since.size == 10 and report.size == 310

    # The log is rewritten: a new log of the same origin and key, with other entries.
    rewritten = tmp_path / "rewritten"
    rewritten.mkdir()
    LogWriter(storage=DirectoryStorage(rewritten), origin=ORIGIN, signers=[log.signer]).append([b"forged"] * 320)
    with pytest.raises(LogVerificationError) as broken:
        check_round(source=DirectorySource(rewritten), verifier_key=[log.key], state=state, check_entries=True)
    assert broken.value.code == "inconsistent_history"


def test_a_time_stamp_that_goes_back_is_an_alert(tsa, tmp_path):
    log = _Log(tmp_path)
    old = _stamp(tsa, log.grow(3))
    log.publish_timestamp(old)
    source = DirectorySource(tmp_path)
    state, _ = check_round(source=source, verifier_key=[log.key], state=MonitorState(), check_entries=True,
                           tsa_roots=_roots(tsa))
    ahead = MonitorState(checkpoint=state.checkpoint, timestamp_gen_time=state.timestamp_gen_time + timedelta(hours=1))
    with pytest.raises(LogVerificationError) as regressed:
        check_round(source=source, verifier_key=[log.key], state=ahead, check_entries=True, tsa_roots=_roots(tsa))
    assert regressed.value.code == "timestamp_regressed"
