"""One bounded HTTP GET: streamed, size-capped and deadline-capped, with
the standard library's errors turned into the adapters' error family. Used by
the HTTP source and the federation fetcher.

Why the standard library's http.client, with a small keep-alive pool of our
own, rather than urllib3 or httpx (which webhook delivery still uses): the
exchange query makes one of these GETs per query, on its hot path. Measured
in the hub (instructions per query, the whole request):
4.81M with urllib3's PoolManager against 4.29M with http.client, 11% of the
hub's work; httpx cost more than urllib3. What those libraries gave us
through their settings holds here by construction: no redirect is followed
(http.client follows none), nothing is retried (the HTTP source retries with
backoff), TLS is the caller's SSLContext, and nothing is taken from the
environment (no proxy variables, no .netrc).

Content coding is undone here with zlib, a bounded number of bytes at a
time, so the size cap applies to the decoded content before a compression
bomb grows (# SPEC: RFC 9110 §8.4.1 gzip and deflate; deflate is the zlib
format, raw deflate accepted as well, as clients commonly do).

Request URLs carry the subject's code, so they never reach an error message
or a log line; http.client logs nothing of its own.
"""

from __future__ import annotations

import http.client
import select
import socket
import ssl
import threading
import time
import zlib
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from email.message import Message
from urllib.parse import urlsplit

from adapters.errors import (
    AdapterConfigError,
    AdapterError,
    MalformedResponse,
    ProviderTimeout,
    ProviderUnavailable,
    ResponseTooLarge,
)

# Bytes asked of the socket, and decoded bytes produced, per step: the size
# and deadline checks run between steps.
_READ_CHUNK = 64 * 1024

_ACCEPT_ENCODING = "gzip, deflate"
# Sent unless the caller names one: some departments' gateways refuse
# requests that carry none, and it tells their logs who is calling.
_USER_AGENT = "certhub-adapter"

_PoolKey = tuple[str, str, int]


@dataclass(frozen=True)
class BoundedResponse:
    status_code: int
    headers: Message  # case-insensitive: headers.get("etag") finds "ETag"
    body: bytes


class HttpClient:
    """Keep-alive connections for `bounded_get`, shared by many threads.

    Each host keeps up to `maxsize` idle connections for reuse, and up to
    `num_pools` hosts are remembered (the least recently used is forgotten,
    its connections closed). A burst beyond `maxsize` opens extra
    connections and closes them after use, instead of queueing requests
    that each have a deadline to meet. A connection is only ever used by one
    request at a time: it is taken out of the pool for the request.
    """

    def __init__(self, *, ssl_context: ssl.SSLContext | None = None, maxsize: int = 32, num_pools: int = 10) -> None:
        if not (1 <= maxsize <= 1024 and 1 <= num_pools <= 1024):
            raise AdapterConfigError("HTTP client: maxsize and num_pools must be between 1 and 1024")
        if ssl_context is not None and not isinstance(ssl_context, ssl.SSLContext):
            raise AdapterConfigError("HTTP client: ssl_context must be an ssl.SSLContext")
        # The default verifies certificates and host names against the system CAs.
        self._ssl_context = ssl_context if ssl_context is not None else ssl.create_default_context()
        self._maxsize = maxsize
        self._num_pools = num_pools
        self._idle: OrderedDict[_PoolKey, list[http.client.HTTPConnection]] = OrderedDict()
        self._lock = threading.Lock()
        self._closed = False

    def close(self) -> None:
        """Close the idle connections; those in use close when they are given back."""
        with self._lock:
            self._closed = True
            idle = [connection for connections in self._idle.values() for connection in connections]
            self._idle.clear()
        for connection in idle:
            connection.close()

    def __enter__(self) -> HttpClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _take(self, key: _PoolKey) -> http.client.HTTPConnection | None:
        """An idle connection to the host that the peer has not closed, if any."""
        while True:
            with self._lock:
                idle = self._idle.get(key)
                if not idle:
                    return None
                connection = idle.pop()
            if not _dropped(connection):
                return connection
            connection.close()

    def _give_back(self, key: _PoolKey, connection: http.client.HTTPConnection) -> None:
        evicted: list[http.client.HTTPConnection] = []
        with self._lock:
            idle = None if self._closed else self._idle.setdefault(key, [])
            if idle is not None and len(idle) < self._maxsize:
                idle.append(connection)
                self._idle.move_to_end(key)
                while len(self._idle) > self._num_pools:
                    evicted.extend(self._idle.popitem(last=False)[1])
            else:
                evicted.append(connection)
        for stale in evicted:
            stale.close()

    def _new(self, scheme: str, host: str, port: int, connect_timeout: float) -> http.client.HTTPConnection:
        if scheme == "https":
            return http.client.HTTPSConnection(host, port, timeout=connect_timeout, context=self._ssl_context)
        return http.client.HTTPConnection(host, port, timeout=connect_timeout)


