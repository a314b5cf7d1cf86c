"""A small cache interface with two implementations: Redis (production, shared
by every app process) and in-process (the embedded default).

It lives in storage, the bottom of the dependency graph, because registry
(one-time presentation codes) and exchange (rate limits) both need it.

Redis may be one server, a Redis Cluster or a primary watched by Sentinel,
chosen by the URL alone (``redis_client``). On a cluster a multi-key script
runs only when its keys hash to one slot: the counters of one
``increment_within`` share a hash tag (``{...}`` in their keys: the Redis
Cluster specification, "Hash tags"), which both implementations check, so a
caller that forgets fails on the in-process cache too, not first in
production.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, cast, runtime_checkable
from urllib.parse import unquote, urlsplit

if TYPE_CHECKING:
    import redis

Listener = Callable[[str, str], None]  # (topic, message)

MAX_KEY_LENGTH = 512
# How long code on the event loop may wait for Redis, and how long it then
# fails at once before trying again (see RedisCache.increment_within_briefly).
LOOP_TIMEOUT = 0.2  # seconds
LOOP_BACKOFF = 1.0  # seconds
# The invalidation listener's wait for a message, and its waits between
# attempts to subscribe again after losing Redis: doubling up to the last.
LISTEN_POLL = 0.5  # seconds
RESUBSCRIBE_BACKOFF = (0.1, 5.0)  # seconds: first, longest

log = logging.getLogger(__name__)


# Runtime-checkable so the composition root can register a cache under this type (wiring.Services).
@runtime_checkable
class Cache(Protocol):
    def set_if_absent(self, key: str, value: str, *, ttl_seconds: float) -> bool:
        """Store value unless the key exists; True when this call stored it."""

    def get(self, key: str) -> str | None: ...

    def delete(self, key: str) -> None: ...

    def increment(self, key: str, *, ttl_seconds: float) -> int:
        """Add one to a counter; the counter expires ttl_seconds after its first increment."""

    def increment_within(self, counters: Sequence[Counter]) -> list[int]:
        """Increment the counters in order, as ``increment`` does, stopping
        after the first whose new count is over its limit; their new counts.
        One atomic step (a limit and the quota behind it, in one round trip).
        Two or more counters share one hash tag (``same_slot``)."""

    def increment_within_briefly(self, counters: Sequence[Counter]) -> list[int]:
        """``increment_within`` for code on the event loop: it fails rather
        than block the loop for long (``LOOP_TIMEOUT``)."""

    def ttl(self, key: str) -> float | None:
        """Seconds until the key expires, None when absent or without expiry."""

    def publish(self, topic: str, message: str) -> None:
        """Tell every process (every subscriber) that something changed."""

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        """Call listener on every published message; returns an unsubscribe function."""

    def close(self) -> None: ...


@dataclass(frozen=True)
class Counter:
    key: str
    ttl_seconds: float
    limit: int


def _check_key(key: str) -> None:
    if not key or len(key) > MAX_KEY_LENGTH:
        raise ValueError(f"cache key must be 1..{MAX_KEY_LENGTH} characters")


def hash_tag(key: str) -> str | None:
    """The part of ``key`` Redis Cluster hashes to choose its slot, when not
    the whole key: what lies between the first ``{`` and the next ``}``, if
    anything does. # SPEC: Redis Cluster specification, "Hash tags"."""
    start = key.find("{")
    if start < 0:
        return None
    end = key.find("}", start + 1)
    return key[start + 1:end] if end > start + 1 else None


def same_slot(counters: Sequence[Counter]) -> None:
    """Counters counted in one step share a hash tag, so one Redis Cluster
    node holds them all and a script can count them together."""
    for counter in counters:
        _check_key(counter.key)
    if len(counters) > 1 and (hash_tag(counters[0].key) is None
                              or len({hash_tag(counter.key) for counter in counters}) != 1):
        raise ValueError("counters counted together must share one hash tag {...} in their keys")


