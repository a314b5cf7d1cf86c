"""Per-department rate limits and daily quotas, on both cache backends, and
their 429 answers over HTTP."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient

from catalog.service import document
from certhub.app import create_app
from identity import clients
from identity.ratelimit import Limits, QuotaExceeded, RateLimited, RateLimiter, RateLimitUnavailable
from storage.cache import Cache, InProcessCache, RedisCache
from tests.adapters.loopback import closed_port
from tests.factories.catalog import CITY_SAMR, COUNTY_CENTRE, ENTERPRISE_DATA, MATTER, catalog_mapping, uscc

# 2026-03-02 10:00:15 China Standard Time (02:00:15 UTC).
START = datetime(2026, 3, 2, 2, 0, 15, tzinfo=UTC).timestamp()


class Clock:
    def __init__(self, at: float = START):
        self.now = at

    def __call__(self) -> float:
        return self.now


def test_the_minute_limit_refuses_until_the_window_ends(cache):
    clock = Clock()
    limiter = RateLimiter(cache, default=Limits(per_minute=3, daily=100), clock=clock)
    for _ in range(3):
        limiter.charge(department_code=CITY_SAMR, bucket="exchange")
    with pytest.raises(RateLimited) as refused:
        limiter.charge(department_code=CITY_SAMR, bucket="exchange")
    assert refused.value.code == "rate_limited" and refused.value.retry_after == 45
    # Other departments and other buckets count on their own.
    limiter.charge(department_code=COUNTY_CENTRE, bucket="exchange")
    limiter.charge(department_code=CITY_SAMR, bucket="presentations")
    clock.now += 45
    limiter.charge(department_code=CITY_SAMR, bucket="exchange")


def test_the_daily_quota_counts_every_bucket_until_midnight_china_time(cache):
    clock = Clock()
    limiter = RateLimiter(cache, default=Limits(per_minute=100, daily=4), clock=clock)
    for bucket in ("exchange", "exchange", "presentations", "exchange"):
        limiter.charge(department_code=CITY_SAMR, bucket=bucket)
    with pytest.raises(QuotaExceeded) as refused:
        limiter.charge(department_code=CITY_SAMR, bucket="presentations")
    assert refused.value.code == "quota_exceeded"
    # 10:00:15 CST: 13 h 59 min 45 s to midnight.
    assert refused.value.retry_after == 13 * 3600 + 59 * 60 + 45
    clock.now += refused.value.retry_after
    limiter.charge(department_code=CITY_SAMR, bucket="exchange")


def test_a_department_override_replaces_the_default(cache):
    default = Limits(per_minute=1, daily=10)
    limiter = RateLimiter(cache, default=default, clock=Clock(),
                          overrides={COUNTY_CENTRE: Limits.from_override({"per_minute": 3}, default=default)})
    assert limiter.limits_for(COUNTY_CENTRE) == Limits(per_minute=3, daily=10)
    for _ in range(3):
        limiter.charge(department_code=COUNTY_CENTRE, bucket="exchange")
    limiter.charge(department_code=CITY_SAMR, bucket="exchange")
    with pytest.raises(RateLimited):
        limiter.charge(department_code=CITY_SAMR, bucket="exchange")


def test_bad_settings_are_refused():
    with pytest.raises(ValueError):
        Limits(per_minute=0, daily=1)
    with pytest.raises(ValueError, match="unknown"):
        Limits.from_override({"per_hour": 5}, default=Limits(1, 1))


def test_an_unreachable_counter_store_fails_closed():
    broken = RedisCache(f"redis://127.0.0.1:{closed_port()}/0")
    limiter = RateLimiter(broken, default=Limits(per_minute=10, daily=10))
    try:
        with pytest.raises(RateLimitUnavailable):
            limiter.charge(department_code=CITY_SAMR, bucket="exchange")
    finally:
        broken.close()


# -- over HTTP ---------------------------------------------------------------


def _serve(settings, migrated_engine, session_factory, cache, db_session):
    document.load(session=db_session, document=document.parse_mapping(catalog_mapping()))
    db_session.commit()
    application = create_app(settings, engine=migrated_engine, cache=cache, sessions=session_factory)
    with TestClient(application) as test_client:
        yield test_client


@pytest.fixture
def http(settings, migrated_engine, session_factory, cache, db_session):
    """The app on each cache backend."""
    yield from _serve(settings, migrated_engine, session_factory, cache, db_session)


@pytest.fixture
def http_local(settings, migrated_engine, session_factory, db_session):
    yield from _serve(settings, migrated_engine, session_factory, InProcessCache(), db_session)


def _headers(client, db_session, department=CITY_SAMR):
    new = clients.create(session=db_session, department_code=department, name="system", scopes=["exchange:query"])
    db_session.commit()
    token = client.post("/api/v1/oauth/token", data={"grant_type": "client_credentials"},
                        auth=(new.client_id, new.client_secret)).json()["access_token"]
    return {"Authorization": f"Bearer {token}"}


def test_the_exchange_routes_answer_429_with_retry_after(http, db_session, cache):
    http.app.state.services.replace(RateLimiter, RateLimiter(cache, default=Limits(per_minute=2, daily=1000),
                                                             clock=Clock()))
    city, county = _headers(http, db_session), _headers(http, db_session, COUNTY_CENTRE)
    for _ in range(2):
        assert http.get("/api/v1/exchange/subscriptions", headers=city).status_code == 200
    refused = http.get("/api/v1/exchange/subscriptions", headers=city)
    assert refused.status_code == 429
    assert refused.json() == {"error": "rate_limited", "message": "more than 2 requests a minute to exchange"}
    assert refused.headers["retry-after"] == "45"
    # Another department is not held back; unauthenticated calls are not counted (and get 401).
    assert http.get("/api/v1/exchange/subscriptions", headers=county).status_code == 200
    assert http.get("/api/v1/exchange/subscriptions").status_code == 401


def test_the_daily_quota_over_http(http_local, db_session):
    http = http_local
    services = http.app.state.services
    services.replace(RateLimiter, RateLimiter(services.find(Cache), default=Limits(per_minute=100, daily=1),
                                              clock=Clock()))
    city = _headers(http, db_session)
    assert http.get("/api/v1/exchange/subscriptions", headers=city).status_code == 200
    refused = http.get("/api/v1/exchange/subscriptions", headers=city)
    assert refused.status_code == 429 and refused.json()["error"] == "quota_exceeded"
    assert int(refused.headers["retry-after"]) == 13 * 3600 + 59 * 60 + 45


def test_limits_come_from_the_settings(settings, migrated_engine, cache):
    configured = settings.model_copy(update={
        "rate_limit_per_minute": 7, "daily_quota": 70, "rate_limit_overrides": {COUNTY_CENTRE: {"daily": 700}},
    })
    limiter = create_app(configured, engine=migrated_engine, cache=cache).state.services.find(RateLimiter)
    assert limiter.limits_for(CITY_SAMR) == Limits(per_minute=7, daily=70)
    assert limiter.limits_for(COUNTY_CENTRE) == Limits(per_minute=7, daily=700)


@pytest.mark.parametrize("path, body", [
    ("/api/v1/exchange/query", {"subject": {"code": uscc("91350102MA8XYW123"), "type": "001"},
                                "items": [ENTERPRISE_DATA], "matter": MATTER, "purpose": "核验",
                                "case_number": "RL-1"}),
    ("/api/v1/exchange/query/batch", {"subjects": [{"code": uscc("91350102MA8XYW123"), "type": "001"}],
                                      "items": [ENTERPRISE_DATA], "matter": MATTER, "purpose": "核验",
                                      "case_number": "RL-1"}),
    ("/api/v1/presentations/redeem", {"qr_text": "EL1:NOT-A-CODE", "operator_id": "clerk-1", "matter_code": MATTER,
                                      "purpose": "核验"}),
])
def test_the_hot_routes_count_in_their_own_trip_and_answer_429(http, db_session, cache, path, body):
    # Query and redemption count inside their worker-thread trip rather than
    # through the router's dependency: they must be limited all the same.
    http.app.state.services.replace(RateLimiter, RateLimiter(cache, default=Limits(per_minute=1, daily=1000),
                                                             clock=Clock()))
    city = {**_headers(http, db_session), "X-Operator-Id": "clerk-1"}
    first = http.post(path, json=body, headers=city)
    assert first.status_code != 429, first.text
    refused = http.post(path, json=body, headers=city)
    assert refused.status_code == 429, refused.text
    assert refused.json()["error"] == "rate_limited" and refused.headers["retry-after"] == "45"
