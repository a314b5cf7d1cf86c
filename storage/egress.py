"""Outbound HTTP, made one way by every package: urllib3, routed through the
deployment's egress proxy, with a body read that has a bound.

Why here: the adapters (departments' systems, other registries' trust
lists), identity (the OpenID provider's keys), exchange (push callbacks)
and the command line all call out, and each must go through the same
proxy; storage is the bottom package each of them may import.

Why urllib3: one well-kept client for every outbound call, and the cheapest
per call of those measured on the exchange query's hot path (one GET per
query): a urllib3 connection pool's `urlopen` costs about half the CPU of
httpx's transport stack (httpcore, h11) for the same GET.

The egress proxy (CERTHUB_EGRESS_PROXY, CERTHUB_EGRESS_NO_PROXY) is the only
proxy: the environment's HTTP_PROXY / HTTPS_PROXY / ALL_PROXY / NO_PROXY and
.netrc are not read (urllib3 reads none of them). The proxy sees URLs that
carry subjects' codes, so it must be the one the deployment configured, not
whatever a shell or a container image exported. http:// targets are
forwarded by the proxy, https:// ones tunnelled through it with CONNECT
(# SPEC: RFC 9110 §9.3.6), TLS still ending at the target.

`EgressClient` is the one way out: no retries (callers decide), no
redirects (one could carry a subject's code, or a bearer token, to another
host), TLS verified with the given SSLContext (default: the system's CAs),
Nagle's algorithm off on every connection (urllib3 turns it back on for
proxied ones unless told), and kept-alive pools (`max_idle` idle
connections per host; a burst opens more instead of queueing, and closes
them after use). A kept-alive connection the peer closed while it idled is
noticed before reuse (urllib3 checks it) and replaced.

What no library does for us, and is done here:
- a body read with a bound: a declared Content-Length over the bound is
  refused before the body is read, and reading stops once the bound is
  passed, so a large answer is never held whole;
- content decoding with a bound: gzip and deflate are undone a bounded
  number of bytes at a time (# SPEC: RFC 9110 §8.4.1; deflate is the zlib
  format, raw deflate accepted as well, as clients commonly do), so the
  bound applies to the decoded content before a compression bomb grows;
- errors that never carry the URL (it carries subjects' codes): an
  `EgressError`'s message is a short reason name (ConnectError,
  RemoteProtocolError, ConnectTimeout, ...), never the library's text, and
  urllib3's own log records (which name request lines) are kept out of the
  logs below ERROR and stripped of their arguments above.
"""

from __future__ import annotations

import http.client
import ipaddress
import logging
import ssl
import time
import zlib
from collections.abc import Iterable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from typing import Protocol
from urllib.parse import unquote, urlsplit

import urllib3
from urllib3.connection import HTTPConnection
from urllib3.connectionpool import HTTPConnectionPool
from urllib3.exceptions import (
    LocationValueError,
    NewConnectionError,
    ProxyError,
    ReadTimeoutError,
    SSLError,
)
from urllib3.exceptions import TimeoutError as Urllib3Timeout
from urllib3.util import make_headers

# The content codings `read_bounded` undoes, to offer in Accept-Encoding.
ACCEPT_ENCODING = "gzip, deflate"

# Bytes asked of the network, and of the decoder, per step: the size and
# deadline checks run between steps.
_READ_CHUNK = 64 * 1024

# Requests go in one write, but a TLS session's records may not: no waiting
# for the peer's acknowledgement between them (Nagle's algorithm off). This
# is urllib3's default, except on proxied connections, so it is given.
_SOCKET_OPTIONS = HTTPConnection.default_socket_options

# Hosts whose pools are kept (urllib3 closes the least recently used beyond).
_MAX_HOSTS = 256

_DEFAULT_PORTS = {"http": 80, "https": 443}

# (connect, read) seconds.
Timeouts = tuple[float, float]


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

    def client(self, *, timeout: Timeouts = (5.0, 5.0), ssl_context: ssl.SSLContext | None = None,
               max_idle: int = 20) -> EgressClient:
        return EgressClient(self, timeout=timeout, ssl_context=ssl_context, max_idle=max_idle)


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


# Errors of a call out. The message is a short reason name, never the URL
# nor the library's text (which may quote either).


class EgressError(Exception):
    """An outbound request failed; str() is the reason's name."""

    @property
    def reason(self) -> str:
        """The kind of failure, to name in messages and records (never the URL)."""
        return str(self)