def _dropped(connection: http.client.HTTPConnection) -> bool:
    """Whether an idle keep-alive connection was closed by the peer meanwhile
    (readable while idle: end of file, or bytes nobody asked for)."""
    sock = connection.sock
    if sock is None:
        return True
    try:
        if hasattr(select, "poll"):  # any descriptor number, unlike select()
            poller = select.poll()
            poller.register(sock, select.POLLIN)
            return bool(poller.poll(0))
        return bool(select.select([sock], [], [], 0)[0])
    except (OSError, ValueError):
        return True


def bounded_get(
    client: HttpClient,
    url: str,
    *,
    headers: Mapping[str, str],
    connect_timeout: float,
    read_timeout: float,
    deadline_at: float,
    max_bytes: int,
    binding: str,
) -> BoundedResponse:
    """GET url, never waiting past `deadline_at` (time.monotonic) by more
    than one read, and never holding more than `max_bytes` of decoded body."""
    remaining = deadline_at - time.monotonic()
    if remaining <= 0:
        raise ProviderTimeout("deadline passed before the request", binding=binding)
    scheme, host, port, target = _parts(url, binding=binding)
    key = (scheme, host, port)
    # Exception texts may carry the URL, which carries the subject: only the
    # type's name goes into our messages, and the original is not chained.
    connection = client._take(key)
    try:
        if connection is None:
            connection = client._new(scheme, host, port, min(connect_timeout, remaining))
            connection.connect()
            # The request goes in one write, but a TLS session's records may
            # not: no waiting for the peer's acknowledgement between them.
            connection.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        connection.sock.settimeout(min(read_timeout, max(deadline_at - time.monotonic(), 0.001)))
        connection.request("GET", target, headers=_with_defaults(headers))
        response = connection.getresponse()
    except _TRANSPORT_ERRORS as exc:
        if connection is not None:
            connection.close()
        raise _translated(exc, binding=binding) from None
    except ValueError as exc:
        # http.client refuses, before sending, a header value it cannot send
        # (say, a secret with a line break): our configuration, not the
        # provider's fault, and the value may be a secret, so it is not quoted.
        connection.close()
        raise AdapterConfigError(f"{binding}: the request cannot be sent as configured ({type(exc).__name__})") from None
    reusable = False
    try:
        _refuse_declared_size(response, max_bytes=max_bytes, binding=binding)
        body = _read_bounded(response, max_bytes=max_bytes, deadline_at=deadline_at, binding=binding)
        reusable = not response.will_close and response.isclosed()
    except _TRANSPORT_ERRORS as exc:
        raise _translated(exc, binding=binding) from None
    finally:
        if reusable:
            client._give_back(key, connection)
        else:
            # Unread bytes may be left on the connection: it cannot be reused.
            # The response is closed too: when the provider announced the
            # close, http.client handed the socket over to it.
            response.close()
            connection.close()
    return BoundedResponse(response.status, response.headers, body)


# What the standard library may raise on the way (socket errors are OSError).
_TRANSPORT_ERRORS = (http.client.HTTPException, OSError)


def _parts(url: str, *, binding: str) -> tuple[str, str, int, str]:
    try:
        split = urlsplit(url)
        port = split.port
    except ValueError:
        raise ProviderUnavailable("cannot reach the provider (InvalidURL)", binding=binding) from None
    if split.scheme not in ("http", "https") or not split.hostname:
        raise ProviderUnavailable("cannot reach the provider (InvalidURL)", binding=binding)
    target = split.path or "/"
    if split.query:
        target += "?" + split.query
    return split.scheme, split.hostname, port or (443 if split.scheme == "https" else 80), target


