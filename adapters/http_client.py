"""The adapters' one bounded GET (HTTP sources, the federation fetcher):
httpx's transport through the deployment's egress (storage.egress), capped
in size and in time, its errors turned into the adapters' error family.

The GET goes to httpx's transport directly, not through an httpx.Client:
the exchange query makes one per query, on its hot path, and the client's
layer (cookies, auth, redirects, event hooks, merging of URLs and headers)
is work none of these requests needs. No redirect is followed (a transport
follows none; one could carry the subject to another host), nothing is
retried (the HTTP source retries with backoff), TLS is the caller's
SSLContext, and nothing is taken from the environment.

Request URLs carry the subject's code, so they never reach an error message
or a log line: exception texts are not quoted, only their type's name, and
httpx's transport logs no URL.
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

from adapters.errors import (
    AdapterConfigError,
    AdapterError,
    MalformedResponse,
    ProviderTimeout,
    ProviderUnavailable,
    ResponseTooLarge,
)
from storage.egress import (
    ACCEPT_ENCODING,
    DIRECT,
    BodyOutlastedDeadline,
    BodyTooLarge,
    BodyUndecodable,
    Egress,
    EgressTransport,
    read_bounded,
)

# Sent unless the caller names one: some departments' gateways refuse
# requests that carry none, and it tells their logs who is calling.
_USER_AGENT = "certhub-adapter"


@dataclass(frozen=True)
class BoundedResponse:
    status_code: int
    headers: httpx.Headers  # case-insensitive: headers.get("etag") finds "ETag"
    body: bytes


class HttpClient:
    """Keep-alive connections for `bounded_get`, shared by many threads.

    Up to `maxsize` idle connections are kept for reuse. A burst beyond
    them opens extra connections and closes them after use, instead of
    queueing requests that each have a deadline to meet. Requests go
    through `egress`'s proxy unless their host bypasses it.
    """

    def __init__(self, *, ssl_context: ssl.SSLContext | None = None, maxsize: int = 32,
                 egress: Egress = DIRECT) -> None:
        if not 1 <= maxsize <= 1024:
            raise AdapterConfigError("HTTP client: maxsize must be between 1 and 1024")
        if ssl_context is not None and not isinstance(ssl_context, ssl.SSLContext):
            raise AdapterConfigError("HTTP client: ssl_context must be an ssl.SSLContext")
        self._transport = EgressTransport(egress, ssl_context=ssl_context, max_idle=maxsize)

    def close(self) -> None:
        """Close the idle connections; those in use close when their response does."""
        self._transport.close()

    def __enter__(self) -> HttpClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


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
    if not _sendable(url):
        raise ProviderUnavailable("cannot reach the provider (InvalidURL)", binding=binding) from None
    # Exception texts may carry the URL, which carries the subject: only the
    # type's name goes into our messages, and the original is not chained.
    try:
        wait = min(read_timeout, remaining)
        request = httpx.Request("GET", url, headers=_with_defaults(headers), extensions={
            "timeout": {"connect": min(connect_timeout, remaining), "read": wait, "write": wait, "pool": remaining},
        })
        response = client._transport.handle_request(request)
        try:
            body = read_bounded(response, max_bytes=max_bytes, deadline_at=deadline_at)
        finally:
            # A response not read to its end takes its connection with it: the
            # unread rest would otherwise be read as the next answer.
            response.close()
    except httpx.LocalProtocolError as exc:
        # A header value that cannot be sent (say, a secret with a line
        # break): our configuration, not the provider's fault, and the value
        # may be a secret, so it is not quoted.
        raise AdapterConfigError(f"{binding}: the request cannot be sent as configured ({type(exc).__name__})") from None
    except (httpx.HTTPError, httpx.InvalidURL, BodyTooLarge, BodyUndecodable, BodyOutlastedDeadline) as exc:
        raise _translated(exc, binding=binding) from None
    return BoundedResponse(response.status_code, response.headers, body)


def _sendable(url: str) -> bool:
    """An http(s) URL with a host and a port that can be (httpx would only
    find a port out of range when the connection fails)."""
    try:
        split = urlsplit(url)
        split.port  # noqa: B018  # raises on a port out of range
    except ValueError:
        return False
    return split.scheme in ("http", "https") and bool(split.hostname)


def _translated(exc: Exception, *, binding: str) -> AdapterError:
    if isinstance(exc, BodyTooLarge):
        return ResponseTooLarge(str(exc), binding=binding)
    if isinstance(exc, BodyUndecodable):
        return MalformedResponse(str(exc), binding=binding)
    if isinstance(exc, BodyOutlastedDeadline):
        return ProviderTimeout("the provider's response outlasted the deadline", binding=binding)
    if isinstance(exc, httpx.TimeoutException):
        return ProviderTimeout("the provider did not answer in time", binding=binding)
    # Refused, unresolvable, reset, a failed TLS handshake, an answer cut
    # short or garbled, a refusing proxy, a URL that is not one: an outage.
    return ProviderUnavailable(f"cannot reach the provider ({type(exc).__name__})", binding=binding)


def _with_defaults(headers: Mapping[str, str]) -> Mapping[str, str]:
    named = {name.lower() for name in headers}
    defaults = {name: value for name, value in (("Accept-Encoding", ACCEPT_ENCODING), ("User-Agent", _USER_AGENT))
                if name.lower() not in named}
    return {**headers, **defaults} if defaults else headers
