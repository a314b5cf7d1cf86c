"""Large answers are gzipped; answers carrying a secret never are
(certhub.compression, docs/http.md "Compression")."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from certhub.compression import MINIMUM_SIZE, CompressLarge

BIG = "证照" * 2000  # 12 KiB of UTF-8


def _big(request):
    return PlainTextResponse(BIG)


def test_large_answers_are_gzipped_and_small_ones_are_not(client):
    document = client.get("/openapi.json", headers={"Accept-Encoding": "gzip"})
    assert document.headers["content-encoding"] == "gzip" and document.json()["openapi"].startswith("3.")
    assert "accept-encoding" in document.headers["vary"].lower()
    health = client.get("/healthz", headers={"Accept-Encoding": "gzip"})
    assert len(health.content) < MINIMUM_SIZE and "content-encoding" not in health.headers
    # A client that does not ask for gzip gets the plain bytes.
    plain = client.get("/openapi.json", headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers


@pytest.mark.parametrize(("path", "compressed"), [
    ("/api/v1/oauth/token", False),
    ("/api/v1/holders/session", False),
    ("/api/v1/holders/dev-login", False),
    ("/api/v1/staff/session", False),
    ("/api/v1/staff/session/refresh", False),
    ("/web/api/demo/staff-session", False),
    ("/api/v1/staff/me", True),
    ("/api/v1/exchange/subscriptions", False),
    ("/api/v1/exchange/subscriptions/7/secret", False),
    ("/api/v1/exchange/subscriptions/7/dead-letters", True),
    ("/api/v1/licences", True),
    ("/api/v1/catalog/export", True),
])
def test_answers_that_carry_a_secret_are_never_compressed(path, compressed):
    # SPEC: BREACH (CVE-2013-3587): a credential never shares a compressed body with chosen text.
    app = CompressLarge(Starlette(routes=[Route(path, _big, methods=["GET", "POST"])]))
    with TestClient(app) as http:
        answer = http.post(path, headers={"Accept-Encoding": "gzip"})
    assert answer.status_code == 200 and answer.text == BIG
    assert ("content-encoding" in answer.headers) is compressed
