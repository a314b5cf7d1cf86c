"""EU Digital COVID Certificates (`HC1:`): the signers a verifier trusts and their checks.

SPEC: hcert spec 1.0.8 §3 — the container is ours with the prefix HC1:;
the COSE_Sign1 may be tagged (18), untagged, or wrapped in the CWT tag 61;
kid (header 4) sits in the protected or, failing that, the unprotected
header and is the first 8 bytes of SHA-256 over the Document Signer
Certificate's DER; algorithms ES256 (-7) and PS256 (-37); claims 1 iss,
4 exp, 6 iat and -260 hcert ({1: the DCC}).

DCC signers are X.509 certificates, not entries of our trust lists, so
they come from a small trust source of their own, `DccTrustList`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

from cryptography import x509

from signing.errors import InvalidInput

DCC_KID_LENGTH = 8
_MAX_CERTIFICATE = 16 * 1024


@dataclass(frozen=True)
class DccSigner:
    """A Document Signer Certificate trusted for HC1 codes."""

    kid: bytes
    certificate: x509.Certificate

    @property
    def subject(self) -> str:
        return self.certificate.subject.rfc4514_string()

    @property
    def public_key(self) -> object:
        return self.certificate.public_key()


def dcc_kid(certificate_der: bytes) -> bytes:
    return hashlib.sha256(certificate_der).digest()[:DCC_KID_LENGTH]


class DccTrustList:
    """HC1 signers by kid; several certificates may share a kid and each is tried."""

    def __init__(self, certificates: Iterable[bytes] = ()) -> None:
        self._by_kid: dict[bytes, list[DccSigner]] = {}
        for der in certificates:
            self.add_certificate(der)

    def add_certificate(self, certificate_der: bytes) -> DccSigner:
        if not isinstance(certificate_der, bytes) or not 0 < len(certificate_der) <= _MAX_CERTIFICATE:
            raise InvalidInput(f"a DCC signer certificate is DER of at most {_MAX_CERTIFICATE} bytes")
        try:
            certificate = x509.load_der_x509_certificate(certificate_der)
        except ValueError as error:
            raise InvalidInput(f"not an X.509 certificate: {error}") from None
        signer = DccSigner(dcc_kid(certificate_der), certificate)
        self._by_kid.setdefault(signer.kid, []).append(signer)
        return signer

    def signers_for(self, kid: bytes) -> tuple[DccSigner, ...]:
        return tuple(self._by_kid.get(kid, ()))

    def __len__(self) -> int:
        return sum(len(signers) for signers in self._by_kid.values())
