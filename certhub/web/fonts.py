"""The pages' own CJK web font, served by certhub itself.

A fresh machine's Chromium (or a clerk's locked-down PC) may have no Chinese
font at all and would draw every character as an empty box. The project
already ships Noto Sans SC (SIL OFL 1.1, ``signing.fonts``); the full file is
8 MB, too big for a phone on a slow network, so the pages get two faces:

* ``certhub-sc``: a subset with the pages' own strings, ASCII, CJK
  punctuation and the 3,755 level-1 characters of GB 2312 (the commonly used
  characters), generated with fontTools on first request and cached on disk
  under the data directory and in memory. Its ``unicode-range`` lists exactly
  the characters it holds, so a browser knows without downloading it which
  characters it covers.
* ``certhub-sc-full``: the whole font, next in the ``font-family`` list; a
  browser downloads it only when a page shows a character the subset lacks
  (a rare character in a name or an address). Its ``unicode-range`` is the
  font's own character map, so a character the font does not have at all
  goes straight to the system's fonts instead of fetching 8 MB for nothing.

Both faces first name the Chinese fonts phones and PCs commonly have
(``local()``): a device that has one draws the pages with it and downloads no
font at all. ``font-display: swap`` draws text in a fallback font while a web
font is on its way rather than hiding it.

# SPEC: CSS Fonts Module Level 4 §4.3 (src, local()), §4.5 (unicode-range),
# §4.7 (font matching) and §4.9 (font-display).
"""

from __future__ import annotations

import hashlib
import logging
import os
import subprocess
import sys
import tempfile
import threading
from functools import lru_cache
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import HTTPException
from fastapi.responses import FileResponse, Response

from certhub.settings import Settings
from signing.fonts import sans_font_path
from wiring import find_service

log = logging.getLogger("certhub.web")

router = APIRouter(prefix="/web/fonts", include_in_schema=False)

WEB_DIR = Path(__file__).parent
_IMMUTABLE = "public, max-age=31536000, immutable"
# Bump when the choice of characters changes: it is part of the cache key.
_CHARSET_VERSION = "1"
_BUILD_TIMEOUT_S = 300


class FontBuildFailed(RuntimeError):
    pass


def _gb2312_level1() -> set[str]:
    """GB 2312 rows 16-55: the 3,755 most common hanzi (一级汉字)."""
    found = set()
    for row in range(0xB0, 0xD8):
        for cell in range(0xA1, 0xFF):
            try:
                found.add(bytes((row, cell)).decode("gb2312"))
            except UnicodeDecodeError:
                continue
    return found


# Where the pages' own strings live: templates, scripts, style sheets (CSS
# ``content``), message catalogs and the modules that render pages (titles).
_PAGE_TEXT_SUFFIXES = frozenset({".html", ".js", ".css", ".py", ".json", ".po", ".yaml", ".yml", ".toml"})
# Third-party code the pages load on demand: its strings are never shown.
_NOT_PAGE_TEXT = WEB_DIR / "static" / "vendor"

# Installed Chinese sans-serif fonts a device may have, by full and PostScript
# name (what local() matches): Noto / Source Han (Android, Linux, Google
# Fonts), HarmonyOS and MiSans (Huawei and Xiaomi phones), PingFang and
# Hiragino (iOS, macOS), Microsoft YaHei (Windows), WenQuanYi and Droid
# (Linux, older Android). A match draws the pages without any download.
LOCAL_FONTS = (
    "Noto Sans SC", "NotoSansSC-Regular", "Noto Sans CJK SC", "Noto Sans CJK SC Regular", "NotoSansCJKsc-Regular",
    "Source Han Sans SC", "Source Han Sans SC Regular", "SourceHanSansSC-Regular", "Source Han Sans CN",
    "SourceHanSansCN-Regular", "HarmonyOS Sans SC", "HarmonyOSSansSC-Regular", "MiSans", "MiSans-Regular",
    "PingFang SC", "PingFang SC Regular", "PingFangSC-Regular", "Hiragino Sans GB", "Hiragino Sans GB W3",
    "HiraginoSansGB-W3", "Microsoft YaHei", "MicrosoftYaHei", "Microsoft YaHei UI", "MicrosoftYaHeiUI",
    "WenQuanYi Micro Hei", "WenQuanYiMicroHei", "WenQuanYi Zen Hei", "WenQuanYiZenHei",
    "Droid Sans Fallback", "DroidSansFallback",
)


