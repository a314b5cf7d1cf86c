"""One contract, run against every cache implementation (in-process always,
Redis when CERTHUB_TEST_REDIS_URL is set, and a 3-master Redis Cluster the
run starts itself, and a primary behind a Sentinel)."""

import secrets
import shutil
import threading
import time

import pytest

from storage.cache import Counter, InProcessCache, RedisCache, hash_tag
from tests.adapters.loopback import free_port
from tests.environment import CACHE_BACKENDS, REDIS_URL


@pytest.fixture(params=[*CACHE_BACKENDS, "redis-cluster", "redis-sentinel"])
def cache(request):
    if request.param == "memory":
        instance = InProcessCache()
    else:
        url = REDIS_URL if request.param == "redis" else request.getfixturevalue(
            "redis_cluster_url" if request.param == "redis-cluster" else "redis_sentinel_url")
        instance = RedisCache(url, prefix=f"certhub-test:{secrets.token_hex(4)}:")
    yield instance
    instance.close()


def test_set_if_absent_stores_once(cache):
    assert cache.set_if_absent("code:1", "first", ttl_seconds=30)
    assert not cache.set_if_absent("code:1", "second", ttl_seconds=30)
    assert cache.get("code:1") == "first"


def test_set_if_absent_is_exclusive_under_concurrency(cache):
    winners = []
    barrier = threading.Barrier(8)

    def attempt(n):
        barrier.wait()
        if cache.set_if_absent("race", str(n), ttl_seconds=30):
            winners.append(n)

    threads = [threading.Thread(target=attempt, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(winners) == 1


def test_keys_expire(cache):
    assert cache.set_if_absent("short", "v", ttl_seconds=0.2)
    assert 0 < cache.ttl("short") <= 0.2
    time.sleep(0.35)
    assert cache.get("short") is None
    assert cache.set_if_absent("short", "again", ttl_seconds=5)


def test_delete(cache):
    cache.set_if_absent("gone", "v", ttl_seconds=30)
    cache.delete("gone")
    assert cache.get("gone") is None
    cache.delete("never-there")


def test_counters_count_within_a_window(cache):
    assert [cache.increment("rate:dept", ttl_seconds=30) for _ in range(3)] == [1, 2, 3]
    remaining = cache.ttl("rate:dept")
    assert remaining is not None and remaining <= 30


def test_counter_window_is_not_extended_by_increments(cache):
    cache.increment("rate:window", ttl_seconds=0.3)
    time.sleep(0.2)
    cache.increment("rate:window", ttl_seconds=0.3)
    time.sleep(0.2)
    assert cache.increment("rate:window", ttl_seconds=0.3) == 1


def test_tiered_counters_stop_at_the_first_over_its_limit(cache):
    minute, day = Counter("rate:{d1}:m", 30, 2), Counter("quota:{d1}:d", 300, 100)
    assert cache.increment_within([minute, day]) == [1, 1]
    assert cache.increment_within([minute, day]) == [2, 2]
    assert cache.increment_within([minute, day]) == [3]  # over the minute: the day is not counted
    assert cache.increment("quota:{d1}:d", ttl_seconds=300) == 3
    for key, ttl in (("rate:{d1}:m", 30), ("quota:{d1}:d", 300)):
        remaining = cache.ttl(key)
        assert remaining is not None and 0 < remaining <= ttl


def test_tiered_counters_count_the_same_when_counted_briefly(cache):
    minute, day = Counter("rate:{d2}:bm", 30, 2), Counter("quota:{d2}:bd", 300, 100)
    assert [cache.increment_within_briefly([minute, day]) for _ in range(3)] == [[1, 1], [2, 2], [3]]
    assert cache.increment_within([minute, day]) == [4]  # one count, whichever way it is reached


def test_tiered_counters_keep_the_window_of_their_first_increment(cache):
    cache.increment_within([Counter("rate:tier", 0.3, 10)])
    time.sleep(0.2)
    cache.increment_within([Counter("rate:tier", 0.3, 10)])
    time.sleep(0.2)
    assert cache.increment_within([Counter("rate:tier", 0.3, 10)]) == [1]


def test_tiered_counters_are_exact_under_concurrency(cache):
    barrier = threading.Barrier(8)

    def attempt():
        barrier.wait()
        for _ in range(25):
            cache.increment_within([Counter("rate:{r}:race", 30, 10**6), Counter("quota:{r}:race", 30, 10**6)])

    threads = [threading.Thread(target=attempt) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert cache.increment("rate:{r}:race", ttl_seconds=30) == 201
    assert cache.increment("quota:{r}:race", ttl_seconds=30) == 201


def test_counters_counted_together_share_a_hash_tag(cache):
    """On a Redis Cluster a script's keys must sit in one slot: every cache
    refuses counters without one shared tag, so the mistake shows on any."""
    for apart in ([Counter("rate:m", 30, 5), Counter("quota:d", 30, 5)],
                  [Counter("rate:{a}:m", 30, 5), Counter("quota:{b}:d", 30, 5)],
                  [Counter("rate:{}:m", 30, 5), Counter("quota:{}:d", 30, 5)]):
        with pytest.raises(ValueError, match="hash tag"):
            cache.increment_within(apart)
        with pytest.raises(ValueError, match="hash tag"):
            cache.increment_within_briefly(apart)
    assert cache.increment("quota:d", ttl_seconds=30) == 1  # none of the refused was counted
    assert cache.increment_within([Counter("solo:m", 30, 5)]) == [1]  # one counter needs no tag


def test_hash_tag_is_what_redis_cluster_hashes():
    # SPEC: Redis Cluster specification, "Hash tags": the first {, the next }, not empty.
    assert hash_tag("ratelimit:{dept}:x") == "dept"
    assert hash_tag("a{b}{c}") == "b"
    assert hash_tag("a{}{c}") is None
    assert hash_tag("a{b") is None and hash_tag("plain") is None


def test_cluster_spreads_keys_over_its_masters_and_serves_them_all(redis_cluster_url):
    """Keys of different tags live on different masters, and every operation
    reaches the right one (MOVED followed by the client)."""
    import redis

    cache = RedisCache(redis_cluster_url, prefix=f"certhub-test:{secrets.token_hex(4)}:")
    cluster = redis.RedisCluster.from_url(redis_cluster_url.replace("redis+cluster://", "redis://").split(",")[0])
    try:
        tags = [f"dept{n}" for n in range(12)]
        for tag in tags:
            assert cache.increment_within([Counter(f"rate:{{{tag}}}:m", 30, 9),
                                           Counter(f"quota:{{{tag}}}:d", 30, 9)]) == [1, 1]
            assert cache.set_if_absent(f"claim:{{{tag}}}", tag, ttl_seconds=30)
        masters = {cluster.get_node_from_key(f"{{{tag}}}").name for tag in tags}
        assert len(masters) == 3
        assert [cache.get(f"claim:{{{tag}}}") for tag in tags] == tags
    finally:
        cluster.close()
        cache.close()


def test_a_redis_url_names_a_cluster_or_sentinel_by_its_scheme():
    from storage.cache import redis_client

    with pytest.raises(ValueError, match="names the service"):
        redis_client("redis+sentinel://127.0.0.1:26379", socket_timeout=1)
    with pytest.raises(ValueError):
        redis_client("redis+cluster://:7000", socket_timeout=1)


def test_invalidation_reaches_subscribers(cache):
    received = []
    done = threading.Event()

    def listener(topic, message):
        received.append((topic, message))
        done.set()

    unsubscribe = cache.subscribe(listener)
    # Redis needs a moment to register the subscription before publishing.
    deadline = time.monotonic() + 5
    while not done.is_set() and time.monotonic() < deadline:
        cache.publish("trust-list", "changed")
        done.wait(0.1)
    assert ("trust-list", "changed") in received
    unsubscribe()


def test_keys_are_bounded(cache):
    with pytest.raises(ValueError):
        cache.set_if_absent("", "v", ttl_seconds=1)
    with pytest.raises(ValueError):
        cache.increment("k" * 1000, ttl_seconds=1)


def test_in_process_cache_uses_its_clock():
    now = [100.0]
    cache = InProcessCache(clock=lambda: now[0])
    cache.set_if_absent("k", "v", ttl_seconds=10)
    now[0] = 109.9
    assert cache.get("k") == "v"
    now[0] = 110.0
    assert cache.get("k") is None


def test_counting_briefly_fails_at_once_for_a_moment_after_redis_failed():
    from redis.exceptions import ConnectionError as RedisConnectionError

    from storage.cache import RedisCache
    from tests.adapters import loopback

    cache = RedisCache(f"redis://127.0.0.1:{loopback.closed_port()}/0")
    try:
        with pytest.raises(RedisConnectionError) as first:
            cache.increment_within_briefly([Counter("rate:down", 30, 10)])
        with pytest.raises(RedisConnectionError, match="failed a moment ago") as second:
            cache.increment_within_briefly([Counter("rate:down", 30, 10)])
        assert "a moment ago" not in str(first.value) and second.value is not first.value
    finally:
        cache.close()


def _start_redis(port: int, directory):
    """A redis-server of this test's own on loopback (never the shared one),
    answering once started."""
    import subprocess

    import redis

    server = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", str(directory)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    probe = redis.Redis(host="127.0.0.1", port=port, socket_timeout=1)
    deadline = time.monotonic() + 10
    while True:
        try:
            probe.ping()
            break
        except redis.exceptions.ConnectionError:
            if time.monotonic() > deadline or server.poll() is not None:
                server.kill()
                raise
            time.sleep(0.05)
        finally:
            probe.close()
    return server


def _stop(server) -> None:
    server.kill()
    server.wait(timeout=10)


def _published_until_heard(cache, heard: threading.Event, message: str) -> None:
    # Redis needs a moment to register a subscription before publishing.
    deadline = time.monotonic() + 20
    while not heard.is_set() and time.monotonic() < deadline:
        cache.publish("withdrawn-credentials", message)
        heard.wait(0.1)


@pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs redis-server to restart a Redis of its own")
@pytest.mark.slow
def test_invalidation_is_heard_again_after_redis_restarts(tmp_path, caplog):
    """The listener outlives a Redis restart: it subscribes again, with a
    backoff, and says so once per outage, not once per try."""
    from storage.cache import RedisCache

    port = free_port()
    server = _start_redis(port, tmp_path)
    cache = RedisCache(f"redis://127.0.0.1:{port}/0")
    heard = {"before": threading.Event(), "after": threading.Event()}
    cache.subscribe(lambda topic, message: heard[message].set())
    try:
        _published_until_heard(cache, heard["before"], "before")
        assert heard["before"].is_set()

        caplog.set_level("WARNING", logger="storage.cache")
        _stop(server)
        deadline = time.monotonic() + 10
        while "lost the invalidation channel" not in caplog.text and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(1)  # several attempts fail meanwhile (0.1, 0.2, 0.4 s apart)
        server = _start_redis(port, tmp_path)

        _published_until_heard(cache, heard["after"], "after")
        assert heard["after"].is_set()
        lost = [r for r in caplog.records if "lost the invalidation channel" in r.getMessage()]
        again = [r for r in caplog.records if "subscribed again" in r.getMessage()]
        assert len(lost) == 1 and len(again) == 1
    finally:
        cache.close()
        _stop(server)
