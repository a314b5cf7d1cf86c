"""Incremental integration: append a batch of leaf hashes to a tiled tree.

The caller (the database log, the reference writer) holds whatever lock
serialises appends, reads the current size, calls ``integrate`` and stores
the returned tiles and the signed checkpoint in one transaction. Only the
right edge of the tree is touched: one partial tile per level is read, and
the tiles that changed are returned.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from signing.transparency.errors import MalformedError, TileNotFoundError, TransparencyLogError
from signing.transparency.merkle import HASH_SIZE, MAX_TREE_SIZE, complete_subtree_root
from signing.transparency.tiles import FULL_TILE_BYTES, TILE_HEIGHT, TILE_WIDTH, TileCoord
from signing.transparency.treehashes import TileReader, tree_root


@dataclass(frozen=True, slots=True)
class TileWrite:
    """A tile to store: full tiles never change again, partial ones grow."""

    coord: TileCoord
    data: bytes

    @property
    def level(self) -> int:
        return self.coord.level

    @property
    def index(self) -> int:
        return self.coord.index

    @property
    def width(self) -> int:
        return self.coord.width

    @property
    def path(self) -> str:
        return self.coord.path


@dataclass(frozen=True, slots=True)
class Integration:
    """Result of appending one batch: the new tree head and the tiles to write."""

    old_size: int
    new_size: int
    root_hash: bytes
    tiles: tuple[TileWrite, ...]


class _OverlayReader:
    """Serves freshly computed tiles first, falling back to stored ones."""

    def __init__(self, writes: Sequence[TileWrite], fallback: TileReader) -> None:
        self._fresh = {(write.level, write.index): write.data for write in writes}
        self._fallback = fallback

    def read_tile(self, coord: TileCoord) -> bytes | None:
        fresh = self._fresh.get((coord.level, coord.index))
        if fresh is not None and len(fresh) >= coord.byte_length:
            return fresh
        return self._fallback.read_tile(coord)


def integrate(*, old_size: int, leaf_hashes: Sequence[bytes], reader: TileReader) -> Integration:
    """Append ``leaf_hashes`` to the tree of ``old_size`` stored behind ``reader``.

    Returns the new size and root and every tile (full or partial) whose
    content changed; tiles are ordered level 0 first, index ascending.
    """
    if not 0 <= old_size <= MAX_TREE_SIZE:
        raise MalformedError(f"tree size {old_size} out of range")
    if old_size + len(leaf_hashes) > MAX_TREE_SIZE:
        raise MalformedError("batch would grow the tree past its maximum size")
    for position, value in enumerate(leaf_hashes):
        if not isinstance(value, bytes | bytearray) or len(value) != HASH_SIZE:
            raise MalformedError(f"leaf hash {position} is not 32 bytes")
    new_size = old_size + len(leaf_hashes)
    writes: list[TileWrite] = []
    # Hashes newly appended at the current level; level L+1 gains the roots
    # of the level-L tiles that this batch completed.
    appended = b"".join(leaf_hashes)
    level = 0
    while appended:
        existing = old_size >> (TILE_HEIGHT * level)
        first_tile, kept_width = divmod(existing, TILE_WIDTH)
        carried = _read_partial(reader, TileCoord(level, first_tile, kept_width)) if kept_width else b""
        level_bytes = carried + appended
        completed_roots = []
        for offset in range(0, len(level_bytes), FULL_TILE_BYTES):
            chunk = level_bytes[offset : offset + FULL_TILE_BYTES]
            coord = TileCoord(level, first_tile + offset // FULL_TILE_BYTES, len(chunk) // HASH_SIZE)
            writes.append(TileWrite(coord, chunk))
            if coord.is_full:
                # SPEC: C2SP tlog-tiles — only full tiles are hashed into the level above.
                completed_roots.append(complete_subtree_root(chunk))
        appended = b"".join(completed_roots)
        level += 1
    root_hash = tree_root(size=new_size, reader=_OverlayReader(writes, reader))
    return Integration(old_size=old_size, new_size=new_size, root_hash=root_hash, tiles=tuple(writes))


def _read_partial(reader: TileReader, coord: TileCoord) -> bytes:
    data = reader.read_tile(coord)
    if data is None:
        raise TileNotFoundError(f"{coord.path} is needed to append but is not stored", path=coord.path)
    if len(data) > coord.byte_length:
        # The store already holds more of this tile than ``old_size`` implies:
        # the caller's size is stale, and appending would overwrite entries.
        raise TransparencyLogError(
            f"{coord.path} is wider than a tree of the given size allows; size is stale", code="stale_size"
        )
    if len(data) != coord.byte_length:
        raise MalformedError(f"{coord.path} has {len(data)} bytes, expected {coord.byte_length}")
    return bytes(data)
