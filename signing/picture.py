"""Drawing a round red seal picture when the department uploads none.

Layout of a Chinese official seal (after the conventions of GA 241 for
official seals): a red ring, the organisation's name around the upper arc
with characters standing upright towards the centre, a five-pointed star
in the middle, and the seal's purpose (e.g. 电子证照专用章) below the star.
The background is transparent so the seal can be laid over a document.
"""

from __future__ import annotations

import io
import math
from functools import lru_cache

from PIL import Image, ImageDraw

from signing.fonts import sans_font

SEAL_RED = (215, 25, 32, 255)
DEFAULT_SIZE_PX = 480
SEAL_DIAMETER_MM = 42  # round official seals of departments are 42 mm
_SUPERSAMPLE = 3  # draw large, then downscale: cheap anti-aliasing
_MAX_NAME_CHARS = 40
_MAX_TYPE_CHARS = 12
MAX_PICTURE_BYTES = 512 * 1024


def _draw_star(draw: ImageDraw.ImageDraw, *, centre: tuple[float, float], radius: float) -> None:
    inner = radius * math.sin(math.radians(18)) / math.sin(math.radians(54))
    points = []
    for index in range(10):
        angle = math.radians(-90 + index * 36)
        r = radius if index % 2 == 0 else inner
        points.append((centre[0] + r * math.cos(angle), centre[1] + r * math.sin(angle)))
    draw.polygon(points, fill=SEAL_RED)


def _glyph(char: str, *, font_size: int, squeeze: float) -> Image.Image:
    """One character on its own transparent tile, narrowed like seal lettering."""
    font = sans_font(font_size)
    left, top, right, bottom = font.getbbox(char)
    tile = Image.new("RGBA", (font_size, font_size), (0, 0, 0, 0))
    x = (font_size - (right - left)) / 2 - left
    y = (font_size - (bottom - top)) / 2 - top
    # A thin stroke gives the heavier strokes of carved seal lettering.
    ImageDraw.Draw(tile).text(
        (x, y), char, font=font, fill=SEAL_RED, stroke_width=max(1, font_size // 45), stroke_fill=SEAL_RED
    )
    narrow = max(1, int(font_size * squeeze))
    return tile.resize((narrow, int(font_size * 1.1)), Image.Resampling.LANCZOS)


def _arc_span(count: int) -> float:
    # Spread the name over up to ~250° of the upper arc; short names stay compact.
    return min(250.0, max(120.0, count * 22.0))


def _draw_arc_text(canvas: Image.Image, *, text: str, centre: float, radius: float, font_size: int) -> None:
    count = len(text)
    span = _arc_span(count)
    step = span / max(count - 1, 1)
    start = -span / 2 if count > 1 else 0.0
    for index, char in enumerate(text):
        angle = start + index * step  # degrees clockwise from 12 o'clock
        tile = _glyph(char, font_size=font_size, squeeze=0.78).rotate(-angle, resample=Image.Resampling.BICUBIC, expand=True)
        x = centre + radius * math.sin(math.radians(angle)) - tile.width / 2
        y = centre - radius * math.cos(math.radians(angle)) - tile.height / 2
        canvas.alpha_composite(tile, (int(round(x)), int(round(y))))


def _draw_centred_text(canvas: Image.Image, *, text: str, centre_x: float, centre_y: float, font_size: int) -> None:
    font = sans_font(font_size)
    left, top, right, bottom = font.getbbox(text)
    position = (centre_x - (right - left) / 2 - left, centre_y - (bottom - top) / 2 - top)
    ImageDraw.Draw(canvas).text(
        position, text, font=font, fill=SEAL_RED, stroke_width=max(1, font_size // 45), stroke_fill=SEAL_RED
    )


def draw_round_seal(*, organization_name: str, seal_type: str, size_px: int = DEFAULT_SIZE_PX) -> bytes:
    """PNG bytes of a round red seal for `organization_name` with `seal_type` below the star."""
    return _draw_round_seal(organization_name.strip(), seal_type.strip(), size_px)


@lru_cache(maxsize=32)  # drawing takes a few hundred ms and the result is deterministic
def _draw_round_seal(organization_name: str, seal_type: str, size_px: int) -> bytes:
    if not 1 <= len(organization_name) <= _MAX_NAME_CHARS:
        raise ValueError(f"organisation name must have 1 to {_MAX_NAME_CHARS} characters")
    if len(seal_type) > _MAX_TYPE_CHARS:
        raise ValueError(f"seal type text must have at most {_MAX_TYPE_CHARS} characters")
    if not 96 <= size_px <= 2048:
        raise ValueError("seal picture size must be between 96 and 2048 pixels")
    big = size_px * _SUPERSAMPLE
    canvas = Image.new("RGBA", (big, big), (0, 0, 0, 0))
    draw = ImageDraw.Draw(canvas)
    centre = big / 2
    ring = big * 0.035
    margin = big * 0.02
    draw.ellipse((margin, margin, big - margin, big - margin), outline=SEAL_RED, width=int(ring))
    outer_radius = centre - margin
    count = len(organization_name)
    # Largest size whose narrowed characters still leave a gap along the arc.
    arc_per_char = (outer_radius * 0.72) * math.radians(_arc_span(count) / max(count - 1, 1))
    name_size = int(min(outer_radius * 0.28, arc_per_char * 0.95 / 0.78))
    _draw_arc_text(canvas, text=organization_name, centre=centre, radius=outer_radius - ring - name_size * 0.68, font_size=name_size)
    _draw_star(draw, centre=(centre, centre), radius=outer_radius * 0.3)
    if seal_type:
        type_size = int(outer_radius * min(0.16, 1.1 / max(len(seal_type), 1)))
        _draw_centred_text(canvas, text=seal_type, centre_x=centre, centre_y=centre + outer_radius * 0.5, font_size=type_size)
    picture = canvas.resize((size_px, size_px), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def check_png(data: bytes) -> tuple[int, int]:
    """Validate an uploaded seal picture; returns its pixel size or raises ValueError."""
    if not isinstance(data, bytes) or not data.startswith(b"\x89PNG\r\n\x1a\n"):
        raise ValueError("seal picture must be a PNG")
    if len(data) > MAX_PICTURE_BYTES:
        raise ValueError(f"seal picture is over {MAX_PICTURE_BYTES} bytes")
    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.width > 4096 or image.height > 4096:
                raise ValueError("seal picture is over 4096 pixels on a side")
            image.verify()
            return image.width, image.height
    except (OSError, SyntaxError, Image.DecompressionBombError) as error:
        raise ValueError(f"seal picture does not decode: {error}") from None
