from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.orm import undefer

from catalog.access import DisclosedAnswer, InvalidUseRecord, UseRecord
from exchange.auditlog import LogEntry, insert_pending, integrate_pending
from exchange.auditlog.integration import DbTileReader, current_state
from signing import commitments
from signing.transparency import leaf_hash, root_from_leaf_hashes, tree_root
from tests.factories.use_records import HOLDER, use


def test_record_is_pending_canonical_and_salted(db_session):
    first = use(db_session)
    second = use(db_session)
    assert first.leaf_index is None
    record = json.loads(first.entry)
    assert record["subject"] == HOLDER and record["basis"] == "holder_presentation"
    assert len(bytes.fromhex(record["salt"])) == 16
    # Same inputs, different salt: published leaf hashes are unlinkable.
    assert leaf_hash(first.entry) != leaf_hash(second.entry)
    assert list(json.loads(first.entry)) == sorted(json.loads(first.entry))  # RFC 8785 key order


def test_integration_assigns_contiguous_indices_and_tiles(db_session):
    rows = [use(db_session, case_number=f"C-{n}") for n in range(300)]
    first = integrate_pending(session=db_session, max_batch=100)
    assert (first.old_size, first.new_size) == (0, 100)
    while integrate_pending(session=db_session, max_batch=100).new_size < 300:
        pass
    db_session.refresh(rows[-1])
    indices = sorted(db_session.scalars(select(LogEntry.leaf_index)))
    assert indices == list(range(300))
    by_index = db_session.execute(select(LogEntry.entry).order_by(LogEntry.leaf_index)).scalars().all()
    expected = root_from_leaf_hashes([leaf_hash(entry) for entry in by_index])
    state = current_state(session=db_session)
    assert state.size == 300 and state.root_hash == expected
    assert tree_root(size=300, reader=DbTileReader(session=db_session)) == expected


def test_failed_caller_transaction_takes_the_record_with_it(db_session):
    before = db_session.scalar(select(func.count()).select_from(LogEntry))
    nested = db_session.begin_nested()
    use(db_session)
    nested.rollback()
    assert db_session.scalar(select(func.count()).select_from(LogEntry)) == before


def test_denied_attempt_is_recorded_without_data(db_session):
    entry = use(db_session, result="denied", reason_code="no_consent", fields=[], licence_ids=[])
    assert json.loads(entry.entry)["reason"] == "no_consent"
    with pytest.raises(InvalidUseRecord, match="discloses no fields"):
        use(db_session, result="denied", reason_code="no_consent")
    with pytest.raises(InvalidUseRecord, match="reason_code"):
        use(db_session, result="denied", fields=[])


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"purpose": "x" * 201}, "purpose"),
        ({"purpose": None}, "purpose is required"),
        ({"kind": "peek"}, "kind"),
        ({"basis": "because"}, "basis"),
        ({"basis": "consent:"}, "basis"),
        ({"department_code": "bad code"}, "department_code"),
        ({"request_hash": "XYZ"}, "request_hash"),
        ({"licence_ids": ["ok"] * 101}, "licence_ids"),
        ({"reason_code": "late"}, "reason_code"),
    ],
)
def test_invalid_input_is_refused(db_session, overrides, message):
    with pytest.raises(InvalidUseRecord, match=message):
        use(db_session, **overrides)


def test_consent_and_holder_self_bases(db_session):
    assert use(db_session, basis="consent:abc-123").basis == "consent:abc-123"
    assert use(db_session, kind="holder_access", basis="holder_self", matter_code=None).matter_code is None


def _batch_use(**overrides) -> UseRecord:
    values = {"kind": "department_query", "department_code": "11350100MB0000001X", "operator_id": "clerk-7",
              "basis": "unconditional_sharing", "subject_code": HOLDER, "fields": ["姓名"], "matter_code": "350100-0001",
              "purpose": "批量核验"}
    values.update(overrides)
    return UseRecord(**values)


def _now() -> datetime:
    return datetime.now(UTC)


def test_insert_pending_writes_a_batch(db_session):
    assert insert_pending(session=db_session, records=[_batch_use(case_number=f"B-{n}") for n in range(250)],
                          now=_now()) == 250
    rows = db_session.scalars(select(LogEntry).order_by(LogEntry.id)).all()
    assert [json.loads(row.entry)["case_number"] for row in rows] == [f"B-{n}" for n in range(250)]
    assert all(row.leaf_index is None and row.subject_code == HOLDER for row in rows)
    logged_time = datetime.strptime(json.loads(rows[0].entry)["time"], "%Y-%m-%dT%H:%M:%S.%fZ")
    assert rows[0].recorded_at == logged_time.replace(tzinfo=UTC)
    result = integrate_pending(session=db_session, max_batch=1000)
    assert result.new_size == 250
    assert tree_root(size=250, reader=DbTileReader(session=db_session)) == root_from_leaf_hashes(
        [leaf_hash(entry) for entry in db_session.scalars(select(LogEntry.entry).order_by(LogEntry.leaf_index))])


