"""Records the API's real answers during a test run, for the OpenAPI
contract test (tests/certhub/test_openapi.py): each (method, path, status,
body) the app sent, as JSON lines in the file CERTHUB_RECORD_API_SAMPLES
names. Off unless that variable is set; `tests/conftest.py`'s `app` fixture
wraps the app it builds."""

from __future__ import annotations

import gzip
import json
import os
import threading

SAMPLES_VARIABLE = "CERTHUB_RECORD_API_SAMPLES"
MAX_BODY = 256 * 1024  # a larger body is recorded without its content
_lock = threading.Lock()


def recording_to() -> str | None:
    return os.environ.get(SAMPLES_VARIABLE) or None


class RecordResponses:
    """A pure ASGI middleware: passes everything through, notes the answer."""

    def __init__(self, app, sink: str) -> None:
        self.app = app
        self.sink = sink

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        answer: dict = {"status": None, "content_type": "", "body": bytearray(), "request_body": bytearray()}

        async def receive_noting():
            message = await receive()
            if message["type"] == "http.request" and len(answer["request_body"]) < MAX_BODY:
                answer["request_body"] += message.get("body", b"")
            return message

        async def send_noting(message):
            if message["type"] == "http.response.start":
                answer["status"] = message["status"]
                headers = dict(message.get("headers", []))
                answer["content_type"] = headers.get(b"content-type", b"").decode("latin-1")
                answer["encoding"] = headers.get(b"content-encoding", b"").decode("latin-1")
            elif message["type"] == "http.response.body" and len(answer["body"]) <= MAX_BODY:
                answer["body"] += message.get("body", b"")
            await send(message)

        await self.app(scope, receive_noting, send_noting)
        self._write(scope, answer)

    def _write(self, scope, answer: dict) -> None:
        json_body = None
        if answer["content_type"].startswith("application/json") and len(answer["body"]) <= MAX_BODY:
            try:
                body = bytes(answer["body"])
                json_body = json.loads(gzip.decompress(body) if answer.get("encoding") == "gzip" else body)
            except (ValueError, OSError, EOFError):
                json_body = None
        request_json = None
        if scope["method"] in {"POST", "PUT", "PATCH"}:
            try:
                request_json = json.loads(bytes(answer["request_body"])) if answer["request_body"] else None
            except ValueError:
                request_json = None
        line = json.dumps({"method": scope["method"], "path": scope["path"], "status": answer["status"],
                           "content_type": answer["content_type"], "body": json_body,
                           "request": request_json}, ensure_ascii=False)
        with _lock, open(self.sink, "a", encoding="utf-8") as sink:
            sink.write(line + "\n")
