"""A log served by an application in process, for signing.transparency's
HttpSource: its `get` seam answered by a TestClient (starlette's, on
httpx2), so the log's HTTP routes are verified without a server socket."""

from __future__ import annotations

from collections.abc import Mapping

from signing.transparency.sources import HttpGet, HttpSource


def in_process_get(client) -> HttpGet:
    """HttpGet answered by `client` (a TestClient), redirects not followed, as HttpSource's own."""

    def get(url: str, *, headers: Mapping[str, str], limit: int) -> tuple[int, bytes]:
        response = client.get(url, headers=dict(headers), follow_redirects=False)
        return response.status_code, (response.content[: limit + 1] if response.status_code == 200 else b"")

    return get


def in_process_source(client, base_url: str = "http://testserver/log/") -> HttpSource:
    return HttpSource(base_url, get=in_process_get(client))
