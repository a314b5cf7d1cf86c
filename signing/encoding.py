"""Wire encodings shared by signed objects: base64url and UTC timestamps.

Timestamps are RFC 3339 UTC with second precision and a "Z" suffix
(`2025-03-01T08:00:00Z`). Truncating to seconds is deliberate and fails
closed: a signature made in the same second as a compromise counts as
made after it.
"""

from __future__ import annotations

import base64
import binascii
import re
from datetime import UTC, datetime
from functools import lru_cache

from signing.errors import InvalidInput

_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z")
_B64URL = re.compile(r"[A-Za-z0-9_-]*")


def b64url_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str, *, max_length: int = 1 << 20) -> bytes:
    """Strict unpadded base64url; InvalidInput for anything else."""
    if not isinstance(text, str) or len(text) > max_length or not _B64URL.fullmatch(text):
        raise InvalidInput("expected unpadded base64url text")
    try:
        decoded = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise InvalidInput("expected unpadded base64url text") from None
    if b64url_encode(decoded) != text:  # reject non-canonical trailing bits
        raise InvalidInput("non-canonical base64url text")
    return decoded


def truncate_to_second(value: datetime) -> datetime:
    return ensure_utc(value).replace(microsecond=0)


def ensure_utc(value: datetime) -> datetime:
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise InvalidInput("datetimes must be timezone-aware")
    return value.astimezone(UTC)


@lru_cache(maxsize=4096)  # signing in bulk formats the same second over and over
def format_timestamp(value: datetime) -> str:
    return truncate_to_second(value).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_timestamp(text: object) -> datetime:
    if not isinstance(text, str) or not _TIMESTAMP.fullmatch(text):
        raise InvalidInput(f"timestamp must look like 2025-03-01T08:00:00Z, got {text!r}")
    try:
        # Slicing the fixed layout is several times faster than strptime, and
        # this runs on every verification.
        return datetime(
            int(text[0:4]), int(text[5:7]), int(text[8:10]), int(text[11:13]), int(text[14:16]), int(text[17:19]),
            tzinfo=UTC,
        )
    except ValueError:
        raise InvalidInput(f"invalid timestamp {text!r}") from None


def format_optional_timestamp(value: datetime | None) -> str | None:
    return None if value is None else format_timestamp(value)


def parse_optional_timestamp(text: str | None) -> datetime | None:
    return None if text is None else parse_timestamp(text)
