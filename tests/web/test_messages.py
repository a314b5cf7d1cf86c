"""The pages' message catalogs (certhub/web/messages/*.json): every string a
page shows is in each language's catalog, every key in the catalogs is used,
no Chinese is left in the templates or scripts outside them; and the server
picks the language from the visitor's choice, else from Accept-Language."""

from __future__ import annotations

import json
import re

import pytest

from certhub.web import i18n
from certhub.web.pages import STATIC_DIR, WEB_DIR

# Han characters and the CJK and full-width punctuation the catalogs hold.
CJK = re.compile(r"[\u3000-\u303f\u3400-\u9fff\uff00-\uffef]")
TEMPLATE_KEY = re.compile(r"""\bt\(\s*["']([a-z0-9_]+\.[a-z0-9_]+)["']\s*\)""")
PAGE_TITLE_KEY = re.compile(r'title_key="([a-z0-9_]+\.[a-z0-9_]+)"')
# What a script shows is in its string literals; its comments may name Chinese terms.
SCRIPT_TOKEN = re.compile(r'//[^\n]*|/\*.*?\*/|"(?:[^"\\\n]|\\.)*"|\'(?:[^\'\\\n]|\\.)*\'|`[^`]*`', re.S)
# What a template shows is its text and attribute values; its Jinja and HTML comments are not shown.
TEMPLATE_COMMENT = re.compile(r"\{#.*?#\}|<!--.*?-->", re.S)
# The language switch names the other language in that language (marked with its own lang attribute).
OWN_NAME_KEYS = {"base.switch_language"}

TEMPLATES = sorted((WEB_DIR / "templates").glob("*.html"))
SCRIPTS = sorted((STATIC_DIR / "js").glob("*.js")) + [WEB_DIR / "wallet-sw.js"]


def keys_in_use() -> set[str]:
    used = set(i18n.script_keys())
    for path in TEMPLATES:
        used.update(TEMPLATE_KEY.findall(path.read_text(encoding="utf-8")))
    used.update(PAGE_TITLE_KEY.findall((WEB_DIR / "pages.py").read_text(encoding="utf-8")))
    return used


def test_both_catalogs_have_the_same_keys_and_only_strings():
    chinese, english = i18n.catalog("zh-CN"), i18n.catalog("en")
    assert chinese.keys() == english.keys()
    assert all(isinstance(text, str) for text in [*chinese.values(), *english.values()])
    # The catalogs are files people edit: kept sorted, so a diff shows what changed.
    for language in i18n.LANGUAGES:
        raw = json.loads((i18n.MESSAGES_DIR / f"{language}.json").read_text(encoding="utf-8"))
        assert list(raw) == sorted(raw), language


def test_every_key_is_used_and_every_key_used_exists():
    catalog = set(i18n.catalog("zh-CN"))
    used = keys_in_use()
    assert used - catalog == set(), "keys the pages name but the catalogs lack"
    assert catalog - used == set(), "keys no page uses"


def test_no_chinese_is_left_in_templates_or_scripts():
    leftovers = []
    for path in TEMPLATES:
        shown = TEMPLATE_COMMENT.sub("", path.read_text(encoding="utf-8"))
        leftovers += [f"{path.name}: {line.strip()}" for line in shown.splitlines() if CJK.search(line)]
    for path in SCRIPTS:
        for token in SCRIPT_TOKEN.findall(path.read_text(encoding="utf-8")):
            if not token.startswith(("//", "/*")) and CJK.search(token):
                leftovers.append(f"{path.name}: {token}")
    assert leftovers == []


def test_the_english_catalog_is_english_and_the_chinese_one_chinese():
    english = i18n.catalog("en")
    assert [key for key, text in english.items() if CJK.search(text) and key not in OWN_NAME_KEYS] == []
    chinese = i18n.catalog("zh-CN")
    # Spot checks that each catalog is the language it claims to be (the full check is the browser tests').
    assert chinese["base.title_wallet"] == "我的证照" and english["base.title_wallet"] == "My licences"
    assert chinese["common.revoked"] == "已吊销" and english["common.revoked"] == "Revoked"