def page_text_sources() -> list[Path]:
    """Every file under certhub/web that holds text a page may show. The
    subset is built to cover all their characters, so a catalog or template
    added under this folder is covered without further change; a place
    outside it that holds page strings must be added here."""
    return sorted(
        path for path in WEB_DIR.rglob("*")
        if path.is_file() and path.suffix in _PAGE_TEXT_SUFFIXES and not path.is_relative_to(_NOT_PAGE_TEXT)
        and "__pycache__" not in path.parts
    )


def _page_strings() -> set[str]:
    """Every non-ASCII character of the page text sources."""
    found: set[str] = set()
    for path in page_text_sources():
        found.update(ch for ch in path.read_text(encoding="utf-8") if ord(ch) > 0x7F)
    return found


def _wanted_characters() -> set[str]:
    chars = {chr(code) for code in range(0x20, 0x7F)}
    chars |= {chr(code) for code in range(0x3000, 0x3040)}  # CJK punctuation
    chars |= {chr(code) for code in range(0xFF01, 0xFF5F)}  # full-width forms
    chars |= set("·—…‘’“”•√×÷°℃←→↑↓①②③④⑤")
    return chars | _gb2312_level1() | _page_strings()


class WebFont:
    """The subset and the full face; the subset is built once per key."""

    def __init__(self, source: Path) -> None:
        self.source = source
        self._lock = threading.Lock()
        self._subset: bytes | None = None
        self.covered = self._source_cmap()
        self.characters = sorted(ch for ch in _wanted_characters() if ord(ch) in self.covered)
        stat = source.stat()
        material = f"{_CHARSET_VERSION}\n{source.name}\n{stat.st_size}\n" + "".join(self.characters)
        self.key = hashlib.sha256(material.encode("utf-8")).hexdigest()[:16]
        self.full_key = hashlib.sha256(f"{source.name}\n{stat.st_size}".encode()).hexdigest()[:16]

    def _source_cmap(self) -> set[int]:
        from fontTools.ttLib import TTFont

        with TTFont(str(self.source), lazy=True) as font:
            return set(font.getBestCmap())

    @property
    def subset_name(self) -> str:
        return f"sc-common-{self.key}.woff"

    @property
    def full_name(self) -> str:
        return f"sc-full-{self.full_key}{self.source.suffix}"

    @property
    def stylesheet_name(self) -> str:
        """The stylesheet's name carries the subset's key: a page always links
        the stylesheet that matches the subset it names, so it may be cached
        for good (a new character set is a new name)."""
        return f"fonts-{self.key}.css"

    @property
    def stylesheet_url(self) -> str:
        return f"/web/fonts/{self.stylesheet_name}"

    def warm_up(self, cache_dir: Path | None) -> None:
        """Start building the subset in the background (the stylesheet is
        fetched just before the font, so the build gets a head start)."""
        if self._subset is None and not self._lock.locked():
            threading.Thread(target=self.subset_bytes, args=(cache_dir,), name="certhub-web-font", daemon=True).start()

    def subset_bytes(self, cache_dir: Path | None) -> bytes:
        with self._lock:
            cached = cache_dir / self.subset_name if cache_dir is not None else None
            if self._subset is None and cached is not None and cached.is_file():
                self._subset = cached.read_bytes()
            if self._subset is None:
                self._subset = self._build()
            if cached is not None and not cached.is_file():
                _store(cached, self._subset)  # the next process starts from here
            return self._subset

    def _build(self) -> bytes:
        """Subset in a child process: fontTools is pure Python and would hold
        the GIL for seconds, stalling every request of this server."""
        with tempfile.TemporaryDirectory(prefix="certhub-font-") as scratch:
            out = Path(scratch) / self.subset_name
            chars = Path(scratch) / "chars.txt"
            chars.write_text("".join(self.characters), encoding="utf-8")
            command = [sys.executable, str(WEB_DIR / "fontbuild.py"), str(self.source), str(chars), str(out)]
            try:
                subprocess.run(command, check=True, timeout=_BUILD_TIMEOUT_S, capture_output=True)
            except (subprocess.SubprocessError, OSError) as error:
                raise FontBuildFailed(f"cannot build the web font subset: {error}") from None
            data = out.read_bytes()
        log.info("built the web font subset: %d characters, %d bytes", len(self.characters), len(data))
        return data

    def css(self) -> str:
        subset = _font_face("certhub-sc", f'url("/web/fonts/{self.subset_name}") format("woff")',
                            unicode_ranges(ord(ch) for ch in self.characters))
        full = _font_face("certhub-sc-full", f'url("/web/fonts/{self.full_name}") format("opentype")',
                          unicode_ranges(self.covered))
        return subset + full


