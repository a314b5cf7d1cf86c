"""Other registries this one recognises (跨省互认), from
`CERTHUB_RECOGNISED_REGISTRIES`: their trust lists are fetched at start-up
and then every `refresh_seconds` through `adapters.federation` (which keeps
the last good copy), each accepted only under the root key pinned for it,
and handed to the registry's trust store, so `/api/v1/verify` accepts codes
those registries issued.

Fail closed, at both ends: a fetched list that does not verify under its
pinned root (or names another registry, or has expired) is refused, logged,
and not stored — the last good copy stays; and every copy is verified again
under the pins as configured now whenever the trust store is built, so a
copy past its own expiry (its `expires_at` plus the verifier's grace), or
one from before a pin changed, stops counting.

Composition only: the federation fetches, signing verifies, the registry's
trust store consults.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from adapters.errors import StaleSource
from adapters.federation import Federation, FederationSource, SourceStatus
from adapters.http_client import HttpClient
from certhub.settings import RecognisedRegistry
from registry.presentations.trust import RecognisedList, verify_recognised
from signing.algorithms import PublicKey
from signing.errors import InvalidInput, VerificationError
from signing.keys import load_public_key_text
from signing.trustlist import MAX_TRUST_LIST_BYTES, TrustList
from storage.base import utcnow
from storage.egress import DIRECT, Egress

log = logging.getLogger("certhub.recognition")

# How long the federation serves a last good copy: longer than any list is
# valid (a year at most), so the list's own expiry is what ends it.
_KEEP_COPY = timedelta(days=400)


def parse_root_key(value: str) -> PublicKey:
    """A pinned root key: DER SubjectPublicKeyInfo in base64, or base64url as
    the trust list publishes keys (padding optional)."""
    try:
        return load_public_key_text(value)
    except InvalidInput as error:
        raise ValueError(f"root_key: not a base64 DER SubjectPublicKeyInfo ({error})") from None


@dataclass(frozen=True)
class RecognitionStatus:
    """What is recognised of one registry, for `certhub registries list`."""

    registry_id: str
    trust_list_url: str
    fetched_at: datetime | None
    checked_at: datetime | None
    last_error: str | None
    sequence: int | None  # of the last good list, if it still verifies now
    expires_at: datetime | None
    keys: int
    refusal: str | None  # why the stored copy does not count now


class Recognition:
    """The recognised registries of one deployment; the HTTP client is its own, closed by `close`."""

    def __init__(self, entries: Sequence[RecognisedRegistry], *, client: HttpClient | None = None,
                 egress: Egress = DIRECT) -> None:
        self._entries = {entry.registry_id: entry for entry in entries}
        self._pins = {entry.registry_id: parse_root_key(entry.root_key) for entry in entries}
        self._client = client or HttpClient(maxsize=max(1, min(2 * len(self._entries), 1024)), egress=egress)
        self.federation = Federation(
            [
                FederationSource(
                    name=entry.registry_id, url=entry.trust_list_url,
                    refresh_interval=timedelta(seconds=entry.refresh_seconds),
                    grace_period=max(_KEEP_COPY, timedelta(seconds=entry.refresh_seconds)),
                    validate=self._validator(entry.registry_id), max_bytes=MAX_TRUST_LIST_BYTES,
                )
                for entry in entries
            ],
            client=self._client,
        )

    @property
    def registry_ids(self) -> tuple[str, ...]:
        return tuple(self._entries)

    @property
    def shortest_refresh_seconds(self) -> float:
        return min((entry.refresh_seconds for entry in self._entries.values()), default=3600.0)

    def close(self) -> None:
        self._client.close()

    def verified(self, registry_id: str, body: bytes, *, now: datetime) -> TrustList:
        """The list, verified under the root pinned for `registry_id` (VerificationError otherwise)."""
        return verify_recognised(registry_id=registry_id, root_keys=(self._pins[registry_id],), body=body, now=now)

    def _validator(self, registry_id: str):
        def validate(body: bytes) -> None:
            try:
                self.verified(registry_id, body, now=utcnow())
            except VerificationError as error:
                log.warning("trust list of recognised registry %s refused (%s): %s", registry_id, error.code, error)
                raise
        return validate

    def refresh(self, session: Session, *, now: datetime, only_due: bool = False) -> dict[str, str]:
        """Fetch the lists now (or those due); each outcome is updated, not_modified or failed."""
        if only_due:
            return self.federation.refresh_due(session=session, now=now)
        return {name: self.federation.refresh(session=session, name=name, now=now) for name in self._entries}

    def trust_lists(self, session: Session, now: datetime) -> list[RecognisedList]:
        """The last good copies, with their pins, for the registry's trust store."""
        lists = []
        for registry_id in self._entries:
            try:
                copy = self.federation.get(session=session, name=registry_id, now=now)
            except StaleSource:
                continue  # never fetched: nothing of that registry verifies
            lists.append(RecognisedList(registry_id=registry_id, root_keys=(self._pins[registry_id],),
                                        body=copy.body))
        return lists

    def report(self, session: Session, *, now: datetime) -> list[RecognitionStatus]:
        statuses = {status.source: status for status in self.federation.report(session=session, now=now)}
        held = {item.registry_id: item for item in self.trust_lists(session, now)}
        return [self._status(entry, statuses[registry_id], held.get(registry_id), now=now)
                for registry_id, entry in self._entries.items()]

    def _status(self, entry: RecognisedRegistry, status: SourceStatus, held: RecognisedList | None, *,
                now: datetime) -> RecognitionStatus:
        trust_list, refusal = None, None if held is not None else "no good copy fetched yet"
        if held is not None:
            try:
                trust_list = self.verified(entry.registry_id, held.body, now=now)
            except VerificationError as error:
                refusal = f"{error.code}: {error}"
        return RecognitionStatus(
            registry_id=entry.registry_id, trust_list_url=entry.trust_list_url, fetched_at=status.fetched_at,
            checked_at=status.checked_at, last_error=status.last_error,
            sequence=trust_list.sequence if trust_list else None,
            expires_at=trust_list.expires_at if trust_list else None,
            keys=len(trust_list.content.keys) if trust_list else 0, refusal=refusal,
        )
