"""Where signing keys live: the `KeyStore` interface and its database implementation.

A PKCS#11 (HSM) store can implement the same protocol later; the contract
tests in tests/signing/test_keystore.py then run against both.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from signing.algorithms import PrivateKey, PublicKey
from signing.errors import InvalidInput, KeyNotFound
from signing.keys import decrypt_private_key, encrypt_private_key, load_public_key_for
from signing.models import SigningKey, utcnow
from signing.statuses import KeyPurpose, KeyStatus


@dataclass(frozen=True)
class StoredKey:
    """A key's public half and lifecycle, as a store reports it (never the secret)."""

    handle: int
    kid: str
    public_key: PublicKey
    purpose: KeyPurpose
    status: KeyStatus
    created_at: datetime
    seal_id: int | None = None
    maker_id: int | None = None
    retired_at: datetime | None = None
    revoked_at: datetime | None = None
    compromised_at: datetime | None = None


class KeyStore(Protocol):
    def put(self, *, key: PrivateKey, purpose: KeyPurpose, seal_id: int | None = None,
            maker_id: int | None = None, created_at: datetime | None = None) -> StoredKey: ...

    def get(self, *, kid: str) -> list[StoredKey]:
        """Every key with this kid (8-byte kids may collide); empty when none."""

    def list(self, *, purpose: KeyPurpose | None = None, status: KeyStatus | None = None) -> list[StoredKey]: ...

    def set_status(self, *, handle: int, status: KeyStatus, at: datetime,
                   compromised_at: datetime | None = None) -> StoredKey: ...

    def private_key(self, *, handle: int) -> PrivateKey: ...


class _DecryptedKeyCache:
    """Decrypted keys by (secret, envelope) digest, so hot paths skip HKDF + AES + key parsing.

    The secret is part of the cache key: a caller with a wrong secret never
    gets a key someone else decrypted.
    """

    def __init__(self, capacity: int = 256) -> None:
        self._items: OrderedDict[bytes, PrivateKey] = OrderedDict()
        self._capacity = capacity
        self._lock = threading.Lock()

    @staticmethod
    def slot(secret: bytes | str, envelope: bytes) -> bytes:
        material = secret.encode("utf-8") if isinstance(secret, str) else secret
        return hashlib.sha256(len(material).to_bytes(4, "big") + material + envelope).digest()

    def get(self, slot: bytes) -> PrivateKey | None:
        with self._lock:
            key = self._items.get(slot)
            if key is not None:
                self._items.move_to_end(slot)
            return key

    def put(self, slot: bytes, key: PrivateKey) -> None:
        with self._lock:
            self._items[slot] = key
            while len(self._items) > self._capacity:
                self._items.popitem(last=False)


_decrypted_keys = _DecryptedKeyCache()


def _stored(row: SigningKey) -> StoredKey:
    return StoredKey(
        handle=row.id,
        kid=row.kid,
        public_key=load_public_key_for(row.algorithm, row.public_key),
        purpose=KeyPurpose(row.purpose),
        status=KeyStatus(row.status),
        created_at=row.created_at,
        seal_id=row.seal_id,
        maker_id=row.maker_id,
        retired_at=row.retired_at,
        revoked_at=row.revoked_at,
        compromised_at=row.compromised_at,
    )


class DatabaseKeyStore:
    """Keys in `signing_keys`, private halves AES-256-GCM encrypted under `secret`."""

    def __init__(self, *, session: Session, secret: bytes | str) -> None:
        self._session = session
        self._secret = secret

    def put(self, *, key: PrivateKey, purpose: KeyPurpose, seal_id: int | None = None,
            maker_id: int | None = None, created_at: datetime | None = None) -> StoredKey:
        row = SigningKey(
            kid=key.kid,
            algorithm=str(key.algorithm),
            purpose=str(KeyPurpose(purpose)),
            public_key=key.public_key.spki_der,
            encrypted_private_key=encrypt_private_key(key, secret=self._secret),
            status=str(KeyStatus.ACTIVE),
            seal_id=seal_id,
            maker_id=maker_id,
            created_at=created_at or utcnow(),
        )
        self._session.add(row)
        self._session.flush()
        return _stored(row)

    def get(self, *, kid: str) -> list[StoredKey]:
        rows = self._session.scalars(select(SigningKey).where(SigningKey.kid == kid).order_by(SigningKey.id))
        return [_stored(row) for row in rows]

    def list(self, *, purpose: KeyPurpose | None = None, status: KeyStatus | None = None) -> list[StoredKey]:
        query = select(SigningKey).order_by(SigningKey.id)
        if purpose is not None:
            query = query.where(SigningKey.purpose == str(purpose))
        if status is not None:
            query = query.where(SigningKey.status == str(status))
        return [_stored(row) for row in self._session.scalars(query)]

    def _row(self, handle: int, *, lock: bool = False) -> SigningKey:
        query = select(SigningKey).where(SigningKey.id == handle)
        if lock:
            query = query.with_for_update()
        row = self._session.scalars(query).one_or_none()
        if row is None:
            raise KeyNotFound(f"no signing key with handle {handle}")
        return row

    def set_status(self, *, handle: int, status: KeyStatus, at: datetime,
                   compromised_at: datetime | None = None) -> StoredKey:
        row = self._row(handle, lock=True)
        status = KeyStatus(status)
        if row.status == KeyStatus.REVOKED and status != KeyStatus.REVOKED:
            raise InvalidInput("a revoked key stays revoked")
        row.status = str(status)
        if status == KeyStatus.RETIRED:
            row.retired_at = at
        elif status == KeyStatus.REVOKED:
            row.revoked_at = at
            row.compromised_at = compromised_at
        self._session.flush()
        return _stored(row)

    def private_key(self, *, handle: int) -> PrivateKey:
        row = self._row(handle)
        if row.encrypted_private_key is None:
            raise KeyNotFound(f"key {row.kid} has no private half in this store")
        slot = _decrypted_keys.slot(self._secret, row.encrypted_private_key)
        key = _decrypted_keys.get(slot)
        if key is None:
            key = decrypt_private_key(row.encrypted_private_key, algorithm=row.algorithm, kid=row.kid, secret=self._secret)
            _decrypted_keys.put(slot, key)
        return key
