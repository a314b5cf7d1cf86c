"""Which department clients' access tokens stop counting before they expire.

Access tokens are verified without a database lookup (``identity.tokens``):
a department queries for minutes with one token, and a round trip per call
would cost more than the call. Without more, a revoked signing key, a
disabled client, or a secret erased when its client moved to
private_key_jwt would go on working through the tokens already issued, up
to ``CERTHUB_ACCESS_TOKEN_TTL_SECONDS``. So each process keeps the short
list of credentials withdrawn, and every verification consults it:

- a change committed in this process counts from its next request on (the
  session events below note it at the commit);
- other processes are told through the cache's messages (Redis) and read
  the list again at once;
- every process also reads it from the database every ``poll_seconds``,
  so a lost message, a deployment without Redis, or a change made by the
  CLI in a process of its own counts within that period.

What is withdrawn, and the tokens it ends:
- a disabled client: all of its tokens;
- a revoked key: the tokens issued for assertions signed with it (a token
  names that key, ``assertion_kid``); the client's other keys go on;
- a private_key_jwt client: tokens issued without an assertion, i.e. for
  the secret it had before the switch.
Revocations older than a token's lifetime are not read: no token issued
before them is still alive, and none can be issued after them.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import event, inspect, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from identity.client_assertions import PRIVATE_KEY_JWT
from identity.models import ApiClient, ApiClientKey
from storage.base import utcnow

log = logging.getLogger(__name__)

# The cache's message topic that tells every process to read the list again.
TOPIC = "client-credentials-withdrawn"
DEFAULT_POLL_SECONDS = 5.0
# Clocks of the hosts and the database differ a little: read revocations
# back a little further than a token lives.
_CLOCK_MARGIN = timedelta(minutes=5)
_NOTED = "certhub.credentials_withdrawn"


@dataclass(frozen=True)
class Withdrawn:
    """Credentials whose tokens no longer count."""

    disabled_clients: frozenset[str] = frozenset()
    key_only_clients: frozenset[str] = frozenset()
    revoked_keys: frozenset[tuple[str, str]] = frozenset()  # (client_id, kid)

    def __or__(self, other: Withdrawn) -> Withdrawn:
        return Withdrawn(
            disabled_clients=self.disabled_clients | other.disabled_clients,
            key_only_clients=self.key_only_clients | other.key_only_clients,
            revoked_keys=self.revoked_keys | other.revoked_keys,
        )

    def __bool__(self) -> bool:
        return bool(self.disabled_clients or self.key_only_clients or self.revoked_keys)


def refusal(withdrawn: Withdrawn, *, client_id: str, key_id: str | None) -> str | None:
    """Why a token of this client (issued for an assertion signed with
    ``key_id``, or for a secret when None) no longer counts, or None."""
    if client_id in withdrawn.disabled_clients:
        return "the client is disabled"
    if key_id is None:
        if client_id in withdrawn.key_only_clients:
            return "the client's secret was withdrawn"
    elif (client_id, key_id) in withdrawn.revoked_keys:
        return "the signing key was revoked"
    return None


def load(*, session: Session, token_ttl_seconds: float) -> Withdrawn:
    """What the database says is withdrawn now."""
    clients = session.execute(
        select(ApiClient.client_id, ApiClient.active, ApiClient.auth_method).where(
            (ApiClient.active.is_(False)) | (ApiClient.auth_method == PRIVATE_KEY_JWT)
        )
    ).all()
    since = utcnow() - timedelta(seconds=token_ttl_seconds) - _CLOCK_MARGIN
    keys = session.execute(
        select(ApiClientKey.client_id, ApiClientKey.kid).where(ApiClientKey.revoked_at >= since)
    ).all()
    return Withdrawn(
        disabled_clients=frozenset(row.client_id for row in clients if not row.active),
        key_only_clients=frozenset(row.client_id for row in clients if row.auth_method == PRIVATE_KEY_JWT),
        revoked_keys=frozenset((row.client_id, row.kid) for row in keys),
    )


class WithdrawnCredentials:
    """One process's list, for one database: what was read from it last,
    and what this process committed since (kept until no token it ends can
    still be alive, so a read that began before a commit loses nothing)."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._loaded = Withdrawn()
        self._noted: list[tuple[float, Withdrawn]] = []  # (kept until, what)
        self._current: Withdrawn | None = None  # None: nothing withdrawn lately, the usual case
        self._announcers: list[Callable[[], None]] = []

    @property
    def current(self) -> Withdrawn:
        return self._current or Withdrawn()

    def refusal(self, *, client_id: str, key_id: str | None) -> str | None:
        # On every authenticated request: no more than an attribute read
        # when nothing is withdrawn.
        current = self._current
        if current is None:
            return None
        return refusal(current, client_id=client_id, key_id=key_id)

    def replace(self, loaded: Withdrawn) -> None:
        with self._lock:
            self._loaded = loaded
            self._recompute()

    def note(self, withdrawn: Withdrawn, *, keep_seconds: float) -> None:
        """Withdrawn by a commit in this process: counts at once."""
        with self._lock:
            self._noted.append((self._clock() + keep_seconds, withdrawn))
            self._recompute()

    def _recompute(self) -> None:
        now = self._clock()
        self._noted = [(until, what) for until, what in self._noted if until > now]
        current = self._loaded
        for _, what in self._noted:
            current = current | what
        self._current = current if current else None

    def add_announcer(self, announce: Callable[[], None]) -> Callable[[], None]:
        """``announce`` is called after each commit here that withdrew
        something (to tell the other processes); returns its removal."""
        with self._lock:
            self._announcers.append(announce)

        def remove() -> None:
            with self._lock:
                if announce in self._announcers:
                    self._announcers.remove(announce)

        return remove

    def announce(self) -> None:
        with self._lock:
            announcers = list(self._announcers)
        for announce in announcers:
            try:
                announce()
            except Exception as exc:  # the poll still carries the change; the commit stands
                log.warning("could not announce withdrawn client credentials: %s", type(exc).__name__)


