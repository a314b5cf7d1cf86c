"""The signature on a licence's PDF layout document (PAdES, signing/pades.py).

The issuing department signs: the key of the seal that sealed the version,
or, when that seal can no longer sign or its key is not ES256 (an SM2 or
Ed25519 seal: PDF readers verify neither), the issuer's own default ES256
seal for the licence type. A department with no such seal gets no PDF:
`PdfNotSignable` says why, rather than an unsigned document that looks like
the signed ones.

With a time-stamping authority configured (CERTHUB_TSA_URL) the signature is
PAdES B-T, and a TSA that fails refuses the download (`TimestampUnavailable`):
a deployment that asked for trusted time never hands out a document without it.
"""

from __future__ import annotations

import threading
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from registry.errors import PdfNotSignable
from registry.service.authority import own_seal_with_algorithm
from registry.service.reads import LicenceView
from signing.errors import KeyNotFound, SealNotActive, TimestampUnavailable
from signing.service.doccerts import NoPdfSigningKey, PdfCredentials, pdf_credentials
from signing.service.seals import list_seals
from signing.statuses import SealStatus
from signing.x509docs import PDF_SIGNING_ALGORITHM
from storage.base import utcnow
from storage.egress import BodyRefused, Egress, EgressError

if TYPE_CHECKING:
    from signing.pades import PostingTimeStamper

# A TimeStampResp with its token and the TSA's certificates: a few kilobytes; 64 KiB is generous.
MAX_TSA_REPLY_BYTES = 64 * 1024
# The request holds its unit of work (and on SQLite the write lock) while it waits: keep it short.
TSA_TIMEOUT_SECONDS = 5.0


class TsaClient:
    """Posts RFC 3161 queries to the deployment's TSA through the egress client.

    # SPEC: RFC 3161 §3.4 — POST application/timestamp-query, answer application/timestamp-reply.
    """

    def __init__(self, *, url: str, egress: Egress) -> None:
        self.url = url
        self._client = egress.client(timeout=(TSA_TIMEOUT_SECONDS, TSA_TIMEOUT_SECONDS))

    def post(self, query: bytes) -> bytes:
        try:
            with self._client.request("POST", self.url, body=query,
                                      headers={"Content-Type": "application/timestamp-query",
                                               "Accept": "application/timestamp-reply"}) as response:
                if response.status != 200:
                    raise TimestampUnavailable(f"the TSA answered HTTP {response.status}")
                if response.headers.get("Content-Type", "").split(";")[0].strip() != "application/timestamp-reply":
                    raise TimestampUnavailable("the TSA's answer is not application/timestamp-reply")
                return response.read_bounded(max_bytes=MAX_TSA_REPLY_BYTES)
        except EgressError as error:
            raise TimestampUnavailable(f"the TSA could not be reached: {error}") from error
        except BodyRefused as error:
            raise TimestampUnavailable(f"the TSA could not be reached: {type(error).__name__}") from error

    def close(self) -> None:
        self._client.close()


class PdfTimestamps:
    """The deployment's TSA for PDF signatures, or none (PAdES B-B).

    One long-lived time-stamper: pyHanko sizes the signature with one dummy
    token per digest algorithm and keeps it, so later documents cost one TSA
    round trip each. pyHanko itself is imported on the first signature, not
    with the app (it takes over a second to import)."""

    def __init__(self, tsa: TsaClient | None = None) -> None:
        self.tsa = tsa
        self._timestamper: PostingTimeStamper | None = None
        self._lock = threading.Lock()

    @classmethod
    def for_url(cls, url: str | None, *, egress: Egress) -> PdfTimestamps:
        return cls(TsaClient(url=url, egress=egress) if url else None)

    def timestamper(self) -> PostingTimeStamper | None:
        if self.tsa is None:
            return None
        with self._lock:
            if self._timestamper is None:
                from signing.pades import PostingTimeStamper

                self._timestamper = PostingTimeStamper(self.tsa.post)
            return self._timestamper

    def close(self) -> None:
        if self.tsa is not None:
            self.tsa.close()


NO_TIMESTAMPS = PdfTimestamps()


def sign_layout(pdf: bytes, *, session: Session, view: LicenceView, registry_id: str, key_secret: bytes,
                timestamps: PdfTimestamps = NO_TIMESTAMPS, now: datetime | None = None) -> bytes:
    """`pdf` signed by the licence's issuing department (PAdES B-B, or B-T with a TSA)."""
    moment = now or utcnow()
    credentials = _credentials(session=session, view=view, registry_id=registry_id, key_secret=key_secret, now=moment)
    return sign_with(pdf, credentials=credentials, timestamps=timestamps, reason=f"电子证照 {view.version.identifier}",
                     location=registry_id)


def sign_with(pdf: bytes, *, credentials: PdfCredentials, timestamps: PdfTimestamps, reason: str,
              location: str) -> bytes:
    """`pdf` signed with a seal's document-signing credentials (PAdES B-B, or B-T with a TSA)."""
    from signing.pades import KeySigner, sign_pdf  # pyHanko: loaded on the first signature

    signer = KeySigner(key=credentials.key, certificate=credentials.certificate,
                       chain=[credentials.root_certificate])
    return sign_pdf(pdf, signer=signer, timestamper=timestamps.timestamper(), reason=reason, location=location)


def department_credentials(*, session: Session, department_code: str, registry_id: str, key_secret: bytes,
                           now: datetime) -> PdfCredentials:
    """The department's newest active seal that can sign a PDF now (an ES256 key), with its
    certificate under the registry's document root: what signs a document the department
    hands out itself rather than a licence's (a counter's verification receipt).
    PdfNotSignable when it holds none."""
    seals = list_seals(session=session, owner_department_code=department_code, status=SealStatus.ACTIVE)
    refusals: list[str] = []
    for seal in reversed(seals):
        try:
            return pdf_credentials(session=session, es_id=seal.es_id, registry_id=registry_id,
                                   key_secret=key_secret, now=now)
        except _CANNOT_SIGN as error:
            refusals.append(str(error))
    raise PdfNotSignable(f"department {department_code} holds no active seal with an "
                         f"{PDF_SIGNING_ALGORITHM} key to sign the PDF" + (f" ({'; '.join(refusals)})" if refusals else ""))


_CANNOT_SIGN = (SealNotActive, KeyNotFound, NoPdfSigningKey)


def _credentials(*, session: Session, view: LicenceView, registry_id: str, key_secret: bytes,
                 now: datetime) -> PdfCredentials:
    """The sealing seal's key, else the issuer's own default ES256 seal for the type."""
    try:
        return pdf_credentials(session=session, es_id=view.version.es_id, registry_id=registry_id,
                               key_secret=key_secret, now=now)
    except _CANNOT_SIGN as first:
        licence = view.licence
        seal = own_seal_with_algorithm(session=session, department_code=licence.issuer_code,
                                       type_code=licence.type_code, algorithm=str(PDF_SIGNING_ALGORITHM), now=now)
        if seal is None or seal.es_id == view.version.es_id:
            raise PdfNotSignable(f"the PDF cannot be signed: {first}; the issuer holds no other active "
                                 f"{PDF_SIGNING_ALGORITHM} seal for this licence type") from first
        try:
            return pdf_credentials(session=session, es_id=seal.es_id, registry_id=registry_id,
                                   key_secret=key_secret, now=now)
        except _CANNOT_SIGN as error:
            raise PdfNotSignable(f"the PDF cannot be signed: {error}") from error
