"""Rotating the registry-wide keys: the trust-list root and the presentation key.

(Seal keys rotate with `lifecycle.rotate_key`, status-list keys with
`statuslist_key.rotate_status_list_key`, the use log's checkpoint key with
`exchange.auditlog.rotate_checkpoint_key`; docs/operations.md "Key rotation"
is the operator's procedure for all five.)

A rotated key is retired, never deleted: the trust list keeps listing it
with `retired_at`, so whatever it signed before still verifies, and nothing
it signs from then on does.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from signing.algorithms import Algorithm
from signing.keys import parse_algorithm
from signing.keystore import open_key_store
from signing.models import SigningKey
from signing.service import _validate
from signing.service.keys import create_trust_root_key, lock_trust_root
from signing.service.statuslist_key import publish_key
from signing.service.trust import build_trust_list
from signing.statuses import KeyPurpose, KeyStatus


@dataclass(frozen=True)
class RootRotation:
    """What a root rollover published: verifiers pin `new_public_key_der`."""

    old_kid: str
    new_kid: str
    new_public_key_der: bytes
    handover_sequence: int  # the last list the old root signed; it names the new root
    first_sequence: int  # the first list the new root signed; it lists the old root as retired


def rotate_trust_root(
    *, session: Session, registry_id: str, key_secret: bytes | str, algorithm: Algorithm | str | None = None,
    now: datetime | None = None,
) -> RootRotation:
    """Replace the key that signs the trust list, with a handover verifiers can follow.

    1. Under the root lock, make the new root key (same algorithm unless told).
    2. The old root signs one more list, which names the new root as an
       active `trust_root` key: a verifier holding it, and only the old pin,
       accepts lists signed by the new root (`TrustStore.add_json`).
    3. Retire the old root, and have the new root sign the next list, which
       lists the old root as retired: lists the old root signed afterwards
       are refused by whoever holds it.
    """
    moment = _validate.now_or(now)
    old = lock_trust_root(session=session)  # 1.
    chosen = parse_algorithm(algorithm) if algorithm is not None else Algorithm(old.algorithm)
    new = create_trust_root_key(session=session, key_secret=key_secret, algorithm=chosen, now=moment)
    handover = build_trust_list(  # 2.
        session=session, registry_id=registry_id, key_secret=key_secret, now=moment, root_handle=old.id
    )
    open_key_store(session=session, secret=key_secret).set_status(  # 3.
        handle=old.id, status=KeyStatus.RETIRED, at=moment
    )
    first = build_trust_list(session=session, registry_id=registry_id, key_secret=key_secret, now=moment)
    return RootRotation(
        old_kid=old.kid, new_kid=new.kid, new_public_key_der=new.public_key.spki_der,
        handover_sequence=handover.sequence, first_sequence=first.sequence,
    )


def rotate_presentation_key(
    *, session: Session, registry_id: str, key_secret: bytes | str, now: datetime | None = None
) -> str:
    """A new presentation key (亮证 codes), published in a new trust list before it
    signs; the old one is retired now, so codes it signed before still verify.
    Returns the new kid."""
    moment = _validate.now_or(now)
    lock_trust_root(session=session)
    store = open_key_store(session=session, secret=key_secret)
    active = select(SigningKey).where(
        SigningKey.purpose == str(KeyPurpose.PRESENTATION), SigningKey.status == str(KeyStatus.ACTIVE)
    )
    for old in session.scalars(active).all():
        store.set_status(handle=old.id, status=KeyStatus.RETIRED, at=moment)
    stored = store.generate(algorithm=Algorithm.ES256, purpose=KeyPurpose.PRESENTATION, created_at=moment)
    row = session.get_one(SigningKey, stored.handle)
    publish_key(session=session, registry_id=registry_id, key_secret=key_secret, row=row, now=moment)
    return row.kid
