"""Entry bundles: up to 256 log entries, each a big-endian uint16 length + bytes.

# SPEC: C2SP tlog-tiles — "Log entries": entry bundles are sequences of
# big-endian uint16 length-prefixed log entries; entry i of bundle N hashes
# (RFC 9162 §2.1.1 leaf hash) to hash i of level-0 tile N.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from signing.transparency.errors import MalformedError
from signing.transparency.tiles import TILE_WIDTH

MAX_ENTRY_BYTES = 0xFFFF
MAX_BUNDLE_BYTES = TILE_WIDTH * (2 + MAX_ENTRY_BYTES)


def encode_entry_bundle(entries: Sequence[bytes]) -> bytes:
    """Serialise 1..256 entries; refuses entries that do not fit a uint16 length."""
    if not 1 <= len(entries) <= TILE_WIDTH:
        raise MalformedError(f"an entry bundle holds 1..{TILE_WIDTH} entries, got {len(entries)}")
    parts = []
    for position, entry in enumerate(entries):
        check_entry(entry, position=position)
        parts.append(len(entry).to_bytes(2, "big"))
        parts.append(bytes(entry))
    return b"".join(parts)


def check_entry(entry: bytes, *, position: int | None = None) -> None:
    """Raise MalformedError unless ``entry`` is bytes short enough for a bundle."""
    where = "" if position is None else f" {position}"
    if not isinstance(entry, bytes | bytearray | memoryview):
        raise MalformedError(f"entry{where} is not bytes")
    if len(entry) > MAX_ENTRY_BYTES:
        raise MalformedError(f"entry{where} has {len(entry)} bytes, more than {MAX_ENTRY_BYTES}")


def iter_entry_bundle(data: bytes) -> Iterator[bytes]:
    """Yield entries one by one; raise MalformedError where the bytes stop making sense.

    Lazy so a verifier can report the exact entry at which a damaged bundle
    goes wrong instead of rejecting the bundle as a whole.
    """
    if len(data) > MAX_BUNDLE_BYTES:
        raise MalformedError(f"entry bundle has {len(data)} bytes, more than {MAX_BUNDLE_BYTES}")
    view = memoryview(data)
    offset = 0
    count = 0
    while offset < len(view):
        if count == TILE_WIDTH:
            raise MalformedError(f"entry bundle holds more than {TILE_WIDTH} entries")
        if offset + 2 > len(view):
            raise MalformedError(f"entry bundle ends inside the length of entry {count}")
        length = int.from_bytes(view[offset : offset + 2], "big")
        offset += 2
        if offset + length > len(view):
            raise MalformedError(f"entry bundle ends inside entry {count}")
        yield bytes(view[offset : offset + length])
        offset += length
        count += 1


def decode_entry_bundle(data: bytes, *, expected_count: int | None = None) -> list[bytes]:
    """Parse a whole bundle, optionally insisting on its number of entries."""
    entries = list(iter_entry_bundle(data))
    if not entries:
        raise MalformedError("entry bundle is empty")
    if expected_count is not None and len(entries) != expected_count:
        raise MalformedError(f"entry bundle holds {len(entries)} entries, expected {expected_count}")
    return entries
