"""A reference tiled-log writer over a path-addressed store.

It produces exactly the resources of the C2SP tlog-tiles URL space
(``checkpoint``, ``tile/<L>/<N>[.p/<W>]``, ``tile/entries/<N>[.p/<W>]``),
so a directory it writes can be served by any static web server and
audited with ``verifier.verify_log``. The database log follows the same
steps with rows instead of files: integrate, store tiles and bundles, sign.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol

from signing.transparency.bundles import check_entry, decode_entry_bundle, encode_entry_bundle
from signing.transparency.checkpoint import Checkpoint
from signing.transparency.errors import MalformedError, TransparencyLogError
from signing.transparency.integrator import integrate
from signing.transparency.merkle import EMPTY_ROOT, leaf_hash
from signing.transparency.note import NoteSigner
from signing.transparency.tiles import TILE_WIDTH, BundleCoord, TileCoord, parse_path, tile_width_in_tree

CHECKPOINT_PATH = "checkpoint"


class LogStorage(Protocol):
    """Path-addressed bytes; paths are tlog-tiles resource paths."""

    def read(self, path: str) -> bytes | None: ...

    def write(self, *, path: str, data: bytes) -> None: ...


class MemoryStorage:
    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}

    def read(self, path: str) -> bytes | None:
        return self.files.get(path)

    def write(self, *, path: str, data: bytes) -> None:
        self.files[path] = bytes(data)


class DirectoryStorage:
    """Files under a root directory; writes are atomic (temp file + rename)."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    def _resolve(self, path: str) -> Path:
        if path != CHECKPOINT_PATH:
            parse_path(path)  # only well-formed resource paths reach the disk
        return self.root / path

    def read(self, path: str) -> bytes | None:
        target = self._resolve(path)
        try:
            return target.read_bytes()
        except FileNotFoundError:
            return None

    def write(self, *, path: str, data: bytes) -> None:
        target = self._resolve(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
        try:
            with os.fdopen(handle, "wb") as stream:
                stream.write(data)
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise


class StorageTileReader:
    """TileReader over a LogStorage.

    Tries the exact (partial) path, then the full tile, then the version of
    the tile in the current tree (``current_size``): a tree size that never
    had a checkpoint has no partial tiles of its own, but its hashes are a
    prefix of the current ones.
    """

    def __init__(self, storage: LogStorage, *, current_size: Callable[[], int] | None = None) -> None:
        self._storage = storage
        self._current_size = current_size

    def read_tile(self, coord: TileCoord) -> bytes | None:
        data = self._storage.read(coord.path)
        if data is None and not coord.is_full:
            data = self._storage.read(coord.with_width(TILE_WIDTH).path)
        if data is None and self._current_size is not None:
            width = tile_width_in_tree(level=coord.level, index=coord.index, size=self._current_size())
            if coord.width < width < TILE_WIDTH:
                data = self._storage.read(coord.with_width(width).path)
        return data


class LogWriter:
    """Appends entries, writes tiles, bundles and a freshly signed checkpoint.

    Not safe for concurrent writers: the caller serialises ``append`` (the
    database log takes a row lock; a directory log has a single writer).
    Partial tiles and bundles of earlier sizes are kept, as tlog-tiles lets
    clients fetch the partial tiles of any checkpoint they have seen.
    """

    def __init__(self, *, storage: LogStorage, origin: str, signers: Sequence[NoteSigner]) -> None:
        if not signers:
            raise ValueError("a log needs at least one signer")
        self._storage = storage
        self._signers = tuple(signers)
        self._tiles = StorageTileReader(storage, current_size=lambda: self.size)
        self.origin = origin
        self.checkpoint = self._load_checkpoint() or Checkpoint(origin=origin, size=0, root_hash=EMPTY_ROOT)

    @property
    def size(self) -> int:
        return self.checkpoint.size

    @property
    def tile_reader(self) -> StorageTileReader:
        """Reads this log's tiles for roots and proofs at any size up to ``size``."""
        return self._tiles

    def append(self, entries: Sequence[bytes]) -> bytes:
        """Append ``entries`` in order; return the signed checkpoint note."""
        for position, entry in enumerate(entries):
            check_entry(entry, position=position)
        old_size = self.size
        integration = integrate(
            old_size=old_size, leaf_hashes=[leaf_hash(bytes(entry)) for entry in entries], reader=self._tiles
        )
        self._write_bundles(old_size, [bytes(entry) for entry in entries])
        for tile in integration.tiles:
            self._storage.write(path=tile.path, data=tile.data)
        checkpoint = Checkpoint(origin=self.origin, size=integration.new_size, root_hash=integration.root_hash)
        signed = checkpoint.sign(signers=self._signers)
        # The checkpoint goes last: readers never see a size whose tiles are missing.
        self._storage.write(path=CHECKPOINT_PATH, data=signed)
        self.checkpoint = checkpoint
        return signed

    def read_entry(self, index: int) -> bytes:
        if not 0 <= index < self.size:
            raise IndexError(f"entry {index} outside log of size {self.size}")
        bundle_index, offset = divmod(index, TILE_WIDTH)
        width = min(TILE_WIDTH, self.size - bundle_index * TILE_WIDTH)
        data = self._storage.read(BundleCoord(bundle_index, width).path)
        if data is None:
            raise TransparencyLogError(f"entry bundle {bundle_index} is missing", code="missing_tile")
        return decode_entry_bundle(data, expected_count=width)[offset]

    def _write_bundles(self, old_size: int, entries: list[bytes]) -> None:
        first_bundle, kept = divmod(old_size, TILE_WIDTH)
        carried: list[bytes] = []
        if kept:
            data = self._storage.read(BundleCoord(first_bundle, kept).path)
            if data is None:
                raise TransparencyLogError("the partial entry bundle to extend is missing", code="missing_tile")
            carried = decode_entry_bundle(data, expected_count=kept)
        pending = carried + entries
        for offset in range(0, len(pending), TILE_WIDTH):
            chunk = pending[offset : offset + TILE_WIDTH]
            coord = BundleCoord(first_bundle + offset // TILE_WIDTH, len(chunk))
            self._storage.write(path=coord.path, data=encode_entry_bundle(chunk))

    def _load_checkpoint(self) -> Checkpoint | None:
        data = self._storage.read(CHECKPOINT_PATH)
        if data is None:
            return None
        checkpoint = Checkpoint.from_note(data, verifiers=[signer.verifier for signer in self._signers])
        if checkpoint.origin != self.origin:
            raise MalformedError(f"stored checkpoint belongs to {checkpoint.origin!r}, not {self.origin!r}")
        return checkpoint
