"""Making EL1 QR codes: `EL1:` + Base45( zlib( COSE_Sign1( CWT ) ) ).

Two kinds share the container (docs/formats.md, "QR codes (EL1)"):
- the static licence QR printed on a licence's layout, signed by the
  issuer's seal key, expiring with the licence (`encode_licence_qr`);
- the dynamic 亮证 QR a holder shows for a minute, signed by the registry's
  presentation key, one-time by its cti = presentation id
  (`encode_presentation_qr`).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import cbor2

from signing.algorithms import Algorithm, PrivateKey
from signing.encoding import b64url_decode
from signing.errors import InvalidInput
from signing.qr import claims as c
from signing.qr.claims import LicenceSummary, PresentationClaim
from signing.qr.container import EL1_PREFIX, wrap
from signing.qr.cose import cose_algorithm, encode_sign1

_MAX_ISSUER = 200
_MAX_CTI = 64
MAX_PRESENTATION_LIFETIME = timedelta(days=1)


@dataclass(frozen=True)
class QrSigner:
    """A key that signs QR codes, and the kid the trust list lists it under."""

    kid: str
    private_key: PrivateKey

    def __post_init__(self) -> None:
        if not isinstance(self.private_key, PrivateKey):
            raise InvalidInput("a QR signer needs a signing.algorithms.PrivateKey")
        if self.kid != self.private_key.kid:
            raise InvalidInput("the signer's kid does not belong to its key")

    @property
    def algorithm(self) -> Algorithm:
        return self.private_key.algorithm

    @property
    def cose_alg(self) -> int:
        return cose_algorithm(self.private_key.algorithm)

    @property
    def kid_bytes(self) -> bytes:
        # The trust list's kid is base64url of 8 bytes; COSE carries the bytes.
        return b64url_decode(self.kid)


def _issuer(issuer: str) -> str:
    if not isinstance(issuer, str) or not 0 < len(issuer) <= _MAX_ISSUER or not issuer.isprintable():
        raise InvalidInput(f"issuer must be 1 to {_MAX_ISSUER} printable characters")
    return issuer


def _sign(signer: QrSigner, claims: dict) -> str:
    if not isinstance(signer, QrSigner):
        raise InvalidInput("signer must be a QrSigner")
    payload = cbor2.dumps(claims)
    return wrap(encode_sign1(key=signer.private_key, kid=signer.kid_bytes, payload=payload), prefix=EL1_PREFIX)


def encode_licence_qr(
    *,
    signer: QrSigner,
    issuer: str,
    summary: LicenceSummary,
    issued_at: datetime,
    expires_at: datetime | None,
    cti: bytes | None = None,
) -> str:
    """The static QR of one licence version; `expires_at` is the end of its validity (None: none)."""
    if not isinstance(summary, LicenceSummary):
        raise InvalidInput("summary must be a LicenceSummary")
    claims: dict = {c.CLAIM_ISS: _issuer(issuer), c.CLAIM_IAT: c.epoch_seconds(issued_at)}
    if expires_at is not None:
        # The licence's own end, a fact: a licence that has ended still has its document (the holder's
        # record of it), whose code is signed after that end and verifies as expired (RFC 8392 §3.1.4).
        claims[c.CLAIM_EXP] = c.epoch_seconds(expires_at)
    if cti is not None:
        if not isinstance(cti, bytes) or not 0 < len(cti) <= _MAX_CTI:
            raise InvalidInput(f"cti must be 1 to {_MAX_CTI} bytes")
        claims[c.CLAIM_CTI] = cti
    claims[c.CLAIM_LICENCE] = summary.to_claim()
    return _sign(signer, claims)


def encode_presentation_qr(
    *,
    signer: QrSigner,
    issuer: str,
    presentation_id: str,
    licence_identifiers: Sequence[str],
    disclosure: str,
    issued_at: datetime,
    expires_at: datetime,
) -> str:
    """The dynamic 亮证 QR: short-lived, one-time (cti = presentation id), naming the shown licences."""
    presentation = PresentationClaim(presentation_id, c.licence_identifiers(licence_identifiers), disclosure)
    iat, exp = c.epoch_seconds(issued_at), c.epoch_seconds(expires_at)
    if not 0 < exp - iat <= MAX_PRESENTATION_LIFETIME.total_seconds():
        raise InvalidInput("a presentation expires after issued_at and within a day")
    claims = {
        c.CLAIM_ISS: _issuer(issuer),
        c.CLAIM_IAT: iat,
        c.CLAIM_EXP: exp,
        c.CLAIM_CTI: c.presentation_cti(presentation_id),
        c.CLAIM_PRESENTATION: presentation.to_claim(),
    }
    return _sign(signer, claims)


def random_cti() -> bytes:
    """A 16-byte random token id, for callers that want one on static codes."""
    return os.urandom(16)
