"""Status lists: indices drawn at random by the one allocator (single issue
and batch issue alike), and every list signed by the registry's
status-list key, which verifiers find in the signed trust list."""

from __future__ import annotations

import secrets

import pytest
from sqlalchemy import select

from registry.models import Licence, LicenceVersion, StatusList
from registry.service import documents, issue, reads, statuslists
from registry.service.authority import Actor
from registry.service.bulk import LicenceImporter
from signing import service as signing_service
from signing.keys import generate_private_key
from signing.statuses import KeyPurpose
from signing.statuslist import StatusList as BitList
from signing.statuslist import sign_status_list_token, verify_trusted_status_list_token
from tests.factories.catalog import BUSINESS_LICENCE, CITY_SAMR
from tests.factories.licences import (
    KEY_SECRET,
    REGISTRY_ID,
    RESIDENCE_PERMIT,
    build_world,
    business_licence_body,
    company_uscc,
    resident_row,
    token_headers,
    trust_store,
)

SIGNER = issue.Signer(registry_id=REGISTRY_ID, key_secret=KEY_SECRET)
ACTOR = Actor(department_code=CITY_SAMR, client_id="status-lists", operator="tester")


@pytest.fixture
def world(db_session):
    return build_world(db_session)


def _request() -> issue.IssueRequest:
    body = business_licence_body()
    return issue.IssueRequest(type_code=BUSINESS_LICENCE, holder_name=body["holder"]["name"],
                              holder_code=company_uscc(), holder_code_type="001", face=body["face"])


def _assert_random(slots: list[tuple[int, int]]) -> None:
    """Unique, within the list, and neither in issue order nor a block."""
    assert len(set(slots)) == len(slots)
    assert all(0 <= index < statuslists.LIST_SIZE for _, index in slots)
    indices = [index for _, index in slots]
    assert indices != sorted(indices) and indices != sorted(indices, reverse=True)
    assert max(indices) - min(indices) >= len(indices) * 10  # spread over the list, not a run


def _slots(session, licences) -> list[tuple[int, int]]:
    return [(licence.status_list_id, licence.status_index) for licence in licences]


@pytest.mark.slow
def test_single_issues_get_random_indices(db_session, world):
    licences = [issue.issue(session=db_session, actor=ACTOR, request=_request(), signer=SIGNER) for _ in range(24)]
    _assert_random(_slots(db_session, licences))


def test_a_batch_gets_random_indices(db_session, world):
    importer = LicenceImporter(actor=ACTOR, type_code=RESIDENCE_PERMIT, source_system="legacy", signer=SIGNER)
    outcomes = importer.write_batch(session=db_session, rows=[resident_row(i) for i in range(1, 31)], run_key="run-1")
    assert [o.outcome for o in outcomes] == ["issued"] * 30
    licences = db_session.scalars(select(Licence).order_by(Licence.id)).all()
    _assert_random(_slots(db_session, licences))


def test_every_path_shares_one_allocation(db_session, world):
    """Single issues and batches draw from the same bitmap: no index is given twice."""
    one = [issue.issue(session=db_session, actor=ACTOR, request=_request(), signer=SIGNER) for _ in range(5)]
    importer = LicenceImporter(actor=ACTOR, type_code=RESIDENCE_PERMIT, source_system="legacy", signer=SIGNER)
    importer.write_batch(session=db_session, rows=[resident_row(i) for i in range(1, 21)], run_key="run-1")
    more = [issue.issue(session=db_session, actor=ACTOR, request=_request(), signer=SIGNER) for _ in range(5)]
    importer.write_batch(session=db_session, rows=[resident_row(i) for i in range(21, 41)], run_key="run-1")
    licences = db_session.scalars(select(Licence)).all()
    assert len(licences) == len(one) + len(more) + 40
    assert len(set(_slots(db_session, licences))) == len(licences)
    row = db_session.scalar(select(StatusList))
    taken = {i for i in range(row.size) if row.allocation[i >> 3] >> (i & 7) & 1}
    assert row.allocated == len(licences) and taken == {index for _, index in _slots(db_session, licences)}


def test_a_full_list_makes_a_new_one(db_session, world):
    first = issue.issue(session=db_session, actor=ACTOR, request=_request(), signer=SIGNER)
    row = db_session.get(StatusList, first.status_list_id)
    row.allocation, row.allocated = b"\xff" * len(row.allocation), row.size
    db_session.flush()
    importer = LicenceImporter(actor=ACTOR, type_code=RESIDENCE_PERMIT, source_system="legacy", signer=SIGNER)
    outcomes = importer.write_batch(session=db_session, rows=[resident_row(i) for i in range(1, 4)], run_key="run-1")
    assert [o.outcome for o in outcomes] == ["issued"] * 3
    later = db_session.scalars(select(Licence).where(Licence.type_code == RESIDENCE_PERMIT)).all()
    assert {licence.status_list_id for licence in later} == {first.status_list_id + 1}


