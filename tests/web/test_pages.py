"""The pages over plain HTTP: rendered in Chinese, same-origin only (a CSP
that forbids anything else), assets served with their cache rules and
compressed; what a cold load costs in a real browser; the favicon."""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import io
import re

import pytest
from PIL import Image, ImageChops, ImageStat

from certhub.web.fonts import web_font
from certhub.web.i18n import catalog
from certhub.web.pages import FAVICON_ICO, STATIC_DIR
from identity.config import IdentityConfig
from tests.web.accessibility import axe_violations
from tests.web.browsing import DESKTOP, PHONE
from tests.web.icons import ICON_SIZES, draw_svg_icon

PAGES = {"/": "电子证照服务平台", "/wallet": "我的证照", "/counter": "窗口核验", "/audit": "用证审计", "/console": "部门管理",
         "/statistics": "用证公开统计"}


@pytest.mark.parametrize("path", PAGES)
@pytest.mark.slow
def test_page_renders_in_chinese_with_a_strict_policy(client, path):
    answer = client.get(path)
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/html")
    html = answer.text
    assert '<html lang="zh-CN">' in html and PAGES[path] in html
    policy = answer.headers["content-security-policy"]
    assert "default-src 'self'" in policy and "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    assert answer.headers["cache-control"] == "no-store"
    # Nothing from another origin, no inline script or style the policy would block.
    assert not re.search(r'(src|href)="(https?:)?//', html)
    assert "<script>" not in html and " style=" not in html and "<style" not in html


@pytest.mark.parametrize("path", PAGES)
@pytest.mark.slow
def test_every_asset_a_page_names_is_served_and_cacheable(client, path):
    html = client.get(path).text
    assets = re.findall(r'(?:src|href)="(/static/[^"]+)"', html)
    assert assets
    for asset in assets:
        # Hashed names: the first 12 hex digits of SHA-256 of the file's own bytes.
        stem, digest, suffix = re.fullmatch(r"/static/(.+)\.([0-9a-f]{12})(\.[a-z]+)", asset).groups()
        content = (STATIC_DIR / (stem + suffix)).read_bytes()
        assert digest == hashlib.sha256(content).hexdigest()[:12]
        answer = client.get(asset)
        assert answer.status_code == 200 and answer.content == content, asset
        assert answer.headers["cache-control"] == "public, max-age=31536000, immutable"
    # The font stylesheet is named by the subset it names, and as cacheable.
    stylesheet = web_font().stylesheet_url
    assert re.fullmatch(r"/web/fonts/fonts-[0-9a-f]{16}\.css", stylesheet) and f'href="{stylesheet}"' in html
    assert client.get(stylesheet).headers["cache-control"] == "public, max-age=31536000, immutable"
    assert f'<link rel="icon" href="/static/favicon.{hashlib.sha256((STATIC_DIR / "favicon.svg").read_bytes()).hexdigest()[:12]}.svg"' in html


@pytest.mark.slow
def test_an_asset_has_only_its_hashed_name(client):
    app_css = re.search(r'href="(/static/css/app\.[0-9a-f]{12}\.css)"', client.get("/").text).group(1)
    assert client.get(app_css).status_code == 200
    # The plain name and another release's hash name nothing: one URL per version of a file,
    # and no cache keeps today's bytes under a name that once meant other bytes.
    assert client.get("/static/css/app.css").status_code == 404
    assert client.get("/static/css/app.000000000000.css").status_code == 404
    assert client.get("/web/fonts/fonts.css").status_code == 404
    assert client.get("/static/js/nope.js").status_code == 404
    assert client.get("/static/../pages.py").status_code == 404


