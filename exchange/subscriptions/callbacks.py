"""Where the hub may call back: SSRF rules for subscribers' callback URLs.

A callback URL is chosen by a department, but the request comes from the
hub, inside the government network. So (OWASP SSRF prevention):
- https only; http only to a loopback address when the deployment allows
  loopback (tests, local development, demo);
- no user:password in the URL, no fragment;
- every address the host resolves to must be a public (global) address;
  loopback is allowed only as above, and no other non-public address ever,
  demo mode included (a demo hub still sits inside someone's network):
  private ranges, CGNAT, ULA, link-local (cloud metadata), multicast,
  reserved and unspecified; nor an IPv6 address that embeds one (6to4,
  NAT64, Teredo, IPv4-compatible);
- at delivery the name is resolved again, every address checked, and the
  connection pinned to a checked address (TLS still verifies the name), so
  a DNS answer that changes after registration (rebinding) gains nothing.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from exchange.subscriptions.errors import UnsafeCallbackUrl
from storage.egress import DIRECT, Egress, EgressClient, EgressError, EgressResponse, split_url

MAX_URL_LENGTH = 2000
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def resolve(host: str, port: int) -> list[IPAddress]:
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    try:
        answers = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise UnsafeCallbackUrl(f"callback host {host} does not resolve") from None
    addresses = list(dict.fromkeys(ipaddress.ip_address(str(a[4][0]).split("%", 1)[0]) for a in answers))
    if not addresses:
        raise UnsafeCallbackUrl(f"callback host {host} does not resolve")
    return addresses


@dataclass(frozen=True)
class CallbackPolicy:
    allow_loopback: bool = False  # http(s) to 127.0.0.0/8 and ::1
    # How a host name becomes addresses: the system resolver; tests hand in
    # their own to see a name turn private without any DNS or traffic.
    resolve: Callable[[str, int], list[IPAddress]] = field(default=resolve, compare=False, repr=False)

    @classmethod
    def for_deployment(cls, *, demo: bool, allow_loopback: bool) -> CallbackPolicy:
        # Demo mode may call loopback (the demo's own servers), nothing else
        # that is not public.
        return cls(allow_loopback=demo or allow_loopback)


def _plain(ip: IPAddress) -> IPAddress:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def _embedded_ipv4(ip: IPAddress) -> list[ipaddress.IPv4Address]:
    """IPv4 addresses an IPv6 address carries and a relay would route to:
    ipaddress calls 2002::/16 (6to4) global whatever it embeds. (NAT64 and
    IPv4-compatible addresses lie in ::/8, refused as reserved.)"""
    if not isinstance(ip, ipaddress.IPv6Address):
        return []
    embedded = [ip.sixtofour] if ip.sixtofour is not None else []
    if ip.teredo is not None:
        embedded.extend(ip.teredo)
    return embedded


def check_address(ip: IPAddress, *, policy: CallbackPolicy) -> None:
    ip = _plain(ip)
    if ip.is_loopback:
        if policy.allow_loopback:
            return
        raise UnsafeCallbackUrl(f"callback address {ip} is a loopback address")
    if ip.is_link_local or ip.is_multicast or ip.is_unspecified or ip.is_reserved:
        raise UnsafeCallbackUrl(f"callback address {ip} is link-local, multicast or reserved")
    if not ip.is_global:
        raise UnsafeCallbackUrl(f"callback address {ip} is not a public address")
    for inner in _embedded_ipv4(ip):
        if not inner.is_global or inner.is_multicast:
            raise UnsafeCallbackUrl(f"callback address {ip} embeds {inner}, not a public address")


def checked_addresses(host: str, port: int, *, policy: CallbackPolicy) -> list[IPAddress]:
    addresses = policy.resolve(host, port)
    for ip in addresses:
        check_address(ip, policy=policy)
    return addresses


def check_callback_url(url: str, *, policy: CallbackPolicy) -> str:
    if not 0 < len(url) <= MAX_URL_LENGTH or not url.isprintable() or " " in url:
        raise UnsafeCallbackUrl(f"callback_url must be 1-{MAX_URL_LENGTH} printable characters without spaces")
    parts = urlsplit(url)
    if parts.scheme not in {"https", "http"} or not parts.hostname:
        raise UnsafeCallbackUrl("callback_url must be an absolute https URL")
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise UnsafeCallbackUrl("callback_url must not carry credentials")
    if parts.fragment:
        raise UnsafeCallbackUrl("callback_url must not carry a fragment")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise UnsafeCallbackUrl("callback_url has an invalid port") from None
    addresses = checked_addresses(parts.hostname, port, policy=policy)
    if parts.scheme == "http" and not all(_plain(ip).is_loopback for ip in addresses):
        raise UnsafeCallbackUrl("callback_url must use https (http only to loopback in development)")
    return url


class UnsafeDestination(EgressError):
    """The delivery was not sent: the callback host now resolves to an address
    the policy refuses (the message says which; the record names the kind)."""

    @property
    def reason(self) -> str:
        return "UnsafeDestination"


class GuardedClient:
    """Requests that check every address of the callback host before
    connecting and connect to a checked one: straight, or through `egress`'s
    proxy (which is then asked for the checked address). The Host header and
    (https) SNI and certificate verification keep the name."""

    def __init__(self, *, policy: CallbackPolicy, timeout: float = 10.0, egress: Egress = DIRECT,
                 client: EgressClient | None = None) -> None:
        self._policy = policy
        self._client = client or egress.client(timeout=(timeout, timeout), max_idle=4)

    def checked_address(self, scheme: str, host: str, port: int) -> str:
        """The address to connect to for `host`, every one it resolves to
        checked now (a name that turned private since registration is refused)."""
        try:
            addresses = checked_addresses(host, port, policy=self._policy)
        except UnsafeCallbackUrl as exc:
            raise UnsafeDestination(str(exc)) from None
        if scheme == "http" and not all(_plain(ip).is_loopback for ip in addresses):
            raise UnsafeDestination("plain http only to loopback")
        return str(addresses[0])

    @contextmanager
    def request(self, method: str, url: str, *, headers: Mapping[str, str] | None = None,
                body: bytes | None = None) -> Iterator[EgressResponse]:
        scheme, host, port, _target = split_url(url)
        pinned = self.checked_address(scheme, host, port)
        with self._client.request(method, url, headers=headers, body=body, connect_to=pinned) as response:
            yield response

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> GuardedClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def delivery_client(*, policy: CallbackPolicy, timeout: float = 10.0, egress: Egress = DIRECT) -> GuardedClient:
    """The HTTP client webhooks are sent with: no redirects (one could lead
    anywhere), the deployment's egress proxy and none from the environment
    (storage.egress), the SSRF guard."""
    return GuardedClient(policy=policy, timeout=timeout, egress=egress)