def _font_face(family: str, url: str, ranges: str) -> str:
    # One regular face: declaring it for weight 400 only lets browsers draw
    # bold text as synthetic bold instead of the regular outline.
    local = ", ".join(f'local("{name}")' for name in LOCAL_FONTS)
    return (
        "@font-face {\n"
        f'  font-family: "{family}";\n'
        f"  src: {local},\n       {url};\n"
        "  font-weight: 400;\n"
        "  font-display: swap;\n"
        f"  unicode-range: {ranges};\n"
        "}\n"
    )


def _store(path: Path, data: bytes) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(f".{os.getpid()}.tmp")
        partial.write_bytes(data)
        os.replace(partial, path)
    except OSError as error:  # a read-only data dir only costs a rebuild per process
        log.warning("cannot cache the web font in %s: %s", path.parent, error)


def unicode_ranges(codepoints) -> str:
    """``U+20-7E, U+4E00-4E01, ...`` for a set of code points (sorted, merged)."""
    parts: list[str] = []
    ordered = sorted(set(codepoints))
    start = previous = None
    for code in ordered + [None]:
        if start is not None and (code is None or code != previous + 1):
            parts.append(f"U+{start:X}" if start == previous else f"U+{start:X}-{previous:X}")
            start = None
        if code is not None and start is None:
            start = code
        previous = code
    return ", ".join(parts)


@lru_cache(maxsize=1)
def web_font() -> WebFont:
    return WebFont(sans_font_path())


def _cache_dir(request: Request) -> Path:
    return Path(find_service(request, Settings).data_dir) / "cache" / "web-fonts"


def stylesheet_url() -> str:
    """The font stylesheet's URL, as pages link it (the templates' ``font_stylesheet()``)."""
    return web_font().stylesheet_url


@router.get("/{name}")
async def font_file(name: str, request: Request) -> Response:
    font = web_font()
    if name == font.stylesheet_name:
        font.warm_up(_cache_dir(request))  # the font itself is asked for next
        return Response(font.css(), media_type="text/css; charset=utf-8", headers={"Cache-Control": _IMMUTABLE})
    if name == font.subset_name:
        # The first request may wait for the build: keep it off the event loop.
        try:
            data = await run_in_threadpool(font.subset_bytes, _cache_dir(request))
        except FontBuildFailed as error:
            log.error("%s", error)
            raise HTTPException(status_code=503, detail={"error": "font_unavailable", "message": str(error)}) from None
        return Response(data, media_type="font/woff", headers={"Cache-Control": _IMMUTABLE})
    if name == font.full_name:
        return FileResponse(font.source, media_type="font/otf", headers={"Cache-Control": _IMMUTABLE})
    raise HTTPException(status_code=404, detail={"error": "not_found", "message": "no such font"})