class EgressTimeout(EgressError):
    """No connection, or no more of the answer, within the timeout."""


class EgressUnreachable(EgressError):
    """Refused, unresolvable, a failed TLS handshake, a refusing proxy, an
    answer cut short or garbled, a URL that is not one: an outage."""


class EgressRequestInvalid(EgressError):
    """The request cannot be sent as given (say, a header value with a line
    break): the caller's configuration, not the peer's fault."""


class BodyRefused(Exception):
    """The response body was not read whole: the message says why, never the URL."""


class BodyTooLarge(BodyRefused):
    pass


class BodyUndecodable(BodyRefused):
    pass


class BodyOutlastedDeadline(BodyRefused):
    pass


def egress_error(error: Exception) -> EgressError:
    """Ours for urllib3's (and http.client's) errors, naming only the kind."""
    if isinstance(error, EgressError):
        return error
    if isinstance(error, ProxyError):
        return EgressUnreachable("ConnectError")  # the proxy refused, or could not be reached
    if isinstance(error, NewConnectionError):  # before ConnectTimeoutError, which it subclasses
        return EgressUnreachable("ConnectError")
    if isinstance(error, ReadTimeoutError):
        return EgressTimeout("ReadTimeout")
    if isinstance(error, (Urllib3Timeout, TimeoutError)):
        return EgressTimeout("ConnectTimeout")
    if isinstance(error, (SSLError, ssl.SSLError)):
        return EgressUnreachable("ConnectError")
    if isinstance(error, LocationValueError):
        return EgressUnreachable("InvalidURL")
    if isinstance(error, ValueError):
        # http.client refuses a header name or value it cannot send (it would
        # split the request); its message quotes the value, maybe a secret.
        return EgressRequestInvalid("LocalProtocolError")
    # urllib3.ProtocolError (cut short, reset, garbled), http.client's, OSError.
    return EgressUnreachable("RemoteProtocolError")


# What sending a request may raise: urllib3's errors (with retries off it
# raises the underlying one), http.client's, the socket's, and ValueError
# for a header http.client refuses to send.
_SEND_ERRORS = (urllib3.exceptions.HTTPError, http.client.HTTPException, OSError, ValueError)


class EgressResponse:
    """A response whose body is read with `read_bounded`; `headers` is
    case-insensitive (urllib3's HTTPHeaderDict)."""

    __slots__ = ("_raw", "headers", "status")

    def __init__(self, raw: urllib3.BaseHTTPResponse) -> None:
        self._raw = raw
        self.status = raw.status
        self.headers = raw.headers

    def read_bounded(self, *, max_bytes: int, deadline_at: float | None = None) -> bytes:
        return read_bounded(self._raw, max_bytes=max_bytes, deadline_at=deadline_at)


@dataclass(frozen=True, slots=True)
class Route:
    """The pool a request goes through, and whether it is a forwarding proxy's
    (which is then sent the absolute URL, not the path)."""

    pool: HTTPConnectionPool
    absolute_form: bool


class Requester(Protocol):
    """What sends a request and yields its response: an EgressClient, or a
    guard in front of one (exchange.subscriptions.callbacks)."""

    def request(self, method: str, url: str, *, headers: Mapping[str, str] | None = None,
                body: bytes | None = None) -> AbstractContextManager[EgressResponse]: ...


