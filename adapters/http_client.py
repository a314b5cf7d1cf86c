"""The adapters' one bounded GET (HTTP sources, the federation fetcher):
urllib3 through the deployment's egress (storage.egress), capped in size
and in time, its errors turned into the adapters' error family.

The exchange query makes one GET per query, on its hot path, so the GET is
lean: the URL is split once, its pool found by (scheme, host, port) in a
dict, and the request goes to the pool's `urlopen` with the body left
unread for the bounded read. No redirect is followed (one could carry the
subject to another host), nothing is retried (the HTTP source retries with
backoff), TLS is the caller's SSLContext, and nothing is taken from the
environment.

Request URLs carry the subject's code, so they never reach an error message
or a log line: errors name only the kind of failure (storage.egress), and
urllib3's request-line log records are dropped there.
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass

import urllib3

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
    EgressClient,
    EgressError,
    EgressRequestInvalid,
    EgressTimeout,
    finish,
    read_bounded,
    split_url,
)

# Sent unless the caller names one: some departments' gateways refuse
# requests that carry none, and it tells their logs who is calling.
_USER_AGENT = "certhub-adapter"


@dataclass(frozen=True)
class BoundedResponse:
    status_code: int
    headers: urllib3.HTTPHeaderDict  # case-insensitive: headers.get("etag") finds "ETag"
    body: bytes


class HttpClient:
    """Keep-alive connections for `bounded_get`, shared by many threads.

    Up to `maxsize` idle connections per host are kept for reuse. A burst
    beyond them opens extra connections and closes them after use, instead
    of queueing requests that each have a deadline to meet. Requests go
    through `egress`'s proxy unless their host bypasses it.
    """

    def __init__(self, *, ssl_context: ssl.SSLContext | None = None, maxsize: int = 32,
                 egress: Egress = DIRECT) -> None:
        if not 1 <= maxsize <= 1024:
            raise AdapterConfigError("HTTP client: maxsize must be between 1 and 1024")
        if ssl_context is not None and not isinstance(ssl_context, ssl.SSLContext):
            raise AdapterConfigError("HTTP client: ssl_context must be an ssl.SSLContext")
        self._egress = EgressClient(egress, ssl_context=ssl_context, max_idle=maxsize)

    def close(self) -> None:
        """Close the idle connections; those in use close when their response does."""
        self._egress.close()

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
    # Errors name only the kind of failure (storage.egress): the URL carries
    # the subject, and no original exception is chained.
    try:
        scheme, host, port, target = split_url(url)
        timeout = urllib3.Timeout(connect=min(connect_timeout, remaining), read=min(read_timeout, remaining))
        response = client._egress.open("GET", scheme, host, port, target, headers=_with_defaults(headers),
                                       timeout=timeout)
        try:
            body = read_bounded(response, max_bytes=max_bytes, deadline_at=deadline_at)
        finally:
            # A response not read to its end takes its connection with it: the
            # unread rest would otherwise be read as the next answer.
            finish(response)
    except EgressRequestInvalid as exc:
        # A header value that cannot be sent (say, a secret with a line
        # break): our configuration, not the provider's fault, and the value
        # may be a secret, so it is not quoted.
        raise AdapterConfigError(f"{binding}: the request cannot be sent as configured ({exc})") from None
    except (EgressError, BodyTooLarge, BodyUndecodable, BodyOutlastedDeadline) as exc:
        raise _translated(exc, binding=binding) from None
    return BoundedResponse(response.status, response.headers, body)


def _translated(exc: Exception, *, binding: str) -> AdapterError:
    if isinstance(exc, BodyTooLarge):
        return ResponseTooLarge(str(exc), binding=binding)
    if isinstance(exc, BodyUndecodable):
        return MalformedResponse(str(exc), binding=binding)
    if isinstance(exc, BodyOutlastedDeadline):
        return ProviderTimeout("the provider's response outlasted the deadline", binding=binding)
    if isinstance(exc, EgressTimeout):
        return ProviderTimeout("the provider did not answer in time", binding=binding)
    # Refused, unresolvable, reset, a failed TLS handshake, an answer cut
    # short or garbled, a refusing proxy, a URL that is not one: an outage.
    return ProviderUnavailable(f"cannot reach the provider ({exc})", binding=binding)


def _with_defaults(headers: Mapping[str, str]) -> Mapping[str, str]:
    named = {name.lower() for name in headers}
    defaults = {name: value for name, value in (("Accept-Encoding", ACCEPT_ENCODING), ("User-Agent", _USER_AGENT))
                if name.lower() not in named}
    return {**headers, **defaults} if defaults else headers
