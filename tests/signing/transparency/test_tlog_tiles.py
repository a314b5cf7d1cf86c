"""C2SP tlog-tiles coordinates, paths and entry bundles."""

from __future__ import annotations

import pytest

from signing.transparency.bundles import MAX_ENTRY_BYTES, decode_entry_bundle, encode_entry_bundle, iter_entry_bundle
from signing.transparency.errors import MalformedError
from signing.transparency.tiles import (
    BundleCoord,
    TileCoord,
    bundles_for_size,
    parse_path,
    partial_tiles_for_size,
    tiles_for_size,
)


def test_index_encoding_follows_the_spec_example():
    assert TileCoord(0, 1234067, 256).path == "tile/0/x001/x234/067"
    assert TileCoord(2, 0, 1).path == "tile/2/000.p/1"
    assert BundleCoord(1234067, 8).path == "tile/entries/x001/x234/067.p/8"
    assert TileCoord(0, 1000, 256).path == "tile/0/x001/000"
    assert TileCoord(63, 999, 255).path == "tile/63/999.p/255"


@pytest.mark.parametrize(
    "coord",
    [TileCoord(0, 0, 256), TileCoord(1, 5, 17), TileCoord(3, 1234067, 256), TileCoord(0, 10**15, 3),
     BundleCoord(0, 1), BundleCoord(999, 256), BundleCoord(1000, 255), BundleCoord(123456789, 200)],
)
def test_paths_round_trip(coord):
    assert parse_path(coord.path) == coord
    assert type(coord).from_path(coord.path) == coord


@pytest.mark.parametrize(
    "path",
    ["tile/0/1", "tile/0/0001", "tile/0/x000/001", "tile/00/000", "tile/64/000", "tile/0/000.p/0",
     "tile/0/000.p/256", "tile/0/000.p/010", "tile/0/000.p/", "tile/0/001/x002", "tile/-1/000",
     "tiles/0/000", "tile/0/000/", "tile/entries/00a", "tile//000", "tile/0/x1/000", "tile/0/０００",
     "checkpoint", "tile/0/000.p/5/6", "tile/entries/x001.p/3"],
)
def test_non_canonical_paths_are_rejected(path):
    with pytest.raises(MalformedError):
        parse_path(path)


def test_tiles_for_size_70000_matches_the_spec_example():
    tiles = tiles_for_size(70000)
    level0 = [t for t in tiles if t.level == 0]
    level1 = [t for t in tiles if t.level == 1]
    level2 = [t for t in tiles if t.level == 2]
    assert sum(t.is_full for t in level0) == 273 and [t.width for t in level0 if not t.is_full] == [112]
    assert [t.width for t in level1] == [256, 17]
    assert [t.width for t in level2] == [1]
    assert partial_tiles_for_size(70000) == [TileCoord(0, 273, 112), TileCoord(1, 1, 17), TileCoord(2, 0, 1)]


def test_tiles_for_small_and_boundary_sizes():
    assert tiles_for_size(0) == []
    assert tiles_for_size(1) == [TileCoord(0, 0, 1)]
    # SPEC example: size 256 is one full level-0 tile and a level-1 tile of width 1.
    assert tiles_for_size(256) == [TileCoord(0, 0, 256), TileCoord(1, 0, 1)]
    assert tiles_for_size(257) == [TileCoord(0, 0, 256), TileCoord(0, 1, 1), TileCoord(1, 0, 1)]
    assert TileCoord(2, 0, 1) in tiles_for_size(65536)
    assert bundles_for_size(513) == [BundleCoord(0, 256), BundleCoord(1, 256), BundleCoord(2, 1)]


def test_coordinates_validate_their_fields():
    for bad in [(-1, 0, 1), (64, 0, 1), (0, -1, 1), (0, 0, 0), (0, 0, 257)]:
        with pytest.raises(MalformedError):
            TileCoord(*bad)


def test_entry_bundle_round_trip():
    entries = [b"", b"a", bytes(range(256)) * 3, b"\x00" * MAX_ENTRY_BYTES]
    assert decode_entry_bundle(encode_entry_bundle(entries), expected_count=4) == entries
    full = [b"%d" % i for i in range(256)]
    assert decode_entry_bundle(encode_entry_bundle(full)) == full


def test_entry_bundle_encoding_is_uint16_big_endian_length_prefixed():
    assert encode_entry_bundle([b"ab", b""]) == b"\x00\x02ab\x00\x00"


def test_entry_bundle_bounds():
    with pytest.raises(MalformedError):
        encode_entry_bundle([b"x" * (MAX_ENTRY_BYTES + 1)])
    with pytest.raises(MalformedError):
        encode_entry_bundle([])
    with pytest.raises(MalformedError):
        encode_entry_bundle([b""] * 257)
    with pytest.raises(MalformedError):
        decode_entry_bundle(b"\x00\x00" * 257)


@pytest.mark.parametrize("data", [b"\x00", b"\x00\x05abc", b"", b"\x00\x01a\x00"])
def test_damaged_bundles_are_rejected(data):
    with pytest.raises(MalformedError):
        decode_entry_bundle(data)


def test_damaged_bundle_reports_entries_up_to_the_damage():
    entries = iter_entry_bundle(b"\x00\x01a\x00\x02bc\x00\x09x")
    assert next(entries) == b"a"
    assert next(entries) == b"bc"
    with pytest.raises(MalformedError):
        next(entries)


def test_bundle_count_must_match_when_expected():
    with pytest.raises(MalformedError):
        decode_entry_bundle(encode_entry_bundle([b"a", b"b"]), expected_count=3)