@pytest.mark.parametrize(("header", "language"), [
    (None, "zh-CN"),
    ("", "zh-CN"),
    ("zh-CN,zh;q=0.9,en;q=0.8", "zh-CN"),
    ("en-US,en;q=0.9", "en"),
    ("en-GB", "en"),
    ("fr-FR, en;q=0.5", "en"),  # the best supported one, not the first named
    ("fr-FR", "zh-CN"),
    ("en;q=0.4, zh;q=0.9", "zh-CN"),
    ("zh-TW,en;q=0.8", "zh-CN"),  # Chinese in the other script is still nearer than English
    ("en;q=0, zh-CN;q=0.1", "zh-CN"),  # q=0 means "not acceptable"
    ("*", "zh-CN"),
    ("de, *;q=0.1", "zh-CN"),
    ("en;q=bogus", "zh-CN"),
    ("en-US;q=0.9, \x00", "en"),  # a malformed range is skipped, not fatal
    ("de," * 300 + "en", "zh-CN"),  # oversized: ignored, not parsed
])
def test_accept_language_is_negotiated(header, language):
    assert i18n.negotiate(header) == language


PAGES = ("/", "/wallet", "/counter", "/audit", "/console", "/statistics")


@pytest.mark.parametrize("path", PAGES)
def test_a_first_visit_follows_accept_language_and_the_cookie_wins_after(client, path):
    english = client.get(path, headers={"Accept-Language": "en-US,en;q=0.9"})
    assert english.status_code == 200
    assert '<html lang="en">' in english.text and english.headers["content-language"] == "en"
    assert "Accept-Language" in english.headers["vary"]
    title = re.search(r"<title>(.*)</title>", english.text).group(1)
    assert not CJK.search(title) and i18n.catalog("en")["base.e_licence_services"] in english.text
    # The switch offers Chinese, marked as Chinese, and comes back here.
    assert f'href="/web/language/zh-CN?next={path}"' in english.text
    assert 'lang="zh-CN" hreflang="zh-CN">中文</a>' in english.text

    client.cookies.set(i18n.LANGUAGE_COOKIE, "zh-CN")
    chosen = client.get(path, headers={"Accept-Language": "en-US,en;q=0.9"})
    assert '<html lang="zh-CN">' in chosen.text and chosen.headers["content-language"] == "zh-CN"
    assert i18n.catalog("zh-CN")["base.e_licence_services"] in chosen.text


def test_the_server_rendered_english_pages_show_no_chinese_but_the_switch(client):
    for path in PAGES:
        html = client.get(path, headers={"Accept-Language": "en"}).text
        html = html.replace('lang="zh-CN" hreflang="zh-CN">中文</a>', "")
        assert not CJK.search(html), (path, CJK.findall(html)[:10])


def test_the_switch_remembers_the_choice_and_returns_only_to_a_page(client):
    answer = client.get("/web/language/en?next=/wallet", follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/wallet"
    cookie = answer.headers["set-cookie"]
    assert cookie.startswith(f"{i18n.LANGUAGE_COOKIE}=en;") and "Max-Age=31536000" in cookie
    assert "SameSite=lax" in cookie and "Path=/" in cookie
    assert '<html lang="en">' in client.get("/wallet").text
    # Never anywhere but one of the pages: no open redirect.
    for target in ("//example.org/", "https://example.org/", "/api/v1/oauth/token", "/wallet/../docs"):
        refused = client.get("/web/language/en", params={"next": target}, follow_redirects=False)
        assert refused.headers["location"] == "/", target
    assert client.get("/web/language/fr", follow_redirects=False).status_code == 404
    # A cookie naming no supported language is ignored.
    client.cookies.clear()
    assert '<html lang="zh-CN">' in client.get("/", headers={"Cookie": f"{i18n.LANGUAGE_COOKIE}=xx"}).text


@pytest.mark.parametrize("language", i18n.LANGUAGES)
def test_the_scripts_get_their_strings_from_the_catalog(client, language):
    page = client.get("/wallet", headers={"Accept-Language": language}).text
    url = re.search(r'<script src="(/web/messages/[^"]+)" defer></script>', page).group(1)
    assert url == i18n.messages_url(language)
    answer = client.get(url)
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/javascript")
    assert answer.headers["cache-control"] == "public, max-age=31536000, immutable"
    body = answer.text
    assert body.startswith("window.certhubMessages=") and body.endswith(";\n")
    served = json.loads(body[len("window.certhubMessages="):-2])
    # Exactly the keys the scripts use, with the catalog's text: nothing restated, nothing extra.
    assert served.keys() == i18n.script_keys()
    assert all(served[key] == i18n.catalog(language)[key] for key in served)
    # Another release's name is gone, not served with today's strings.
    assert client.get(f"/web/messages/{language}.000000000000.js").status_code == 404
    assert client.get("/web/messages/fr.000000000000.js").status_code == 404
