"""Rotating the use log's checkpoint key: checkpoints signed before and after
the rotation both verify with the published key history (/log/verifier-keys),
and the log stays consistent across it."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from exchange.auditlog import publish_checkpoint, rotate_checkpoint_key, verifier_key, verifier_keys
from exchange.auditlog.models import LogSigningKey
from signing.transparency import Checkpoint, NoteVerificationError, NoteVerifier, verify_log
from tests.factories.log_sources import in_process_source
from tests.factories.use_records import ORIGIN, SECRET, use


def _uses(session, count: int, first: int = 0) -> None:
    for n in range(first, first + count):
        use(session, subject_code=f"9135010{n:011d}", case_number=f"R-{n}")


def _opens(note: bytes, keys: list[str]) -> Checkpoint:
    return Checkpoint.from_note(note, verifiers=[NoteVerifier.from_key_string(k) for k in keys])


def test_checkpoints_before_and_after_a_rotation_verify_with_the_key_history(client, db_session):
    _uses(db_session, 5)
    before = publish_checkpoint(session=db_session, key_secret=SECRET, origin=ORIGIN)
    old_key = verifier_key(session=db_session, origin=ORIGIN)
    rotated = rotate_checkpoint_key(session=db_session, key_secret=SECRET, origin=ORIGIN)
    _uses(db_session, 5, first=5)
    after = publish_checkpoint(session=db_session, key_secret=SECRET, origin=ORIGIN)
    db_session.commit()

    new_key = verifier_key(session=db_session, origin=ORIGIN)
    assert new_key != old_key
    published = client.get("/log/verifier-keys")
    assert published.status_code == 200
    history = published.text.splitlines()
    assert history == [old_key, new_key] == verifier_keys(session=db_session, origin=ORIGIN)
    assert client.get("/log/verifier-key").text.strip() == new_key

    for note, size in ((before.note, 5), (rotated.note, 5), (after.note, 10)):
        assert _opens(note, history).size == size
    # Each key alone opens only its own side of the rotation.
    assert _opens(before.note, [old_key]).size == 5
    with pytest.raises(NoteVerificationError):
        _opens(after.note, [old_key])
    with pytest.raises(NoteVerificationError):
        _opens(before.note, [new_key])

    # The whole served log verifies under the history, and is consistent with the pre-rotation checkpoint.
    source = in_process_source(client)
    report = verify_log(source=source, verifier_key=history, since=before.note, check_entries=False, fetch_threads=1)
    assert report.size == 10


def test_one_active_checkpoint_key_after_rotations(db_session):
    publish_checkpoint(session=db_session, key_secret=SECRET, origin=ORIGIN)
    for _ in range(2):
        rotate_checkpoint_key(session=db_session, key_secret=SECRET, origin=ORIGIN)
    rows = db_session.scalars(select(LogSigningKey).where(LogSigningKey.name == ORIGIN).order_by(LogSigningKey.id)).all()
    assert [row.retired_at is None for row in rows] == [False, False, True]
    assert len({row.kid for row in rows}) == 3
