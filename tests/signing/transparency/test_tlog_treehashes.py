"""Roots and proofs from stored tiles, and the incremental integrator."""

from __future__ import annotations

import hashlib

import pytest

from signing.transparency.errors import MalformedError, TileNotFoundError, TransparencyLogError
from signing.transparency.integrator import integrate
from signing.transparency.merkle import (
    EMPTY_ROOT,
    consistency_path,
    in_memory_range_hasher,
    inclusion_path,
    root_from_leaf_hashes,
    verify_consistency,
    verify_inclusion,
)
from signing.transparency.tiles import TILE_WIDTH, TileCoord, tiles_for_size
from signing.transparency.treehashes import (
    MemoryTiles,
    consistency_proof,
    inclusion_proof,
    read_leaf_hash,
    tiles_for_consistency_proof,
    tiles_for_inclusion_proof,
    tree_root,
)


def _leaf_hashes(count: int, start: int = 0) -> list[bytes]:
    return [hashlib.sha256(b"\x00" + b"leaf %d" % i).digest() for i in range(start, start + count)]


def _store(size: int, *, batch: int | None = None) -> tuple[MemoryTiles, list[bytes]]:
    tiles = MemoryTiles()
    hashes = _leaf_hashes(size)
    step = batch or max(size, 1)
    current = 0
    while current < size:
        result = integrate(old_size=current, leaf_hashes=hashes[current : current + step], reader=tiles)
        for write in result.tiles:
            tiles.store(coord=write.coord, data=write.data)
        current = result.new_size
    return tiles, hashes


class CountingReader:
    def __init__(self, inner: MemoryTiles) -> None:
        self.inner = inner
        self.reads: list[TileCoord] = []

    def read_tile(self, coord: TileCoord) -> bytes | None:
        self.reads.append(coord)
        return self.inner.read_tile(coord)


SIZES = [1, 2, 3, 255, 256, 257, 511, 512, 513, 700, 65535, 65536, 65537, 70000]


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.slow
def test_tile_root_equals_in_memory_root(size):
    tiles, hashes = _store(size)
    assert tree_root(size=size, reader=tiles) == root_from_leaf_hashes(hashes)


@pytest.mark.slow
def test_tile_roots_of_every_smaller_size_come_from_the_same_tiles():
    tiles, hashes = _store(1100)
    for size in range(1101):
        assert tree_root(size=size, reader=tiles) == root_from_leaf_hashes(hashes[:size]), size
    assert tree_root(size=0, reader=tiles) == EMPTY_ROOT


@pytest.mark.slow
def test_integration_in_batches_matches_one_shot():
    one_shot, _ = _store(3000)
    for batch in (1, 7, 255, 256, 257, 1000):
        batched, hashes = _store(3000, batch=batch)
        assert tree_root(size=3000, reader=batched) == tree_root(size=3000, reader=one_shot)
        for coord in tiles_for_size(3000):
            assert batched.read_tile(coord)[: coord.byte_length] == one_shot.read_tile(coord)[: coord.byte_length]


def test_integration_returns_new_root_and_changed_tiles_only():
    tiles, hashes = _store(600)
    new = _leaf_hashes(10, start=600)
    result = integrate(old_size=600, leaf_hashes=new, reader=tiles)
    assert result.new_size == 610
    assert result.root_hash == root_from_leaf_hashes(hashes + new)
    assert [w.path for w in result.tiles] == ["tile/0/002.p/98"]
    crossing = integrate(old_size=600, leaf_hashes=_leaf_hashes(200, start=600), reader=tiles)
    assert [w.path for w in crossing.tiles] == ["tile/0/002", "tile/0/003.p/32", "tile/1/000.p/3"]
    assert integrate(old_size=0, leaf_hashes=[], reader=MemoryTiles()).root_hash == EMPTY_ROOT


def test_integration_refuses_stale_size_missing_tile_and_bad_hashes():
    tiles, _ = _store(600)
    with pytest.raises(TransparencyLogError) as stale:
        integrate(old_size=590, leaf_hashes=_leaf_hashes(1), reader=tiles)
    assert stale.value.code == "stale_size"
    with pytest.raises(TileNotFoundError):
        integrate(old_size=600, leaf_hashes=_leaf_hashes(1), reader=MemoryTiles())
    with pytest.raises(MalformedError):
        integrate(old_size=600, leaf_hashes=[b"short"], reader=tiles)


