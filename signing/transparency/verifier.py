"""Independent verifier for any C2SP tlog-tiles log with a signed checkpoint.

It trusts nothing but the verifier key: every tile, entry and earlier
checkpoint is checked against the signed root. Failures raise
``LogVerificationError`` whose ``code`` says what is wrong and whose
``path``/``index`` name the first bad tile, bundle or leaf.

Order of the checks (numbered in ``verify_log``): the root is recomputed
from the partial tiles *before* the full tiles are checked against the
level above. The root depends only on the partial tiles, so once it
matches, every hash in a higher tile is authenticated and a full tile that
disagrees with its parent is itself the bad one — the blame is exact
whichever level was tampered with.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import islice

from cryptography import x509

from signing.transparency.bundles import MAX_BUNDLE_BYTES, iter_entry_bundle
from signing.transparency.checkpoint import Checkpoint
from signing.transparency.cosignature import WitnessPolicy
from signing.transparency.errors import (
    LogVerificationError,
    MalformedError,
    NoteVerificationError,
    ProofVerificationError,
    VerificationError,
)
from signing.transparency.merkle import (
    EMPTY_ROOT,
    HASH_SIZE,
    complete_subtree_root,
    consistency_path,
    leaf_hash,
    verify_consistency,
)
from signing.transparency.note import MAX_NOTE_BYTES, NoteVerifier
from signing.transparency.sources import CHECKPOINT_PATH, TIMESTAMP_PATH, LogSource
from signing.transparency.tiles import (
    FULL_TILE_BYTES,
    TILE_WIDTH,
    BundleCoord,
    TileCoord,
    partial_tiles_for_size,
    tile_count_at_level,
    tree_levels,
)
from signing.transparency.timestamps import (
    MAX_TIMESTAMP_RESOURCE_BYTES,
    TimestampedCheckpoint,
    VerifiedTimestamp,
    verify_timestamp,
)
from signing.transparency.treehashes import TreeHashes

ProgressCallback = Callable[[int, int], None]
_FETCH_BATCH = 64


@dataclass(frozen=True, slots=True)
class VerificationReport:
    checkpoint: Checkpoint
    tiles_checked: int
    entries_checked: int
    since: Checkpoint | None = None
    # With TSA roots given: the newest time-stamped checkpoint, proven part of this history.
    timestamp: VerifiedTimestamp | None = None
    # The checkpoint's signed note as fetched: what a monitor keeps as its next ``since``.
    note: bytes | None = None
    # The policy's witnesses whose cosignatures verified (empty without a policy).
    cosigned_by: tuple[str, ...] = ()

    @property
    def origin(self) -> str:
        return self.checkpoint.origin

    @property
    def size(self) -> int:
        return self.checkpoint.size

    @property
    def root_hash(self) -> bytes:
        return self.checkpoint.root_hash


class _TileCache:
    """Authenticated (or about to be) tiles kept for later computations."""

    def __init__(self) -> None:
        self.tiles: dict[tuple[int, int], bytes] = {}

    def read_tile(self, coord: TileCoord) -> bytes | None:
        data = self.tiles.get((coord.level, coord.index))
        return data if data is not None and len(data) >= coord.byte_length else None


class _RecordingReader:
    """Answers with zero hashes and records which tiles were asked for.

    Which tiles a root or proof needs depends only on the sizes, never on
    hash values, so a dry run tells the verifier which tiles to keep.
    """

    def __init__(self) -> None:
        self.wanted: set[tuple[int, int]] = set()

    def read_tile(self, coord: TileCoord) -> bytes:
        self.wanted.add((coord.level, coord.index))
        return bytes(coord.byte_length)


def verify_log(
    *,
    source: LogSource,
    verifier_key: str | NoteVerifier | Sequence[str | NoteVerifier],
    since: bytes | None = None,
    check_entries: bool = True,
    origin: str | None = None,
    progress: ProgressCallback | None = None,
    fetch_threads: int = 8,
    tsa_roots: Sequence[x509.Certificate] | None = None,
    timestamp_max_age: timedelta | None = None,
    now: datetime | None = None,
    witness_policy: WitnessPolicy | None = None,
) -> VerificationReport:
    """Verify the whole log behind ``source``; return a report or raise LogVerificationError.

    ``verifier_key`` is one key or the log's key history (after a key
    rotation, a checkpoint and ``since`` may be signed by different keys);
    ``since`` is the content of an earlier checkpoint file of the same log;
    ``progress(done, total)`` is called as resources are fetched.
    With ``tsa_roots`` (the time-stamping authority's CA certificates) the
    log must publish a time-stamp (``timestamp``) that verifies against them,
    of a checkpoint consistent with the current one; ``timestamp_max_age``
    also bounds how old its genTime may be at ``now``.
    ``witness_policy`` (the verifier's own, pinned) must be met by the
    checkpoint's cosignatures.
    """
    keys = [verifier_key] if isinstance(verifier_key, str | NoteVerifier) else list(verifier_key)
    if not keys:
        raise LogVerificationError("no verifier key given", code="bad_key")
    verifier = [_parse_verifier_key(key) for key in keys]
    # 0. With TSA roots: fetch and check the time-stamp first, so the checkpoint
    # fetched next is at least as new as the one it stamps.
    stamped = None
    if tsa_roots is not None:
        stamped = _verified_timestamp(source, verifier=verifier, tsa_roots=tsa_roots, max_age=timestamp_max_age,
                                      now=now)
    # 1. Fetch the checkpoint.
    note = source.fetch(CHECKPOINT_PATH, max_bytes=MAX_NOTE_BYTES)
    if note is None:
        raise LogVerificationError("the log has no checkpoint", code="missing_checkpoint", path=CHECKPOINT_PATH)
    # 2. Verify its signature with the key and parse it strictly.
    checkpoint = _open_checkpoint(note, verifier=verifier, origin=origin, what="checkpoint")
    # 2b. With a witness policy, k of its witnesses must have cosigned it.
    cosigned_by = _check_witnesses(note, policy=witness_policy, verifier=verifier) if witness_policy else ()
    earlier = None
    if since is not None:
        earlier = _open_checkpoint(since, verifier=verifier, origin=checkpoint.origin, what="earlier checkpoint")
    if stamped is not None and stamped.checkpoint.origin != checkpoint.origin:
        raise LogVerificationError("the time-stamped checkpoint is of another log", code="origin_mismatch",
                                   path=TIMESTAMP_PATH)
    history = [one for one in (earlier, stamped.checkpoint if stamped else None) if one is not None]
    audit = _Audit(checkpoint=checkpoint, earlier=history, check_entries=check_entries)
    with ThreadPoolExecutor(max_workers=max(1, fetch_threads)) as pool:
        fetcher = _Fetcher(source, pool, _Progress(progress, total=audit.resource_count()))
        # 3. Fetch the partial tile of every level; recompute and compare the root.
        audit.check_root(fetcher)
        # 4-5. Fetch every full tile, top level first, and check it hashes to
        # its (already authenticated) entry in the level above; while at
        # level 0, check each entry bundle against its tile.
        audit.check_full_tiles(fetcher)
        # 5 (cont.). The entries of the partial level-0 tile.
        audit.check_partial_bundle(fetcher)
    # 6. With an earlier checkpoint, check the log only grew from it; likewise
    # from the time-stamped one (its time then holds for every entry before it).
    if earlier is not None:
        _check_history(earlier, checkpoint, audit.cache)
    if stamped is not None:
        _check_history(stamped.checkpoint, checkpoint, audit.cache, what="time-stamped checkpoint")
    return VerificationReport(
        checkpoint=checkpoint,
        tiles_checked=audit.tiles_checked,
        entries_checked=audit.entries_checked,
        since=earlier,
        timestamp=stamped,
        note=note,
        cosigned_by=cosigned_by,
    )


def _verified_timestamp(source: LogSource, *, verifier: Sequence[NoteVerifier], tsa_roots: Sequence[x509.Certificate],
                        max_age: timedelta | None, now: datetime | None) -> VerifiedTimestamp:
    data = source.fetch(TIMESTAMP_PATH, max_bytes=MAX_TIMESTAMP_RESOURCE_BYTES)
    if data is None:
        raise LogVerificationError("the log publishes no time-stamp", code="missing_timestamp", path=TIMESTAMP_PATH)
    try:
        resource = TimestampedCheckpoint.from_json(data)
    except MalformedError as error:
        raise LogVerificationError(str(error), code="timestamp_malformed", path=TIMESTAMP_PATH) from error
    return verify_timestamp(resource, verifiers=verifier, tsa_roots=tsa_roots, now=now, max_age=max_age)


class _Audit:
    """State of one verification run: counts and the tiles worth keeping."""

    def __init__(self, *, checkpoint: Checkpoint, earlier: Sequence[Checkpoint], check_entries: bool) -> None:
        self.size = checkpoint.size
        self.checkpoint = checkpoint
        self.check_entries = check_entries
        self.cache = _TileCache()
        self.tiles_checked = 0
        self.entries_checked = 0
        # Tiles the history check will need again; any others are dropped
        # once checked, so memory stays far below the size of the log.
        self.keep: set[tuple[int, int]] = set()
        for one in earlier:
            if one.size <= self.size:
                self.keep |= _tiles_needed_for_history(one.size, self.size)

    def resource_count(self) -> int:
        per_level = (tile_count_at_level(size=self.size, level=level) for level in self._levels())
        tiles = sum(_ceil_div(count, TILE_WIDTH) for count in per_level)
        return tiles + (_ceil_div(self.size, TILE_WIDTH) if self.check_entries else 0)

    def check_root(self, fetcher: _Fetcher) -> None:
        for coord, data, _ in fetcher.tiles(partial_tiles_for_size(self.size)):
            self.cache.tiles[(coord.level, coord.index)] = data
            self.tiles_checked += 1
        # The root depends on the partial tiles alone (see module docstring).
        root = TreeHashes(self.cache, size=self.size).root() if self.size else EMPTY_ROOT
        if root != self.checkpoint.root_hash:
            raise LogVerificationError(
                f"root recomputed from the partial tiles ({root.hex()}) is not the checkpoint root "
                f"({self.checkpoint.root_hash.hex()})",
                code="root_mismatch",
                path=CHECKPOINT_PATH,
            )

    def check_full_tiles(self, fetcher: _Fetcher) -> None:
        levels = self._levels()
        if not levels:
            return
        upper = _level_tiles(self.cache, level=levels[-1])
        for level in reversed(levels[:-1]):
            current = _level_tiles(self.cache, level=level)
            full_count = tile_count_at_level(size=self.size, level=level) // TILE_WIDTH
            full_tiles = (TileCoord(level, index, TILE_WIDTH) for index in range(full_count))
            with_bundles = level == 0 and self.check_entries
            for coord, data, bundle in fetcher.tiles(full_tiles, with_bundles=with_bundles):
                _check_against_parent(coord, data, upper)
                self.tiles_checked += 1
                if level > 0:
                    current[coord.index] = data
                if (level, coord.index) in self.keep:
                    self.cache.tiles[(level, coord.index)] = data
                if bundle is not None:
                    self.entries_checked += _check_bundle(_bundle_of(coord), bundle, data)
            upper = current

    def check_partial_bundle(self, fetcher: _Fetcher) -> None:
        if not self.check_entries or self.size % TILE_WIDTH == 0:
            return
        coord = BundleCoord(self.size // TILE_WIDTH, self.size % TILE_WIDTH)
        bundle = fetcher.bundle(coord)
        self.entries_checked += _check_bundle(coord, bundle, self.cache.tiles[(0, coord.index)])

    def _levels(self) -> list[int]:
        return list(range(tree_levels(self.size)))


def _ceil_div(numerator: int, denominator: int) -> int:
    return -(-numerator // denominator)


def _parse_verifier_key(key: str | NoteVerifier) -> NoteVerifier:
    if isinstance(key, NoteVerifier):
        return key
    try:
        return NoteVerifier.from_key_string(key)
    except MalformedError as error:
        raise LogVerificationError(f"verifier key is invalid: {error}", code="bad_key") from error


def _open_checkpoint(data: bytes, *, verifier: Sequence[NoteVerifier], origin: str | None, what: str) -> Checkpoint:
    try:
        checkpoint = Checkpoint.from_note(data, verifiers=verifier)
    except NoteVerificationError as error:
        raise LogVerificationError(
            f"{what} signature: {error}", code="bad_signature", path=CHECKPOINT_PATH
        ) from error
    except MalformedError as error:
        raise LogVerificationError(
            f"{what} is malformed: {error}", code="malformed_checkpoint", path=CHECKPOINT_PATH
        ) from error
    if origin is not None and checkpoint.origin != origin:
        raise LogVerificationError(
            f"{what} is for log {checkpoint.origin!r}, expected {origin!r}",
            code="origin_mismatch",
            path=CHECKPOINT_PATH,
        )
    return checkpoint


def _check_witnesses(note: bytes, *, policy: WitnessPolicy, verifier: Sequence[NoteVerifier]) -> tuple[str, ...]:
    try:
        return policy.require(note, log_verifiers=verifier).cosigned_by
    except VerificationError as error:
        raise LogVerificationError(f"witnesses: {error}", code=error.code, path=CHECKPOINT_PATH) from error


def _level_tiles(cache: _TileCache, *, level: int) -> dict[int, bytes]:
    return {index: data for (tile_level, index), data in cache.tiles.items() if tile_level == level}


def _check_against_parent(coord: TileCoord, data: bytes, upper: dict[int, bytes]) -> None:
    parent_index, slot = divmod(coord.index, TILE_WIDTH)
    expected = upper[parent_index][slot * HASH_SIZE : (slot + 1) * HASH_SIZE]
    # SPEC: C2SP tlog-tiles — each hash at level l+1 is the MTH of a full tile at level l.
    if complete_subtree_root(data) != expected:
        parent = TileCoord(coord.level + 1, parent_index, len(upper[parent_index]) // HASH_SIZE)
        raise LogVerificationError(
            f"{coord.path} does not hash to entry {slot} of {parent.path}", code="tile_mismatch", path=coord.path
        )


def _check_bundle(coord: BundleCoord, data: bytes, tile_data: bytes) -> int:
    """Check every entry of a bundle against its level-0 tile; name the first bad leaf."""
    entries = iter_entry_bundle(data)
    for position in range(coord.width):
        index = coord.first_leaf + position
        try:
            entry = next(entries, None)
        except MalformedError as error:
            raise _entry_error(coord, index, f"is damaged ({error})") from error
        if entry is None:
            raise _entry_error(coord, index, f"is missing: the bundle ends after {position} entries")
        # SPEC: C2SP tlog-tiles — entry i of a bundle hashes to hash i of its level-0 tile.
        if leaf_hash(entry) != tile_data[position * HASH_SIZE : (position + 1) * HASH_SIZE]:
            raise _entry_error(coord, index, "does not match its leaf hash")
    try:
        surplus = next(entries, None) is not None
    except MalformedError:
        surplus = True
    if surplus:
        raise _entry_error(coord, coord.first_leaf + coord.width, f"is extra: the tile has only {coord.width}")
    return coord.width


def _entry_error(coord: BundleCoord, index: int, problem: str) -> LogVerificationError:
    return LogVerificationError(
        f"entry {index} in {coord.path} {problem}", code="entry_mismatch", path=coord.path, index=index
    )


def _tiles_needed_for_history(old_size: int, new_size: int) -> set[tuple[int, int]]:
    recorder = _RecordingReader()
    TreeHashes(recorder, size=old_size).root()
    hashes = TreeHashes(recorder, size=new_size)
    consistency_path(old_size=old_size, new_size=new_size, range_hash=hashes.range_hash)
    return recorder.wanted


def _check_history(earlier: Checkpoint, current: Checkpoint, cache: _TileCache, *,
                   what: str = "earlier checkpoint") -> None:
    where = f"{what} (size {earlier.size})"
    if earlier.size > current.size:
        raise LogVerificationError(
            f"log shrank from {where} to size {current.size}", code="inconsistent_history", path=CHECKPOINT_PATH
        )
    # Recompute the old root from the current, authenticated tiles ...
    old_root = TreeHashes(cache, size=earlier.size).root()
    if old_root != earlier.root_hash:
        raise LogVerificationError(
            f"the first {earlier.size} entries of the log no longer hash to the root of the {where}",
            code="inconsistent_history", path=CHECKPOINT_PATH,
        )
    # ... and check an RFC 9162 consistency proof built from them, as a
    # holder of only the two checkpoints would.
    hashes = TreeHashes(cache, size=current.size)
    proof = consistency_path(old_size=earlier.size, new_size=current.size, range_hash=hashes.range_hash)
    try:
        verify_consistency(
            old_size=earlier.size, new_size=current.size, old_root=earlier.root_hash,
            new_root=current.root_hash, proof=proof,
        )
    except ProofVerificationError as error:
        raise LogVerificationError(
            f"no valid consistency proof from the {where}: {error}", code="inconsistent_history", path=CHECKPOINT_PATH
        ) from error


class _Progress:
    def __init__(self, callback: ProgressCallback | None, *, total: int) -> None:
        self._callback = callback
        self.total = total
        self.done = 0
        if callback:
            callback(0, total)

    def advance(self, count: int) -> None:
        before = self.done
        self.done += count
        # Report roughly every 64 resources: enough for a progress bar, cheap for 1M entries.
        if self._callback and (before // 64 != self.done // 64 or self.done == self.total):
            self._callback(self.done, self.total)


class _Fetcher:
    """Fetches resources in parallel batches, yields them in order, checks sizes."""

    def __init__(self, source: LogSource, pool: ThreadPoolExecutor, progress: _Progress) -> None:
        self._source = source
        self._pool = pool
        self._progress = progress

    def tiles(
        self, coords: Iterable[TileCoord], *, with_bundles: bool = False
    ) -> Iterator[tuple[TileCoord, bytes, bytes | None]]:
        """Yield (tile, its bytes, its entry bundle if asked for) in order."""

        def fetch(coord: TileCoord) -> tuple[bytes | None, bytes | None]:
            tile = self._source.fetch(coord.path, max_bytes=FULL_TILE_BYTES)
            bundle = self._source.fetch(_bundle_of(coord).path, max_bytes=MAX_BUNDLE_BYTES) if with_bundles else None
            return tile, bundle

        for batch in _batches(coords, _FETCH_BATCH):
            for coord, (data, bundle) in zip(batch, self._pool.map(fetch, batch), strict=True):
                self._progress.advance(2 if with_bundles else 1)
                checked_bundle = self._checked_bundle(_bundle_of(coord), bundle) if with_bundles else None
                yield coord, self._checked_tile(coord, data), checked_bundle

    def bundle(self, coord: BundleCoord) -> bytes:
        data = self._source.fetch(coord.path, max_bytes=MAX_BUNDLE_BYTES)
        self._progress.advance(1)
        return self._checked_bundle(coord, data)

    @staticmethod
    def _checked_tile(coord: TileCoord, data: bytes | None) -> bytes:
        if data is None:
            raise LogVerificationError(f"{coord.path} is missing", code="missing_tile", path=coord.path)
        if len(data) != coord.byte_length:
            raise LogVerificationError(
                f"{coord.path} has {len(data)} bytes, expected {coord.byte_length}",
                code="malformed_tile", path=coord.path,
            )
        return data

    @staticmethod
    def _checked_bundle(coord: BundleCoord, data: bytes | None) -> bytes:
        if data is None:
            raise LogVerificationError(f"{coord.path} is missing", code="missing_tile", path=coord.path)
        if len(data) > MAX_BUNDLE_BYTES:
            raise LogVerificationError(
                f"{coord.path} is larger than any bundle may be", code="entry_mismatch",
                path=coord.path, index=coord.first_leaf,
            )
        return data


def _bundle_of(coord: TileCoord) -> BundleCoord:
    return BundleCoord(coord.index, coord.width)


def _batches(items: Iterable[TileCoord], size: int) -> Iterator[list[TileCoord]]:
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch
