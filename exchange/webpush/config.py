"""Where Web Push may go: an allow-list of push services' origins.

A subscription names an endpoint URL chosen by the browser's vendor, and the
hub POSTs to it from inside the government network. Only endpoints on an
allowed origin are accepted (and only those are ever sent to); an empty
list turns Web Push off. An origin is "https://host[:port]"; a leading "*."
on the host matches its subdomains (Windows' push service hands out
per-region hosts under notify.windows.com).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlsplit

from exchange.errors import InvalidExchangeRequest

MAX_ENDPOINT_LENGTH = 1000
_DEFAULT_PORTS = {"https": 443, "http": 80}


class PushEndpointRefused(InvalidExchangeRequest):
    """The subscription's endpoint is not on a push service this deployment allows."""

    code = "push_endpoint_refused"


class WebPushOff(InvalidExchangeRequest):
    """This deployment allows no push service: Web Push is off."""

    code = "web_push_off"


@dataclass(frozen=True)
class _Origin:
    scheme: str
    host: str  # lower case; "*.example.com" matches the subdomains of example.com
    port: int

    @classmethod
    def parse(cls, text: str) -> _Origin:
        split = urlsplit(text.strip())
        host = split.hostname or ""
        if split.scheme not in _DEFAULT_PORTS or not host or split.path not in ("", "/") or split.query \
                or split.username or split.password:
            raise ValueError(f"a push service origin is scheme://host[:port], not {text!r}")
        return cls(scheme=split.scheme, host=host.lower(), port=split.port or _DEFAULT_PORTS[split.scheme])

    def matches(self, scheme: str, host: str, port: int) -> bool:
        if (scheme, port) != (self.scheme, self.port):
            return False
        if self.host.startswith("*."):
            return host.endswith(self.host[1:]) and len(host) > len(self.host) - 1
        return host == self.host


@dataclass(frozen=True)
class WebPushConfig:
    """The push services allowed, and the contact the VAPID claims name (RFC 8292 §2.1 "sub")."""

    origins: tuple[str, ...]  # the deployment's list: CERTHUB_WEB_PUSH_ORIGINS (certhub.settings)
    contact: str
    _parsed: tuple[_Origin, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_parsed", tuple(_Origin.parse(origin) for origin in self.origins))

    @property
    def enabled(self) -> bool:
        return bool(self.origins)

    def check_endpoint(self, endpoint: str) -> str:
        """The endpoint, if it is an https URL (or, where an allowed origin
        says so, http) on an allowed push service; else PushEndpointRefused."""
        if not self.enabled:
            raise WebPushOff("Web Push is off on this platform")
        if not isinstance(endpoint, str) or len(endpoint) > MAX_ENDPOINT_LENGTH or not endpoint.isprintable():
            raise PushEndpointRefused(f"endpoint: a URL of at most {MAX_ENDPOINT_LENGTH} characters")
        try:
            split = urlsplit(endpoint)
            port = split.port or _DEFAULT_PORTS.get(split.scheme, 0)
        except ValueError:
            raise PushEndpointRefused("endpoint: not a URL") from None
        host = (split.hostname or "").lower()
        if split.username or split.password or split.fragment or not host:
            raise PushEndpointRefused("endpoint: no credentials or fragment, and a host")
        if not any(origin.matches(split.scheme, host, port) for origin in self._parsed):
            raise PushEndpointRefused("endpoint: not on a push service this platform allows")
        return endpoint

    @staticmethod
    def origin_of(endpoint: str) -> str:
        """The VAPID audience: the endpoint's origin (RFC 8292 §2: "aud")."""
        split = urlsplit(endpoint)
        default = _DEFAULT_PORTS.get(split.scheme)
        port = f":{split.port}" if split.port and split.port != default else ""
        return f"{split.scheme}://{split.hostname}{port}"
