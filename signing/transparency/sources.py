"""Where an audited log's resources come from: a local directory or HTTP.

Both read a resource by its tlog-tiles path and never return more than
``max_bytes + 1`` bytes, so a caller can tell "too large" from "exact"
without ever holding an unbounded body in memory.
"""

from __future__ import annotations

import http.client
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Protocol

import urllib3

from signing.transparency.errors import LogVerificationError, MalformedError
from signing.transparency.tiles import parse_path

CHECKPOINT_PATH = "checkpoint"
# The newest time-stamped checkpoint with its RFC 3161 token (signing.transparency.timestamps).
TIMESTAMP_PATH = "timestamp"
DEFAULT_TIMEOUT_SECONDS = 30.0
_CHUNK = 1 << 16
MAX_TOKEN_CHARS = 8192


class LogSource(Protocol):
    def fetch(self, path: str, *, max_bytes: int) -> bytes | None:
        """The resource at ``path`` (at most max_bytes + 1 bytes), or None if absent."""
        ...

    def describe(self) -> str: ...


def _check_resource_path(path: str) -> None:
    if path in (CHECKPOINT_PATH, TIMESTAMP_PATH):
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


class HttpGet(Protocol):
    """GET `url` with `headers`: the status, and at most `limit` + 1 bytes of
    the decoded body (none unless the status is 200). Raises
    urllib3.exceptions.HTTPError or OSError when no answer comes."""

    def __call__(self, url: str, *, headers: Mapping[str, str], limit: int) -> tuple[int, bytes]: ...


class Urllib3Get:
    """HttpGet through a urllib3 PoolManager: no redirect followed, nothing
    retried. urllib3 (2.6 and later) decodes gzip a bounded amount at a time,
    so counting decoded bytes stops a compressed bomb at the bound too."""

    def __init__(self, manager: urllib3.PoolManager, *, timeout: float) -> None:
        self._manager = manager
        self._timeout = urllib3.Timeout(connect=timeout, read=timeout)

    def __call__(self, url: str, *, headers: Mapping[str, str], limit: int) -> tuple[int, bytes]:
        response = self._manager.urlopen("GET", url, headers=dict(headers), redirect=False, retries=False,
                                         preload_content=False, decode_content=True, timeout=self._timeout)
        try:
            received = bytearray()
            if response.status == 200:
                for chunk in response.stream(_CHUNK, decode_content=True):
                    received += chunk
                    if len(received) > limit:
                        break
            return response.status, bytes(received[: limit + 1])
        finally:
            if not response.closed:
                response.close()  # not read to its end: the rest must not be read as the next answer
            response.release_conn()


class HttpSource:
    """A log served over HTTP(S) under ``base_url``; use as a context manager.

    ``token`` is a bearer token sent with every request, for logs that serve
    entry bundles only to authorized readers. No redirect is followed, so
    the token never goes to another origin (a redirect is a fetch failure).
    ``manager`` is the urllib3 PoolManager requests go through (a
    deployment's, routed through its egress proxy); without one, a PoolManager
    of its own, straight to the log (urllib3 reads no proxy from the
    environment). ``get`` replaces the HTTP client altogether (a test serves
    the log from an application in process).
    """

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        token: str | None = None,
        manager: urllib3.PoolManager | None = None,
        get: HttpGet | None = None,
    ) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ValueError("log URL must start with http:// or https://")
        if token is not None and (not token or len(token) > MAX_TOKEN_CHARS or not token.isascii()
                                  or any(ch.isspace() or not ch.isprintable() for ch in token)):
            raise ValueError(f"a bearer token is 1..{MAX_TOKEN_CHARS} printable ASCII characters without spaces")
        # SPEC: C2SP tlog-tiles — clients SHOULD accept gzip and identity.
        self._headers = {"Accept-Encoding": "gzip, identity"}
        if token:
            self._headers["Authorization"] = f"Bearer {token}"
        self._authorized = bool(token)
        self.base_url = base_url.rstrip("/") + "/"
        self._own_manager: urllib3.PoolManager | None = None
        if get is None:
            if manager is None:
                manager = self._own_manager = urllib3.PoolManager()
            get = Urllib3Get(manager, timeout=timeout)
        self._get = get

    def describe(self) -> str:
        return self.base_url

    def fetch(self, path: str, *, max_bytes: int) -> bytes | None:
        _check_resource_path(path)
        url = self.base_url + path
        try:
            status, body = self._get(url, headers=self._headers, limit=max_bytes)
        except (urllib3.exceptions.HTTPError, http.client.HTTPException, OSError) as error:
            raise LogVerificationError(f"GET {url} failed: {error}", code="fetch_failed", path=path) from error
        if status in (404, 410):
            return None
        if status in (401, 403):
            needs = "a valid token" if self._authorized else "a token"
            raise LogVerificationError(
                f"GET {url} returned HTTP {status}: this resource needs {needs} "
                "of an authorized reader", code="fetch_failed", path=path,
            )
        if 300 <= status < 400:
            raise LogVerificationError(
                f"GET {url} returned HTTP {status}: redirects are not followed (give the log's own URL)",
                code="fetch_failed", path=path,
            )
        if status != 200:
            raise LogVerificationError(f"GET {url} returned HTTP {status}", code="fetch_failed", path=path)
        return body

    def close(self) -> None:
        if self._own_manager is not None:
            self._own_manager.clear()

    def __enter__(self) -> HttpSource:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
