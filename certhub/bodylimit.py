"""One limit on the size of every request body (CERTHUB_MAX_REQUEST_BODY_BYTES).

A pure ASGI middleware, so nothing reads a body past the limit: a declared
Content-Length over it is answered 413 before the app is called (the route
does not run, the body is never read), and a body sent without one (chunked)
is counted as it arrives, the read that crosses the limit failing with the
same 413. No route needs more than the default: the largest bodies are a
seal's picture (at most 512 KiB) and a batch query of 500 subjects.
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

DEFAULT_MAX_BODY_BYTES = 1024 * 1024


class RequestBodyTooLarge(HTTPException):
    """Raised from ``receive`` when the body crosses the limit. An HTTPException,
    so FastAPI's body parsing passes it on to the app's handler unchanged."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(413, detail=_body(max_bytes), headers={"Connection": "close"})


def _body(max_bytes: int) -> dict:
    return {"error": "too_large", "message": f"the request body is larger than {max_bytes} bytes"}


class BodyLimit:
    def __init__(self, app: ASGIApp, *, max_bytes: int = DEFAULT_MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _content_length(scope)
        if declared is not None and declared > self.max_bytes:
            await self._refuse(scope, receive, send)
            return
        received = 0
        started = False

        async def counted_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise RequestBodyTooLarge(self.max_bytes)
            return message

        async def watched_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counted_receive, watched_send)
        except RequestBodyTooLarge:
            # Read outside a FastAPI route (whose handler answers it): answer here.
            if started:
                raise
            await self._refuse(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        # SPEC: RFC 9110 §15.5.14 — 413, closing the connection so the client
        # stops sending the rest of the body on it.
        response = JSONResponse(_body(self.max_bytes), status_code=413, headers={"Connection": "close"})
        await response(scope, receive, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None  # the server refuses a malformed one before we see it
    return None