@pytest.mark.parametrize("size", [1, 5, 256, 257, 700, 65537])
@pytest.mark.slow
def test_tile_inclusion_proofs_equal_in_memory_and_verify(size):
    tiles, hashes = _store(size)
    root = root_from_leaf_hashes(hashes)
    hasher = in_memory_range_hasher(hashes)
    for index in sorted({0, 1 % size, size // 3, size // 2, size - 1, max(0, size - 257)}):
        proof = inclusion_proof(index=index, size=size, reader=tiles)
        if size <= 700:
            assert proof == inclusion_path(index=index, size=size, range_hash=hasher)
        assert read_leaf_hash(index=index, size=size, reader=tiles) == hashes[index]
        verify_inclusion(leaf=hashes[index], index=index, size=size, proof=proof, root=root)


@pytest.mark.slow
def test_tile_consistency_proofs_equal_in_memory_and_verify():
    tiles, hashes = _store(1300)
    roots = {size: root_from_leaf_hashes(hashes[:size]) for size in range(1301)}
    for new in (1, 255, 256, 257, 513, 1000, 1300):
        hasher = in_memory_range_hasher(hashes[:new])
        for old in sorted({0, 1, new // 2, 255 if new > 255 else 0, 256 if new >= 256 else 0, new - 1, new}):
            proof = consistency_proof(old_size=old, new_size=new, reader=tiles)
            assert proof == consistency_path(old_size=old, new_size=new, range_hash=hasher)
            verify_consistency(old_size=old, new_size=new, old_root=roots[old], new_root=roots[new], proof=proof)


@pytest.mark.slow
def test_proofs_at_large_size_read_only_a_few_tiles():
    size = (1 << 18) + 12345
    tiles, hashes = _store(size)
    counting = CountingReader(tiles)
    proof = inclusion_proof(index=123456, size=size, reader=counting)
    verify_inclusion(leaf=hashes[123456], index=123456, size=size, proof=proof,
                     root=tree_root(size=size, reader=tiles))
    # Three tile levels: a couple of tiles each, not thousands of leaves.
    assert len(counting.reads) <= 8
    counting.reads.clear()
    consistency_proof(old_size=200000, new_size=size, reader=counting)
    assert len(counting.reads) <= 12


def test_missing_and_short_tiles_are_reported():
    tiles, _ = _store(300)
    with pytest.raises(TileNotFoundError) as missing:
        tree_root(size=300, reader=MemoryTiles())
    assert missing.value.path.startswith("tile/")

    class ShortReader:
        def read_tile(self, coord):
            return b"\x00" * (coord.byte_length - 1)

    with pytest.raises(MalformedError):
        tree_root(size=300, reader=ShortReader())


def test_memory_tiles_keeps_the_widest_version():
    tiles = MemoryTiles()
    tiles.store(coord=TileCoord(0, 0, 2), data=b"a" * 64)
    tiles.store(coord=TileCoord(0, 0, TILE_WIDTH), data=b"b" * 8192)
    tiles.store(coord=TileCoord(0, 0, 3), data=b"c" * 96)
    assert tiles.read_tile(TileCoord(0, 0, 2)) == b"b" * 8192
    with pytest.raises(MalformedError):
        tiles.store(coord=TileCoord(0, 1, 2), data=b"a" * 63)


class _Recording:
    def __init__(self, tiles: MemoryTiles) -> None:
        self._tiles = tiles
        self.read: set[TileCoord] = set()

    def read_tile(self, coord: TileCoord) -> bytes | None:
        self.read.add(coord)
        return self._tiles.read_tile(coord)


@pytest.mark.slow
def test_tile_plans_name_exactly_the_tiles_a_proof_reads():
    size = 65536 + 700
    tiles, _ = _store(size)
    for index in (0, 1, 255, 256, 65535, 65536, size - 1):
        recording = _Recording(tiles)
        inclusion_proof(index=index, size=size, reader=recording)
        assert tiles_for_inclusion_proof(index=index, size=size) == recording.read
    for old_size in (1, 256, 257, 65536, 65537, size):
        recording = _Recording(tiles)
        consistency_proof(old_size=old_size, new_size=size, reader=recording)
        assert tiles_for_consistency_proof(old_size=old_size, new_size=size) == recording.read
