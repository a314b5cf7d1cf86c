"""Where signing keys live: the `KeyStore` interface and its two drivers.

`DatabaseKeyStore` (the embedded default) keeps each private half in
`signing_keys` inside an AES-256-GCM envelope under the deployment secret.
`TokenKeyStore` generates and keeps ES256 and EdDSA private keys in a PKCS#11
token (`signing.hsm`): the row holds the public key, kid, purpose, status and
the token object's CKA_ID, never the private key. SM2 has no PKCS#11
mechanism, so a token store keeps SM2 keys (the seal maker's, SM2 seals')
in the software envelope and says so in the log. Rows made by the other
driver stay usable: a token store opens old envelopes, and the software store
refuses a token row with a clear error instead of guessing.

Which driver runs is the deployment's choice (`CERTHUB_KEY_TOKEN_*` settings):
the secret the services already receive is a `KeySecret` carrying the token,
and `open_key_store` picks the driver from it. The contract tests in
tests/signing/test_keystore.py run against both.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session

from signing.algorithms import Algorithm, PrivateKey, PublicKey
from signing.errors import InvalidInput, KeyNotFound
from signing.hsm import AlgorithmNotInToken, Pkcs11Token, object_id_text, parse_object_id, token_of
from signing.keys import (
    decrypt_private_key,
    encrypt_private_key,
    generate_private_key,
    load_public_key_for,
    parse_algorithm,
)
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
    # The token object's CKA_ID (hex) when the private half lives in a PKCS#11 token; None: software envelope.
    token_object: str | None = None


log = logging.getLogger("certhub.signing.keys")


class KeyStore(Protocol):
    def generate(self, *, algorithm: Algorithm | str, purpose: KeyPurpose, seal_id: int | None = None,
                 maker_id: int | None = None, created_at: datetime | None = None) -> StoredKey:
        """A new key, made where this store keeps keys, recorded active."""

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
        token_object=row.token_object,
    )


class DatabaseKeyStore:
    """Keys in `signing_keys`, private halves AES-256-GCM encrypted under `secret`."""

    def __init__(self, *, session: Session, secret: bytes | str) -> None:
        self._session = session
        self._secret = secret

    def generate(self, *, algorithm: Algorithm | str, purpose: KeyPurpose, seal_id: int | None = None,
                 maker_id: int | None = None, created_at: datetime | None = None) -> StoredKey:
        key = generate_private_key(parse_algorithm(algorithm))
        return self.put(key=key, purpose=purpose, seal_id=seal_id, maker_id=maker_id, created_at=created_at)

    def put(self, *, key: PrivateKey, purpose: KeyPurpose, seal_id: int | None = None,
            maker_id: int | None = None, created_at: datetime | None = None) -> StoredKey:
        """Record a key made in this process, its private half in an envelope."""
        return self._record(key=key, purpose=purpose, envelope=encrypt_private_key(key, secret=self._secret),
                            token_object=None, seal_id=seal_id, maker_id=maker_id, created_at=created_at)

    def _record(self, *, key: PrivateKey, purpose: KeyPurpose, envelope: bytes | None, token_object: str | None,
                seal_id: int | None, maker_id: int | None, created_at: datetime | None) -> StoredKey:
        row = SigningKey(
            kid=key.kid,
            algorithm=str(key.algorithm),
            purpose=str(KeyPurpose(purpose)),
            public_key=key.public_key.spki_der,
            encrypted_private_key=envelope,
            token_object=token_object,
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
        return self._software_key(self._row(handle))

    def _software_key(self, row: SigningKey) -> PrivateKey:
        if row.token_object is not None:
            raise KeyNotFound(
                f"key {row.kid} lives in a PKCS#11 token: configure CERTHUB_KEY_TOKEN_MODULE, _LABEL and _PIN to use it"
            )
        if row.encrypted_private_key is None:
            raise KeyNotFound(f"key {row.kid} has no private half in this store")
        slot = _decrypted_keys.slot(self._secret, row.encrypted_private_key)
        key = _decrypted_keys.get(slot)
        if key is None:
            key = decrypt_private_key(row.encrypted_private_key, algorithm=row.algorithm, kid=row.kid, secret=self._secret)
            _decrypted_keys.put(slot, key)
        return key


class TokenKeyStore(DatabaseKeyStore):
    """Keys generated and used inside a PKCS#11 token; rows keep only public halves and the token reference.

    SM2 keys, which no PKCS#11 token can make, stay in the software envelope
    under `secret`, as do keys recorded with `put` (made in this process, so
    never the token's); both are opened as `DatabaseKeyStore` opens them.
    """

    def __init__(self, *, session: Session, secret: bytes | str, token: Pkcs11Token) -> None:
        super().__init__(session=session, secret=secret)
        self._token = token

    def generate(self, *, algorithm: Algorithm | str, purpose: KeyPurpose, seal_id: int | None = None,
                 maker_id: int | None = None, created_at: datetime | None = None) -> StoredKey:
        chosen = parse_algorithm(algorithm)
        try:
            key = self._token.generate(chosen, purpose=str(KeyPurpose(purpose)))
        except AlgorithmNotInToken:
            log.warning("%s key for %s kept in the software envelope: the PKCS#11 token has no %s mechanism",
                        chosen, purpose, chosen)
            return super().generate(algorithm=chosen, purpose=purpose, seal_id=seal_id, maker_id=maker_id,
                                    created_at=created_at)
        return self._record(key=key, purpose=purpose, envelope=None, token_object=object_id_text(key.object_id),
                            seal_id=seal_id, maker_id=maker_id, created_at=created_at)

    def private_key(self, *, handle: int) -> PrivateKey:
        row = self._row(handle)
        if row.token_object is None:
            return self._software_key(row)
        return self._token.key(
            parse_object_id(row.token_object),
            algorithm=parse_algorithm(row.algorithm),
            expected=load_public_key_for(row.algorithm, row.public_key),
        )


def open_key_store(*, session: Session, secret: bytes | str) -> DatabaseKeyStore:
    """The store the deployment chose: in its PKCS#11 token when the secret carries one, else software."""
    token = token_of(secret)
    if token is None:
        return DatabaseKeyStore(session=session, secret=secret)
    return TokenKeyStore(session=session, secret=secret, token=token)
