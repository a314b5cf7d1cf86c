"""The app on a real 3-master Redis Cluster (tests/redis_cluster.py):
rate limits and quotas counted across the cluster's nodes, a redemption's
one-time claim, and notices between processes. The cache's own contract
runs against the cluster too (tests/storage/test_cache.py)."""

from __future__ import annotations

import secrets
import threading
import time

import pytest
from fastapi.testclient import TestClient

from certhub.app import create_app
from registry.presentations.redeem import claim_key
from storage.cache import Cache, RedisCache
from tests.factories.catalog import COUNTY_CENTRE
from tests.factories.presentations import build
from tests.factories.settings import app_settings

pytestmark = pytest.mark.slow

PER_MINUTE = 3


@pytest.fixture
def cluster_cache(redis_cluster_url):
    cache = RedisCache(redis_cluster_url, prefix=f"certhub-test:{secrets.token_hex(4)}:")
    yield cache
    cache.close()


@pytest.fixture
def world(tmp_path, migrated_engine, session_factory, db_session, cluster_cache):
    app = create_app(app_settings(tmp_path, rate_limit_per_minute=PER_MINUTE), engine=migrated_engine,
                     cache=cluster_cache, sessions=session_factory)
    with TestClient(app) as client:
        yield build(client, app, db_session)


def test_redemptions_are_counted_and_claimed_on_the_cluster(world, redis_cluster_url):
    import redis

    cache = world.app.state.services.find(Cache)
    first = world.code()
    redeemed = world.redeem(first)
    assert redeemed.status_code == 200, redeemed.text
    presentation_id = redeemed.json()["presentation_id"]
    assert cache.get(claim_key(presentation_id)) == COUNTY_CENTRE  # the one-time claim, on its slot's node

    # The claim is the fast path only: with it gone (a failover that lost the
    # write), the database still refuses the second use.
    cache.delete(claim_key(presentation_id))
    again = world.redeem(first)
    assert again.status_code == 409 and again.json()["error"] == "replayed", again.text

    # The department's minute and day counters: one script on one node (their
    # hash tag). Each redemption above counted; the fourth is over the minute.
    third = world.redeem(world.code())
    assert third.status_code == 200, third.text
    over = world.redeem(world.code())
    assert over.status_code == 429 and over.json()["error"] == "rate_limited", over.text
    cluster = redis.RedisCluster.from_url("redis://" + redis_cluster_url.removeprefix("redis+cluster://").split(",")[0])
    try:
        keys = [key for node in cluster.get_primaries()
                for key in cluster.keys(f"certhub-test:*{{{COUNTY_CENTRE}}}*", target_nodes=node)]
        assert {key.decode().split(":")[2] for key in keys} == {"ratelimit", "quota"}
        assert len({cluster.keyslot(key) for key in keys}) == 1
    finally:
        cluster.close()


def test_notices_reach_another_process_through_the_cluster(redis_cluster_url):
    """One process publishes (a withdrawn credential), another hears it,
    whichever nodes their connections landed on."""
    prefix = f"certhub-test:{secrets.token_hex(4)}:"
    speaker, listener = RedisCache(redis_cluster_url, prefix=prefix), RedisCache(redis_cluster_url, prefix=prefix)
    heard = threading.Event()
    received = []

    def hear(topic: str, message: str) -> None:
        received.append((topic, message))
        heard.set()

    try:
        listener.subscribe(hear)
        deadline = time.monotonic() + 10
        while not heard.is_set() and time.monotonic() < deadline:  # until the subscription is in place
            speaker.publish("withdrawn-credentials", "client-1")
            heard.wait(0.1)
        assert ("withdrawn-credentials", "client-1") in received
    finally:
        speaker.close()
        listener.close()
