"""Tile coordinates, tile paths and the set of tiles a tree consists of.

# SPEC: C2SP tlog-tiles — "Merkle Tree" and "Log entries" sections.
A tile at level L, index N holds up to 256 consecutive hashes of the tree at
height 8*L; a full tile has 256, a partial tile 1..255 and lives at a path
with a ``.p/<W>`` suffix. Entry bundles share the level-0 numbering.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from signing.transparency.errors import MalformedError
from signing.transparency.merkle import HASH_SIZE, MAX_TREE_SIZE

TILE_HEIGHT = 8
TILE_WIDTH = 1 << TILE_HEIGHT
FULL_TILE_BYTES = TILE_WIDTH * HASH_SIZE
# SPEC: C2SP tlog-tiles — "<L> ... MUST be a decimal ASCII integer between 0 and 63".
MAX_TILE_LEVEL = 63
ENTRIES_SEGMENT = "entries"
# Longest tile index we ever print: enough 3-digit groups for 2**63 leaves.
_MAX_INDEX = MAX_TREE_SIZE // TILE_WIDTH

_DECIMAL = re.compile(r"0|[1-9][0-9]*")
_INDEX_ELEMENT = re.compile(r"[0-9]{3}")
_PREFIXED_INDEX_ELEMENT = re.compile(r"x[0-9]{3}")


@dataclass(frozen=True, slots=True)
class TileCoord:
    """A hash tile: ``tile/<level>/<index>[.p/<width>]``."""

    level: int
    index: int
    width: int

    def __post_init__(self) -> None:
        if not 0 <= self.level <= MAX_TILE_LEVEL:
            raise MalformedError(f"tile level {self.level} outside 0..{MAX_TILE_LEVEL}")
        _check_index_and_width(self.index, self.width)

    @property
    def is_full(self) -> bool:
        return self.width == TILE_WIDTH

    @property
    def byte_length(self) -> int:
        return self.width * HASH_SIZE

    @property
    def path(self) -> str:
        return f"tile/{self.level}/{_encode_index(self.index)}{_partial_suffix(self.width)}"

    @property
    def first_leaf(self) -> int:
        """Index of the first leaf the tile's hashes cover (its start index)."""
        return self.index << (TILE_HEIGHT * (self.level + 1))

    def with_width(self, width: int) -> TileCoord:
        return TileCoord(self.level, self.index, width)

    @classmethod
    def from_path(cls, path: str) -> TileCoord:
        parsed = parse_path(path)
        if not isinstance(parsed, TileCoord):
            raise MalformedError(f"{path!r} is an entry bundle path, not a hash tile path")
        return parsed


@dataclass(frozen=True, slots=True)
class BundleCoord:
    """An entry bundle: ``tile/entries/<index>[.p/<width>]``."""

    index: int
    width: int

    def __post_init__(self) -> None:
        _check_index_and_width(self.index, self.width)

    @property
    def is_full(self) -> bool:
        return self.width == TILE_WIDTH

    @property
    def path(self) -> str:
        return f"tile/{ENTRIES_SEGMENT}/{_encode_index(self.index)}{_partial_suffix(self.width)}"

    @property
    def first_leaf(self) -> int:
        return self.index * TILE_WIDTH

    @property
    def hash_tile(self) -> TileCoord:
        """The level-0 tile whose hashes the bundle's entries must match."""
        return TileCoord(0, self.index, self.width)

    @classmethod
    def from_path(cls, path: str) -> BundleCoord:
        parsed = parse_path(path)
        if not isinstance(parsed, BundleCoord):
            raise MalformedError(f"{path!r} is a hash tile path, not an entry bundle path")
        return parsed


def parse_path(path: str) -> TileCoord | BundleCoord:
    """Parse a tile or entry bundle path, accepting only the canonical form."""
    if not isinstance(path, str) or len(path) > 256 or not path.isascii():
        raise MalformedError("tile path must be a short ASCII string")
    parts = path.split("/")
    if len(parts) < 3 or parts[0] != "tile":
        raise MalformedError(f"{path!r} does not start with tile/<L>/")
    width = TILE_WIDTH
    # SPEC: C2SP tlog-tiles — ".p/<W>" with W in 1..255, no leading zeroes.
    if len(parts) >= 4 and parts[-2].endswith(".p"):
        width_text = parts[-1]
        if not _DECIMAL.fullmatch(width_text) or not 1 <= int(width_text) < TILE_WIDTH:
            raise MalformedError(f"{path!r} has an invalid partial width")
        width = int(width_text)
        parts = parts[:-2] + [parts[-2][: -len(".p")]]
    index = _decode_index(parts[2:], path)
    if parts[1] == ENTRIES_SEGMENT:
        return BundleCoord(index, width)
    if not _DECIMAL.fullmatch(parts[1]):
        raise MalformedError(f"{path!r} has an invalid level")
    return TileCoord(int(parts[1]), index, width)


