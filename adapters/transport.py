"""One bounded HTTP GET: streamed, size-capped and deadline-capped, with
urllib3's exceptions turned into the adapters' error family. Used by the HTTP
source and the federation fetcher.

Why urllib3 rather than httpx (which webhook delivery still uses): the
exchange query makes one of these GETs per query, on its hot path. On the
hub's machine a keep-alive GET costs about 375-450 µs of CPU through
httpx.Client and 230-270 µs through a urllib3 PoolManager with a streamed
read. What httpx gave us through its settings is pinned here instead: no
redirects are followed, urllib3 does no retries of its own (the HTTP source
retries with backoff), TLS is the caller's SSLContext, and nothing is taken
from the environment (urllib3 reads no proxy variables and no .netrc).

Request URLs carry the subject's code, so they never reach an error message
or, through urllib3's own log records, a log line.
"""

from __future__ import annotations

import http.client
import logging
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass

import urllib3
from urllib3 import HTTPHeaderDict
from urllib3.exceptions import DecodeError, HTTPError, NewConnectionError
from urllib3.exceptions import TimeoutError as Urllib3Timeout

from adapters.errors import (
    AdapterConfigError,
    AdapterError,
    MalformedResponse,
    ProviderTimeout,
    ProviderUnavailable,
    ResponseTooLarge,
)

# Decoded bytes asked for per read. urllib3 (2.7 and later, hence the floor in
# pyproject.toml) decompresses no more than this per call, so the size check
# below runs before a compression bomb grows.
_READ_CHUNK = 64 * 1024

# What httpx advertised; whatever a provider actually sends, the size cap
# applies to the decoded content.
_ACCEPT_ENCODING = "gzip, deflate"


@dataclass(frozen=True)
class BoundedResponse:
    status_code: int
    headers: HTTPHeaderDict  # case-insensitive: headers.get("etag") finds "ETag"
    body: bytes


class HttpClient:
    """Keep-alive connections for `bounded_get`, shared by many threads.

    urllib3's PoolManager is thread-safe. Each host keeps up to `maxsize`
    idle connections for reuse; with block=False a burst beyond that opens
    extra connections and closes them after use, instead of queueing
    requests that each have a deadline to meet.
    """

    def __init__(self, *, ssl_context: ssl.SSLContext | None = None, maxsize: int = 32, num_pools: int = 10) -> None:
        if not (1 <= maxsize <= 1024 and 1 <= num_pools <= 1024):
            raise AdapterConfigError("HTTP client: maxsize and num_pools must be between 1 and 1024")
        if ssl_context is not None and not isinstance(ssl_context, ssl.SSLContext):
            raise AdapterConfigError("HTTP client: ssl_context must be an ssl.SSLContext")
        self._pool = urllib3.PoolManager(
            num_pools=num_pools,
            maxsize=maxsize,
            block=False,
            retries=False,
            # The default verifies certificates and host names against the system CAs.
            ssl_context=ssl_context if ssl_context is not None else ssl.create_default_context(),
        )

    def close(self) -> None:
        """Close the idle connections; those in use close when they are returned."""
        # PoolManager.clear() alone only forgets its pools (urllib3 2.x leaves
        # closing them to the garbage collector), so their keep-alive sockets
        # could outlive close(): each pool is closed here first.
        pools = self._pool.pools
        for key in pools.keys():
            pool = pools.get(key)
            if pool is not None:
                pool.close()
        self._pool.clear()

    def __enter__(self) -> HttpClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _open(self, url: str, *, headers: Mapping[str, str], timeout: urllib3.Timeout) -> urllib3.BaseHTTPResponse:
        """The response with its body still unread: read it to the end or close it."""
        return self._pool.urlopen(
            "GET",
            url,
            headers=_with_accept_encoding(headers),
            timeout=timeout,
            # Passed per request too, so no default of the pool can turn them on.
            redirect=False,
            retries=False,
            preload_content=False,
            decode_content=True,
        )


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
    timeout = urllib3.Timeout(connect=min(connect_timeout, remaining), read=min(read_timeout, remaining))
    # Exception texts may carry the URL, which carries the subject: only the
    # type's name goes into our messages, and the original is not chained.
    try:
        response = client._open(url, headers=headers, timeout=timeout)
    except _TRANSPORT_ERRORS as exc:
        raise _translated(exc, binding=binding) from None
    except ValueError as exc:
        # http.client refuses, before connecting, a header value it cannot
        # send (say, a secret with a line break): our configuration, not the
        # provider's fault, and the value may be a secret, so it is not quoted.
        raise AdapterConfigError(f"{binding}: the request cannot be sent as configured ({type(exc).__name__})") from None
    complete = False
    try:
        _refuse_declared_size(response, max_bytes=max_bytes, binding=binding)
        body = _read_bounded(response, max_bytes=max_bytes, deadline_at=deadline_at, binding=binding)
        complete = True
    except _TRANSPORT_ERRORS as exc:
        raise _translated(exc, binding=binding) from None
    finally:
        if not complete:
            # Unread bytes may be left on the connection: it cannot be reused.
            response.close()
        response.release_conn()
    return BoundedResponse(response.status, response.headers, body)