class InProcessCache:
    """Thread-safe dict with expiry. Only one process sees it: fine for the
    embedded default, where one process serves everything."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._values: dict[str, tuple[str, float | None]] = {}
        self._listeners: list[Listener] = []

    def _live(self, key: str) -> tuple[str, float | None] | None:
        entry = self._values.get(key)
        if entry is not None and entry[1] is not None and entry[1] <= self._clock():
            del self._values[key]
            return None
        return entry

    def set_if_absent(self, key: str, value: str, *, ttl_seconds: float) -> bool:
        _check_key(key)
        with self._lock:
            if self._live(key) is not None:
                return False
            self._values[key] = (value, self._clock() + ttl_seconds)
            return True

    def get(self, key: str) -> str | None:
        with self._lock:
            entry = self._live(key)
            return None if entry is None else entry[0]

    def delete(self, key: str) -> None:
        with self._lock:
            self._values.pop(key, None)

    def increment(self, key: str, *, ttl_seconds: float) -> int:
        _check_key(key)
        with self._lock:
            entry = self._live(key)
            if entry is None:
                self._values[key] = ("1", self._clock() + ttl_seconds)
                return 1
            count = int(entry[0]) + 1
            self._values[key] = (str(count), entry[1])
            return count

    def increment_within(self, counters: Sequence[Counter]) -> list[int]:
        same_slot(counters)
        counts: list[int] = []
        with self._lock:
            for counter in counters:
                entry = self._live(counter.key)
                count = 1 if entry is None else int(entry[0]) + 1
                expires = self._clock() + counter.ttl_seconds if entry is None else entry[1]
                self._values[counter.key] = (str(count), expires)
                counts.append(count)
                if count > counter.limit:
                    break
        return counts

    def increment_within_briefly(self, counters: Sequence[Counter]) -> list[int]:
        return self.increment_within(counters)  # memory only, under a lock held for microseconds

    def ttl(self, key: str) -> float | None:
        with self._lock:
            entry = self._live(key)
            if entry is None or entry[1] is None:
                return None
            return max(entry[1] - self._clock(), 0.0)

    def publish(self, topic: str, message: str) -> None:
        with self._lock:
            listeners = list(self._listeners)
        for listener in listeners:
            listener(topic, message)

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        with self._lock:
            self._listeners.append(listener)

        def unsubscribe() -> None:
            with self._lock:
                if listener in self._listeners:
                    self._listeners.remove(listener)

        return unsubscribe

    def close(self) -> None:
        with self._lock:
            self._values.clear()
            self._listeners.clear()


_NO_LIMIT = 2**62  # beyond any count; within Lua's integers

# KEYS: the counters; ARGV: each counter's ttl in ms and its limit. Scripts
# run atomically in Redis, so no other client sees a half-counted request.
_INCREMENT_WITHIN = """
local counts = {}
for i, key in ipairs(KEYS) do
    local count = redis.call('INCR', key)
    -- NX: the window starts at the first increment and is never extended.
    redis.call('PEXPIRE', key, ARGV[2 * i - 1], 'NX')
    counts[i] = count
    if count > tonumber(ARGV[2 * i]) then
        break
    end
