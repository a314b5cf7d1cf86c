"""The pages' CJK web font: the device's own Chinese font first, else a
subset covering the pages' own strings and the common characters, with an
exact unicode-range, and the full font behind it; text drawn while it loads."""

from __future__ import annotations

import base64
import io
import re

import pytest
from fontTools.ttLib import TTFont

from certhub.web.fonts import LOCAL_FONTS, WEB_DIR, page_text_sources, unicode_ranges, web_font
from tests.web.browsing import DESKTOP, PHONE

pytestmark = pytest.mark.slow  # subsets the CJK web font

VENDORED = WEB_DIR / "static" / "vendor"


def _code_points(ranges: str) -> set[int]:
    """The code points of a CSS unicode-range value (``U+20-7E, U+4E00``)."""
    points: set[int] = set()
    for part in ranges.split(","):
        first, _, last = part.strip().removeprefix("U+").partition("-")
        points.update(range(int(first, 16), int(last or first, 16) + 1))
    return points


def _page_characters() -> dict[str, set[str]]:
    """Every non-ASCII character of every text file under certhub/web (third-party
    code aside), by file: found here on its own, not through the module's list."""
    found: dict[str, set[str]] = {}
    for path in WEB_DIR.rglob("*"):
        if not path.is_file() or path.is_relative_to(VENDORED) or "__pycache__" in path.parts:
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue  # an image, the ICO
        characters = {ch for ch in text if ord(ch) > 0x7F}
        if characters:
            found[path.relative_to(WEB_DIR).as_posix()] = characters
    return found


def test_unicode_ranges_merge_runs():
    assert unicode_ranges([0x4E01, 0x20, 0x4E00, 0x21, 0x22, 0x4E03]) == "U+20-22, U+4E00-4E01, U+4E03"
    assert unicode_ranges([0x41]) == "U+41"


def test_font_css_puts_local_fonts_first_and_names_the_subset_and_the_full_font(client):
    font = web_font()
    assert f'href="{font.stylesheet_url}"' in client.get("/").text
    answer = client.get(font.stylesheet_url)
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/css")
    faces = dict(re.findall(r'font-family: "([\w-]+)";(.*?)\}', answer.text, flags=re.S))
    assert faces.keys() == {"certhub-sc", "certhub-sc-full"}
    for family, url in (("certhub-sc", f'url("/web/fonts/{font.subset_name}") format("woff")'),
                        ("certhub-sc-full", f'url("/web/fonts/{font.full_name}") format("opentype")')):
        face = faces[family]
        # The device's own fonts first, the download last (SPEC: CSS Fonts 4 §4.3: the first source that loads wins).
        sources = re.search(r"src: (.*?);", face, flags=re.S).group(1)
        assert [item.strip() for item in sources.split(",")] == [f'local("{name}")' for name in LOCAL_FONTS] + [url]
        assert {"WenQuanYi Micro Hei", "Noto Sans CJK SC", "PingFang SC", "Microsoft YaHei"} <= set(LOCAL_FONTS)
        assert "font-display: swap;" in face  # text in a fallback font while the font loads, never hidden
    subset_range = _code_points(re.search(r"unicode-range: ([^;]+);", faces["certhub-sc"]).group(1))
    assert subset_range == {ord(ch) for ch in font.characters}
    assert 3700 < len(font.characters) < 6000  # GB 2312 level 1 + ASCII + punctuation + page strings
    # The full face claims exactly what the font has: a character it lacks never fetches 8 MB.
    full_range = _code_points(re.search(r"unicode-range: ([^;]+);", faces["certhub-sc-full"]).group(1))
    with TTFont(str(font.source), lazy=True) as full:
        assert full_range == set(full.getBestCmap())
    assert ord("雯") in full_range and ord("✗") not in full_range


def test_subset_holds_every_character_of_the_pages(client):
    font = web_font()
    answer = client.get(f"/web/fonts/{font.subset_name}")
    assert answer.status_code == 200
    assert answer.headers["cache-control"] == "public, max-age=31536000, immutable"
    data = answer.content
    assert data[:4] == b"wOFF" and len(data) < 1_500_000
    with TTFont(io.BytesIO(data)) as subset:
        cmap = subset.getBestCmap()
    by_file = _page_characters()
    # Templates, scripts, style sheets, the modules that render pages and any message catalog.
    assert {"templates/wallet.html", "static/js/counter.js", "static/css/app.css", "pages.py"} <= by_file.keys()
    missing = {name: "".join(sorted(ch for ch in chars if ord(ch) not in cmap)) for name, chars in by_file.items()}
    assert {name: chars for name, chars in missing.items() if chars} == {}
    # The subset is built from the module's list of sources: every file found here is on it.
    listed = {path.relative_to(WEB_DIR).as_posix() for path in page_text_sources()}
    assert by_file.keys() <= listed
    assert all(ord(ch) in cmap for ch in "林晓梅福州市鼓楼区五四路不动产权证书")
    # A rare character (GB 2312 level 2) is left to the full face, next in the font stack.
    assert ord("雯") not in cmap
    with TTFont(str(web_font().source), lazy=True) as full:
        assert ord("雯") in full.getBestCmap()


def test_full_font_and_unknown_names(client):
    font = web_font()
    answer = client.get(f"/web/fonts/{font.full_name}")
    assert answer.status_code == 200 and len(answer.content) == font.source.stat().st_size
    assert answer.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert client.get("/web/fonts/sc-common-0000000000000000.woff").status_code == 404
    assert client.get("/web/fonts/..%2F..%2Fsettings.py").status_code == 404


