"""The short memory of catalog lookups: kept for a while, forgotten at once
when this process changes the catalog."""

from __future__ import annotations

import threading

import pytest

from catalog import snapshots
from catalog.service import document, matters
from exchange.agreements import items
from tests.factories.catalog import ENTERPRISE_DATA, MATTER, catalog_mapping


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_value_is_kept_until_its_time_is_up():
    clock = FakeClock()
    memo = snapshots.CatalogMemo(kept_seconds=10, clock=clock)
    loads = []
    assert memo.get("k", lambda: loads.append(1) or "first") == "first"
    assert memo.get("k", lambda: loads.append(1) or "second") == "first"
    clock.now += 9.9
    assert memo.get("k", lambda: loads.append(1) or "second") == "first"
    clock.now += 0.2
    assert memo.get("k", lambda: loads.append(1) or "second") == "second"
    assert len(loads) == 2


def test_values_the_caller_does_not_keep_are_loaded_every_time():
    memo = snapshots.CatalogMemo()
    calls = []
    for _ in range(3):
        assert memo.get("missing", lambda: calls.append(1), keep=lambda value: value is not None) is None
    assert len(calls) == 3 and len(memo) == 0


def test_the_memory_is_bounded():
    memo = snapshots.CatalogMemo(max_entries=5)
    for index in range(12):
        memo.get(index, lambda index=index: index)
    assert len(memo) <= 5


def test_a_load_that_raced_a_clear_is_not_kept():
    memo = snapshots.CatalogMemo()
    started, cleared = threading.Event(), threading.Event()

    def slow_load():
        started.set()
        cleared.wait(5)
        return "read before the change"

    reader = threading.Thread(target=lambda: memo.get("k", slow_load))
    reader.start()
    started.wait(5)
    memo.clear()  # the catalog changed while the reader was loading
    cleared.set()
    reader.join(5)
    assert memo.get("k", lambda: "read after the change") == "read after the change"


def _load(session, mapping):
    document.load(session=session, document=document.parse_mapping(mapping))
    session.commit()


def test_a_catalog_change_in_this_process_is_seen_at_once(db_session):
    mapping = catalog_mapping()
    _load(db_session, mapping)
    assert items.find(session=db_session, code=ENTERPRISE_DATA).sharing_attribute == "unconditional"
    assert len(snapshots.memo_for(session=db_session)) >= 1

    for item in mapping["data_items"]:
        if item["code"] == ENTERPRISE_DATA:
            item["sharing"] = {"attribute": "not_shared", "reason": "涉及商业秘密"}
    _load(db_session, mapping)
    assert items.find(session=db_session, code=ENTERPRISE_DATA).sharing_attribute == "not_shared"


def test_unknown_codes_are_asked_for_again(db_session):
    _load(db_session, catalog_mapping())
    assert matters.exists_kept(session=db_session, code=MATTER + "X") is False
    assert items.find(session=db_session, code="999999/000001") is None
    mapping = catalog_mapping()
    mapping["matters"][0]["code"] = MATTER + "X"
    _load(db_session, mapping)
    assert matters.exists_kept(session=db_session, code=MATTER + "X") is True


def test_writes_outside_the_catalog_keep_the_memory(db_session):
    from identity import clients

    _load(db_session, catalog_mapping())
    items.find(session=db_session, code=ENTERPRISE_DATA)
    kept = len(snapshots.memo_for(session=db_session))
    assert kept >= 1
    clients.create(session=db_session, department_code=catalog_mapping()["departments"][0]["code"], name="c",
                   scopes=["exchange:query"])
    db_session.commit()
    assert len(snapshots.memo_for(session=db_session)) == kept


def test_a_licence_type_versions_face_rules_are_read_once_and_cannot_be_changed(db_session):
    from sqlalchemy import event

    from catalog.service import licence_types
    from tests.factories.catalog import BUSINESS_LICENCE

    mapping = catalog_mapping()
    _load(db_session, mapping)
    statements = []
    engine = db_session.get_bind().engine
    listener = lambda *args: statements.append(args[2])  # noqa: E731 - before_cursor_execute's statement
    event.listen(engine, "before_cursor_execute", listener)
    try:
        first = licence_types.face_rules_kept(session=db_session, code=BUSINESS_LICENCE, version=1)
        again = licence_types.face_rules_kept(session=db_session, code=BUSINESS_LICENCE, version=1)
        assert licence_types.face_rules_kept(session=db_session, code=BUSINESS_LICENCE, version=2) is None
        assert licence_types.face_rules_kept(session=db_session, code=BUSINESS_LICENCE, version=2) is None
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    reads = [sql for sql in statements if "FROM catalog_licence_types" in sql]
    assert again is first and len(reads) == 3  # version 1 once; the missing version 2 each time
    assert first.name == "营业执照" and [spec["key"] for spec in first.fields][:3] == ["uscc", "name", "legal_rep"]
    assert first.fields[2]["mask"] == "name"
    with pytest.raises(TypeError):
        first.fields[2]["mask"] = "none"  # shared between threads: nobody edits it

    # A changed definition is a new version with rules of its own; version 1 keeps its own.
    mapping["licence_types"][0]["fields"][2]["mask"] = "full"
    _load(db_session, mapping)
    assert licence_types.face_rules_kept(session=db_session, code=BUSINESS_LICENCE, version=2).fields[2]["mask"] \
        == "full"
    assert licence_types.face_rules_kept(session=db_session, code=BUSINESS_LICENCE, version=1).fields[2]["mask"] \
        == "name"
