"""The pages over plain HTTP: rendered in Chinese, same-origin only (a CSP
that forbids anything else), assets served with their cache rules."""

from __future__ import annotations

import dataclasses
import hashlib
import re

import pytest

from certhub.web.fonts import web_font
from certhub.web.pages import STATIC_DIR
from identity.config import IdentityConfig

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
    assert f'href="{web_font().stylesheet_url}"' in html


@pytest.mark.slow
def test_unversioned_assets_are_revalidated(client):
    answer = client.get("/static/css/app.css")
    assert answer.status_code == 200 and answer.headers["cache-control"] == "no-cache"
    # A name with another release's hash names nothing: no cache keeps today's bytes under it.
    assert client.get("/static/css/app.000000000000.css").status_code == 404
    assert client.get("/static/js/nope.js").status_code == 404
    assert client.get("/static/../pages.py").status_code == 404


@pytest.mark.slow
def test_every_script_is_referenced_and_the_pages_stay_small(client):
    pages = {path: client.get(path).text for path in PAGES}
    html = "".join(pages.values())
    for script in (STATIC_DIR / "js").glob("*.js"):
        assert re.search(rf"/static/js/{re.escape(script.stem)}\.[0-9a-f]{{12}}\.js", html), \
            f"{script.name} is never loaded"
    # Hand-written: no framework, no bundled library. Vendored libraries (static/vendor, each with
    # its licence and version) are loaded on demand only, never named by a page. What a page
    # loads itself, its scripts and style sheets before compression, stays within a budget.
    for path, page in pages.items():
        named = re.findall(r"/static/((?:js|css)/[\w-]+)\.[0-9a-f]{12}\.(js|css)", page)
        assert named, path
        loaded = sum((STATIC_DIR / f"{stem}.{suffix}").stat().st_size for stem, suffix in set(named))
        assert loaded < 150_000, (path, loaded)
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


def test_the_counter_explains_every_refusal_in_chinese():
    """Each code the verifier or the redemption can answer has a plain-Chinese reason on the counter page."""
    from typing import get_args

    from signing.qr.errors import QrErrorCode

    script = (STATIC_DIR / "js" / "counter.js").read_text(encoding="utf-8")
    reasons = dict(re.findall(r'^\s+(\w+): \["([^"]+)"', script, flags=re.M))
    redemption = {"replayed", "expired", "revoked", "suspended", "cancelled", "superseded", "unknown_signer",
                  "not_a_presentation", "unknown_presentation", "licence_not_found", "invalid_request"}
    missing = (set(get_args(QrErrorCode)) | redemption) - reasons.keys()
    assert not missing
    assert reasons["replayed"] == "已使用" and reasons["revoked"] == "已吊销" and reasons["expired"] == "已过期"
    assert reasons["signature_invalid"] == "签名无效" and reasons["base45_invalid"] == "格式错误"
