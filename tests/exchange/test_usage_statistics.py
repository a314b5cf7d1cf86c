"""The public usage statistics: counted from the log's entries, small counts
suppressed, no personal data, public and cacheable (no sign-in)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from catalog.service import document as catalog_document
from certhub.app import create_app
from registry.identifiers import LicenceIdentifier
from tests.factories.catalog import CITY_SAMR, ENTERPRISE_DATA, catalog_mapping
from tests.factories.use_records import DEPT, HOLDER, OTHER_DEPT, at, use

ISSUER = "350100"  # a licence issuer named by its region code (GB/T 36904 allows it)
LICENCE = str(LicenceIdentifier("11100000000013338W001", ISSUER, "000001", 1))
MATTER = "350100-0001"
URL = "/api/v1/public/usage-statistics"
WEEK = {"first_day": "2025-03-02", "last_day": "2025-03-06"}


@pytest.fixture
def public(settings, migrated_engine, session_factory, cache):
    """No token: the statistics are for anyone. The app's cache is each backend (memory, Redis)."""
    app = create_app(settings, engine=migrated_engine, cache=cache, sessions=session_factory)
    with TestClient(app) as client:
        yield client


@pytest.fixture
def recorded(db_session):
    for minute in range(6):  # six uses by one department of the issuer's licences: published as counted
        use(db_session, now=at(2, minute), licence_ids=[LICENCE], matter_code=MATTER)
    use(
        db_session,
        now=at(3),
        department_code=OTHER_DEPT,
        licence_ids=[LICENCE],
        matter_code=MATTER,
        operator_id="clerk-secret-42",
        purpose="核查张三的房产",
        case_number="CASE-SECRET-9",
    )
    for minute in range(2):  # two refusals two days later: too few to publish as counted
        use(
            db_session,
            now=at(4, minute, day=5),
            result="denied",
            reason_code="consent_missing",
            fields=[],
            licence_ids=[],
            matter_code=MATTER,
        )
    for minute in range(5):  # the holder looking at their own licence: no department's use
        use(
            db_session,
            now=at(6, minute),
            kind="holder_access",
            basis="holder_self",
            department_code=OTHER_DEPT,
            operator_id="holder",
            licence_ids=[LICENCE],
            matter_code=None,
            purpose="持证人查看本人证照",
            case_number=None,
        )
    db_session.commit()


def test_counts_below_the_threshold_are_suppressed_on_a_continuous_day_axis(public, recorded):
    answer = public.get(URL, params=WEEK)
    assert answer.status_code == 200, answer.text
    stats = answer.json()
    assert stats["suppression_threshold"] == 5
    assert stats["totals"] == {"granted": 7, "denied": "<5", "holder_views": 5}
    # Every day of the range, those without a use too; the holder's own views apart.
    assert stats["by_day"] == [
        {"day": "2025-03-02", "granted": 0, "denied": 0, "holder_views": 0},
        {"day": "2025-03-03", "granted": 7, "denied": 0, "holder_views": 5},
        {"day": "2025-03-04", "granted": 0, "denied": 0, "holder_views": 0},
        {"day": "2025-03-05", "granted": 0, "denied": "<5", "holder_views": 0},
        {"day": "2025-03-06", "granted": 0, "denied": 0, "holder_views": 0},
    ]
    assert stats["by_department_pair"] == [
        {"user": DEPT, "provider": "", "granted": 0, "denied": "<5"},  # refused before any licence was found
        {"user": DEPT, "provider": ISSUER, "granted": 6, "denied": 0},
        {"user": OTHER_DEPT, "provider": ISSUER, "granted": "<5", "denied": 0},  # one use: suppressed
    ]
    assert stats["by_matter"] == [{"matter": MATTER, "granted": 7, "denied": "<5"}]
    assert stats["refusals_by_reason"] == [{"reason": "consent_missing", "count": "<5"}]


def test_no_holder_operator_purpose_or_case_appears(public, recorded):
    text = public.get(URL, params=WEEK).text
    for personal in (HOLDER, "clerk-7", "clerk-secret-42", "核查张三的房产", "CASE-SECRET-9", "CASE-1", "salt"):
        assert personal not in text


def test_public_and_cacheable_by_etag(public, recorded):
    first = public.get(URL, params=WEEK)
    assert first.headers["cache-control"] == "public, max-age=300"
    again = public.get(URL, params=WEEK, headers={"If-None-Match": first.headers["etag"]})
    assert again.status_code == 304 and again.content == b""


def test_the_range_is_bounded(public):
    assert public.get(URL, params={"first_day": "2025-01-01", "last_day": "2025-06-01"}).status_code == 422
    assert public.get(URL, params={"first_day": "2025-03-06", "last_day": "2025-03-02"}).status_code == 422


def test_a_data_items_provider_comes_from_the_catalog(public, db_session):
    catalog_document.load(session=db_session, document=catalog_document.parse_mapping(catalog_mapping()))
    for minute in range(5):
        use(db_session, now=at(2, minute), licence_ids=[], data_items=[ENTERPRISE_DATA], matter_code=MATTER)
    db_session.commit()
    pairs = public.get(URL, params=WEEK).json()["by_department_pair"]
    assert pairs == [{"user": DEPT, "provider": CITY_SAMR, "granted": 5, "denied": 0}]