end
return counts
"""


CLUSTER_SCHEME = "redis+cluster"
SENTINEL_SCHEME = "redis+sentinel"


def redis_client(url: str, *, socket_timeout: float, socket_connect_timeout: float | None = None
                 ) -> redis.Redis | redis.RedisCluster:
    """A client for ``url``, whichever way Redis is deployed:
    - ``redis://`` or ``rediss://``: one server (redis-py's URL);
    - ``redis+cluster://host:port[,host:port...]``: a Redis Cluster, found
      from any of the nodes named (redis-py's ``RedisCluster``, which
      follows MOVED and ASK as slots move and nodes fail over);
    - ``redis+sentinel://host:port[,host:port...]/service[/db]``: the
      primary the Sentinels name for ``service``, asked again after a
      failover (redis-py's ``Sentinel.master_for``).
    A password goes in the URL's user part, as in ``redis://``."""
    import redis
    from redis.cluster import ClusterNode
    from redis.sentinel import Sentinel

    split = urlsplit(url)
    if split.scheme not in (CLUSTER_SCHEME, SENTINEL_SCHEME):
        return redis.Redis.from_url(url, decode_responses=True, socket_timeout=socket_timeout,
                                    socket_connect_timeout=socket_connect_timeout)
    nodes = _nodes(split.netloc.rpartition("@")[2], default_port=26379 if split.scheme == SENTINEL_SCHEME else 6379)
    secrets: dict[str, Any] = {}
    if split.username:
        secrets["username"] = unquote(split.username)
    if split.password:
        secrets["password"] = unquote(split.password)
    timeouts: dict[str, Any] = {"socket_timeout": socket_timeout, "socket_connect_timeout": socket_connect_timeout}
    if split.scheme == CLUSTER_SCHEME:
        return redis.RedisCluster(startup_nodes=[ClusterNode(host, port) for host, port in nodes],
                                  decode_responses=True, **timeouts, **secrets)
    service, _, database = split.path.strip("/").partition("/")
    if not service:
        raise ValueError("a redis+sentinel:// URL names the service after the hosts: redis+sentinel://host:26379/mymaster")
    sentinel = Sentinel(nodes, sentinel_kwargs=timeouts, **timeouts)
    return sentinel.master_for(service, redis_class=redis.Redis, decode_responses=True,
                               db=int(database or 0), **secrets)


def _nodes(hosts: str, *, default_port: int) -> list[tuple[str, int]]:
    nodes = []
    for node in filter(None, (part.strip() for part in hosts.split(","))):
        if node.startswith("["):  # [IPv6 address]:port
            host, _, rest = node[1:].partition("]")
            port = rest.removeprefix(":")
        else:
            host, _, port = node.partition(":")
        nodes.append((host, int(port) if port else default_port))
    if not nodes or not all(host for host, _ in nodes):
        raise ValueError("a redis+cluster:// or redis+sentinel:// URL names at least one host")
    return nodes


class RedisCache:
    """The shared cache: every app process sees the same keys and messages,
    on one Redis server, a Redis Cluster or a Sentinel-watched primary
    (``redis_client``)."""

    CHANNEL = "certhub:invalidate"

    def __init__(self, url: str, *, prefix: str = "certhub:") -> None:
        if "{" in prefix or "}" in prefix:
            raise ValueError("the key prefix must not carry a hash tag: the keys choose their own")
        self._redis = redis_client(url, socket_timeout=5)
        self._prefix = prefix
        self._lock = threading.Lock()
        self._listeners: list[Listener] = []
        self._listening: threading.Event | None = None  # set: stop listening
        self._thread: threading.Thread | None = None
        self._increment_within = _script(self._redis, _INCREMENT_WITHIN)
        # A client of its own for code on the event loop: a blocking call
        # there holds up every request of the worker, so it may wait for
        # Redis only briefly. On a healthy Redis a round trip is tens of
        # microseconds, less CPU and less waiting than redis.asyncio's
        # (which measured 46 µs of CPU per count against 21 µs, and queues
        # each reply behind the other requests' work on the loop).
        self._loop_redis = redis_client(url, socket_timeout=LOOP_TIMEOUT, socket_connect_timeout=LOOP_TIMEOUT)
        self._loop_increment_within = _script(self._loop_redis, _INCREMENT_WITHIN)
        self._loop_failed_until = 0.0

    def ping(self) -> None:
        """Raise unless Redis answers within the event loop's short timeout (readiness, metrics)."""
        self._loop_redis.ping()

    def _k(self, key: str) -> str:
        _check_key(key)
        return self._prefix + key

    def set_if_absent(self, key: str, value: str, *, ttl_seconds: float) -> bool:
        return bool(self._redis.set(self._k(key), value, nx=True, px=max(int(ttl_seconds * 1000), 1)))

    def get(self, key: str) -> str | None:
        # redis-py types every reply as "maybe awaitable"; this client is the synchronous one.
        return cast("str | None", self._redis.get(self._k(key)))

    def delete(self, key: str) -> None:
        self._redis.delete(self._k(key))

    def increment(self, key: str, *, ttl_seconds: float) -> int:
        # The tiered counters' script with one counter and no limit: one
        # atomic step on every deployment (a cluster's MULTI is a pipeline
        # of redis-py's own, a script is Redis's).
        return self.increment_within([Counter(key, ttl_seconds, _NO_LIMIT)])[0]

    def increment_within(self, counters: Sequence[Counter]) -> list[int]:
        if not counters:
            return []
        keys, arguments = self._script_input(counters)
        return [int(count) for count in self._increment_within(keys=keys, args=arguments)]

    def increment_within_briefly(self, counters: Sequence[Counter]) -> list[int]:
        if not counters:
            return []
        # After a failure the loop's counting fails at once for a moment,
        # so a Redis that is down costs the loop one timeout per
        # LOOP_BACKOFF, not one per request.
        if time.monotonic() < self._loop_failed_until:
            from redis.exceptions import ConnectionError as RedisConnectionError

            raise RedisConnectionError("the cache failed a moment ago")
        keys, arguments = self._script_input(counters)
        try:
            counts = self._loop_increment_within(keys=keys, args=arguments)
        except Exception:
            self._loop_failed_until = time.monotonic() + LOOP_BACKOFF
            raise
        return [int(count) for count in counts]

    def _script_input(self, counters: Sequence[Counter]) -> tuple[list[str], list[int]]:
        same_slot(counters)
        keys = [self._k(counter.key) for counter in counters]
        arguments = []
        for counter in counters:
            arguments += [max(int(counter.ttl_seconds * 1000), 1), int(counter.limit)]
        return keys, arguments

    def ttl(self, key: str) -> float | None:
        millis = cast("int | None", self._redis.pttl(self._k(key)))  # synchronous client: the reply itself
        return None if millis is None or millis < 0 else millis / 1000

    def publish(self, topic: str, message: str) -> None:
        self._redis.publish(self._prefix + self.CHANNEL, f"{topic}\n{message}")

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        with self._lock:
            self._listeners.append(listener)
            if self._thread is None:
                self._listening = threading.Event()
                self._thread = threading.Thread(target=self._listen, args=(self._listening,), daemon=True,
                                                name="certhub-cache-listener")
                self._thread.start()

        def unsubscribe() -> None:
            with self._lock:
                if listener in self._listeners:
                    self._listeners.remove(listener)

        return unsubscribe

    def _listen(self, stop: threading.Event) -> None:
        """Hear the channel until closed. A Redis that goes away (restarted,
        failed over) does not end the listening: the subscription is made
        anew, with a backoff, and the outage is logged once, not per try.
        (redis-py's run_in_thread ends its thread at the first error, and
        every withdrawn-credential notice after it went unheard.)"""
        from redis.exceptions import RedisError

        pubsub = None
        delay = RESUBSCRIBE_BACKOFF[0]
        down_since: float | None = None
        while not stop.is_set():
            try:
                if pubsub is None:
                    pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
                    pubsub.subscribe(**{self._prefix + self.CHANNEL: self._dispatch})
                pubsub.get_message(ignore_subscribe_messages=True, timeout=LISTEN_POLL)
            except (RedisError, OSError) as error:
                _close_quietly(pubsub)
                pubsub = None
                if down_since is None:
                    down_since = time.monotonic()
                    log.warning("cache: lost the invalidation channel (%s); subscribing again until Redis answers",
                                type(error).__name__)
                stop.wait(delay)
                delay = min(delay * 2, RESUBSCRIBE_BACKOFF[1])
                continue
            if down_since is not None and pubsub.subscribed:
                log.warning("cache: invalidation channel subscribed again after %.1f s; messages published "
                            "meanwhile were not heard", time.monotonic() - down_since)
                down_since, delay = None, RESUBSCRIBE_BACKOFF[0]
        _close_quietly(pubsub)

    def _dispatch(self, message: dict) -> None:
        topic, _, body = str(message["data"]).partition("\n")
        with self._lock:
            listeners = list(self._listeners)
        for listener in listeners:
            listener(topic, body)

    def close(self) -> None:
        with self._lock:
            thread, self._thread = self._thread, None
            if self._listening is not None:
                self._listening.set()
            self._listeners.clear()
        if thread is not None:
            thread.join(timeout=2 * LISTEN_POLL + 1)
        self._redis.close()
        self._loop_redis.close()


def _script(client: redis.Redis | redis.RedisCluster, source: str) -> Any:
    """A Lua script registered with ``client``; run with the keys it
    names, on the node of their slot when ``client`` is a cluster's."""
    # RedisCluster has the same script commands as Redis; redis-py types the method on Redis alone.
    return cast("redis.Redis", client).register_script(source)


def _close_quietly(pubsub) -> None:
    if pubsub is None:
        return
    try:
        pubsub.close()
    except Exception:  # noqa: BLE001 - closing a connection that is already gone
        pass


def create_cache(redis_url: str | None) -> Cache:
    return RedisCache(redis_url) if redis_url else InProcessCache()