_lists: weakref.WeakKeyDictionary[Engine, WithdrawnCredentials] = weakref.WeakKeyDictionary()
_lists_lock = threading.Lock()


def withdrawn_for(engine: Engine) -> WithdrawnCredentials:
    """This process's list for the database ``engine`` works on."""
    found = _lists.get(engine)
    if found is None:
        with _lists_lock:
            found = _lists.setdefault(engine, WithdrawnCredentials())
    return found


class WithdrawalWatch:
    """Reads the list from the database every ``poll_seconds``, and at once
    when woken (by the cache's message that another process withdrew
    something)."""

    def __init__(self, sessions: sessionmaker, credentials: WithdrawnCredentials, *,
                 token_ttl_seconds: float, poll_seconds: float = DEFAULT_POLL_SECONDS) -> None:
        self._sessions = sessions
        self._credentials = credentials
        self._ttl = token_ttl_seconds
        self._poll = poll_seconds
        self._wake = threading.Event()
        self._failing = False

    def refresh(self) -> None:
        """Read the list now (raises what the database raises)."""
        with self._sessions() as session:
            loaded = load(session=session, token_ttl_seconds=self._ttl)
        self._credentials.replace(loaded)

    def wake(self, topic: str = TOPIC, message: str = "") -> None:
        """A cache listener: another process withdrew something."""
        if topic == TOPIC:
            self._wake.set()

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            self._wake.wait(self._poll)
            self._wake.clear()
            if stop.is_set():
                return
            try:
                self.refresh()
            except Exception as exc:
                # The last list stays in force, and so do this process's own
                # commits; every route that serves data needs the same
                # database, so nothing more is served on an older list.
                if not self._failing:
                    log.warning("could not read withdrawn client credentials: %s", type(exc).__name__)
                self._failing = True
            else:
                if self._failing:
                    log.info("reading withdrawn client credentials again")
                self._failing = False


# -- noting commits in this process -------------------------------------------

# Notes stand for a token's longest lifetime (the setting's bound) and the
# clock margin; what they say never stops being true (a revoked key stays
# revoked, a disabled client disabled), the database says it after that.
_NOTES_KEPT_SECONDS = 3600 + _CLOCK_MARGIN.total_seconds()


def _changed(obj: object, attribute: str) -> bool:
    return inspect(obj).attrs[attribute].history.has_changes()


def _withdrawn_by(objects: Iterable[object]) -> Withdrawn:
    # Only a change of the very attribute counts: a client is written on
    # every token it gets (last_used_at), and each note is told to every
    # process.
    disabled, key_only, revoked = set(), set(), set()
    for obj in objects:
        if isinstance(obj, ApiClient):
            if obj.active is False and _changed(obj, "active"):
                disabled.add(obj.client_id)
            if obj.auth_method == PRIVATE_KEY_JWT and _changed(obj, "auth_method"):
                key_only.add(obj.client_id)
        elif isinstance(obj, ApiClientKey) and obj.revoked_at is not None and _changed(obj, "revoked_at"):
            revoked.add((obj.client_id, obj.kid))
    return Withdrawn(frozenset(disabled), frozenset(key_only), frozenset(revoked))


@event.listens_for(Session, "after_flush")
def _note_flush(session: Session, flush_context) -> None:
    # Still the pre-flush lists and attribute histories here.
    withdrawn = _withdrawn_by(session.dirty)
    if withdrawn:
        session.info[_NOTED] = session.info.get(_NOTED, Withdrawn()) | withdrawn


@event.listens_for(Session, "after_commit")
def _note_commit(session: Session) -> None:
    withdrawn = session.info.pop(_NOTED, None)
    if not withdrawn:
        return
    try:
        engine = session.get_bind().engine
    except Exception:  # an unbound session committed nothing
        return
    credentials = withdrawn_for(engine)
    credentials.note(withdrawn, keep_seconds=_NOTES_KEPT_SECONDS)
    credentials.announce()


@event.listens_for(Session, "after_soft_rollback")
def _note_rollback(session: Session, previous_transaction) -> None:
    session.info.pop(_NOTED, None)