def _translated(exc: Exception, *, binding: str) -> AdapterError:
    if isinstance(exc, TimeoutError):  # socket.timeout is TimeoutError
        return ProviderTimeout("the provider did not answer in time", binding=binding)
    # Refused, unresolvable, reset, a failed TLS handshake, a garbled answer: an outage.
    return ProviderUnavailable(f"cannot reach the provider ({type(exc).__name__})", binding=binding)


def _with_defaults(headers: Mapping[str, str]) -> Mapping[str, str]:
    named = {name.lower() for name in headers}
    defaults = {name: value for name, value in (("Accept-Encoding", _ACCEPT_ENCODING), ("User-Agent", _USER_AGENT))
                if name.lower() not in named}
    return {**headers, **defaults} if defaults else headers


def _refuse_declared_size(response: http.client.HTTPResponse, *, max_bytes: int, binding: str) -> None:
    declared = response.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise ResponseTooLarge(f"response declares {declared} bytes, over the {max_bytes}-byte bound", binding=binding)


class _Decoder:
    """Undoes one content coding, never producing more than asked per step."""

    def __init__(self, coding: str, *, binding: str) -> None:
        self._binding = binding
        self._raw_fallback = coding == "deflate"
        if coding in ("gzip", "x-gzip"):
            self._inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif coding == "deflate":
            self._inflater = zlib.decompressobj(zlib.MAX_WBITS)
        else:
            raise MalformedResponse(f"the response's content coding {coding[:20]!r} is not supported", binding=binding)

    def feed(self, data: bytes, *, room: int) -> list[bytes]:
        """Decoded pieces of ``data``, stopping once more than ``room`` bytes came out."""
        pieces: list[bytes] = []
        produced = 0
        try:
            while data and produced <= room:
                try:
                    piece = self._inflater.decompress(data, min(_READ_CHUNK, room - produced + 1))
                except zlib.error:
                    if not self._raw_fallback:
                        raise
                    # Some servers send raw deflate under "deflate".
                    self._raw_fallback = False
                    self._inflater = zlib.decompressobj(-zlib.MAX_WBITS)
                    continue
                self._raw_fallback = False
                pieces.append(piece)
                produced += len(piece)
                data = self._inflater.unconsumed_tail
        except zlib.error:
            raise MalformedResponse("the response's content encoding cannot be decoded (DecodeError)",
                                    binding=self._binding) from None
        return pieces


def _decoder_for(response: http.client.HTTPResponse, *, binding: str) -> _Decoder | None:
    coding = (response.headers.get("content-encoding") or "").strip().lower()
    return None if coding in ("", "identity") else _Decoder(coding, binding=binding)


def _read_bounded(response: http.client.HTTPResponse, *, max_bytes: int, deadline_at: float, binding: str) -> bytes:
    decoder = _decoder_for(response, binding=binding)
    chunks: list[bytes] = []
    size = 0
    while True:
        # read1 makes at most one socket read per call (read() would block
        # until it had a full chunk), so a provider dripping bytes is checked
        # against the deadline between reads.
        raw = response.read1(_READ_CHUNK)
        if not raw:
            if response.length:
                # The connection closed before the declared length arrived
                # (a cut chunked body raises IncompleteRead by itself).
                raise http.client.IncompleteRead(b"", response.length)
            # http.client's read1 does not mark a Content-Length body as
            # finished once it is all read; read() does (it returns b"" here).
            response.read()
            return b"".join(chunks)
        pieces = [raw] if decoder is None else decoder.feed(raw, room=max_bytes - size)
        for piece in pieces:
            size += len(piece)
        if size > max_bytes:
            raise ResponseTooLarge(f"response exceeds the {max_bytes}-byte bound", binding=binding)
        if time.monotonic() > deadline_at:
            raise ProviderTimeout("the provider's response outlasted the deadline", binding=binding)
        chunks.extend(pieces)
