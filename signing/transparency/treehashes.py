"""Roots and proofs computed from stored tiles instead of from all leaves.

Every complete subtree of height h at index i is one hash inside a tile:
tile level h // 8 stores the heights that are multiples of 8, and the up to
seven heights between are rebuilt from at most 128 hashes of a single tile.
A root or proof at any size therefore reads O(log n) tiles — a handful per
tile level — however large the log is.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Protocol

from signing.transparency.errors import MalformedError, TileNotFoundError
from signing.transparency.merkle import (
    HASH_SIZE,
    MAX_TREE_SIZE,
    complete_subtree_root,
    consistency_path,
    fold_subtree_roots,
    inclusion_path,
)
from signing.transparency.tiles import TILE_HEIGHT, TILE_WIDTH, TileCoord, tile_width_in_tree


class TileReader(Protocol):
    """Where stored tiles come from (database rows, files, memory).

    ``read_tile`` returns the bytes of tile ``coord`` holding *at least*
    ``coord.width`` hashes, or None when it is not stored. A wider or full
    version of the same tile is an acceptable answer: a tile only ever grows
    to the right and its existing hashes never change, so storage can keep a
    single row per (level, index) and overwrite it as it fills up.
    """

    def read_tile(self, coord: TileCoord) -> bytes | None: ...


class MemoryTiles:
    """A dict-backed TileReader that keeps the widest version of each tile."""

    def __init__(self) -> None:
        self._tiles: dict[tuple[int, int], bytes] = {}

    def read_tile(self, coord: TileCoord) -> bytes | None:
        data = self._tiles.get((coord.level, coord.index))
        if data is None or len(data) < coord.byte_length:
            return None
        return data

    def store(self, *, coord: TileCoord, data: bytes) -> None:
        if len(data) != coord.byte_length:
            raise MalformedError(f"{coord.path} must be {coord.byte_length} bytes")
        current = self._tiles.get((coord.level, coord.index))
        if current is None or len(current) <= len(data):
            self._tiles[(coord.level, coord.index)] = bytes(data)

    def __len__(self) -> int:
        return len(self._tiles)


class TreeHashes:
    """Hashes of the tree of one ``size``, read lazily from a TileReader.

    Tiles are cached for the lifetime of the object, so one instance should
    serve one request (a proof, a root) rather than live forever.
    """

    def __init__(self, reader: TileReader, *, size: int) -> None:
        if not 0 <= size <= MAX_TREE_SIZE:
            raise ValueError(f"tree size {size} out of range")
        self._reader = reader
        self.size = size
        self._tiles: dict[tuple[int, int], bytes] = {}
        # Proofs of neighbouring leaves share most siblings: each is hashed once.
        self._subtrees: dict[tuple[int, int], bytes] = {}
        self.tiles_read = 0

    def tile_hashes(self, *, level: int, index: int) -> bytes:
        """The concatenated hashes of tile (level, index) as it is at ``size``."""
        key = (level, index)
        cached = self._tiles.get(key)
        if cached is not None:
            return cached
        width = tile_width_in_tree(level=level, index=index, size=self.size)
        if width == 0:
            raise ValueError(f"tile {level}/{index} is not part of a tree of size {self.size}")
        coord = TileCoord(level, index, width)
        data = self._reader.read_tile(coord)
        self.tiles_read += 1
        if data is None:
            raise TileNotFoundError(f"{coord.path} is not stored", path=coord.path)
        if len(data) < coord.byte_length or len(data) > TILE_WIDTH * HASH_SIZE or len(data) % HASH_SIZE:
            raise MalformedError(f"{coord.path} has {len(data)} bytes, expected {coord.byte_length}")
        data = bytes(data[: coord.byte_length])
        self._tiles[key] = data
        return data

    def subtree_hash(self, *, height: int, index: int) -> bytes:
        """MTH of the complete subtree of 2**height leaves starting at index * 2**height."""
        cached = self._subtrees.get((height, index))
        if cached is not None:
            return cached
        if height < 0 or index < 0 or (index + 1) << height > self.size:
            raise ValueError(f"subtree {height}/{index} is not complete in a tree of size {self.size}")
        tile_level, height_in_tile = divmod(height, TILE_HEIGHT)
        count = 1 << height_in_tile
        first = index << height_in_tile
        tile_index, offset = divmod(first, TILE_WIDTH)
        data = self.tile_hashes(level=tile_level, index=tile_index)
        value = complete_subtree_root(data[offset * HASH_SIZE : (offset + count) * HASH_SIZE])
        self._subtrees[(height, index)] = value
        return value

    def leaf_hash(self, index: int) -> bytes:
        return self.subtree_hash(height=0, index=index)

    def range_hash(self, start: int, end: int) -> bytes:
        """MTH(D[start:end]) for the ranges RFC 9162 recursion produces.

        Those ranges start at a multiple of the smallest power of two not
        below their length, so they split into aligned complete subtrees
        given by the bits of the length, largest first.
        """
        if not 0 <= start < end <= self.size:
            raise ValueError(f"range {start}..{end} outside tree of size {self.size}")
        length = end - start
        if start % (1 << (length - 1).bit_length()):
            raise ValueError(f"range {start}..{end} is not a Merkle tree subtree")
        roots = []
        position = start
        for height in range(length.bit_length() - 1, -1, -1):
            if length >> height & 1:
                roots.append(self.subtree_hash(height=height, index=position >> height))
                position += 1 << height
        return fold_subtree_roots(roots)

    def root(self) -> bytes:
        if self.size == 0:
            return fold_subtree_roots([])
        return self.range_hash(0, self.size)


def tree_root(*, size: int, reader: TileReader) -> bytes:
    """MTH of the first ``size`` leaves (RFC 9162 §2.1.1) from stored tiles."""
    return TreeHashes(reader, size=size).root()


def read_leaf_hash(*, index: int, size: int, reader: TileReader) -> bytes:
    """The stored leaf hash at ``index`` of a tree of ``size``."""
    return TreeHashes(reader, size=size).leaf_hash(index)


def inclusion_proof(*, index: int, size: int, reader: TileReader) -> list[bytes]:
    """Audit path for leaf ``index`` in the tree of ``size`` (RFC 9162 §2.1.3.1)."""
    hashes = TreeHashes(reader, size=size)
    return inclusion_path(index=index, size=size, range_hash=hashes.range_hash)


def inclusion_proofs(*, indices: Iterable[int], size: int, reader: TileReader) -> Iterator[list[bytes]]:
    """Audit paths for several leaves of one tree, in order; neighbouring
    leaves share their tile reads and sibling hashes (one batch of an export)."""
    hashes = TreeHashes(reader, size=size)
    for index in indices:
        yield inclusion_path(index=index, size=size, range_hash=hashes.range_hash)


def consistency_proof(*, old_size: int, new_size: int, reader: TileReader) -> list[bytes]:
    """Consistency proof from ``old_size`` to ``new_size`` (RFC 9162 §2.1.4.1)."""
    hashes = TreeHashes(reader, size=new_size)
    return consistency_path(old_size=old_size, new_size=new_size, range_hash=hashes.range_hash)


class _TilePlan(TreeHashes):
    """Notes which tiles a root or proof reads, hashing nothing.

    Which tiles are read depends only on the sizes and indices, never on
    hash values, so a storage backend can fetch them all in one round trip
    before the real computation.
    """

    def __init__(self, *, size: int) -> None:
        super().__init__(_NO_TILES, size=size)
        self.wanted: set[TileCoord] = set()

    def subtree_hash(self, *, height: int, index: int) -> bytes:
        if height < 0 or index < 0 or (index + 1) << height > self.size:
            raise ValueError(f"subtree {height}/{index} is not complete in a tree of size {self.size}")
        tile_level, height_in_tile = divmod(height, TILE_HEIGHT)
        tile_index = (index << height_in_tile) // TILE_WIDTH
        width = tile_width_in_tree(level=tile_level, index=tile_index, size=self.size)
        self.wanted.add(TileCoord(tile_level, tile_index, width))
        return bytes(HASH_SIZE)


class _NoTiles:
    def read_tile(self, coord: TileCoord) -> bytes | None:
        return None


_NO_TILES = _NoTiles()


def tiles_for_inclusion_proof(*, index: int, size: int) -> set[TileCoord]:
    """The tiles ``inclusion_proof(index=, size=)`` reads."""
    plan = _TilePlan(size=size)
    inclusion_path(index=index, size=size, range_hash=plan.range_hash)
    return plan.wanted


def tiles_for_consistency_proof(*, old_size: int, new_size: int) -> set[TileCoord]:
    """The tiles ``consistency_proof(old_size=, new_size=)`` reads."""
    plan = _TilePlan(size=new_size)
    consistency_path(old_size=old_size, new_size=new_size, range_hash=plan.range_hash)
    return plan.wanted
