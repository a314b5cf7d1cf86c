"""API responses say ``Cache-Control: no-store`` unless their route chose
its own caching.

Most API answers carry personal data (licences, a wallet, holder records,
exchange answers, audit records, redeemed presentations) or credentials
(the token responses), and no cache on the way or in the browser may keep
them. Routes whose answers are public and meant to be cached set their own
header and keep it: status lists and their keys, the trust list, the log's
tiles and checkpoint. A pure ASGI middleware, so streamed answers (the
audit export) get the header too.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

# The JSON API and the web pages' own JSON helpers (a department token for
# the demo, a decoded QR code, a log check).
PRIVATE_PREFIXES = ("/api/", "/web/api/")

# SPEC: RFC 9111 §5.2.2.5 (no-store); RFC 6749 §5.1 asks token responses for
# Pragma: no-cache as well, for HTTP/1.0 caches: every such answer sends it.
_NO_STORE = [(b"cache-control", b"no-store"), (b"pragma", b"no-cache")]


class NoStoreByDefault:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(PRIVATE_PREFIXES):
            await self.app(scope, receive, send)
            return

        async def send_no_store(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                if not any(name.lower() == b"cache-control" for name, _value in headers):
                    message = {**message, "headers": headers + _NO_STORE}
            await send(message)

        await self.app(scope, receive, send_no_store)