def test_subset_is_kept_for_the_next_process(client, settings, tmp_path):
    font = web_font()
    client.get(f"/web/fonts/{font.subset_name}")
    cached = settings.data_dir / "cache" / "web-fonts" / font.subset_name
    assert cached.is_file() and cached.read_bytes()[:4] == b"wOFF"
    # A process that finds the file serves it without building again.
    fresh = type(font)(font.source)
    other = tmp_path / "other-cache"
    other.mkdir()
    (other / fresh.subset_name).write_bytes(b"wOFF-from-disk")
    assert fresh.subset_bytes(other) == b"wOFF-from-disk"


def _font_requests(page) -> list[str]:
    fetched: list[str] = []
    page.on("request", lambda request: "/web/fonts/" in request.url and fetched.append(request.url.rsplit("/", 1)[1]))
    return fetched


def _show(page, text: str) -> None:
    """Put ``text`` on the page and wait until every font it needs has loaded (or failed)."""
    page.evaluate("""text => {
        const node = document.createElement('p');
        node.textContent = text;
        document.getElementById('main').appendChild(node);
        return node.getBoundingClientRect().width;
    }""", text)
    page.evaluate("document.fonts.ready.then(() => true)")


def _face_status(page, family: str) -> str:
    return page.evaluate("family => Array.from(document.fonts).find(f => f.family.replace(/\"/g, '') === family).status",
                         family)


def test_without_a_chinese_font_every_page_character_comes_from_the_subset(browsing, live):
    """A PC with no Chinese font: every character any page holds is drawn from
    the subset; the full font is fetched only for a character outside it that
    the font has, never for one the font lacks (a ✗ once cost 8 MB)."""
    font = web_font()
    page = browsing.page(DESKTOP)
    fetched = _font_requests(page)
    page.goto(live.base_url + "/")
    page.wait_for_function("() => document.fonts.check('16px certhub-sc', '电子证照服务平台')")
    _show(page, "".join(sorted(set().union(*_page_characters().values()))))
    _show(page, "✗✘")  # no glyph in Noto Sans SC: left to the system's fonts
    assert _face_status(page, "certhub-sc") == "loaded" and _face_status(page, "certhub-sc-full") == "unloaded"
    assert font.subset_name in fetched and font.full_name not in fetched
    # A rare character of a name (GB 2312 level 2) is what the full font is for.
    _show(page, "林晓雯")
    page.wait_for_function("() => document.fonts.check('16px certhub-sc-full', '雯')")
    assert _face_status(page, "certhub-sc-full") == "loaded" and font.full_name in fetched


def test_a_device_with_a_chinese_font_downloads_no_font(browsing_with_cjk_font, live):
    font = web_font()
    page = browsing_with_cjk_font.page(PHONE, mobile=True)
    fetched = _font_requests(page)
    page.goto(live.base_url + "/wallet")
    _show(page, "".join(sorted(set().union(*_page_characters().values()))) + "林晓雯")
    assert _face_status(page, "certhub-sc") == "loaded" and _face_status(page, "certhub-sc-full") == "loaded"
    assert fetched == [font.stylesheet_name]  # local("WenQuanYi Micro Hei") answered both faces
    drawn = page.evaluate("""() => {
        const canvas = document.createElement('canvas');
        const ctx = canvas.getContext('2d');
        ctx.font = '32px certhub-sc';
        return ctx.measureText('证照').width;
    }""")
    assert drawn == 64  # two full-width glyphs of the device's font, not .notdef boxes


def test_text_is_drawn_in_a_fallback_font_while_the_web_font_loads(browsing, live):
    """font-display: swap. With the subset held back on its way, the page's
    Chinese text is already on screen (drawn in a fallback); with ``block``
    it would be invisible for up to three seconds."""
    font = web_font()
    page = browsing.page(DESKTOP)
    held: list = []
    page.route(f"**/web/fonts/{font.subset_name}", lambda route: held.append(route))
    page.goto(live.base_url + "/", wait_until="domcontentloaded")
    for _ in range(200):
        if held:
            break
        page.wait_for_timeout(50)
    assert held, "the page never asked for the subset"
    page.wait_for_timeout(500)  # past swap's 100 ms block period, well within block's 3 s
    assert _face_status(page, "certhub-sc") == "loading"
    box = page.locator(".site-nav a").first.bounding_box()
    # Chromium's own screenshot: Playwright's waits for the fonts, which is what is held back here.
    shot = page.context.new_cdp_session(page).send("Page.captureScreenshot", {
        "format": "png", "clip": {**box, "scale": 1}})
    assert _ink(base64.b64decode(shot["data"])) > 20, "the text is hidden while the font loads"
    held[0].continue_()
    page.wait_for_function("() => document.fonts.check('16px certhub-sc', '我的证照')")
    assert _face_status(page, "certhub-sc") == "loaded"


def _ink(png: bytes) -> int:
    """Pixels of a screenshot unlike its most common colour (the background)."""
    from PIL import Image

    with Image.open(io.BytesIO(png)) as picture:
        colours = picture.convert("RGB").getcolors(maxcolors=1 << 20)
    return sum(count for count, _ in colours) - max(count for count, _ in colours)
