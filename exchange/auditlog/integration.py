"""Sequencing: pending entries get contiguous leaf indices under one lock.

Tessera-like design. ``insert_pending`` only inserts rows without an index, so
a data request never waits for the log lock. The integrator takes the lock
on the single ``auditlog_state`` row, gives the next indices to pending rows
in id order, appends their leaf hashes with ``signing.transparency.integrate``
and stores the changed tiles and the new size and root — all in one
transaction, so several app processes on one PostgreSQL can run it at once.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import CursorResult, func, select, tuple_, update
from sqlalchemy.orm import Session

from exchange.auditlog.errors import LogCorrupted
from exchange.auditlog.models import LogEntry, LogState, LogTile
from signing.transparency import TileCoord, TransparencyLogError, integrate, leaf_hash
from storage.base import utcnow
from storage.units import any_of

STATE_ID = 1
DEFAULT_BATCH = 4096
# Bounds the lock hold time and the id list of one set-based UPDATE.
MAX_BATCH = 10_000


class DbTileReader:
    """A ``TileReader`` over ``auditlog_tiles`` (one row per level and index)."""

    def __init__(self, *, session: Session) -> None:
        self._session = session

    def read_tile(self, coord: TileCoord) -> bytes | None:
        data = self._session.scalar(
            select(LogTile.data).where(LogTile.level == coord.level, LogTile.tile_index == coord.index)
        )
        if data is None or len(data) < coord.byte_length:
            return None
        return bytes(data)

    def prefetch(self, coords: Iterable[TileCoord]) -> PrefetchedTiles:
        """The tiles ``coords`` (stored rows, any width), read in one query."""
        wanted = sorted({(coord.level, coord.index) for coord in coords})
        tiles: dict[tuple[int, int], bytes] = {}
        if wanted:
            # An expanding tuple IN: one cached statement whatever the number of tiles.
            query = select(LogTile.level, LogTile.tile_index, LogTile.data).where(
                tuple_(LogTile.level, LogTile.tile_index).in_(wanted)
            )
            for level, index, data in self._session.execute(query):
                tiles[(level, index)] = bytes(data)
        return PrefetchedTiles(tiles)


class PrefetchedTiles:
    """A TileReader over tiles read ahead; a tile not read ahead is missing."""

    def __init__(self, tiles: dict[tuple[int, int], bytes]) -> None:
        self._tiles = tiles

    def read_tile(self, coord: TileCoord) -> bytes | None:
        data = self._tiles.get((coord.level, coord.index))
        if data is None or len(data) < coord.byte_length:
            return None
        return data


@dataclass(frozen=True)
class IntegrationResult:
    old_size: int
    new_size: int
    root_hash: bytes


def lock_state(*, session: Session) -> LogState:
    """Take the append lock and return the state row.

    The UPDATE comes first on purpose: on PostgreSQL it waits for and then
    holds the row lock (like SELECT ... FOR UPDATE); on SQLite it takes the
    database write lock at once, where a read-then-write upgrade could fail
    with a busy snapshot.
    """
    # An UPDATE's result is a CursorResult (it has rowcount); Session.execute is typed for any statement.
    result = cast(CursorResult[Any], session.execute(
        update(LogState).where(LogState.id == STATE_ID).values(generation=LogState.generation + 1)
    ))
    if result.rowcount != 1:
        # Created by the migration; only a damaged database lacks it.
        raise LogCorrupted("the log state row is missing")
    state = session.scalar(
        select(LogState).where(LogState.id == STATE_ID).with_for_update().execution_options(populate_existing=True)
    )
    assert state is not None
    return state


def integrate_pending(*, session: Session, max_batch: int = DEFAULT_BATCH) -> IntegrationResult:
    """Sequence up to ``max_batch`` pending entries; the caller commits."""
    if not 1 <= max_batch <= MAX_BATCH:
        raise ValueError(f"max_batch must be in 1..{MAX_BATCH}")
    state = lock_state(session=session)
    pending = session.execute(
        select(LogEntry.id, LogEntry.entry)
        .where(LogEntry.leaf_index.is_(None))
        .order_by(LogEntry.id)
        .limit(max_batch)
    ).all()
    old_size = state.size
    if not pending:
        return IntegrationResult(old_size=old_size, new_size=old_size, root_hash=state.root_hash)
    try:
        # SPEC: RFC 9162 §2.1.1 — leaf hash SHA-256(0x00 || entry).
        result = integrate(
            old_size=old_size,
            leaf_hashes=[leaf_hash(row.entry) for row in pending],
            reader=DbTileReader(session=session),
        )
    except TransparencyLogError as error:
        raise LogCorrupted(f"stored tiles do not match the log state: {error}") from error
    _assign_indices(session=session, ids=[row.id for row in pending], first=old_size)
    _write_tiles(session=session, tiles=result.tiles)
    state.size = result.new_size
    state.root_hash = result.root_hash
    state.updated_at = utcnow()
    session.flush()
    return IntegrationResult(old_size=old_size, new_size=result.new_size, root_hash=result.root_hash)


def _assign_indices(*, session: Session, ids: list[int], first: int) -> None:
    """Give the rows ``ids`` (ascending) the indices ``first, first + 1, ...``.

    One set-based UPDATE instead of one statement per row. The ids are
    listed explicitly: rows committed after the SELECT above must stay
    pending, since their leaves are not in this integration.
    """
    # Both sides name only pending rows: on PostgreSQL they all live in the
    # log's DEFAULT partition (migration 0027), and the planner then reads
    # that partition alone instead of probing every range partition's ids.
    ranked = (
        select(LogEntry.id.label("id"), func.row_number().over(order_by=LogEntry.id).label("position"))
        .where(LogEntry.leaf_index.is_(None),
               any_of(session=session, column=LogEntry.__table__.c.id, values=ids, name="pending_ids"))
        .subquery()
    )
    result = cast(CursorResult[Any], session.execute(
        update(LogEntry)
        .where(LogEntry.leaf_index.is_(None), LogEntry.id == ranked.c.id)
        .values(leaf_index=ranked.c.position + (first - 1))
        .execution_options(synchronize_session=False)
    ))
    if result.rowcount != len(ids):
        raise LogCorrupted(f"sequenced {result.rowcount} of {len(ids)} pending entries")


def _write_tiles(*, session: Session, tiles) -> None:
    keys = [(tile.level, tile.index) for tile in tiles]
    existing = {
        (row.level, row.tile_index): row
        for row in session.scalars(
            select(LogTile).where(
                LogTile.level.in_({level for level, _ in keys}),
                LogTile.tile_index.in_({index for _, index in keys}),
            )
        )
    }
    for tile in tiles:
        row = existing.get((tile.level, tile.index))
        if row is None:
            session.add(LogTile(level=tile.level, tile_index=tile.index, data=tile.data))
        else:
            row.data = tile.data


def current_state(*, session: Session) -> LogState:
    state = session.get(LogState, STATE_ID, populate_existing=True)
    if state is None:
        raise LogCorrupted("the log state row is missing")
    return state
