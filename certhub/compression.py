"""gzip for large answers, and never for those that carry a secret.

Starlette's GZipMiddleware compresses an answer when the client accepts
gzip and the body reaches MINIMUM_SIZE: licence lists, catalog exports,
the OpenAPI document (191 636 bytes, 23 333 gzipped), audit exports. Smaller
bodies are sent as they are: below about a kilobyte gzip's header and the
CPU cost outweigh what it saves.

Never compressed (SPEC: BREACH, CVE-2013-3587; RFC 9110 §8.4): answers
that carry a credential, since a compressed length can betray a secret
that shares a body with text the requester chose (the token endpoint
echoes `scope`). Those are the token endpoint, the holder and staff
sessions, the demo's staff sign-in and the push subscriptions' signing secrets. They
are small anyway.

Streaming answers (the audit log export, JSON lines sent in ~64 KiB
chunks while rows are read) are compressed chunk by chunk: the middleware
flushes each chunk (Z_SYNC_FLUSH), so the stream still arrives as it is
read and nothing is buffered whole. The export carries personal data but
no credential, and is only ever sent to an authenticated auditor.
"""

from __future__ import annotations

import re

from starlette.middleware.gzip import GZipMiddleware
from starlette.types import ASGIApp, Receive, Scope, Send

MINIMUM_SIZE = 1024
# Level 6, zlib's default: nearly level 9's ratio on JSON at about half its CPU.
COMPRESS_LEVEL = 6
CARRIES_A_SECRET = re.compile(
    r"^/api/v1/oauth/token$"
    r"|^/api/v1/holders/(session|dev-login)$"
    r"|^/api/v1/staff/(session|session/refresh)$"
    r"|^/web/api/demo/staff-session$"
    r"|^/api/v1/exchange/subscriptions(/[^/]+/secret)?/?$"
    # An SD-JWT VC: a bearer credential whose salts keep the undisclosed claims secret.
    r"|^/api/v1/holders/me/licences/[^/]+/sd-jwt-vc$"
    # The same issued to a wallet (OpenID4VCI), and the offer whose code and tx_code fetch it.
    r"|^/api/v1/oid4vci/(credential|deferred_credential|nonce)$"
    r"|^/api/v1/holders/me/licences/[^/]+/credential-offer$"
)


class CompressLarge:
    """GZipMiddleware, bypassed for the paths that carry a secret."""

    def __init__(self, app: ASGIApp, *, minimum_size: int = MINIMUM_SIZE) -> None:
        self.app = app
        self.gzip = GZipMiddleware(app, minimum_size=minimum_size, compresslevel=COMPRESS_LEVEL)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and _accepts_gzip(scope) and not CARRIES_A_SECRET.match(scope["path"]):
            await self.gzip(scope, receive, send)
        else:
            await self.app(scope, receive, send)


def _accepts_gzip(scope: Scope) -> bool:
    """Whether the client offers gzip at all. A client that does not (a
    department's system on a plain HTTP client, the counter's scanner
    service) gets its answer without the middleware's buffering of the
    first message, which costs every such request CPU for nothing."""
    for name, value in scope["headers"]:
        if name == b"accept-encoding":
            return b"gzip" in value.lower()
    return False
