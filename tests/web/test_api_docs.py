"""The API documentation (/docs) in a real browser: Swagger UI renders the
operations from this server alone, under the pages' CSP, with no script
error and no request to any other origin."""

from __future__ import annotations

import httpx
import pytest

from tests.web.live import LiveCerthub

pytestmark = pytest.mark.slow  # drives Chromium


def test_docs_render_every_operation_from_this_server_only(browser, live: LiveCerthub, artifacts):
    context = browser.new_context(viewport={"width": 1280, "height": 860}, locale="zh-CN")
    foreign: list[str] = []
    problems: list[str] = []

    def guard(route) -> None:
        url = route.request.url
        if url.startswith((live.base_url + "/", "data:", "blob:")):
            route.continue_()
        else:
            foreign.append(url)
            route.abort()

    context.route("**/*", guard)
    page = context.new_page()
    page.set_default_timeout(20_000)
    page.on("pageerror", lambda error: problems.append(str(error)))
    # A CSP refusal is reported on the console ("Refused to load/apply/execute ...").
    page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    try:
        page.goto(live.base_url + "/docs")
        page.wait_for_selector(".opblock")
        paths = set(page.eval_on_selector_all(".opblock-summary-path", "nodes => nodes.map(n => n.dataset.path)"))
        page.click('.opblock-summary-path[data-path="/healthz"]')
        page.wait_for_selector(".opblock.is-open .try-out__btn")
        page.screenshot(path=str(artifacts / "api-docs.png"))
    finally:
        context.close()
    assert {"/api/v1/presentations/redeem", "/api/v1/oauth/token", "/api/v1/holders/session", "/healthz"} <= paths
    assert len(paths) > 50
    assert foreign == [], "the docs must load nothing from another origin"
    assert problems == [], "the docs page logged errors (a CSP refusal among them?)"


def test_docs_assets_come_from_the_packaged_distribution(live: LiveCerthub):
    page = httpx.get(live.base_url + "/docs")
    assert page.status_code == 200
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert "cdn" not in page.text.lower() and "https://" not in page.text
    bundle = httpx.get(live.base_url + "/docs/assets/swagger-ui-bundle.js")
    assert bundle.status_code == 200 and "SwaggerUIBundle" in bundle.text
    assert httpx.get(live.base_url + "/redoc").status_code == 404  # no ReDoc: it would need its CDN script
