"""The API's interactive documentation at /docs: Swagger UI from a packaged
distribution (swagger-ui-bundle-v2), served by certhub itself under the web
pages' Content-Security-Policy. Nothing comes from a CDN: government
networks are often offline, and no third-party script may run beside a
pasted access token. ReDoc is not served (no packaged distribution of it
ships only its files); Swagger UI documents every route."""

from __future__ import annotations

from html import escape
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import HTMLResponse, Response
from starlette.staticfiles import StaticFiles
from swagger_ui_bundle import swagger_ui_path

from certhub.web.pages import CONTENT_SECURITY_POLICY

DOCS_URL = "/docs"
ASSETS_URL = "/docs/assets"
# Starts Swagger UI: a file of its own, as the CSP allows no inline script.
_INIT_SCRIPT = Path(__file__).with_name("apidocs.js")

_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def install(app: FastAPI) -> None:
    """Serve /docs and its assets (the app must be made with ``docs_url=None``)."""
    page = _page(title=f"{app.title} API", openapi_url=app.openapi_url or "/openapi.json")
    init_script = _INIT_SCRIPT.read_bytes()
    app.mount(ASSETS_URL, StaticFiles(directory=str(swagger_ui_path)), name="swagger-ui")

    @app.get(DOCS_URL, include_in_schema=False)
    def docs() -> HTMLResponse:
        return HTMLResponse(page, headers=_HEADERS)

    @app.get(DOCS_URL + "/init.js", include_in_schema=False)
    def docs_init() -> Response:
        return Response(init_script, media_type="text/javascript",
                        headers={"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"})


def _page(*, title: str, openapi_url: str) -> str:
    return f"""<!doctype html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)}</title>
<link rel="stylesheet" href="{ASSETS_URL}/swagger-ui.css">
</head>
<body>
<div id="swagger-ui" data-openapi-url="{escape(openapi_url)}"></div>
<script src="{ASSETS_URL}/swagger-ui-bundle.js"></script>
<script src="{DOCS_URL}/init.js"></script>
</body>
</html>
"""
