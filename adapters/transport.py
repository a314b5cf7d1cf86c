"""One bounded HTTP GET: streamed, size-capped and deadline-capped, with
httpx's exceptions turned into the adapters' error family. Used by the HTTP
source and the federation fetcher."""

from __future__ import annotations

import time
from dataclasses import dataclass

import httpx

from adapters.errors import ProviderTimeout, ProviderUnavailable, ResponseTooLarge


@dataclass(frozen=True)
class BoundedResponse:
    status_code: int
    headers: httpx.Headers
    body: bytes


def bounded_get(
    client: httpx.Client,
    url: str,
    *,
    headers: dict[str, str],
    connect_timeout: float,
    read_timeout: float,
    deadline_at: float,
    max_bytes: int,
    binding: str,
) -> BoundedResponse:
    """GET url, never waiting past `deadline_at` (time.monotonic) by more
    than one read, and never holding more than `max_bytes` of body."""
    remaining = deadline_at - time.monotonic()
    if remaining <= 0:
        raise ProviderTimeout("deadline passed before the request", binding=binding)
    timeout = httpx.Timeout(
        connect=min(connect_timeout, remaining),
        read=min(read_timeout, remaining),
        write=min(read_timeout, remaining),
        pool=min(connect_timeout, remaining),
    )
    try:
        with client.stream("GET", url, headers=headers, timeout=timeout) as response:
            _refuse_declared_size(response, max_bytes=max_bytes, binding=binding)
            body = _read_bounded(response, max_bytes=max_bytes, deadline_at=deadline_at, binding=binding)
            return BoundedResponse(response.status_code, response.headers, body)
    except httpx.TimeoutException:
        raise ProviderTimeout("the provider did not answer in time", binding=binding) from None
    except httpx.TransportError as exc:
        # The exception text may carry the URL, which carries the subject.
        raise ProviderUnavailable(f"cannot reach the provider ({type(exc).__name__})", binding=binding) from None


def _refuse_declared_size(response: httpx.Response, *, max_bytes: int, binding: str) -> None:
    declared = response.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise ResponseTooLarge(f"response declares {declared} bytes, over the {max_bytes}-byte bound", binding=binding)


def _read_bounded(response: httpx.Response, *, max_bytes: int, deadline_at: float, binding: str) -> bytes:
    chunks: list[bytes] = []
    size = 0
    # iter_bytes yields decoded content, so the bound also caps what a
    # compressed response expands to.
    for chunk in response.iter_bytes():
        size += len(chunk)
        if size > max_bytes:
            raise ResponseTooLarge(f"response exceeds the {max_bytes}-byte bound", binding=binding)
        if time.monotonic() > deadline_at:
            raise ProviderTimeout("the provider's response outlasted the deadline", binding=binding)
        chunks.append(chunk)
    return b"".join(chunks)