# urllib3's own family (its URL errors included), and what the standard
# library may raise beneath it.
_TRANSPORT_ERRORS = (HTTPError, http.client.HTTPException, OSError)


def _translated(exc: Exception, *, binding: str) -> AdapterError:
    name = type(exc).__name__
    # urllib3 files a refused or unresolvable connection under
    # ConnectTimeoutError; it is an outage, not a slow provider.
    if isinstance(exc, NewConnectionError):
        return ProviderUnavailable(f"cannot reach the provider ({name})", binding=binding)
    if isinstance(exc, Urllib3Timeout | TimeoutError):
        return ProviderTimeout("the provider did not answer in time", binding=binding)
    if isinstance(exc, DecodeError):
        return MalformedResponse(f"the response's content encoding cannot be decoded ({name})", binding=binding)
    return ProviderUnavailable(f"cannot reach the provider ({name})", binding=binding)


def _with_accept_encoding(headers: Mapping[str, str]) -> Mapping[str, str]:
    if any(name.lower() == "accept-encoding" for name in headers):
        return headers
    return {**headers, "Accept-Encoding": _ACCEPT_ENCODING}


def _refuse_declared_size(response: urllib3.BaseHTTPResponse, *, max_bytes: int, binding: str) -> None:
    declared = response.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise ResponseTooLarge(f"response declares {declared} bytes, over the {max_bytes}-byte bound", binding=binding)


def _read_bounded(response: urllib3.BaseHTTPResponse, *, max_bytes: int, deadline_at: float, binding: str) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        # read1 makes at most one socket read per call (read() would block
        # until it had a full chunk), so a provider dripping bytes is checked
        # against the deadline between reads. It returns decoded content.
        chunk = response.read1(_READ_CHUNK)
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > max_bytes:
            raise ResponseTooLarge(f"response exceeds the {max_bytes}-byte bound", binding=binding)
        if time.monotonic() > deadline_at:
            raise ProviderTimeout("the provider's response outlasted the deadline", binding=binding)
        chunks.append(chunk)


class _WithoutRequestDetails(logging.Filter):
    """urllib3 puts request URLs into some of its log records (each request
    at DEBUG; a WARNING, with the URL, when a provider's headers do not
    parse). Ours carry the subject's code, so the records keep their fixed
    text and lose their arguments and tracebacks."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.args:
            record.msg, record.args = f"{record.msg} [details withheld]", ()
        record.exc_info, record.exc_text = None, None
        return True


for _logger_name in ("urllib3.connectionpool", "urllib3.poolmanager", "urllib3.util.retry", "urllib3.response"):
    logging.getLogger(_logger_name).addFilter(_WithoutRequestDetails())
