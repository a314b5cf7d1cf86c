"""Status lists of the registry's licences (IETF Token Status List).

Each licence gets an index at issue; every status change rewrites its two
bits and re-signs the list in the same transaction, so the published list
never disagrees with the licence table.

Indices are drawn at random among a list's free ones, never in issue order:
SPEC: draft-ietf-oauth-status-list-05 §12.4 (observability of outsiders) and
§12.5 (unlinkability) recommend non-sequential, random indices, since
sequential ones tell anyone who reads the lists the order and volume of
issue. `allocate` is the one allocator (a single issue and the batch issue
of `registry.service.bulk` both call it): a list's `allocation` bitmap
records the taken indices and is changed only under the list's row lock
(house rule 8), with the (status_list_id, status_index) unique constraint on
licences behind it.
SPEC: §13.2 — no double allocation.

The signing key: the registry's status-list key (purpose `status_list`,
`signing.service.status_list_signing_key`), published in the signed trust
list before it signs. Verifiers take it from there; the public key served at
`GET /api/v1/status-lists/{id}/key` is information only.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry.errors import StatusListNotFound
from registry.models import LicenceStatus, StatusList
from signing import service as signing_service
from signing.statuslist import StatusList as BitList
from signing.statuslist import TokenStatus, sign_status_list_token

LIST_SIZE = 1 << 16  # 65,536 licences per list: 16 KiB before compression
BITS = 2
TTL_SECONDS = 300


def token_status(status: str) -> TokenStatus:
    # SPEC: draft-ietf-oauth-status-list-05 §7.1 — 0 valid, 1 invalid, 2 suspended.
    if status == LicenceStatus.VALID:
        return TokenStatus.VALID
    if status == LicenceStatus.SUSPENDED:
        return TokenStatus.SUSPENDED
    return TokenStatus.INVALID


def subject_uri(*, registry_id: str, list_id: int) -> str:
    return f"{registry_id.rstrip('/')}/api/v1/status-lists/{list_id}"


def get_or_raise(*, session: Session, list_id: int) -> StatusList:
    row = session.get(StatusList, list_id)
    if row is None:
        raise StatusListNotFound(f"status list {list_id} not found")
    return row


def allocate(
    *, session: Session, registry_id: str, key_secret: bytes, now: datetime, count: int = 1
) -> list[tuple[int, int]]:
    """`count` free (list id, index) pairs, drawn at random within each list:
    each list's share is taken under its row lock in one step, and a new list
    is started when the open one fills. Fresh entries are 0 (valid), so no
    list is re-signed."""
    slots: list[tuple[int, int]] = []
    while len(slots) < count:
        row = session.scalar(
            select(StatusList).where(StatusList.allocated < StatusList.size).order_by(StatusList.id).limit(1)
            .with_for_update()
        )
        if row is None:
            row = _create(session=session, registry_id=registry_id, key_secret=key_secret, now=now)
        taken = bytearray(row.allocation)
        picks = free_indices(taken, size=row.size, count=min(count - len(slots), row.size - row.allocated))
        row.allocation = bytes(taken)
        row.allocated += len(picks)
        slots.extend((row.id, index) for index in picks)
        session.flush()
    return slots


_PROBES = 8
_random = secrets.SystemRandom()  # unpredictable: the order of issue must not be recoverable


def free_indices(taken: bytearray, *, size: int, count: int) -> list[int]:
    """Draw `count` free indices of a list at random and mark them in `taken`
    (bit i of byte i // 8, least significant first).

    Random probes find a free index at once while the list is sparse; when
    they miss (a fuller list), the free indices are collected in one scan and
    the rest sampled among them, so the cost stays bounded as the list fills.
    """
    picks: list[int] = []
    while len(picks) < count:
        index = next((i for i in (_random.randrange(size) for _ in range(_PROBES)) if not _is_taken(taken, i)), None)
        if index is None:
            break
        _take(taken, index)
        picks.append(index)
    if len(picks) < count:
        free = list(_unset_bits(taken, size=size))
        if len(free) < count - len(picks):  # the bitmap and the row's count disagree: never draw twice
            raise RuntimeError(f"the list has {len(free)} free indices, fewer than {count - len(picks)}")
        for index in _random.sample(free, count - len(picks)):
            _take(taken, index)
            picks.append(index)
    return picks


def _is_taken(taken: bytearray, index: int) -> bool:
    return bool(taken[index >> 3] >> (index & 7) & 1)


def _take(taken: bytearray, index: int) -> None:
    taken[index >> 3] |= 1 << (index & 7)


def _unset_bits(taken: bytearray, *, size: int):
    for byte_index, byte in enumerate(taken):
        if byte == 0xFF:
            continue
        for bit in range(8):
            index = (byte_index << 3) | bit
            if index < size and not byte >> bit & 1:
                yield index


def _create(*, session: Session, registry_id: str, key_secret: bytes, now: datetime) -> StatusList:
    bits = BitList(size=LIST_SIZE, bits=BITS)
    row = StatusList(
        size=LIST_SIZE, bits=BITS, allocated=0, allocation=bytes((LIST_SIZE + 7) // 8), data=bits.to_bytes(),
        revision=1, token="", kid="", public_key=b"", created_at=now, updated_at=now,
    )
    session.add(row)
    session.flush()
    _sign(session=session, row=row, bits=bits, key_secret=key_secret, registry_id=registry_id, now=now)
    session.flush()
    return row


def set_status(
    *, session: Session, list_id: int, index: int, status: str, registry_id: str, key_secret: bytes, now: datetime
) -> None:
    set_statuses(session=session, list_id=list_id, changes={index: status}, registry_id=registry_id,
                 key_secret=key_secret, now=now)


def set_statuses(
    *, session: Session, list_id: int, changes: Mapping[int, str], registry_id: str, key_secret: bytes, now: datetime
) -> None:
    """Set entries of one list (index: status) under its row lock and sign it
    once, whatever their number (a batch of historic licences stored as expired)."""
    row = session.scalar(select(StatusList).where(StatusList.id == list_id).with_for_update())
    if row is None:
        raise StatusListNotFound(f"status list {list_id} not found")
    bits = BitList(size=row.size, bits=row.bits, data=row.data)
    changed = False
    for index, status in changes.items():
        value = int(token_status(status))
        if bits.get(index) != value:
            bits.set(index, value)
            changed = True
    if not changed:
        return
    row.data = bits.to_bytes()
    row.revision += 1
    row.updated_at = now
    _sign(session=session, row=row, bits=bits, key_secret=key_secret, registry_id=registry_id, now=now)
    session.flush()


def _sign(*, session: Session, row: StatusList, bits: BitList, key_secret: bytes, registry_id: str,
          now: datetime) -> None:
    key = signing_service.status_list_signing_key(session=session, registry_id=registry_id, key_secret=key_secret, now=now)
    row.token = sign_status_list_token(
        status_list=bits, subject=subject_uri(registry_id=registry_id, list_id=row.id), key=key,
        issued_at=now, ttl=TTL_SECONDS,
    )
    row.kid, row.public_key = key.kid, key.public_key.spki_der