def test_insert_pending_adds_nothing_when_one_record_is_bad(db_session):
    before = db_session.scalar(select(func.count()).select_from(LogEntry))
    with pytest.raises(InvalidUseRecord, match="purpose is required"):
        _batch_use(purpose=None)  # no such record can be built, so none reaches the log
    with pytest.raises(TypeError, match="colour"):
        _batch_use(colour="red")
    untyped = {"kind": "department_query", "department_code": "11350100MB0000001X", "operator_id": "clerk-7",
               "basis": "unconditional_sharing", "purpose": "批量核验"}
    with pytest.raises(InvalidUseRecord, match="record 1 is not a UseRecord"):
        insert_pending(session=db_session, records=[_batch_use(), untyped, _batch_use()], now=_now())
    with pytest.raises(InvalidUseRecord, match="timezone-aware"):
        insert_pending(session=db_session, records=[_batch_use(), _batch_use()], now=datetime(2025, 3, 3))
    for bad in ([], _batch_use(), [_batch_use()] * 10_001):
        with pytest.raises(InvalidUseRecord):
            insert_pending(session=db_session, records=bad, now=_now())
    assert db_session.scalar(select(func.count()).select_from(LogEntry)) == before


def test_integration_batch_is_bounded(db_session):
    for bad in (0, 10_001):
        with pytest.raises(ValueError):
            integrate_pending(session=db_session, max_batch=bad)


def test_integration_names_its_entries_in_a_statement_of_fixed_size(db_session):
    # On PostgreSQL the pending ids go as one array, so the statement is the
    # same however many entries a round integrates (and the driver parses it
    # once); SQLite lists them.
    insert_pending(session=db_session, records=[_batch_use(case_number=f"S-{n}") for n in range(120)], now=_now())
    sent: list[tuple[str, object]] = []
    engine = db_session.get_bind().engine

    def capture(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("UPDATE AUDITLOG_ENTRIES"):
            sent.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", capture)
    try:
        assert integrate_pending(session=db_session, max_batch=1000).new_size == 120
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    [(statement, parameters)] = sent
    if engine.dialect.name == "postgresql":
        assert "ANY" in statement and len(parameters) == 2  # the ids, and the first index
        assert sorted(parameters["pending_ids"]) == parameters["pending_ids"] and len(parameters["pending_ids"]) == 120
    else:
        assert len(parameters) == 121
    assert db_session.scalar(select(func.count()).where(LogEntry.leaf_index.is_(None))) == 0
    assert sorted(db_session.scalars(select(LogEntry.leaf_index))) == list(range(120))


def test_a_use_record_round_trips_through_the_log(db_session):
    written = _batch_use(kind="supervision_access", basis="supervision_mandate", licence_ids=["L-1", "L-2"],
                         data_items=["102/000001"], fields=["姓名", "注册资本"], case_number="（2025）闽01号",
                         request_hash="cd" * 32)
    moment = datetime(2025, 3, 3, 2, 30, 15, 123456, tzinfo=UTC)
    insert_pending(session=db_session, records=[written], now=moment)
    leaf = json.loads(db_session.scalars(select(LogEntry.entry)).one())
    read_back = UseRecord(
        kind=leaf["kind"], department_code=leaf["department"], operator_id=leaf["operator"], basis=leaf["basis"],
        result=leaf["result"], reason_code=leaf["reason"], subject_code=leaf["subject"],
        licence_ids=leaf["licence_ids"], data_items=leaf["data_items"], fields=leaf["fields"],
        matter_code=leaf["matter"], purpose=leaf["purpose"], case_number=leaf["case_number"],
        request_hash=leaf["request_hash"],
    )
    assert read_back == written
    assert (leaf["v"], leaf["time"], leaf["embargo_until"]) == (2, "2025-03-03T02:30:15.123456Z", None)


def test_an_answer_is_committed_to_by_digests_alone(db_session):
    values = ({"name": "福州示例餐饮有限公司", "registration_status": "存续"},)
    made = commitments.commit(values)
    answer = DisclosedAnswer(values=values, salts=tuple(c.salt for c in made), digests=tuple(c.digest for c in made))
    insert_pending(session=db_session, records=[_batch_use(answer=answer), _batch_use()], now=_now())
    rows = db_session.scalars(select(LogEntry).options(undefer(LogEntry.disclosed)).order_by(LogEntry.id)).all()
    committed, plain = (json.loads(row.entry) for row in rows)
    assert committed["v"] == 2 and committed["answer"] == {"scheme": commitments.SCHEME, "digests": list(answer.digests)}
    assert plain["v"] == 2 and "answer" not in plain and rows[1].disclosed is None  # nothing to commit to
    assert "福州示例".encode() not in rows[0].entry and answer.salts[0].encode() not in rows[0].entry
    assert json.loads(rows[0].disclosed) == {"values": list(values), "salts": list(answer.salts)}

    with pytest.raises(InvalidUseRecord):  # a refusal disclosed nothing
        _batch_use(result="denied", reason_code="consent_missing", fields=[], answer=answer)
    with pytest.raises(InvalidUseRecord):
        DisclosedAnswer(values=values, salts=(), digests=answer.digests)
    with pytest.raises(InvalidUseRecord):
        DisclosedAnswer(values=values, salts=answer.salts, digests=("ab",))
