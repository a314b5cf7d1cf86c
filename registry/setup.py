"""Bring a registry's signing anchors into being: the trust-root key that
signs trust lists, the platform seal maker (制章者), and the presentation
key that signs holders' 亮证 codes."""

from __future__ import annotations

import base64
from dataclasses import dataclass

from sqlalchemy.orm import Session

from signing import service as signing_service
from signing.errors import KeyNotFound, MakerNotFound
from signing.keys import load_public_key


@dataclass(frozen=True)
class SigningAnchors:
    root_kid: str
    root_public_key_der_b64: str  # SubjectPublicKeyInfo: what verifiers pin
    maker_name: str
    created: bool
    presentation_kid: str | None = None  # in the trust list, so offline verifiers check 亮证 codes too


def ensure_signing_anchors(*, session: Session, key_secret: bytes, maker_name: str) -> SigningAnchors:
    """Create the trust root and the seal maker when missing; idempotent."""
    created = False
    try:
        root = signing_service.get_trust_root_key_or_raise(session=session)
    except KeyNotFound:
        signing_service.create_trust_root_key(session=session, key_secret=key_secret)
        root = signing_service.get_trust_root_key_or_raise(session=session)
        created = True
    try:
        maker = signing_service.get_seal_maker_or_raise(session=session)
    except MakerNotFound:
        maker = signing_service.create_seal_maker(session=session, name=maker_name, key_secret=key_secret)
        created = True
    presentation_kid = signing_service.ensure_presentation_key(session=session, key_secret=key_secret)
    return SigningAnchors(
        root_kid=root.kid,
        root_public_key_der_b64=base64.b64encode(root.public_key).decode(),
        maker_name=maker.name,
        created=created,
        presentation_kid=presentation_kid,
    )


def root_public_key(der_b64: str):
    """The pinned root key a verifier builds from the printed value."""
    return load_public_key(base64.b64decode(der_b64))