class EgressClient:
    """Kept-alive urllib3 pools, one set straight and one through the proxy,
    the request's host name choosing (`Egress.bypasses`). Safe to share
    between threads; use as a context manager or close(). `timeout`
    (connect, read) is for requests that name none."""

    def __init__(self, egress: Egress = DIRECT, *, timeout: Timeouts = (5.0, 5.0),
                 ssl_context: ssl.SSLContext | None = None, max_idle: int = 20) -> None:
        self.egress = egress
        self.timeout = timeout
        pool_kw = {
            "maxsize": max_idle, "block": False, "retries": False, "socket_options": _SOCKET_OPTIONS,
            "ssl_context": ssl_context if ssl_context is not None else ssl.create_default_context(),
        }
        self._direct = urllib3.PoolManager(num_pools=_MAX_HOSTS, **pool_kw)
        self._proxied = _proxy_manager(egress.proxy, pool_kw) if egress.proxy is not None else None
        self._routes: dict[tuple[str, str, int, str | None], Route] = {}

    def route(self, scheme: str, host: str, port: int, *, connect_to: str | None = None) -> Route:
        """The pool for `host` (a name, as the no-proxy list is written). With
        `connect_to` (an address a guard checked), the connection goes to
        that address, or the proxy is asked for it, while TLS sends and
        verifies `host` (SNI, certificate)."""
        key = (scheme, host, port, connect_to)
        route = self._routes.get(key)
        if route is None or route.pool.pool is None:  # new, or closed by the manager since
            route = self._new_route(scheme, host, port, connect_to=connect_to)
            if len(self._routes) >= _MAX_HOSTS:
                self._routes.clear()
            self._routes[key] = route
        return route

    def manager_for(self, host: str) -> urllib3.PoolManager:
        """The urllib3 PoolManager requests to `host` go through (straight or
        the proxy's), for a library that takes one (signing.transparency)."""
        return self._direct if self._proxied is None or self.egress.bypasses(host) else self._proxied

    def _new_route(self, scheme: str, host: str, port: int, *, connect_to: str | None) -> Route:
        manager = self.manager_for(host)
        # SNI and the certificate check use server_hostname (Python's ssl, the
        # context's check_hostname); assert_hostname would make urllib3 turn
        # check_hostname off on the shared context and match the name itself.
        pool_kwargs = {"server_hostname": host} if connect_to and scheme == "https" else None
        pool = manager.connection_from_host(connect_to or host, port, scheme, pool_kwargs=pool_kwargs)
        return Route(pool, absolute_form=manager is self._proxied and scheme == "http")

    def send(self, route: Route, method: str, target: str, *, headers: Mapping[str, str],
             body: bytes | None = None, timeout: urllib3.Timeout) -> urllib3.BaseHTTPResponse:
        """The response to `method target` (origin-form, or absolute-form for
        a forwarding proxy), its body unread: the caller reads it with
        `read_bounded` and then calls `finish`. Raises EgressError."""
        try:
            return route.pool.urlopen(
                method, target, body=body, headers=headers, timeout=timeout, retries=False, redirect=False,
                assert_same_host=False, preload_content=False, decode_content=False,
            )
        except _SEND_ERRORS as error:
            raise egress_error(error) from None

    def open(self, method: str, scheme: str, host: str, port: int, target: str, *, headers: Mapping[str, str],
             body: bytes | None = None, timeout: urllib3.Timeout, connect_to: str | None = None,
             ) -> urllib3.BaseHTTPResponse:
        """`method` for `target` (path and query) on scheme://host:port, its
        body unread: the caller reads it with `read_bounded` and then calls
        `finish`. Raises EgressError. (The exchange query's hot path calls
        this with a URL it split once; `request` is the convenient form.)"""
        route = self.route(scheme, host, port, connect_to=connect_to)
        if connect_to is not None and connect_to != host:
            # The connection goes to the checked address; the request still names the host.
            headers = {**headers, "Host": _authority(scheme, host, port)}
        if route.absolute_form:
            target = f"{scheme}://{_authority(scheme, connect_to or host, port)}{target}"
        return self.send(route, method, target, headers=headers, body=body, timeout=timeout)

    @contextmanager
    def request(self, method: str, url: str, *, headers: Mapping[str, str] | None = None, body: bytes | None = None,
                timeout: Timeouts | None = None, connect_to: str | None = None) -> Iterator[EgressResponse]:
        """`method url` as a context manager yielding the response, its body
        unread; on leaving, the connection goes back to the pool if the body
        was read to its end, and is closed otherwise. Only the codings
        `read_bounded` undoes are offered, unless `headers` say otherwise."""
        scheme, host, port, target = split_url(url)
        timeout = timeout or self.timeout
        raw = self.open(method, scheme, host, port, target, headers={"Accept-Encoding": ACCEPT_ENCODING, **(headers or {})},
                        body=body, timeout=urllib3.Timeout(connect=timeout[0], read=timeout[1]), connect_to=connect_to)
        try:
            yield EgressResponse(raw)
        finally:
            finish(raw)

    def pools_open(self) -> int:
        """How many hosts (or checked addresses) have a pool: what a test sees connect, without a mock."""
        return len(self._direct.pools) + (len(self._proxied.pools) if self._proxied is not None else 0)

    def close(self) -> None:
        """Close the idle connections; those in use close when their response is finished."""
        self._routes.clear()
        self._direct.clear()
        if self._proxied is not None:
            self._proxied.clear()

    def __enter__(self) -> EgressClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _proxy_manager(proxy: str, pool_kw: dict) -> urllib3.ProxyManager:
    """A ProxyManager for the proxy URL; credentials in its userinfo go into
    Proxy-Authorization (# SPEC: RFC 9110 §11.7.2, Basic) and nowhere else:
    urllib3 is given the origin only, which it may name in log lines."""
    split = urlsplit(proxy)
    origin = f"{split.scheme}://{_bracketed(split.hostname or '')}" + (f":{split.port}" if split.port else "")
    credentials = None
    if split.username is not None:
        credentials = make_headers(proxy_basic_auth=f"{unquote(split.username)}:{unquote(split.password or '')}")
    return urllib3.ProxyManager(origin, num_pools=_MAX_HOSTS, proxy_headers=credentials, **pool_kw)


