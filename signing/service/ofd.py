"""The seal behind an OFD 签章: its SM2 key, the seal structure and the key's certificate."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from signing.errors import KeyNotFound
from signing.ofd import OfdSealSigner, OfdSigningError
from signing.seals.certificates import load_certificate, sm2_public_key_of
from signing.seals.gbt38540 import parse_seal_file
from signing.service.lifecycle import signing_seal_key
from signing.sm2 import SM2PrivateKey


def seal_ofd_signer(
    *, session: Session, es_id: str, key_secret: bytes | str, now: datetime | None = None
) -> OfdSealSigner:
    """A signer for OFD documents with the seal's current key.

    GB/T 38540 signatures are SM2 with SM3 only: a seal whose current key is
    ES256 or EdDSA cannot make one (OfdSigningError, saying so); give the
    department an SM2 seal, or rotate the seal's key to SM2.
    """
    seal, key = signing_seal_key(session=session, es_id=es_id, key_secret=key_secret, now=now)
    if not isinstance(key, SM2PrivateKey):
        raise OfdSigningError(
            f"seal {es_id} signs with {key.algorithm}; an OFD 签章 (GB/T 38540) needs an SM2 seal key "
            "(create the seal with algorithm SM2 or rotate its key to SM2)"
        )
    # The seal structure names the current key's certificate (re-issued at every rotation).
    for certificate in parse_seal_file(seal.der).signer_certificates:
        if _certifies(certificate, key):
            return OfdSealSigner(key=key, seal_der=seal.der, certificate=certificate)
    raise KeyNotFound(f"seal {es_id}'s structure holds no certificate for its current key")


def _certifies(certificate: bytes, key: SM2PrivateKey) -> bool:
    try:
        return sm2_public_key_of(load_certificate(certificate)).point == key.public_key.point
    except (ValueError, TypeError, KeyError):
        return False  # a certificate for another kind of key
