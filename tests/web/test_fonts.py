"""The pages' CJK web font: a subset covering the pages' own strings and the
common characters, with an exact unicode-range, and the full font behind it."""

from __future__ import annotations

import io
import re

import pytest
from fontTools.ttLib import TTFont

from certhub.web.fonts import WEB_DIR, unicode_ranges, web_font

pytestmark = pytest.mark.slow  # subsets the CJK web font


def test_unicode_ranges_merge_runs():
    assert unicode_ranges([0x4E01, 0x20, 0x4E00, 0x21, 0x22, 0x4E03]) == "U+20-22, U+4E00-4E01, U+4E03"
    assert unicode_ranges([0x41]) == "U+41"


def test_font_css_names_the_subset_and_the_full_font(client):
    answer = client.get("/web/fonts/fonts.css")
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/css")
    css = answer.text
    font = web_font()
    assert f'url("/web/fonts/{font.subset_name}") format("woff")' in css
    assert f'url("/web/fonts/{font.full_name}")' in css
    ranges = re.search(r"unicode-range: ([^;]+);", css).group(1)
    assert ranges == unicode_ranges(ord(ch) for ch in font.characters)
    assert 3700 < len(font.characters) < 6000  # GB 2312 level 1 + ASCII + punctuation + page strings


def test_subset_holds_every_character_of_the_pages(client):
    font = web_font()
    answer = client.get(f"/web/fonts/{font.subset_name}")
    assert answer.status_code == 200
    assert answer.headers["cache-control"] == "public, max-age=31536000, immutable"
    data = answer.content
    assert data[:4] == b"wOFF" and len(data) < 1_500_000
    with TTFont(io.BytesIO(data)) as subset:
        cmap = subset.getBestCmap()
    page_text = "".join(p.read_text(encoding="utf-8") for p in (WEB_DIR / "templates").glob("*.html"))
    page_text += "".join(p.read_text(encoding="utf-8") for p in (WEB_DIR / "static" / "js").glob("*.js"))
    hanzi = {ch for ch in page_text if "\u4e00" <= ch <= "\u9fff"}
    assert hanzi and all(ord(ch) in cmap for ch in hanzi)
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
