"""Data return (数据回流): tickets through their states, and deliveries of
exactly the city's rows, then only the changes."""

from __future__ import annotations

import csv
import hashlib
from datetime import timedelta

import pytest
from sqlalchemy import text

from adapters.data_return import delivery, tickets
from adapters.errors import IllegalTransition, InvalidTicket, NotPermitted, TicketNotFound
from storage.base import utcnow
from tests.factories.adapters import (
    DATA_BUREAU,
    FUZHOU,
    GULOU,
    POPULATION_DATA,
    PROVINCE_POLICE,
    SECRET_DATA,
    XIAMEN,
)
from tests.factories.population import COLUMNS, FUZHOU_IDS, population_registry, read_jsonl


def _approved(session, registry, *, target="fuzhou_files", requester=FUZHOU):
    now = utcnow()
    ticket = tickets.request(session=session, registry=registry, requester_code=requester, dataset_code=POPULATION_DATA,
                             purpose="社区治理与疫苗接种通知", target_name=target, now=now)
    tickets.decide_as_provider(session=session, ticket_id=ticket.id, actor_department=PROVINCE_POLICE, confirm=True,
                               legal_basis="《福建省政务数据管理办法》第二十六条", now=now)
    tickets.decide_as_bureau(session=session, ticket_id=ticket.id, actor_department=DATA_BUREAU, approve=True, note=None, now=now)
    session.commit()
    return ticket


def _deliver(session, registry, ticket):
    record = delivery.deliver(session=session, registry=registry, ticket_id=ticket.id, actor_department=DATA_BUREAU, now=utcnow())
    session.commit()
    return record


@pytest.mark.slow
def test_an_approved_ticket_delivers_exactly_the_citys_rows_then_only_changes(db_session, registry, police_db, tmp_path):
    ticket = _approved(db_session, registry)
    first = _deliver(db_session, registry, ticket)
    path = tmp_path / "fuzhou_files" / first.location
    rows = read_jsonl(path)
    assert {r["id"] for r in rows} == FUZHOU_IDS and first.rows_sent == 4
    assert set(rows[0]) == set(COLUMNS)  # updated_at is used, not sent
    assert first.checksum == "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()
    assert ticket.status == "delivered"

    police_db.run("UPDATE {schema}.population SET name = '李四四', updated_at = TS('2026-02-01 09:00:00') WHERE id = 2")
    police_db.run("UPDATE {schema}.population SET name = '赵六六', updated_at = TS('2026-02-01 09:00:00') WHERE id = 4")
    police_db.run("INSERT INTO {schema}.population VALUES (8, '吴十', '350104', '1997-08-08', TS('2026-02-02 10:00:00'))")
    second = _deliver(db_session, registry, ticket)
    assert (second.sequence, second.rows_sent) == (2, 2)
    assert read_jsonl(tmp_path / "fuzhou_files" / second.location) == [
        {"id": 2, "name": "李四四", "region_code": "350103", "born": "1991-02-02"},
        {"id": 8, "name": "吴十", "region_code": "350104", "born": "1997-08-08"},
    ]
    third = _deliver(db_session, registry, ticket)
    assert (third.rows_sent, third.location) == (0, None)
    assert [d.sequence for d in tickets.deliveries(session=db_session, ticket_id=ticket.id)] == [1, 2, 3]


def test_without_an_updated_at_column_a_row_hash_diff_finds_the_changes(db_session, police_db, tmp_path, adapters_catalog):
    registry = population_registry(police_db, tmp_path, updated_at=False)
    try:
        ticket = _approved(db_session, registry, target="fuzhou_csv")
        first = _deliver(db_session, registry, ticket)
        with open(tmp_path / "fuzhou_csv" / first.location, encoding="utf-8", newline="") as handle:
            rows = list(csv.DictReader(handle))
        assert {int(r["id"]) for r in rows} == FUZHOU_IDS and list(rows[0]) == COLUMNS

        police_db.run("UPDATE {schema}.population SET born = '1990-01-02' WHERE id = 1")
        police_db.run("UPDATE {schema}.population SET born = '1993-04-05' WHERE id = 4")
        second = _deliver(db_session, registry, ticket)
        with open(tmp_path / "fuzhou_csv" / second.location, encoding="utf-8", newline="") as handle:
            assert [(r["id"], r["born"]) for r in csv.DictReader(handle)] == [("1", "1990-01-02")]
        assert _deliver(db_session, registry, ticket).rows_sent == 0
    finally:
        registry.close()


def test_a_table_target_holds_the_citys_current_slice(db_session, registry, police_db):
    ticket = _approved(db_session, registry, target="fuzhou_db")
    _deliver(db_session, registry, ticket)
    police_db.run("UPDATE {schema}.population SET name = '王五五', updated_at = TS('2026-03-01 00:00:00') WHERE id = 3")
    assert _deliver(db_session, registry, ticket).rows_sent == 1
    with police_db.engine.connect() as connection:
        rows = connection.execute(text(f"SELECT id, name FROM {police_db.table('city_population')} ORDER BY id")).all()
    assert [tuple(r) for r in rows] == [(1, "张三"), (2, "李四"), (3, "王五五"), (7, "周九")]


def test_another_city_gets_its_own_slice(db_session, registry, tmp_path):
    ticket = _approved(db_session, registry, target="xiamen_files", requester=XIAMEN)
    record = _deliver(db_session, registry, ticket)
    assert [r["id"] for r in read_jsonl(tmp_path / "xiamen_files" / record.location)] == [4]