@pytest.mark.slow
def test_scripts_styles_and_the_font_stylesheet_are_sent_gzipped(client):
    html = client.get("/wallet").text
    linked = re.findall(r'(?:src|href)="(/(?:static|web/fonts)/[^"]+\.(?:js|css))"', html)
    large = [url for url in linked if not url.startswith("/static/") or
             (STATIC_DIR / re.sub(r"\.[0-9a-f]{12}\.", ".", url.removeprefix("/static/"))).stat().st_size >= 1024]
    assert any(url.endswith(".js") for url in large) and any(url.endswith(".css") for url in large)
    for url in large:
        answer = client.get(url, headers={"Accept-Encoding": "gzip"})
        assert answer.headers.get("content-encoding") == "gzip", url
        assert "accept-encoding" in answer.headers["vary"].lower()
        # The bytes on the wire: a file over the server's 64 KiB read size is sent in
        # chunks, gzipped as a stream with no Content-Length.
        assert answer.num_bytes_downloaded < len(answer.content) * 0.6, url
    # A WOFF is compressed already: gzip would spend CPU on every request for nothing.
    subset = client.get(f"/web/fonts/{web_font().subset_name}", headers={"Accept-Encoding": "gzip"})
    assert subset.status_code == 200 and "content-encoding" not in subset.headers
    # The raw bytes on the wire really are gzip of the file.
    wallet_js = next(url for url in linked if "/js/wallet." in url)
    with client.stream("GET", wallet_js, headers={"Accept-Encoding": "gzip"}) as raw:
        body = b"".join(raw.iter_raw())
    assert gzip.decompress(body) == (STATIC_DIR / "js" / "wallet.js").read_bytes()


@pytest.mark.slow
def test_favicon_ico_is_served_where_browsers_look(client):
    answer = client.get("/favicon.ico")
    assert answer.status_code == 200 and answer.headers["content-type"] == "image/vnd.microsoft.icon"
    assert answer.headers["cache-control"] == "public, max-age=86400"
    with Image.open(io.BytesIO(answer.content)) as icon:
        assert icon.format == "ICO" and icon.info["sizes"] == {(size, size) for size in ICON_SIZES}
    svg = client.get(re.search(r'<link rel="icon" href="([^"]+)"', client.get("/").text).group(1))
    assert svg.status_code == 200 and svg.headers["content-type"] == "image/svg+xml"


@pytest.mark.slow
def test_every_script_is_referenced_and_no_page_names_a_vendored_library(client):
    pages = {path: client.get(path).text for path in PAGES}
    html = "".join(pages.values())
    for script in (STATIC_DIR / "js").glob("*.js"):
        assert re.search(rf"/static/js/{re.escape(script.stem)}\.[0-9a-f]{{12}}\.js", html), \
            f"{script.name} is never loaded"
    # Hand-written: no framework, no bundled library. Vendored libraries (static/vendor, each with
    # its licence and version) are loaded on demand only, never named by a page; what a page
    # costs is held to its budget in a real browser below.
    assert "/static/vendor/" not in re.sub(r'data-qr-decoder="[^"]*"', "", html)
    for library in (STATIC_DIR / "vendor").iterdir():
        assert (library / "LICENSE").is_file() and (library / "VERSION").is_file(), library


@pytest.mark.slow
def test_outside_demo_mode_there_is_no_development_login(client):
    wallet = client.get("/wallet").text
    assert 'id="dev-login"' not in wallet and "尚未配置持证人登录方式" in wallet
    counter = client.get("/counter").text
    assert 'id="demo-login"' not in counter and "尚未配置工作人员登录方式" in counter
    assert 'id="staff-oidc-login"' not in counter
    assert "演示环境" not in client.get("/").text


@pytest.mark.slow
def test_demo_mode_offers_the_demo_accounts(app, client):
    app.state.services.replace(IdentityConfig, dataclasses.replace(app.state.services.find(IdentityConfig), demo=True))
    wallet = client.get("/wallet").text
    assert 'id="dev-login"' in wallet
    assert 'id="demo-login"' in client.get("/counter").text and 'id="demo-login"' in client.get("/audit").text
    home = client.get("/").text
    assert "演示环境" in home and "一分钟体验完整流程" in home
    for path in ("/wallet", "/counter", "/audit"):
        assert f'href="{path}"' in home


