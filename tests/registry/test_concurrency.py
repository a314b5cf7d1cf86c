"""Racing units of work on a database of their own (real commits, real
locks): concurrent issues get distinct serials, concurrent changes all land."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from adapters.imports.mapping import MappedRow
from certhub.db import create_sessionmaker
from registry.identifiers import LicenceIdentifier
from registry.models import Licence, LicenceVersion
from registry.service import issue, lifecycle
from registry.service.authority import Actor
from registry.service.bulk import LicenceImporter
from tests.factories.catalog import BUSINESS_LICENCE, CITY_SAMR
from tests.factories.licences import KEY_SECRET, REGISTRY_ID, build_world, business_licence_body
from tests.racing import THREADS, run_together

pytestmark = pytest.mark.slow  # threads racing real commits on a database of their own

SIGNER = issue.Signer(registry_id=REGISTRY_ID, key_secret=KEY_SECRET)
ACTOR = Actor(department_code=CITY_SAMR, client_id="race", operator="tester")


def _request() -> issue.IssueRequest:
    body = business_licence_body()
    return issue.IssueRequest(type_code=body["type_code"], holder_name=body["holder"]["name"],
                              holder_code=body["holder"]["code"], holder_code_type="001", face=body["face"])


def _batch(thread: int, size: int) -> list[MappedRow]:
    body = business_licence_body()
    return [MappedRow(ordinal=n, row=n + 1, source_key=f"race-{thread}-{n}", holder_name=body["holder"]["name"],
                      holder_code=body["holder"]["code"], holder_code_type="001", valid_from=None, valid_until=None,
                      face=body["face"]) for n in range(size)]


def test_concurrent_issues_get_distinct_contiguous_serials(own_database):
    make = create_sessionmaker(own_database)
    with make() as session:
        build_world(session)

    def work(i: int) -> None:
        with make() as session:
            issue.issue(session=session, actor=ACTOR, request=_request(), signer=SIGNER)
            session.commit()

    assert run_together(work) == []
    with make() as session:
        licences = session.scalars(select(Licence)).all()
        assert sorted(int(x.serial) for x in licences) == list(range(1, THREADS + 1))
        assert len({(x.status_list_id, x.status_index) for x in licences}) == THREADS


def test_concurrent_retries_with_one_key_issue_once(own_database):
    make = create_sessionmaker(own_database)
    with make() as session:
        build_world(session)
    results: list[str] = []

    def work(i: int) -> None:
        with make() as session:
            licence = issue.issue(session=session, actor=ACTOR, request=_request(), signer=SIGNER, idempotency_key="same")
            results.append(licence.base_identifier)
            session.commit()

    assert run_together(work) == []
    assert len(set(results)) == 1
    with make() as session:
        assert len(session.scalars(select(Licence)).all()) == 1


def test_racing_changes_are_all_kept(own_database):
    make = create_sessionmaker(own_database)
    with make() as session:
        build_world(session)
        licence = issue.issue(session=session, actor=ACTOR, request=_request(), signer=SIGNER)
        identifier = str(LicenceIdentifier.parse(
            session.scalars(select(LicenceVersion.identifier).where(LicenceVersion.licence_id == licence.id)).one()))
        session.commit()

    def work(i: int) -> None:
        with make() as session:
            lifecycle.change(session=session, actor=ACTOR, identifier=identifier, face={"legal_rep": f"代表{i}"},
                             signer=SIGNER)
            session.commit()

    assert run_together(work) == []
    with make() as session:
        versions = session.scalars(select(LicenceVersion).order_by(LicenceVersion.version)).all()
        assert [v.version for v in versions] == list(range(1, THREADS + 2))
        assert [v.superseded for v in versions] == [True] * THREADS + [False]
        assert len({v.face["legal_rep"] for v in versions[1:]}) == THREADS
        assert session.scalars(select(Licence)).one().current_version == THREADS + 1


def test_concurrent_batches_draw_distinct_random_indices(own_database):
    """Status-list indices are drawn at random under the list's row lock: racing
    single issues and batches never share one, and the list shows no issue order.
    Serials come from the one counter: contiguous, none given twice."""
    make = create_sessionmaker(own_database)
    with make() as session:
        build_world(session)
        issue.issue(session=session, actor=ACTOR, request=_request(), signer=SIGNER)  # the list exists before the race
        session.commit()

    def work(i: int) -> None:
        with make() as session:
            if i % 2:
                issue.issue(session=session, actor=ACTOR, request=_request(), signer=SIGNER)
            else:
                importer = LicenceImporter(actor=ACTOR, type_code=BUSINESS_LICENCE, source_system="race",
                                           signer=SIGNER)
                outcomes = importer.write_batch(session=session, rows=_batch(i, 10), run_key=f"run-{i}")
                assert [o.outcome for o in outcomes] == ["issued"] * 10
            session.commit()

    assert run_together(work) == []
    with make() as session:
        licences = session.scalars(select(Licence).order_by(Licence.id)).all()
        slots = [(x.status_list_id, x.status_index) for x in licences]
        assert len(licences) == 1 + THREADS // 2 * 11 and len(set(slots)) == len(slots)
        assert sorted(int(x.serial) for x in licences) == list(range(1, len(licences) + 1))
        indices = [index for _, index in slots]
        assert indices != sorted(indices)
