"""PAdES signatures on PDF documents, made with pyHanko through the key abstraction.

`KeySigner` is a pyHanko `Signer` whose raw signature comes from
`signing.algorithms.PrivateKey.sign`: the key's secret is never handed to
pyHanko, so a key that never leaves a hardware token signs PDFs as well.

`sign_pdf` adds one signature as an incremental update (the signed bytes are
the document as rendered): PAdES B-B (# SPEC: ETSI EN 319 142-1 §5.3,
SubFilter ETSI.CAdES.detached, signing certificate v2 attribute), or B-T
when a time-stamping authority is given (# SPEC: ETSI EN 319 142-1 §5.4, an
RFC 3161 signature time-stamp over the signature value). The certificate
chain up to the registry's document root goes in the CMS SignedData.

`PostingTimeStamper` asks a TSA through the caller's `post` function (bytes
of a TimeStampReq in, bytes of a TimeStampResp out): signing imports nothing
of ours, so the egress client and its bounded read stay with the caller.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import Callable, Sequence

from asn1crypto import algos, tsp
from asn1crypto import x509 as asn1_x509
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.metadata.xmp_xml import MetadataStream
from pyhanko.sign import signers
from pyhanko.sign.fields import SigSeedSubFilter
from pyhanko.sign.timestamps.api import TimeStamper
from pyhanko.sign.timestamps.common_utils import TimestampRequestError
from pyhanko_certvalidator.registry import SimpleCertificateStore

from signing.algorithms import PrivateKey
from signing.errors import SigningError, TimestampUnavailable
from signing.x509docs import PDF_SIGNING_ALGORITHM

SIGNATURE_FIELD = "certhub-signature"
# An ECDSA P-256 DER signature is at most 72 bytes; what pyHanko reserves for it while sizing the CMS.
_DER_ECDSA_P256_MAX = 72


class KeySigner(signers.Signer):
    """A pyHanko signer over a `PrivateKey` (ES256: ECDSA P-256 with SHA-256)."""

    def __init__(self, *, key: PrivateKey, certificate: bytes, chain: Sequence[bytes]) -> None:
        if key.algorithm != PDF_SIGNING_ALGORITHM:
            raise SigningError(f"a PDF is signed with an {PDF_SIGNING_ALGORITHM} key, not {key.algorithm}")
        self._key = key
        super().__init__(
            signing_cert=asn1_x509.Certificate.load(certificate),
            cert_registry=SimpleCertificateStore.from_certs([asn1_x509.Certificate.load(der) for der in chain]),
            # SPEC: RFC 5758 §3.2 — ecdsa-with-SHA256
            signature_mechanism=algos.SignedDigestAlgorithm({"algorithm": "sha256_ecdsa"}),
        )

    async def async_sign_raw(self, data: bytes, digest_algorithm: str, dry_run: bool = False) -> bytes:
        if digest_algorithm != "sha256":
            raise SigningError(f"ES256 signs SHA-256 digests, not {digest_algorithm}")
        if dry_run:
            return bytes(_DER_ECDSA_P256_MAX)
        raw = self._key.sign(data)  # r||s, 32 bytes each (signing.es256)
        # CMS wants the DER Ecdsa-Sig-Value (# SPEC: RFC 5753 §7.2 / RFC 5758 §3.2).
        return encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))


class PostingTimeStamper(TimeStamper):
    """RFC 3161 over the caller's transport (# SPEC: RFC 3161 §3.4, the HTTP binding)."""

    def __init__(self, post: Callable[[bytes], bytes]) -> None:
        super().__init__(include_nonce=True)
        self._post = post

    async def async_request_tsa_response(self, req: tsp.TimeStampReq) -> tsp.TimeStampResp:
        body = await asyncio.to_thread(self._post, req.dump())
        try:
            response = tsp.TimeStampResp.load(body, strict=True)
            response["status"]["status"].native  # noqa: B018 - a malformed answer fails here, not inside pyHanko
        except (ValueError, TypeError) as error:
            raise TimestampRequestError("the TSA's answer is not a TimeStampResp") from error
        return response


def sign_pdf(pdf: bytes, *, signer: KeySigner, timestamper: TimeStamper | None = None,
             reason: str | None = None, location: str | None = None) -> bytes:
    """`pdf` with a PAdES signature appended as an incremental update (B-T with a timestamper)."""
    meta = signers.PdfSignatureMetadata(
        field_name=SIGNATURE_FIELD,
        md_algorithm="sha256",
        subfilter=SigSeedSubFilter.PADES,
        reason=reason,
        location=location,
        # B-B / B-T only: no revocation data to embed (the registry publishes no CRL for these certificates).
        embed_validation_info=False,
        use_pades_lta=False,
    )
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf), strict=False)
    _keep_xmp(writer)
    out = io.BytesIO()
    try:
        signers.sign_pdf(writer, meta, signer=signer, timestamper=timestamper, output=out)
    except (TimestampRequestError, OSError) as error:
        raise TimestampUnavailable(f"the time-stamping authority failed: {error}") from error
    return out.getvalue()


def _keep_xmp(writer: IncrementalPdfFileWriter) -> None:
    """Let pyHanko update the document's XMP rather than replace it.

    pyHanko rewrites the metadata on every save (ModifyDate, Producer). An
    XMP stream read from the file is not its MetadataStream type, so it would
    write a fresh packet without the original's properties, the PDF/A
    identification (pdfaid:part, pdfaid:conformance) among them. Handing it
    the same packet as a MetadataStream makes it merge its two properties in.
    # SPEC: ISO 19005-2 §6.6.4 — the PDF/A version and conformance level are identified in the XMP.
    """
    if "/Metadata" not in writer.root:
        return
    original = writer.root["/Metadata"]
    if isinstance(original, MetadataStream) or not isinstance(original, generic.StreamObject):
        return
    writer.root["/Metadata"] = writer.add_object(MetadataStream(stream_data=original.data))
    writer.update_root()
