"""Outbound HTTP, made one way by every package: httpx, routed through the
deployment's egress proxy, with a body read that has a bound.

Why here: the adapters (departments' systems, other registries' trust
lists), identity (the OpenID provider's keys), exchange (push callbacks)
and the command line all call out, and each must go through the same
proxy; storage is the bottom package each of them may import.

The egress proxy (CERTHUB_EGRESS_PROXY, CERTHUB_EGRESS_NO_PROXY) is the only
proxy: the environment's HTTP_PROXY / HTTPS_PROXY / ALL_PROXY / NO_PROXY and
.netrc are deliberately not read (httpx's trust_env is off everywhere). The
proxy sees URLs that carry subjects' codes, so it must be the one the
deployment configured, not whatever a shell or a container image exported.
http:// targets are forwarded by the proxy, https:// ones tunnelled through
it with CONNECT (# SPEC: RFC 9110 §9.3.6), TLS still ending at the target.

What no library does for us, and is done here:
- a body read with a bound: a declared Content-Length over the bound is
  refused before the body is read, and reading stops once the bound is
  passed, so a large answer is never held whole;
- content decoding with a bound: gzip and deflate are undone a bounded
  number of bytes at a time (# SPEC: RFC 9110 §8.4.1; deflate is the zlib
  format, raw deflate accepted as well, as clients commonly do), so the
  bound applies to the decoded content before a compression bomb grows.
  httpx's own decoders inflate a whole network read at once (64 KiB of
  zeros compressed grows to 64 MiB), so its decoded reads are not used.
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
import time
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httpx

# The content codings `read_bounded` undoes, to offer in Accept-Encoding.
ACCEPT_ENCODING = "gzip, deflate"

# Bytes asked of the decoder per step: the size and deadline checks run between steps.
_READ_CHUNK = 64 * 1024

# Requests go in one write, but a TLS session's records may not: no waiting
# for the peer's acknowledgement between them (Nagle's algorithm off).
_SOCKET_OPTIONS = [(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)]

# How long an idle kept-alive connection is kept. A connection the peer
# closed meanwhile is noticed (httpcore checks an idle socket for
# readability before reuse) and replaced.
_KEEPALIVE_SECONDS = 60.0


class EgressConfigError(ValueError):
    """The egress proxy setting cannot be used; the message says why (never the proxy's credentials)."""


@dataclass(frozen=True)
class Egress:
    """Where outbound HTTP goes: straight to the target, or through `proxy`
    unless the target's host is on `no_proxy`.

    `no_proxy` entries follow the NO_PROXY convention curl and Python's
    urllib share: a host name matches itself and its subdomains (a leading
    dot is allowed), an IP address matches itself, a CIDR block (10.0.0.0/8)
    the addresses in it, and "*" every host.
    """

    # The proxy URL may carry credentials: it is kept out of repr.
    proxy: str | None = field(default=None, repr=False)
    no_proxy: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.proxy is not None:
            _check_proxy_url(self.proxy)
        entries = tuple(entry.strip().lower().lstrip(".").strip("[]") for entry in self.no_proxy if entry.strip())
        object.__setattr__(self, "no_proxy", entries)

    @property
    def proxy_origin(self) -> str | None:
        """The proxy's scheme, host and port, for messages (no credentials)."""
        if self.proxy is None:
            return None
        split = urlsplit(self.proxy)
        return f"{split.scheme}://{split.hostname}" + (f":{split.port}" if split.port else "")

    def bypasses(self, host: str) -> bool:
        """Whether a request to `host` goes straight to it rather than through the proxy."""
        if self.proxy is None:
            return True
        host = host.lower().strip("[]").rstrip(".")
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            address = None
        for entry in self.no_proxy:
            if entry == "*" or entry == host:
                return True
            if address is not None and "/" in entry:
                try:
                    if address in ipaddress.ip_network(entry, strict=False):
                        return True
                except ValueError:
                    continue
            elif address is None and host.endswith("." + entry):
                return True
        return False

    def transport(self, *, ssl_context: ssl.SSLContext | None = None, max_idle: int = 20) -> EgressTransport:
        return EgressTransport(self, ssl_context=ssl_context, max_idle=max_idle)

    def client(self, *, timeout: float | httpx.Timeout, ssl_context: ssl.SSLContext | None = None) -> httpx.Client:
        """An httpx client that follows no redirect, takes nothing from the
        environment, and offers only the codings `read_bounded` undoes."""
        return httpx.Client(transport=self.transport(ssl_context=ssl_context), timeout=timeout,
                            follow_redirects=False, trust_env=False, headers={"Accept-Encoding": ACCEPT_ENCODING})


DIRECT = Egress()


def _check_proxy_url(url: str) -> None:
    try:
        split = urlsplit(url)
        split.port  # noqa: B018  # raises on a port that is not a number
    except ValueError:
        raise EgressConfigError("egress proxy: not a URL") from None
    if split.scheme not in ("http", "https") or not split.hostname:
        raise EgressConfigError("egress proxy: an http:// or https:// URL with a host, e.g. http://proxy.example:3128")
    if split.path not in ("", "/") or split.query or split.fragment:
        raise EgressConfigError("egress proxy: scheme, host and port only (and credentials, if the proxy needs them)")


class EgressTransport(httpx.BaseTransport):
    """httpx's own transport, one kept-alive pool through the proxy and one
    straight, the request's host choosing (`Egress.bypasses`). No retries
    (callers decide), no redirects (a transport follows none), TLS verified
    with `ssl_context` (default: the system's CAs) at the target, also
    through the proxy. A burst opens as many connections as it needs; up to
    `max_idle` stay open for reuse."""

    def __init__(self, egress: Egress = DIRECT, *, ssl_context: ssl.SSLContext | None = None,
                 max_idle: int = 20) -> None:
        self.egress = egress
        verify = ssl_context if ssl_context is not None else ssl.create_default_context()

        def pool(proxy: str | None) -> httpx.HTTPTransport:
            return httpx.HTTPTransport(
                verify=verify, trust_env=False, retries=0, proxy=proxy, socket_options=_SOCKET_OPTIONS,
                limits=httpx.Limits(max_connections=None, max_keepalive_connections=max_idle,
                                    keepalive_expiry=_KEEPALIVE_SECONDS),
            )

        self._direct = pool(None)
        self._proxied = pool(egress.proxy) if egress.proxy is not None else None

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if self._proxied is None or self.egress.bypasses(_host_named(request)):
            return self._direct.handle_request(request)
        return self._proxied.handle_request(request)

    def close(self) -> None:
        self._direct.close()
        if self._proxied is not None:
            self._proxied.close()


def _host_named(request: httpx.Request) -> str:
    """The host the request was made for. A guard may have pointed the URL at
    an address it checked (exchange.subscriptions.callbacks); the Host header
    still names the host, and the no-proxy list is written in names."""
    named = urlsplit("//" + request.headers.get("host", "")).hostname
    return named or request.url.host


# Errors of the bounded read, beside httpx's own (httpx.TimeoutException,
# httpx.TransportError) which a read may also raise.


class BodyRefused(Exception):
    """The response body was not read whole: the message says why, never the URL."""


class BodyTooLarge(BodyRefused):
    pass


class BodyUndecodable(BodyRefused):
    pass


class BodyOutlastedDeadline(BodyRefused):
    pass


def read_bounded(response: httpx.Response, *, max_bytes: int, deadline_at: float | None = None) -> bytes:
    """The response's decoded body, refused (BodyTooLarge) as soon as it is
    known to exceed `max_bytes`, and (BodyOutlastedDeadline) once reading
    goes on past `deadline_at` (time.monotonic). Each network read still
    waits at most the read timeout, so the deadline is overrun by at most one
    read. The caller closes the response (a `with` block)."""
    declared = response.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise BodyTooLarge(f"response declares {declared} bytes, over the {max_bytes}-byte bound")
    decoder = _decoder_for(response.headers.get("content-encoding"))
    return _gather(response.iter_raw(), decoder, max_bytes=max_bytes, deadline_at=deadline_at)


def _gather(raw_chunks: Iterable[bytes], decoder: _Decoder | None, *, max_bytes: int,
            deadline_at: float | None) -> bytes:
    chunks: list[bytes] = []
    size = 0
    for raw in raw_chunks:
        pieces = [raw] if decoder is None else decoder.feed(raw, room=max_bytes - size)
        for piece in pieces:
            size += len(piece)
        if size > max_bytes:
            raise BodyTooLarge(f"response exceeds the {max_bytes}-byte bound")
        if deadline_at is not None and time.monotonic() > deadline_at:
            raise BodyOutlastedDeadline("the response outlasted the deadline")
        chunks.extend(pieces)
    return b"".join(chunks)


class _Decoder:
    """Undoes one content coding, never producing more than asked per step."""

    def __init__(self, coding: str) -> None:
        self._raw_fallback = coding == "deflate"
        if coding in ("gzip", "x-gzip"):
            self._inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif coding == "deflate":
            self._inflater = zlib.decompressobj(zlib.MAX_WBITS)
        else:
            raise BodyUndecodable(f"the response's content coding {coding[:20]!r} is not supported")

    def feed(self, data: bytes, *, room: int) -> list[bytes]:
        """Decoded pieces of ``data``, stopping once more than ``room`` bytes came out."""
        return list(self._pieces(data, room=room))

    def _pieces(self, data: bytes, *, room: int) -> Iterator[bytes]:
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
                produced += len(piece)
                yield piece
                data = self._inflater.unconsumed_tail
        except zlib.error:
            raise BodyUndecodable("the response's content encoding cannot be decoded (DecodeError)") from None


def _decoder_for(content_encoding: str | None) -> _Decoder | None:
    coding = (content_encoding or "").strip().lower()
    return None if coding in ("", "identity") else _Decoder(coding)
