"""The faces' two fonts as the PDF and the OFD use them: advances to lay a
face out with, and a subset holding only the characters a document draws.

Noto Sans SC and Noto Serif SC are 8 and 11 MB of CID-keyed CFF with some
65,000 glyphs. Reading one through fpdf2 for every document (its character
widths, then its own subsetting of the whole font when writing) cost 0.8 s
per licence PDF. Here the metrics are read once per process, the plan is
measured with them, and each document embeds a subset made once from the
characters it draws, so the PDF writer and the OFD only ever load a font of
a few dozen glyphs.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Literal

from fontTools import subset
from fontTools.ttLib import TTFont

from signing.fonts import sans_font_path, serif_font_path

Family = Literal["sans", "serif"]
_MM_PER_PT = 25.4 / 72


@dataclass(frozen=True)
class FontMetrics:
    cmap: dict[int, str]  # code point -> glyph name
    advances: dict[str, int]  # glyph name -> advance width, in font units
    units_per_em: int

    def advance(self, character: str) -> int:
        """The glyph's advance in font units; a character the font lacks draws .notdef."""
        return self.advances[self.cmap.get(ord(character), ".notdef")]


def font_path(family: Family) -> Path:
    return sans_font_path() if family == "sans" else serif_font_path()


@lru_cache(maxsize=2)
def font_metrics(family: Family) -> FontMetrics:
    """The font's character map and advances, read once per process."""
    with TTFont(str(font_path(family)), lazy=True) as font:
        advances = {name: width for name, (width, _bearing) in font["hmtx"].metrics.items()}
        return FontMetrics(cmap=font.getBestCmap(), advances=advances, units_per_em=font["head"].unitsPerEm)


def text_width_mm(family: Family, text: str, size_pt: float) -> float:
    """The sum of the glyphs' advances at `size_pt`, without text shaping: what
    fpdf2 measures too (widths rounded to thousandths of an em, as it keeps them)."""
    metrics = font_metrics(family)
    thousandths = sum(round(metrics.advance(ch) * 1000 / metrics.units_per_em + 0.001) for ch in text)
    return thousandths * size_pt / 1000 * _MM_PER_PT


def font_subset(family: Family, characters: Iterable[str]) -> bytes:
    """The OpenType file of the font with only the glyphs of `characters` (and
    .notdef), its names kept for the reader."""
    return _subset(family, "".join(sorted(set("".join(characters)))))


# Each subset reads the full font's character map and CFF index (~0.1 s). The same
# characters recur (a licence type's title, one holder's documents), and a subset is a
# few kilobytes: the last ones made are kept.
@lru_cache(maxsize=128)
def _subset(family: Family, characters: str) -> bytes:
    """The CFF is desubroutinized: pruning the subroutines of the full font is most of
    what subsetting it costs, and a few dozen glyphs need none."""
    options = subset.Options()
    options.hinting = False
    options.desubroutinize = True
    options.notdef_outline = True
    options.name_IDs = ["*"]
    # The head table's box stays the full font's (a box that holds every glyph is still right),
    # which spares drawing each kept glyph to measure it.
    with TTFont(str(font_path(family)), lazy=True, recalcTimestamp=False, recalcBBoxes=False) as font:
        # The faces draw without shaping: the layout tables would only add bytes, and the
        # subsetter reads all of them before it looks at the options (a third of its time).
        for layout_table in ("GSUB", "GPOS", "GDEF", "BASE", "JSTF", "MATH"):
            if layout_table in font:
                del font[layout_table]
        subsetter = subset.Subsetter(options)
        subsetter.populate(text=characters)
        subsetter.subset(font)
        out = io.BytesIO()
        font.save(out)
    return out.getvalue()
