"""Every HTTP request's id, its one access line and its metrics.

The id is the client's ``X-Request-Id`` when it is a safe token (a proxy
or a department's system may have chosen it to follow the call through
its own logs), else a new random one. It is echoed in the response,
printed on every log line the request causes (``certhub.logs.JsonLines``)
and written beside each use record the request appends (the log entry's
``request_id`` column, ``exchange.auditlog.recorder.UseRecorder``).

The access line and the request metrics name the route's *template*
(``/api/v1/licences/{identifier}``), never the path as sent: a path may
carry a licence identifier or, mistyped, a holder's code.
"""

from __future__ import annotations

import logging
import re
import secrets
import time
from contextvars import ContextVar

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from certhub import metrics

HEADER = "X-Request-Id"
_HEADER_KEY = HEADER.lower().encode("latin-1")
# What an accepted id may be: short, and nothing a log line or a header could be forged with.
MAX_LENGTH = 64
_SAFE = re.compile(rf"[A-Za-z0-9][A-Za-z0-9._:\-]{{0,{MAX_LENGTH - 1}}}")
UNMATCHED = "<unmatched>"

_current: ContextVar[str | None] = ContextVar("certhub_request_id", default=None)
access_log = logging.getLogger("certhub.access")


def current_request_id() -> str | None:
    """The id of the request being served in this context (None outside one)."""
    return _current.get()


def accepted_request_id(value: str | None) -> str | None:
    """``value`` when it is a usable request id, else None (a new one is made)."""
    if value is None or not _SAFE.fullmatch(value):
        return None
    return value


def new_request_id() -> str:
    return secrets.token_hex(16)


def route_template(scope: Scope) -> str:
    """The matched route's path template; ``<unmatched>`` when no route matched."""
    route = scope.get("route")
    path = getattr(route, "path_format", None) or getattr(route, "path", None)
    if isinstance(path, str):
        return path
    # A mounted application (the web pages' assets) has no route object: its mount point.
    root_path = scope.get("app_root_path") or ""
    if scope.get("endpoint") is not None and isinstance(root_path, str) and root_path:
        return root_path + "/{path}"
    return UNMATCHED


def _header(scope: Scope) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == _HEADER_KEY:
            return value.decode("latin-1")
    return None


class RequestTelemetry:
    """Pure ASGI middleware, the outermost of the app's own: the request id,
    the access line and the request metrics (latency to the end of the body)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = accepted_request_id(_header(scope)) or new_request_id()
        token = _current.set(request_id)
        started = time.perf_counter()
        status = 500  # what the server answers when the app raised before a response began

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message)[HEADER] = request_id
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            seconds = time.perf_counter() - started
            route, method = route_template(scope), scope.get("method", "")
            metrics.observe_request(method=method, route=route, status=status, seconds=seconds)
            access_log.info("%s %s %d", method, route, status, extra={
                "method": method, "route": route, "status": status, "duration_ms": round(seconds * 1000, 3)})
            _current.reset(token)
