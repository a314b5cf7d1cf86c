"""Where an audited log's resources come from: a local directory or HTTP.

Both read a resource by its tlog-tiles path and never return more than
``max_bytes + 1`` bytes, so a caller can tell "too large" from "exact"
without ever holding an unbounded body in memory.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Protocol

import httpx

from signing.transparency.errors import LogVerificationError, MalformedError
from signing.transparency.tiles import parse_path

CHECKPOINT_PATH = "checkpoint"
DEFAULT_TIMEOUT_SECONDS = 30.0
_CHUNK = 1 << 16
MAX_TOKEN_CHARS = 8192


class LogSource(Protocol):
    def fetch(self, path: str, *, max_bytes: int) -> bytes | None:
        """The resource at ``path`` (at most max_bytes + 1 bytes), or None if absent."""
        ...

    def describe(self) -> str: ...


def _check_resource_path(path: str) -> None:
    if path == CHECKPOINT_PATH:
        return
    try:
        parse_path(path)
    except MalformedError as error:
        raise LogVerificationError(f"refusing to fetch {path!r}: {error}", code="fetch_failed", path=path) from error


class DirectorySource:
    """A directory laid out as the tlog-tiles URL space (``checkpoint``, ``tile/...``)."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).resolve()
        if not self.root.is_dir():
            raise FileNotFoundError(f"{self.root} is not a directory")

    def describe(self) -> str:
        return str(self.root)

    def fetch(self, path: str, *, max_bytes: int) -> bytes | None:
        _check_resource_path(path)
        target = self.root / path
        try:
            with open(target, "rb") as stream:
                return stream.read(max_bytes + 1)
        except (FileNotFoundError, NotADirectoryError):
            return None
        except OSError as error:
            raise LogVerificationError(f"cannot read {path}: {error}", code="fetch_failed", path=path) from error


class HttpSource:
    """A log served over HTTP(S) under ``base_url``; use as a context manager.

    ``token`` is a bearer token sent with every request, for logs that serve
    entry bundles only to authorized readers. httpx drops it on a redirect
    to another origin. ``transport`` is the httpx transport requests go
    through (a deployment's, routed through its egress proxy); with one,
    nothing is taken from the environment.
    """

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        client: httpx.Client | None = None,
        token: str | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ValueError("log URL must start with http:// or https://")
        if token is not None and (not token or len(token) > MAX_TOKEN_CHARS or not token.isascii()
                                  or any(ch.isspace() or not ch.isprintable() for ch in token)):
            raise ValueError(f"a bearer token is 1..{MAX_TOKEN_CHARS} printable ASCII characters without spaces")
        self._headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.base_url = base_url.rstrip("/") + "/"
        self._owns_client = client is None
        self._client = client or httpx.Client(
            timeout=httpx.Timeout(timeout),
            follow_redirects=True,
            max_redirects=5,
            # SPEC: C2SP tlog-tiles — clients SHOULD accept gzip and identity.
            headers={"Accept-Encoding": "gzip, identity"},
            transport=transport,
            trust_env=transport is None,
        )

    def describe(self) -> str:
        return self.base_url

    def fetch(self, path: str, *, max_bytes: int) -> bytes | None:
        _check_resource_path(path)
        url = self.base_url + path
        try:
            with self._client.stream("GET", url, headers=self._headers) as response:
                if response.status_code in (404, 410):
                    return None
                if response.status_code in (401, 403):
                    needs = "a valid token" if self._headers else "a token"
                    raise LogVerificationError(
                        f"GET {url} returned HTTP {response.status_code}: this resource needs {needs} "
                        "of an authorized reader", code="fetch_failed", path=path,
                    )
                if response.status_code != 200:
                    raise LogVerificationError(
                        f"GET {url} returned HTTP {response.status_code}", code="fetch_failed", path=path
                    )
                # Decoded bytes are counted, so a compressed bomb stops at the bound too.
                received = bytearray()
                for chunk in response.iter_bytes(_CHUNK):
                    received += chunk
                    if len(received) > max_bytes:
                        break
                return bytes(received[: max_bytes + 1])
        except httpx.HTTPError as error:
            raise LogVerificationError(f"GET {url} failed: {error}", code="fetch_failed", path=path) from error

    def close(self) -> None:
        if self._owns_client:
            self._client.close()

    def __enter__(self) -> HttpSource:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
