"""Provably complete per-subject lists (issue 25, point 3) and deferred
disclosure of covert uses (point 5).

Each checkpoint commits to a per-subject map (subject tag -> count, newest
index). The holder's 用证记录 comes with its proof, so a use left out of the
list — here by changing ``auditlog_entries.subject_code``, which no proof
covers — makes the holder's check fail, and the database verifier names the
changed column. Embargoed uses are counted in the proof but not shown.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update
from typer.testing import CliRunner

from certhub.cli import app as cli_app
from certhub.db import create_db_engine, upgrade
from exchange.auditlog import LogEntry, publish_checkpoint, records_for_subject
from exchange.auditlog.completeness import IncompleteList, verify_subject_records
from exchange.auditlog.dbcheck import DatabaseMismatch, verify_database
from exchange.auditlog.models import SubjectHead
from exchange.auditlog.subjects import tag_key
from identity.holder_auth import HolderAuthority, HolderPrincipal
from signing.transparency import NoteVerifier
from tests.factories.settings import TEST_SECRET
from tests.factories.use_records import ORIGIN, SECRET, use

# Citizen ID numbers with valid GB 11643 check digits: holder sessions are for real codes.
HOLDER = "350102199001011238"
OTHER_HOLDER = "350102198505051239"
NOBODY = "350102197001011239"
MANDATE = {"kind": "supervision_access", "basis": "supervision_mandate", "purpose": "市场监管执法检查"}


def _holder_headers(app, code):
    principal = HolderPrincipal(holder_code=code, holder_code_type="111", name="林某", auth_method="dev",
                                session_id="s-1")
    return {"Authorization": f"Bearer {app.state.services.find(HolderAuthority).issue(principal=principal)}"}


def _my_records(app, client, code=HOLDER) -> dict:
    response = client.get("/api/v1/holders/me/use-records", headers=_holder_headers(app, code))
    assert response.status_code == 200, response.text
    return response.json()


def _verifiers(client) -> list[NoteVerifier]:
    return [NoteVerifier.from_key_string(client.get("/log/verifier-key").text.strip())]


def _publish(session) -> None:
    publish_checkpoint(session=session, key_secret=SECRET, origin=ORIGIN)
    session.commit()


def test_a_changed_subject_column_breaks_the_holders_proof_and_the_database_check(app, client, db_session):
    for n in range(3):
        use(db_session, subject_code=HOLDER, purpose=f"办理业务 {n}")
        use(db_session, subject_code=OTHER_HOLDER)
    _publish(db_session)
    verifiers = _verifiers(client)

    proven = verify_subject_records(_my_records(app, client), subject_code=HOLDER, verifiers=verifiers)
    assert (proven.shown, proven.embargoed, proven.size) == (3, 0, 6)
    assert verify_database(session=db_session, verifiers=verifiers, key_secret=SECRET).subjects == 2

    # The operator moves one of the holder's uses to someone else, in the column only.
    hidden = db_session.scalars(select(LogEntry).where(LogEntry.subject_code == HOLDER)
                                .order_by(LogEntry.leaf_index).limit(1)).one()
    db_session.execute(update(LogEntry).where(LogEntry.id == hidden.id).values(subject_code=OTHER_HOLDER))
    db_session.commit()

    answer = _my_records(app, client)
    assert len(answer["records"]) == 2  # the list the page shows lost the use ...
    with pytest.raises(IncompleteList, match="counts 3 .* proves 2"):  # ... and says it cannot prove itself whole
        verify_subject_records(answer, subject_code=HOLDER, verifiers=verifiers)
    # The other holder now gets a record that is not theirs.
    with pytest.raises(IncompleteList, match="another subject"):
        verify_subject_records(_my_records(app, client, OTHER_HOLDER), subject_code=OTHER_HOLDER, verifiers=verifiers)
    with pytest.raises(DatabaseMismatch) as found:
        verify_database(session=db_session, verifiers=verifiers, key_secret=SECRET)
    assert (found.value.code, found.value.index) == ("column_mismatch", hidden.leaf_index)
    assert "subject_code" in found.value.message

    # Checkpoints published after the change still count the use: the map is built from the entries.
    _publish(db_session)
    with pytest.raises(IncompleteList, match="counts 3"):
        verify_subject_records(_my_records(app, client), subject_code=HOLDER, verifiers=verifiers)


@pytest.mark.parametrize("column,value", [("department_code", "11350100MB0000009X"), ("operator_id", "clerk-9"),
                                          ("matter_code", "350100-0999"), ("basis", "unconditional_sharing")])
def test_the_database_check_names_every_searchable_column(db_session, client, column, value):
    use(db_session, subject_code=HOLDER)
    changed = use(db_session, subject_code=HOLDER)
    _publish(db_session)
    db_session.execute(update(LogEntry).where(LogEntry.id == changed.id).values({column: value}))
    db_session.commit()
    with pytest.raises(DatabaseMismatch, match=column) as found:
        verify_database(session=db_session, verifiers=_verifiers(client), key_secret=SECRET)
    assert found.value.code == "column_mismatch"


def test_the_database_check_refuses_a_forged_map_and_changed_entries(db_session, client):
    use(db_session, subject_code=HOLDER)
    use(db_session, subject_code=OTHER_HOLDER)
    _publish(db_session)
    verifiers = _verifiers(client)
    # The stored map the holders' proofs come from, lowered by one.
    db_session.execute(update(SubjectHead).values(count=SubjectHead.count + 1))
    db_session.commit()
    with pytest.raises(DatabaseMismatch) as found:
        verify_database(session=db_session, verifiers=verifiers, key_secret=SECRET)
    assert found.value.code == "subject_heads_mismatch"
    db_session.execute(update(SubjectHead).values(count=SubjectHead.count - 1))
    # Column and entry changed together: the entries no longer hash to the signed root.
    row = db_session.scalars(select(LogEntry).where(LogEntry.subject_code == HOLDER)).one()
    db_session.execute(update(LogEntry).where(LogEntry.id == row.id).values(
        subject_code=OTHER_HOLDER, entry=bytes(row.entry).replace(HOLDER.encode(), OTHER_HOLDER.encode())))
    db_session.commit()
    with pytest.raises(DatabaseMismatch) as found:
        verify_database(session=db_session, verifiers=verifiers, key_secret=SECRET)
    assert found.value.code == "root_mismatch"


def test_a_holder_without_uses_gets_a_proof_of_none(app, client, db_session):
    use(db_session, subject_code=HOLDER)
    use(db_session, subject_code=OTHER_HOLDER)
    _publish(db_session)
    answer = _my_records(app, client, NOBODY)
    assert answer["records"] == [] and answer["subject_map"]["found"] is None
    proven = verify_subject_records(answer, subject_code=NOBODY, verifiers=_verifiers(client))
    assert (proven.shown, proven.embargoed) == (0, 0)


def test_uses_not_yet_checkpointed_are_shown_without_being_counted(app, client, db_session):
    use(db_session, subject_code=HOLDER)
    _publish(db_session)
    use(db_session, subject_code=HOLDER, purpose="尚未入检查点")
    db_session.commit()
    answer = _my_records(app, client)
    assert [record["proof"] is None for record in answer["records"]] == [True, False]
    assert verify_subject_records(answer, subject_code=HOLDER, verifiers=_verifiers(client)).shown == 1


def test_an_embargoed_use_is_counted_but_hidden_until_the_embargo_ends(app, client, db_session):
    now = datetime.now(UTC)
    use(db_session, subject_code=HOLDER)
    use(db_session, subject_code=HOLDER, embargo_until=now + timedelta(days=30), **MANDATE)
    use(db_session, subject_code=HOLDER, embargo_until=now - timedelta(days=1), **MANDATE)
    covert, ended = 1, 2  # their leaf indices
    _publish(db_session)
    use(db_session, subject_code=HOLDER, embargo_until=now + timedelta(days=30), **MANDATE)  # pending: not shown at all
    db_session.commit()
    verifiers = _verifiers(client)

    # Before the date: the holder sees the ordinary use and the one whose embargo ended ...
    answer = _my_records(app, client)
    assert sorted(record["index"] for record in answer["records"] if record["proof"]) == [0, ended]
    assert "市场监管执法检查" in str([record["record"] for record in answer["records"]])
    # ... and of the covert one only that it exists: its place and proof, no contents.
    assert answer["embargoed"] == [{"index": covert, "leaf_hash": answer["embargoed"][0]["leaf_hash"],
                                    "proof": answer["embargoed"][0]["proof"]}]
    assert len(answer["records"]) == 2 and "record" not in answer["embargoed"][0]
    proven = verify_subject_records(answer, subject_code=HOLDER, verifiers=verifiers)
    assert (proven.shown, proven.embargoed) == (2, 1)

    # Hiding it outright instead would not prove complete.
    withheld = dict(answer, embargoed=[])
    with pytest.raises(IncompleteList, match="counts 3"):
        verify_subject_records(withheld, subject_code=HOLDER, verifiers=verifiers)

    # Auditors see it whole, at once.
    whole = records_for_subject(session=db_session, subject_code=HOLDER, tag_key=tag_key(SECRET), now=now,
                                hide_embargoed=False).to_json()
    assert covert in [record["index"] for record in whole["records"]] and whole["embargoed"] == []

    # After the date: the holder's view shows it, and the list still proves complete.
    later = records_for_subject(session=db_session, subject_code=HOLDER, tag_key=tag_key(SECRET),
                                now=now + timedelta(days=31), hide_embargoed=True).to_json()
    assert later["embargoed"] == []
    shown = {record["index"]: record["record"] for record in later["records"]}
    assert shown[covert]["basis"] == "supervision_mandate"
    assert (verify_subject_records(later, subject_code=HOLDER, verifiers=verifiers).shown) == 3


def test_cli_verify_database_detects_a_changed_subject_column(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'cli.sqlite3'}"
    engine = create_db_engine(url)
    upgrade(engine)
    monkeypatch.setenv("CERTHUB_DATABASE_URL", url)
    monkeypatch.setenv("CERTHUB_SECRET_KEY", TEST_SECRET)
    monkeypatch.setenv("CERTHUB_REGISTRY_ID", "https://registry.test")
    from sqlalchemy.orm import Session

    with Session(bind=engine) as session:
        use(session, subject_code=HOLDER)
        use(session, subject_code=OTHER_HOLDER)
        session.commit()
    runner = CliRunner()
    key = runner.invoke(cli_app, ["audit", "checkpoint"]).stderr.split("verifier key: ")[1].strip()

    verified = runner.invoke(cli_app, ["audit", "verify", "--database", "--key", key])
    assert verified.exit_code == 0, verified.output
    assert "OK database matches the checkpoint of size 2" in verified.stdout

    with Session(bind=engine) as session:
        session.execute(update(LogEntry).where(LogEntry.leaf_index == 1).values(subject_code=HOLDER))
        session.commit()
    engine.dispose()
    failed = runner.invoke(cli_app, ["audit", "verify", "--database", "--key", key])
    assert failed.exit_code == 1
    assert "column_mismatch" in failed.stderr and "subject_code" in failed.stderr and "leaf index: 1" in failed.stderr
    assert runner.invoke(cli_app, ["audit", "verify", "--database", "--dir", str(tmp_path), "--key", key]).exit_code == 2


def test_the_map_grows_checkpoint_by_checkpoint_as_the_entries_give_it(db_session, client):
    from catalog.access import UseRecord
    from exchange.auditlog import insert_pending
    from identity.codes import citizen_id_check_character

    def code(n: int) -> str:
        first17 = f"35010219900101{n:03d}"
        return first17 + citizen_id_check_character(first17)

    base = {"kind": "department_query", "department_code": "11350100MB0000001X", "operator_id": "clerk-7",
            "basis": "holder_presentation", "purpose": "办理业务"}
    now = datetime.now(UTC)
    # 700 subjects in the first checkpoint (more tags than one IN list), then 300 of them again, and a refusal
    # naming nobody.
    insert_pending(session=db_session, records=[UseRecord(subject_code=code(n), **base) for n in range(700)], now=now)
    _publish(db_session)
    insert_pending(session=db_session, records=[UseRecord(subject_code=code(n), **base) for n in range(0, 600, 2)],
                   now=now)
    insert_pending(session=db_session, records=[UseRecord(result="denied", reason_code="no_consent",
                                                          **{**base, "purpose": None})], now=now)
    _publish(db_session)
    verifiers = _verifiers(client)
    report = verify_database(session=db_session, verifiers=verifiers, key_secret=SECRET)
    assert (report.size, report.subjects) == (1001, 700)
    for n, expected in ((0, 2), (1, 1), (598, 2), (699, 1)):
        answer = records_for_subject(session=db_session, subject_code=code(n), tag_key=tag_key(SECRET), now=now,
                                     hide_embargoed=True).to_json()
        assert verify_subject_records(answer, subject_code=code(n), verifiers=verifiers).shown == expected