def tile_count_at_level(*, size: int, level: int) -> int:
    """How many hashes exist at tile level ``level`` for a tree of ``size``."""
    return size >> (TILE_HEIGHT * level)


def tiles_at_level(*, size: int, level: int) -> list[TileCoord]:
    """Full tiles then the partial one (if any) at ``level`` for a tree of ``size``."""
    hashes = tile_count_at_level(size=size, level=level)
    full, partial = divmod(hashes, TILE_WIDTH)
    coords = [TileCoord(level, index, TILE_WIDTH) for index in range(full)]
    # SPEC: C2SP tlog-tiles — the partial tile at level l has
    # floor(s / 256**l) mod 256 entries; empty tiles are never served.
    if partial:
        coords.append(TileCoord(level, full, partial))
    return coords


def tree_levels(size: int) -> int:
    """Number of tile levels holding at least one hash for a tree of ``size``."""
    _check_size(size)
    levels = 0
    while tile_count_at_level(size=size, level=levels):
        levels += 1
    return levels


def tiles_for_size(size: int) -> list[TileCoord]:
    """Every hash tile a tree of ``size`` consists of, level 0 first."""
    _check_size(size)
    coords: list[TileCoord] = []
    for level in range(tree_levels(size)):
        coords.extend(tiles_at_level(size=size, level=level))
    return coords


def partial_tiles_for_size(size: int) -> list[TileCoord]:
    """The partial tile of each level; together they determine the root."""
    _check_size(size)
    coords = []
    for level in range(tree_levels(size)):
        index, width = divmod(tile_count_at_level(size=size, level=level), TILE_WIDTH)
        if width:
            coords.append(TileCoord(level, index, width))
    return coords


def tile_width_in_tree(*, level: int, index: int, size: int) -> int:
    """Width of tile (level, index) in a tree of ``size``; 0 if it does not exist."""
    remaining = tile_count_at_level(size=size, level=level) - index * TILE_WIDTH
    return max(0, min(TILE_WIDTH, remaining))


def bundles_for_size(size: int) -> list[BundleCoord]:
    """Every entry bundle of a tree of ``size``, in leaf order."""
    return [BundleCoord(tile.index, tile.width) for tile in tiles_at_level(size=size, level=0)]


def split_hashes(data: bytes) -> list[bytes]:
    """Split a tile's bytes into its 32-byte hashes."""
    if len(data) % HASH_SIZE:
        raise MalformedError("tile length is not a multiple of 32 bytes")
    return [data[offset : offset + HASH_SIZE] for offset in range(0, len(data), HASH_SIZE)]


def _encode_index(index: int) -> str:
    # SPEC: C2SP tlog-tiles — zero-padded 3-digit elements, all but the last
    # prefixed with "x": 1234067 -> x001/x234/067.
    groups = []
    while True:
        index, group = divmod(index, 1000)
        groups.append(f"{group:03d}")
        if index == 0:
            break
    groups.reverse()
    return "/".join(["x" + group for group in groups[:-1]] + [groups[-1]])


def _decode_index(elements: list[str], path: str) -> int:
    if not elements or not _INDEX_ELEMENT.fullmatch(elements[-1]):
        raise MalformedError(f"{path!r} has an invalid tile index")
    if not all(_PREFIXED_INDEX_ELEMENT.fullmatch(element) for element in elements[:-1]):
        raise MalformedError(f"{path!r} has an invalid tile index")
    digits = "".join(element.lstrip("x") for element in elements)
    index = int(digits)
    # Only the canonical encoding is accepted: no redundant leading "x000/".
    if _encode_index(index) != "/".join(elements) or index > _MAX_INDEX:
        raise MalformedError(f"{path!r} is not the canonical encoding of its index")
    return index


def _partial_suffix(width: int) -> str:
    return "" if width == TILE_WIDTH else f".p/{width}"


def _check_index_and_width(index: int, width: int) -> None:
    if not 0 <= index <= _MAX_INDEX:
        raise MalformedError(f"tile index {index} out of range")
    if not 1 <= width <= TILE_WIDTH:
        raise MalformedError(f"tile width {width} outside 1..{TILE_WIDTH}")


def _check_size(size: int) -> None:
    if not 0 <= size <= MAX_TREE_SIZE:
        raise MalformedError(f"tree size {size} out of range")
