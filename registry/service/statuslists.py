"""Status lists of the registry's licences (IETF Token Status List).

Each licence gets an index at issue; every status change rewrites its two
bits and re-signs the list in the same transaction, so the published list
never disagrees with the licence table.

The signing key: every list has an ES256 key of its own, kept encrypted in
its row (`signing.keys.encrypt_private_key`, the same envelope as seal keys).
It is none of the trust list's purposes (trust root, seal maker, seal), so it
stays out of signing's key store; verifiers fetch the public key from
`GET /api/v1/status-lists/{id}/key` (its kid is in the token header).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from registry.errors import StatusListNotFound
from registry.models import LicenceStatus, StatusList
from signing.algorithms import Algorithm
from signing.keys import decrypt_private_key, encrypt_private_key, generate_private_key
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


def allocate_index(*, session: Session, registry_id: str, key_secret: bytes, now: datetime) -> tuple[StatusList, int]:
    """The next free index, under a row lock so two issues never share one."""
    row = session.scalar(
        select(StatusList).where(StatusList.next_index < StatusList.size).order_by(StatusList.id).limit(1)
        .with_for_update()
    )
    if row is None:
        row = _create(session=session, registry_id=registry_id, key_secret=key_secret, now=now)
    index = row.next_index
    row.next_index = index + 1  # a fresh entry is 0 (valid): the signed list is unchanged
    session.flush()
    return row, index


def allocate_indices(
    *, session: Session, registry_id: str, key_secret: bytes, now: datetime, count: int
) -> list[tuple[int, int]]:
    """`count` free (list id, index) pairs for a batch, each list's share taken
    under its row lock in one step; fresh entries are 0 (valid), so no list
    is re-signed."""
    slots: list[tuple[int, int]] = []
    while len(slots) < count:
        row = session.scalar(
            select(StatusList).where(StatusList.next_index < StatusList.size).order_by(StatusList.id).limit(1)
            .with_for_update()
        )
        if row is None:
            row = _create(session=session, registry_id=registry_id, key_secret=key_secret, now=now)
        take = min(count - len(slots), row.size - row.next_index)
        slots.extend((row.id, index) for index in range(row.next_index, row.next_index + take))
        row.next_index += take
        session.flush()
    return slots


def _create(*, session: Session, registry_id: str, key_secret: bytes, now: datetime) -> StatusList:
    key = generate_private_key(Algorithm.ES256)
    bits = BitList(size=LIST_SIZE, bits=BITS)
    row = StatusList(
        size=LIST_SIZE, bits=BITS, next_index=0, data=bits.to_bytes(), revision=1, token="",
        kid=key.kid, public_key=key.public_key.spki_der, private_key_envelope=encrypt_private_key(key, secret=key_secret),
        created_at=now, updated_at=now,
    )
    session.add(row)
    session.flush()
    row.token = _sign(row, bits=bits, key_secret=key_secret, registry_id=registry_id, now=now)
    session.flush()
    return row


def set_status(
    *, session: Session, list_id: int, index: int, status: str, registry_id: str, key_secret: bytes, now: datetime
) -> None:
    row = session.scalar(select(StatusList).where(StatusList.id == list_id).with_for_update())
    if row is None:
        raise StatusListNotFound(f"status list {list_id} not found")
    bits = BitList(size=row.size, bits=row.bits, data=row.data)
    value = int(token_status(status))
    if bits.get(index) == value:
        return
    bits.set(index, value)
    row.data = bits.to_bytes()
    row.revision += 1
    row.updated_at = now
    row.token = _sign(row, bits=bits, key_secret=key_secret, registry_id=registry_id, now=now)
    session.flush()


def _sign(row: StatusList, *, bits: BitList, key_secret: bytes, registry_id: str, now: datetime) -> str:
    key = decrypt_private_key(row.private_key_envelope, algorithm=Algorithm.ES256, kid=row.kid, secret=key_secret)
    return sign_status_list_token(
        status_list=bits, subject=subject_uri(registry_id=registry_id, list_id=row.id), key=key,
        issued_at=now, ttl=TTL_SECONDS,
    )