def test_only_approved_tickets_are_delivered_and_transitions_are_checked(db_session, registry):
    now = utcnow()
    ticket = tickets.request(session=db_session, registry=registry, requester_code=FUZHOU, dataset_code=POPULATION_DATA,
                             purpose="人口统计", target_name="fuzhou_files", now=now)
    with pytest.raises(IllegalTransition):
        delivery.deliver(session=db_session, registry=registry, ticket_id=ticket.id, actor_department=DATA_BUREAU, now=now)
    with pytest.raises(IllegalTransition) as caught:
        tickets.decide_as_bureau(session=db_session, ticket_id=ticket.id, actor_department=DATA_BUREAU, approve=True, note=None, now=now)
    assert caught.value.code == "illegal_transition"
    tickets.decide_as_provider(session=db_session, ticket_id=ticket.id, actor_department=PROVINCE_POLICE, confirm=False,
                               legal_basis="《个人信息保护法》第十三条: 无合法依据", now=now)
    assert ticket.status == "refused"
    for step in (
        lambda: tickets.decide_as_provider(session=db_session, ticket_id=ticket.id, actor_department=PROVINCE_POLICE,
                                           confirm=True, legal_basis="x", now=now),
        lambda: tickets.decide_as_bureau(session=db_session, ticket_id=ticket.id, actor_department=DATA_BUREAU,
                                         approve=True, note=None, now=now),
        lambda: tickets.close(session=db_session, ticket_id=ticket.id, actor_department=FUZHOU, now=now),
    ):
        with pytest.raises(IllegalTransition):
            step()


def test_rejected_and_closed_tickets_are_final(db_session, registry):
    ticket = _approved(db_session, registry)
    tickets.close(session=db_session, ticket_id=ticket.id, actor_department=FUZHOU, now=utcnow())
    with pytest.raises(IllegalTransition):
        delivery.deliver(session=db_session, registry=registry, ticket_id=ticket.id, actor_department=DATA_BUREAU, now=utcnow())
    now = utcnow()
    other = tickets.request(session=db_session, registry=registry, requester_code=FUZHOU, dataset_code=POPULATION_DATA,
                            purpose="p", target_name="fuzhou_files", now=now)
    tickets.decide_as_provider(session=db_session, ticket_id=other.id, actor_department=PROVINCE_POLICE, confirm=True, legal_basis="依据", now=now)
    tickets.decide_as_bureau(session=db_session, ticket_id=other.id, actor_department=DATA_BUREAU, approve=False, note="超出最小必要", now=now)
    assert other.status == "rejected"
    with pytest.raises(IllegalTransition):
        delivery.deliver(session=db_session, registry=registry, ticket_id=other.id, actor_department=DATA_BUREAU, now=now)


def test_each_step_belongs_to_one_party(db_session, registry):
    now = utcnow()
    ticket = tickets.request(session=db_session, registry=registry, requester_code=FUZHOU, dataset_code=POPULATION_DATA,
                             purpose="p", target_name="fuzhou_files", now=now)
    with pytest.raises(NotPermitted):
        tickets.decide_as_provider(session=db_session, ticket_id=ticket.id, actor_department=FUZHOU, confirm=True, legal_basis="x", now=now)
    tickets.decide_as_provider(session=db_session, ticket_id=ticket.id, actor_department=PROVINCE_POLICE, confirm=True, legal_basis="x", now=now)
    with pytest.raises(NotPermitted):
        tickets.decide_as_bureau(session=db_session, ticket_id=ticket.id, actor_department=PROVINCE_POLICE, approve=True, note=None, now=now)
    tickets.decide_as_bureau(session=db_session, ticket_id=ticket.id, actor_department=DATA_BUREAU, approve=True, note=None, now=now)
    with pytest.raises(NotPermitted):
        delivery.deliver(session=db_session, registry=registry, ticket_id=ticket.id, actor_department=FUZHOU, now=now)
    with pytest.raises(TicketNotFound):
        tickets.get_visible(session=db_session, ticket_id=ticket.id, department=XIAMEN)
    with pytest.raises(TicketNotFound):
        tickets.lock(session=db_session, ticket_id=999_999)


@pytest.mark.parametrize(
    ("requester", "dataset", "target", "purpose", "error"),
    [
        (GULOU, POPULATION_DATA, "fuzhou_files", "p", InvalidTicket),  # a county, not a city
        (DATA_BUREAU, POPULATION_DATA, "fuzhou_files", "p", InvalidTicket),  # a province
        (FUZHOU, SECRET_DATA, "fuzhou_files", "p", InvalidTicket),  # 不予共享
        (FUZHOU, "301001001/999999", "fuzhou_files", "p", InvalidTicket),
        (FUZHOU, POPULATION_DATA, "xiamen_files", "p", NotPermitted),  # someone else's target
        (FUZHOU, POPULATION_DATA, "fuzhou_files", "  ", InvalidTicket),
    ],
)
def test_requests_are_validated(db_session, registry, requester, dataset, target, purpose, error):
    with pytest.raises(error):
        tickets.request(session=db_session, registry=registry, requester_code=requester, dataset_code=dataset,
                        purpose=purpose, target_name=target, now=utcnow() - timedelta(seconds=1))
