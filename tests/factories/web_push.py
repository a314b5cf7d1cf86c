"""Web Push's outside parts for tests: a push service on loopback, and a
browser's side of a subscription (the user agent that decrypts)."""

from __future__ import annotations

import base64
import json
import os

import http_ece
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from tests.adapters import loopback


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class UserAgent:
    """A browser's side of one push subscription: its key pair and auth secret (RFC 8291 §2)."""

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint
        self.private_key = ec.generate_private_key(ec.SECP256R1())
        self.auth = os.urandom(16)
        point = self.private_key.public_key().public_bytes(serialization.Encoding.X962,
                                                           serialization.PublicFormat.UncompressedPoint)
        # What PushSubscription.toJSON() gives (W3C Push API).
        self.subscription = {"endpoint": endpoint, "expirationTime": None,
                             "keys": {"p256dh": b64url(point), "auth": b64url(self.auth)}}

    def decrypt(self, body: bytes) -> dict:
        # SPEC: RFC 8291 §3.4; the aes128gcm header carries the sender's key (RFC 8188 §2.1).
        return json.loads(http_ece.decrypt(body, private_key=self.private_key, auth_secret=self.auth,
                                           version="aes128gcm"))


def start_push_service() -> loopback.Running:
    """A push service on loopback: it takes every message under /push/ with
    201, or with the status set for its path in `.statuses`."""
    running = loopback.start()
    statuses: dict[str, int] = {}

    def accept(handler) -> None:
        handler.reply(statuses.get(handler.path, 201), b"")

    running.routes["/push/"] = accept
    running.statuses = statuses  # type: ignore[attr-defined]
    return running
