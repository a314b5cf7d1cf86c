"""A short memory of catalog lookups, per database and per process.

Every exchange query looks up its matter and its item (licence type or data
item) in the catalog; the catalog changes a few times a day and each lookup
is a database round trip. So the answers are kept for ``KEPT_SECONDS``.

How long a change can go unseen:
- a change committed through this process clears its memory at once (the
  session events below watch every flush and commit that touches a catalog
  table);
- a change committed by another process is seen within ``KEPT_SECONDS``.
Only values are kept, never ORM objects, so callers on any thread and any
session can share them. Agreements, consents and mandates are never kept
here: a withdrawal takes effect on the next request.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Callable, Hashable
from typing import TypeVar

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import ORMExecuteState, Session

from catalog.models import DataItem, Department, LicenceType, LicenceTypeIssuer, Material, Matter, Situation

KEPT_SECONDS = 10.0
MAX_ENTRIES = 4096

_CATALOG_CLASSES = (Department, LicenceType, LicenceTypeIssuer, DataItem, Matter, Material, Situation)
_CHANGED = "certhub.catalog_changed"

T = TypeVar("T")


class CatalogMemo:
    """Values keyed by a hashable key, each kept for ``kept_seconds``."""

    def __init__(self, *, kept_seconds: float = KEPT_SECONDS, max_entries: int = MAX_ENTRIES,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._kept = kept_seconds
        self._max = max_entries
        self._clock = clock
        self._entries: dict[Hashable, tuple[float, object]] = {}
        self._lock = threading.Lock()
        self._generation = 0

    def get(self, key: Hashable, load: Callable[[], T], *, keep: Callable[[T], bool] = lambda value: True) -> T:
        """The kept value for ``key``, or ``load()``'s (kept when ``keep`` says so)."""
        found = self._entries.get(key)
        now = self._clock()
        if found is not None and found[0] > now:
            return found[1]  # type: ignore[return-value]
        generation = self._generation
        value = load()
        if keep(value):
            with self._lock:
                # A clear() while we were loading means the value may predate the change.
                if generation == self._generation:
                    if len(self._entries) >= self._max:
                        self._entries.clear()
                    self._entries[key] = (now + self._kept, value)
        return value

    def clear(self) -> None:
        with self._lock:
            self._generation += 1
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


_memos: weakref.WeakKeyDictionary[Engine, CatalogMemo] = weakref.WeakKeyDictionary()
_memos_lock = threading.Lock()


def memo_for(*, session: Session) -> CatalogMemo:
    """The memory kept for the database this session works on."""
    engine = session.get_bind().engine
    memo = _memos.get(engine)
    if memo is None:
        with _memos_lock:
            memo = _memos.setdefault(engine, CatalogMemo())
    return memo


def forget(engine: Engine) -> None:
    """Drop what is kept for this database (e.g. after its rows were changed
    behind the ORM's back, by a rollback of an outer transaction)."""
    memo = _memos.get(engine)
    if memo is not None:
        memo.clear()


def _forget(*, session: Session) -> None:
    try:
        engine = session.get_bind().engine
    except Exception:  # an unbound session changed nothing we keep
        return
    forget(engine)


@event.listens_for(Session, "after_flush")
def _note_catalog_flush(session: Session, flush_context) -> None:
    # Still the pre-flush lists here: what this flush wrote.
    if any(isinstance(obj, _CATALOG_CLASSES) for obj in (*session.new, *session.dirty, *session.deleted)):
        session.info[_CHANGED] = True
        _forget(session=session)


@event.listens_for(Session, "do_orm_execute")
def _note_catalog_statement(state: ORMExecuteState) -> None:
    if (state.is_update or state.is_delete or state.is_insert) and state.bind_mapper is not None \
            and issubclass(state.bind_mapper.class_, _CATALOG_CLASSES):
        state.session.info[_CHANGED] = True
        _forget(session=state.session)


@event.listens_for(Session, "after_commit")
def _forget_after_commit(session: Session) -> None:
    # Cleared again at commit: another thread may have loaded the old rows
    # between the flush and the commit.
    if session.info.pop(_CHANGED, False):
        _forget(session=session)


@event.listens_for(Session, "after_soft_rollback")
def _rolled_back(session: Session, previous_transaction) -> None:
    if session.info.pop(_CHANGED, False):
        _forget(session=session)
