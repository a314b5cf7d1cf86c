"""The CJK fonts every rendered seal and licence face uses.

Noto Sans SC and Noto Serif SC (SIL OFL 1.1) ship with the
`pylopdf-fonts-zh-cn` dependency, so rendering never depends on the fonts
installed on the machine — a missing system font would silently draw
.notdef boxes instead of Chinese characters.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from PIL import ImageFont
from pylopdf_fonts_zh_cn import sans_path, serif_path

_MIN_SIZE, _MAX_SIZE = 4, 1024


def sans_font_path() -> Path:
    return Path(sans_path())


def serif_font_path() -> Path:
    return Path(serif_path())


def _check_size(size: int) -> int:
    if not isinstance(size, int) or not _MIN_SIZE <= size <= _MAX_SIZE:
        raise ValueError(f"font size must be an integer between {_MIN_SIZE} and {_MAX_SIZE}")
    return size


@lru_cache(maxsize=64)
def sans_font(size: int) -> ImageFont.FreeTypeFont:
    """Noto Sans SC at `size` pixels, loaded once per size."""
    return ImageFont.truetype(str(sans_font_path()), _check_size(size))


@lru_cache(maxsize=64)
def serif_font(size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(serif_font_path()), _check_size(size))
