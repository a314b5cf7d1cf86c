"""What a layout document shows: the licence face, independent of format."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TypeVar

MAX_FIELDS = 60
MAX_VALUE_CHARS = 2000  # a catalog string's longest (经营范围); the layouts wrap it
MAX_IMAGES = 4


@dataclass(frozen=True)
class Annotation:
    """A purpose-limited copy (加注件): visible on every page it is printed on."""

    purpose: str
    department_name: str
    expires_at: datetime

    def text(self) -> str:
        return f"仅用于{self.purpose}（{self.department_name}），有效期至{self.expires_at:%Y-%m-%d %H:%M}"


@dataclass(frozen=True)
class LicenceFace:
    type_name: str
    holder_name: str
    fields: list[tuple[str, str]]  # (label, display value), in the type's order
    identifier: str
    issuer_name: str
    issued_on: date
    valid_from: date | None
    valid_until: date | None
    qr_text: str
    template: str = "default"
    seal_png: bytes | None = None
    status_note: str | None = None  # e.g. 已吊销, printed across a face that is no longer valid
    images: list[tuple[str, bytes]] = field(default_factory=list)  # (label, picture): image fields, e.g. 照片
    annotation: Annotation | None = None
    extra: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if len(self.fields) > MAX_FIELDS:
            raise ValueError(f"a licence face shows at most {MAX_FIELDS} fields")
        if len(self.images) > MAX_IMAGES:
            raise ValueError(f"a licence face shows at most {MAX_IMAGES} pictures")

    def validity_text(self) -> str:
        start = f"{self.valid_from:%Y年%m月%d日}" if self.valid_from else ""
        end = f"{self.valid_until:%Y年%m月%d日}" if self.valid_until else "长期"
        return f"{start} 至 {end}" if start else end


def display_value(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, (date, datetime)):
        return f"{value:%Y年%m月%d日}"
    text = str(value)
    return text if len(text) <= MAX_VALUE_CHARS else text[: MAX_VALUE_CHARS - 1] + "…"


def wrap_lines(text: str, advance: Callable[[str], float], limit: float) -> list[str]:
    """Lines whose advances add up to at most `limit`, broken at line breaks
    and between characters (Chinese has no spaces to break at); the PNG and
    the PDF face each measure with their own font."""
    lines: list[str] = []
    for paragraph in text.splitlines() or [""]:
        current, used = "", 0.0
        for ch in paragraph:
            width = advance(ch)
            if current and used + width > limit:
                lines.append(current)
                current, used = ch.lstrip(), (width if ch.strip() else 0.0)
            else:
                current, used = current + ch, used + width
        if current:
            lines.append(current)
    return lines


Layout = TypeVar("Layout")
# Pixels (int) for PNG, points (float) for PDF: a plan is asked at the page height it answers overflow in.
Length = TypeVar("Length", int, float)


def largest_fit(plan: Callable[[Length, float], tuple[Layout, Length]], *, height: Length,
                factors: Sequence[float]) -> Layout:
    """The layout at the largest font factor (`factors`, largest first) whose
    fields fit a page `height` high (`plan(height, factor)` answers the layout
    and how far it overflows); at the smallest, the page grown to hold them.
    Binary search: the overflow shrinks as the factor does."""
    low, high, best = 0, len(factors) - 1, None
    while low <= high:
        middle = (low + high) // 2
        layout, overflow = plan(height, factors[middle])
        if overflow <= 0:
            best, high = layout, middle - 1
        else:
            low = middle + 1
    if best is not None:
        return best
    _, overflow = plan(height, factors[-1])
    layout, overflow = plan(height + overflow, factors[-1])
    assert overflow <= 1e-6, "a grown page holds its fields"
    return layout
