"""The hub's VAPID key (RFC 8292): one ES256 key pair, made the first time
it is needed (at start-up, when Web Push is on), its private half kept in
the signing keys' software envelope under the deployment secret."""

from __future__ import annotations

import base64
from dataclasses import dataclass

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from py_vapid import Vapid02
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from exchange.webpush.models import WebPushKey
from signing.algorithms import Algorithm
from signing.keys import decrypt_private_key, encrypt_private_key, generate_private_key

_KEY_ROW = 1  # one key per hub: a second creator's insert fails on the primary key and reads the first's


@dataclass(frozen=True)
class VapidKey:
    public_key: str  # base64url uncompressed point: the wallet's applicationServerKey
    signer: Vapid02


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def vapid_key(*, session: Session, key_secret: bytes) -> VapidKey:
    """The hub's VAPID key, made on first use (idempotent under concurrency)."""
    row = session.get(WebPushKey, _KEY_ROW)
    if row is None:
        key = generate_private_key(Algorithm.ES256)
        loaded = serialization.load_der_private_key(key.secret_bytes(), password=None)
        assert isinstance(loaded, ec.EllipticCurvePrivateKey)
        point = loaded.public_key().public_bytes(serialization.Encoding.X962,
                                                 serialization.PublicFormat.UncompressedPoint)
        try:
            with session.begin_nested():
                session.add(WebPushKey(id=_KEY_ROW, kid=key.kid, public_key=b64url(point),
                                       encrypted_private_key=encrypt_private_key(key, secret=key_secret)))
        except IntegrityError:
            pass  # another process made it first
        row = session.execute(select(WebPushKey).where(WebPushKey.id == _KEY_ROW)
                              .execution_options(populate_existing=True)).scalar_one()
    private = decrypt_private_key(row.encrypted_private_key, algorithm=Algorithm.ES256, kid=row.kid, secret=key_secret)
    loaded = serialization.load_der_private_key(private.secret_bytes(), password=None)
    assert isinstance(loaded, ec.EllipticCurvePrivateKey)
    return VapidKey(public_key=row.public_key, signer=Vapid02(loaded))