@pytest.mark.parametrize("language", ["zh-CN", "en"])
def test_the_counter_explains_every_refusal(language):
    """Each code the verifier or the redemption can answer has a plain reason on the counter page, in each language."""
    from typing import get_args

    from signing.qr.errors import QrErrorCode

    script = (STATIC_DIR / "js" / "counter.js").read_text(encoding="utf-8")
    messages = catalog(language)
    reasons = {code: messages[key] for code, key in re.findall(r'^\s+(\w+): \[CH\.t\("([\w.]+)"\)', script, flags=re.M)}
    redemption = {"replayed", "expired", "revoked", "suspended", "cancelled", "superseded", "unknown_signer",
                  "not_a_presentation", "unknown_presentation", "licence_not_found", "invalid_request"}
    missing = (set(get_args(QrErrorCode)) | redemption) - reasons.keys()
    assert not missing
    expected = {"zh-CN": {"replayed": "已使用", "revoked": "已吊销", "expired": "已过期", "signature_invalid": "签名无效",
                          "base45_invalid": "格式错误"},
                "en": {"replayed": "Already used", "revoked": "Revoked", "expired": "Expired",
                       "signature_invalid": "Invalid signature", "base45_invalid": "Malformed"}}[language]
    assert {code: reasons[code] for code in expected} == expected


# What a cold load of a page may transfer, headers included, on a phone that has a Chinese font.
COLD_LOAD_BUDGET = 400_000


@pytest.mark.parametrize("path", PAGES)
def test_cold_load_on_a_phone_with_a_chinese_font_stays_within_budget(browsing_with_cjk_font, live, path):
    """An empty cache, every request the page and its service worker make, as
    sent on the wire (gzip); the device's own Chinese font is used, so no
    font file is fetched at all, and never the 8 MB full font."""
    font = web_font()
    for viewport, mobile in ((PHONE, True), (DESKTOP, False)):
        page = browsing_with_cjk_font.page(viewport, mobile=mobile)
        finished: list = []
        page.context.on("requestfinished", lambda request, finished=finished: finished.append(request))
        page.goto(live.base_url + path, wait_until="networkidle")
        # The wallet's service worker keeps the page for offline use: what it fetches counts too.
        page.evaluate("""() => navigator.serviceWorker.getRegistration().then(registration =>
            registration ? navigator.serviceWorker.ready.then(() => true) : false)""")
        page.evaluate("document.fonts.ready")
        page.wait_for_load_state("networkidle")
        assert page.evaluate("document.fonts.check('16px certhub-sc', '电子证照')")
        urls = [request.url for request in finished]
        assert not [url for url in urls if font.full_name in url or font.subset_name in url], urls
        transferred = sum(_wire_size(request) for request in finished)
        assert 0 < transferred < COLD_LOAD_BUDGET, (path, viewport, transferred, urls)
        assert axe_violations(page) == []  # drawn in the device's font: still nothing moderate or worse
        browsing_with_cjk_font.shot(page, f"cold-{path.strip('/') or 'home'}-{viewport['width']}")


def _wire_size(request) -> int:
    sizes = request.sizes()
    return sizes["responseHeadersSize"] + sizes["responseBodySize"] + sizes["requestHeadersSize"]


def test_favicon_ico_is_the_svg_icon(browser):
    """The ICO is the SVG drawn by Chromium (tests/web/icons.py wrote it): the same picture at each size."""
    with Image.open(FAVICON_ICO) as icon:
        for size in ICON_SIZES:
            icon.size = (size, size)
            stored = icon.copy().convert("RGBA")
            drawn = draw_svg_icon(browser, size)
            difference = ImageStat.Stat(ImageChops.difference(stored, drawn)).mean
            assert max(difference) < 4, (size, difference)