def test_free_indices_fill_a_list_exactly():
    """Probes, then the scan of the free indices: a small list fills to the last
    index, never drawing one twice, and refuses to overfill."""
    size = 37
    taken = bytearray((size + 7) // 8)
    drawn = statuslists.free_indices(taken, size=size, count=5)
    for count in (10, 1, 20, 1):
        drawn += statuslists.free_indices(taken, size=size, count=count)
    assert sorted(drawn) == list(range(size))
    with pytest.raises(RuntimeError):
        statuslists.free_indices(taken, size=size, count=1)


def test_a_nearly_full_list_still_draws_at_random():
    size = 4096
    taken = bytearray(b"\xff" * (size // 8))
    free = sorted(secrets.SystemRandom().sample(range(size), 64))
    for index in free:
        taken[index >> 3] &= ~(1 << (index & 7))
    drawn = statuslists.free_indices(taken, size=size, count=64)
    assert sorted(drawn) == free and drawn != free


# The status-list key in the trust list (issue 21.5)


def _latest_token(db_session, licence) -> str:
    return db_session.get(StatusList, licence.status_list_id).token


def test_the_status_list_key_is_in_the_published_trust_list(client, db_session, world):
    anchors, _seal = world
    licence = issue.issue(session=db_session, actor=ACTOR, request=_request(), signer=SIGNER)
    store = trust_store(client, anchors)
    token = verify_trusted_status_list_token(_latest_token(db_session, licence), trust_store=store)
    [entry] = store.trust_list(REGISTRY_ID).keys_for_kid(token.kid)
    assert entry.purpose == KeyPurpose.STATUS_LIST and entry.owner == REGISTRY_ID and entry.es_id is None


def test_a_new_status_list_key_is_published_before_it_signs(client, db_session, world):
    anchors, _seal = world
    licence = issue.issue(session=db_session, actor=ACTOR, request=_request(), signer=SIGNER)
    before = trust_store(client, anchors).trust_list(REGISTRY_ID)
    old_kid = verify_trusted_status_list_token(_latest_token(db_session, licence),
                                               trust_store=trust_store(client, anchors)).kid
    new_kid = signing_service.rotate_status_list_key(session=db_session, registry_id=REGISTRY_ID, key_secret=KEY_SECRET)
    db_session.flush()
    # Before anything is signed with it, the trust list served names the new key.
    after = trust_store(client, anchors).trust_list(REGISTRY_ID)
    assert after.sequence > before.sequence
    assert [k.purpose for k in after.keys_for_kid(new_kid)] == [KeyPurpose.STATUS_LIST]
    city = token_headers(client, db_session, CITY_SAMR)
    identifier = _identifier(db_session, licence)
    assert client.post(f"/api/v1/licences/{identifier}/suspend", json={"reason": "核查"}, headers=city).status_code == 200
    resigned = verify_trusted_status_list_token(_latest_token(db_session, licence),
                                                trust_store=trust_store(client, anchors))
    assert resigned.kid == new_kid != old_kid
    assert resigned.status(licence.status_index) == 2
    [old] = after.keys_for_kid(old_kid)
    assert old.retired_at is not None  # what it signed before stays checkable


def _identifier(db_session, licence) -> str:
    return db_session.scalar(select(LicenceVersion.identifier).where(LicenceVersion.licence_id == licence.id))


def _static_qr(db_session, licence) -> str:
    view = reads.get_or_raise(session=db_session, identifier=_identifier(db_session, licence))
    return documents.static_qr_text(session=db_session, view=view, registry_id=REGISTRY_ID, key_secret=KEY_SECRET)


def test_the_public_check_refuses_a_status_list_whose_key_is_not_in_the_trust_list(client, db_session, world):
    licence = issue.issue(session=db_session, actor=ACTOR, request=_request(), signer=SIGNER)
    db_session.commit()
    text = _static_qr(db_session, licence)
    accepted = client.post("/api/v1/verify", json={"qr_text": text}).json()
    assert accepted["valid"] is True and accepted["summary"]["status"] == "valid"

    # A list re-signed by a key the trust list does not name, served with that key at /key.
    row = db_session.get(StatusList, licence.status_list_id)
    rogue = generate_private_key()
    row.token = sign_status_list_token(
        status_list=BitList(size=row.size, bits=row.bits, data=row.data),
        subject=statuslists.subject_uri(registry_id=REGISTRY_ID, list_id=row.id), key=rogue,
        issued_at=row.updated_at, ttl=statuslists.TTL_SECONDS)
    row.kid, row.public_key = rogue.kid, rogue.public_key.spki_der
    db_session.commit()
    assert client.get(f"/api/v1/status-lists/{row.id}/key").content == rogue.public_key.spki_der
    refused = client.post("/api/v1/verify", json={"qr_text": text}).json()
    assert refused["valid"] is False and refused["error"] == "status_list_untrusted", refused
