"""Build a subset of a font as WOFF, in a process of its own.

``python fontbuild.py SOURCE CHARS_FILE OUT`` — run as a script by
``certhub.web.fonts`` (it imports nothing of certhub): fontTools is pure
Python and would hold a server process's GIL for seconds.
"""

from __future__ import annotations

import io
import sys
from pathlib import Path


def subset_font(source: Path, text: str) -> bytes:
    """The WOFF subset of ``source`` holding the glyphs of ``text``."""
    from fontTools import subset
    from fontTools.ttLib import TTFont

    options = subset.Options()
    options.flavor = "woff"  # zlib; WOFF2 would need brotli, which we do not depend on
    options.layout_features = ["*"]
    options.notdef_outline = True
    options.hinting = False
    options.desubroutinize = True
    font = TTFont(str(source))
    subsetter = subset.Subsetter(options)
    subsetter.populate(text=text)
    subsetter.subset(font)
    out = io.BytesIO()
    font.flavor = "woff"
    font.save(out)
    return out.getvalue()


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print("usage: python fontbuild.py SOURCE CHARS_FILE OUT", file=sys.stderr)
        return 2
    source, chars, out = (Path(arg) for arg in argv)
    out.write_bytes(subset_font(source, chars.read_text(encoding="utf-8")))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
