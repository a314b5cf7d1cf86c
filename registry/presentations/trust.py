"""This registry's own trust store, for verifying QR codes on the server.

Built the way any verifier builds one: pin the registry's root key, add its
signed trust list (`signing.service.trust_list_json`, the bytes served at
/.well-known/certhub/trust-list). Held in process and rebuilt after `ttl`,
or sooner when a code names a key the held list does not know (a key made
or rotated since). Rebuilding publishes a new list only when the keys or
seals changed; it runs in a session of its own, so a redemption that fails
never takes a published list down with it.

Other registries this one recognises (跨省互认) join the same store: the
composition layer hands in their last good trust lists and the root keys
pinned for them, and each is verified under those pins at every build; one
that no longer verifies (expired, or from before a pin changed) is left
out and logged, so their codes then answer `unknown_key` again.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from registry.errors import RegistryNotInitialised
from signing import service as signing_service
from signing.algorithms import PublicKey
from signing.errors import KeyNotFound, VerificationError
from signing.keys import load_public_key_for
from signing.trustlist import TrustList
from signing.truststore import TrustStore
from storage.units import write_lock

log = logging.getLogger(__name__)

DEFAULT_TTL = timedelta(seconds=30)
# A flood of codes naming made-up kids must not rebuild the list each time.
MIN_FORCED_INTERVAL = timedelta(seconds=5)


@dataclass(frozen=True)
class HeldTrust:
    store: TrustStore
    trust_list: TrustList
    loaded_at: datetime

    def age(self, now: datetime) -> timedelta:
        """How old the list used is: since it was signed."""
        return max(now - self.trust_list.issued_at, timedelta(0))


@dataclass(frozen=True)
class RecognisedList:
    """Another registry's trust list as fetched, and the root keys pinned for it."""

    registry_id: str
    root_keys: tuple[PublicKey, ...]
    body: bytes


# The recognised registries' lists, read in the build's session.
RecognisedLists = Callable[[Session, datetime], Iterable[RecognisedList]]


class RegistryTrust:
    def __init__(
        self, *, registry_id: str, key_secret: bytes, sessionmaker: Callable[[], Session],
        ttl: timedelta = DEFAULT_TTL, recognised: RecognisedLists | None = None,
    ) -> None:
        self._registry_id = registry_id
        self._key_secret = key_secret
        self._sessionmaker = sessionmaker
        self._ttl = ttl
        self._recognised = recognised
        self._lock = threading.Lock()
        self._held: HeldTrust | None = None

    def current(self, *, now: datetime) -> HeldTrust:
        held = self._held
        if held is not None and now - held.loaded_at < self._ttl:
            return held
        return self._reload(now=now, stale=held)

    def refresh(self, *, now: datetime) -> HeldTrust:
        """Rebuild now (a code named an unknown key), unless rebuilt very recently."""
        held = self._held
        if held is not None and now - held.loaded_at < MIN_FORCED_INTERVAL:
            return held
        return self._reload(now=now, stale=held)

    def invalidate(self) -> None:
        self._held = None

    def _reload(self, *, now: datetime, stale: HeldTrust | None) -> HeldTrust:
        with self._lock:
            if self._held is not stale:  # another thread reloaded meanwhile
                return self._held  # type: ignore[return-value]
            self._held = HeldTrust(*self._build(now=now), loaded_at=now)
            return self._held

    def _build(self, *, now: datetime) -> tuple[TrustStore, TrustList]:
        for attempt in range(3):
            session = self._sessionmaker()
            try:
                write_lock(session=session)  # SQLite: publishing may write; take the lock before reading
                root = signing_service.get_trust_root_key_or_raise(session=session)
                pin = load_public_key_for(root.algorithm, root.public_key)
                data = signing_service.trust_list_json(
                    session=session, registry_id=self._registry_id, key_secret=self._key_secret, now=now
                )
                others = list(self._recognised(session, now)) if self._recognised is not None else []
                session.commit()
            except KeyNotFound:
                session.rollback()
                raise RegistryNotInitialised(
                    "this registry has no trust-root key yet; run `certhub signing init`"
                ) from None
            except IntegrityError:
                # Another process published the same sequence number first: read theirs.
                session.rollback()
                if attempt == 2:
                    raise
                continue
            finally:
                session.close()
            store = TrustStore()
            store.pin_root(registry_id=self._registry_id, root_public_key=pin)
            trust_list = store.add_json(data, now=now)
            for other in others:
                _add_recognised(store, other, own=self._registry_id, now=now)
            return store, trust_list
        raise AssertionError("unreachable")


def verify_recognised(*, registry_id: str, root_keys: Iterable[PublicKey], body: bytes, now: datetime) -> TrustList:
    """Another registry's trust list, verified alone under the root keys pinned
    for `registry_id` only: a list claiming to be any other registry's finds
    no pin and is refused (VerificationError)."""
    alone = TrustStore()
    for root in root_keys:
        alone.pin_root(registry_id=registry_id, root_public_key=root)
    return alone.add_json(body, now=now)


def _add_recognised(store: TrustStore, other: RecognisedList, *, own: str, now: datetime) -> None:
    if other.registry_id == own:  # a recognised list never stands in for this registry's own
        return
    try:
        trust_list = verify_recognised(registry_id=other.registry_id, root_keys=other.root_keys, body=other.body,
                                       now=now)
    except VerificationError as error:
        log.warning("recognised registry %s: its trust list does not count (%s)", other.registry_id, error.code)
        return
    for root in other.root_keys:
        store.pin_root(registry_id=other.registry_id, root_public_key=root)
    store.add(trust_list)