def split_url(url: str) -> tuple[str, str, int, str]:
    """(scheme, host, port, path and query) of an http(s) URL, or EgressUnreachable("InvalidURL")."""
    try:
        split = urlsplit(url)
        port = split.port
    except ValueError:
        raise EgressUnreachable("InvalidURL") from None
    if split.scheme not in _DEFAULT_PORTS or not split.hostname:
        raise EgressUnreachable("InvalidURL")
    target = (split.path or "/") + (f"?{split.query}" if split.query else "")
    return split.scheme, split.hostname, port or _DEFAULT_PORTS[split.scheme], target


def _authority(scheme: str, host: str, port: int) -> str:
    """host[:port] as a URL or a Host header writes it (# SPEC: RFC 9110 §7.2; the default port left out)."""
    return _bracketed(host) if port == _DEFAULT_PORTS[scheme] else f"{_bracketed(host)}:{port}"


def _bracketed(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def finish(raw: urllib3.BaseHTTPResponse) -> None:
    """Give the connection back: as it is if the body was read to its end
    (urllib3 has then released it already), closed otherwise, since the
    unread rest would be read as the next answer on it."""
    if not raw.closed:
        raw.close()
    raw.release_conn()


def read_bounded(response: urllib3.BaseHTTPResponse, *, max_bytes: int, deadline_at: float | None = None) -> bytes:
    """The response's decoded body, refused (BodyTooLarge) as soon as it is
    known to exceed `max_bytes`, and (BodyOutlastedDeadline) once reading
    goes on past `deadline_at` (time.monotonic). Each network read still
    waits at most the read timeout, so the deadline is overrun by at most one
    read. The response was opened with preload_content=False and
    decode_content=False (EgressClient.send); a failed read raises EgressError."""
    declared = response.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise BodyTooLarge(f"response declares {declared} bytes, over the {max_bytes}-byte bound")
    decoder = _decoder_for(response.headers.get("content-encoding"))
    return _gather(_raw_chunks(response), decoder, max_bytes=max_bytes, deadline_at=deadline_at)


def _raw_chunks(response: urllib3.BaseHTTPResponse) -> Iterator[bytes]:
    """The body as it arrives, one network read at a time (read1: a slow
    answer's bytes are seen as they come, so the deadline check runs)."""
    try:
        while chunk := response.read1(_READ_CHUNK, decode_content=False):
            yield chunk
    except _SEND_ERRORS as error:
        raise egress_error(error) from None


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


class _WithoutRequestLines(logging.Filter):
    """urllib3 logs request lines (`GET /enterprises/<code>`) at DEBUG and a
    URL in some warnings: those below ERROR are dropped, and the rest keep
    their message's template without its arguments."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.ERROR:
            return False
        record.args = ()
        return True


def _quiet_urllib3() -> None:
    import urllib3.connection  # noqa: F401  # every urllib3 module whose logger may name a URL
    import urllib3.connectionpool  # noqa: F401
    import urllib3.poolmanager  # noqa: F401
    import urllib3.response  # noqa: F401
    import urllib3.util.retry  # noqa: F401

    for name in ("urllib3", "urllib3.connection", "urllib3.connectionpool", "urllib3.poolmanager",
                 "urllib3.response", "urllib3.util.retry"):
        logger = logging.getLogger(name)
        if not any(isinstance(existing, _WithoutRequestLines) for existing in logger.filters):
            logger.addFilter(_WithoutRequestLines())


_quiet_urllib3()
